"""Hypothesis-generated graphs with shared subexpressions, against micrograd."""

from helpers import assert_same_numbers, grow, program
from hypothesis import given, settings
from micrograd.engine import Value as MicroValue

from micrograd_c import Value


def execute(V, prog):
    """Run a program on Value class V: every node made, or the exception type raised."""
    leaves, steps, outputs = prog
    pool = [V(x) for x in leaves]
    try:
        root = sum(grow(pool, steps)[-outputs:], V(0.0))
        root.backward()
    except (ArithmeticError, ValueError) as exc:
        return type(exc)
    return pool + [root]


@settings(max_examples=300, deadline=None)
@given(program)
def test_random_graphs_match_micrograd(prog):
    theirs = execute(MicroValue, prog)
    ours = execute(Value, prog)
    if not isinstance(theirs, list):
        assert ours is theirs
        return
    for o, t in zip(ours, theirs):
        assert o._op == t._op
    assert_same_numbers(ours, theirs, 1e-12)
