"""Fault injection: with the arena capped, every operation that makes nodes raises MemoryError,
changes no existing graph, and leaks nothing."""

import math
import random

import pytest
from helpers import fresh

from micrograd_c import MLP, Value, losses, record, stats
from micrograd_c._core import lib


def operations(a, b, model):
    """Every way of making nodes, each a zero-argument callable."""
    return {
        "leaf": lambda: Value(1.0),
        "add": lambda: a + b,
        "mul": lambda: a * b,
        "add number": lambda: a + 2,
        "mul number": lambda: 2 * a,
        "sub": lambda: a - b,
        "rsub": lambda: 1 - a,
        "div": lambda: a / b,
        "rdiv": lambda: 1 / a,
        "neg": lambda: -a,
        "pow": lambda: a**2,
        "pow value": lambda: a**b,
        "rpow": lambda: 2**a,
        "relu": lambda: a.relu(),
        "tanh": lambda: a.tanh(),
        "exp": lambda: a.exp(),
        "log": lambda: a.log(),
        "sigmoid": lambda: a.sigmoid(),
        "softplus": lambda: a.softplus(),
        "logaddexp": lambda: a.logaddexp(b),
        "logaddexp number": lambda: a.logaddexp(2.0),
        "mlp": lambda: model([a, b]),
        "svm": lambda: losses.svm([a, b], [1, -1]),
        "l2": lambda: losses.l2([a, b]),
        "mse": lambda: losses.mse([a], [0.0]),
        "by hand, 2 children": lambda: Value(2.0, (a, b), "hand"),
        "by hand, 4 children": lambda: Value(2.0, (a, b, a * 1, b), "hand"),
    }


@pytest.mark.parametrize("name", sorted(operations(None, None, None)))
@pytest.mark.parametrize("headroom", [0, 1, 2])
def test_capped_arena_raises_memory_error_and_keeps_graphs(name, headroom):
    random.seed(0)
    model = MLP(2, [3, 1])
    a, b = Value(1.5), Value(0.5)
    kept = (a * b + a).tanh()  # an existing graph that must stay intact
    op = operations(a, b, model)[name]
    expected = op().data  # uncapped, before anything failed
    before = stats().live
    lib.mg_set_node_limit(before + headroom)
    try:
        try:
            op()
            made = True
        except MemoryError:
            made = False
    finally:
        lib.mg_set_node_limit(-1)
    assert stats().live == before  # nothing leaked: a result, if made, is already dropped
    if headroom == 0:
        assert not made
    kept.backward()
    assert (a.data, b.data, kept.data) == (1.5, 0.5, math.tanh(1.5 * 0.5 + 1.5))
    assert a.grad == pytest.approx((1 - kept.data**2) * 1.5)
    assert op().data == expected  # works again, and as before, without the cap


def test_every_allocation_of_record_can_fail_and_change_nothing():
    a, b = Value(1.5), Value(0.5)
    kept = (a * b + a).tanh()
    graph = (a * b).relu() + a**2 + losses.l2([a, b])
    start = lib.mg_allocations()
    record(graph, inputs=[a]).close()
    allocations = lib.mg_allocations() - start
    assert allocations >= 8
    before = stats().live
    for n in range(1, allocations + 1):
        lib.mg_fail_allocation(n)
        try:
            with pytest.raises(MemoryError):
                record(graph, inputs=[a])
        finally:
            lib.mg_fail_allocation(0)
        assert stats().live == before
    rec = record(graph, inputs=[a])  # works again, and the graphs are intact
    rec.set_inputs([2.0])
    assert rec.forward() == 2.0 * 0.5 + 2.0**2 + (2.0 * 2.0 + 0.5 * 0.5)
    kept.backward()
    assert kept.data == math.tanh(1.5 * 0.5 + 1.5)


def graph_with_a_python_rule():
    """Leaves a, b and a root over 300 uses of a hand-built a * b: (a, b, root)."""
    a, b = Value(1.5), Value(0.5)
    hand = Value(a.data * b.data, (a, b), "hand")
    hand._backward = lambda: (
        a.__setattr__("grad", a.grad + b.data * hand.grad),
        b.__setattr__("grad", b.grad + a.data * hand.grad),
    )
    return a, b, sum((hand * k for k in range(300)), a * 0)  # longer than the walk's first buffer


def test_every_allocation_of_a_backward_with_python_rules_can_fail_and_change_nothing():
    a, b, root = graph_with_a_python_rule()
    start = lib.mg_allocations()
    root.backward()
    allocations = lib.mg_allocations() - start
    assert allocations >= 2
    assert (a.grad, b.grad) == (0.5 * sum(range(300)), 1.5 * sum(range(300)))
    for n in range(1, allocations + 1):
        a, b, root = graph_with_a_python_rule()
        before = stats().live
        lib.mg_fail_allocation(n)
        try:
            with pytest.raises(MemoryError):
                root.backward()
        finally:
            lib.mg_fail_allocation(0)
        assert (a.grad, b.grad, root.grad) == (0.0, 0.0, 0.0) and stats().live == before
        root.backward()  # and it works afterwards
        assert (a.grad, b.grad) == (0.5 * sum(range(300)), 1.5 * sum(range(300)))


GROWTH = """
from micrograd_c import Value, stats
from micrograd_c._core import lib
x = Value(0.0)
chain, faults = x, 0
for n in range(1, 5):                 # each heap allocation of adding a chunk, in turn
    lib.mg_fail_allocation(n)
    try:
        while True:
            chain = chain + 1.0
    except MemoryError:
        faults += 1
    lib.mg_fail_allocation(0)
    assert chain.data == (stats().live - 1) // 2  # the graph held is intact
chain = chain + 1.0                   # with nothing failing, the arena grows
chain.backward()                      # and the graph is usable
assert x.grad == 1.0 and chain.data == (stats().live - 1) // 2
capacity = stats().capacity
del chain
assert stats().live == 1, stats()
print("faults", faults, "capacity", capacity)
"""


def test_every_allocation_of_growing_the_arena_can_fail():
    assert fresh(GROWTH).startswith("faults 4 capacity 131072")
