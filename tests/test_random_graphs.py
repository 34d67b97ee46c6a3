"""Hypothesis-generated graphs with shared subexpressions, against micrograd."""

import math

from conftest import close
from hypothesis import given, settings
from hypothesis import strategies as st
from micrograd.engine import Value as MicroValue

from micrograd_c import Value

BINARY = {
    "+": lambda a, b: a + b,
    "*": lambda a, b: a * b,
    "-": lambda a, b: a - b,
    "/": lambda a, b: a / b,
}
UNARY = {
    "**2": lambda a, c: a**2,
    "**-1": lambda a, c: a**-1,
    "**3": lambda a, c: a**3,
    "relu": lambda a, c: a.relu(),
    "neg": lambda a, c: -a,
    "c+": lambda a, c: c + a,
    "c*": lambda a, c: c * a,
    "c-": lambda a, c: c - a,
    "c/": lambda a, c: c / a,
    "+c": lambda a, c: a + c,
    "/c": lambda a, c: a / c,
}

leaf = st.floats(-3, 3, allow_nan=False).filter(lambda x: abs(x) > 1e-3)
step = st.one_of(
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 10**6), leaf),
)
program = st.tuples(
    st.lists(leaf, min_size=1, max_size=5),
    st.lists(step, min_size=1, max_size=25),
    st.integers(1, 4),
)


def grow(pool, steps):
    """Append each step's result to pool (errors propagate); pool."""
    for op, i, arg in steps:
        # operands are picked from everything built so far: shared subexpressions
        if op in BINARY:
            pool.append(BINARY[op](pool[i % len(pool)], pool[arg % len(pool)]))
        else:
            pool.append(UNARY[op](pool[i % len(pool)], arg))
    return pool


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
    scale = max([1.0] + [abs(v.grad) for v in theirs if math.isfinite(v.grad)])
    for o, t in zip(ours, theirs):
        assert o._op == t._op
        assert o.data == t.data or (math.isnan(o.data) and math.isnan(t.data))
        assert close(o.grad, t.grad, 1e-12, scale), (o, t)
