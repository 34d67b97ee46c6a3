"""Ops written in Python, as micrograd's users add them: hand-built nodes with a _backward.

micrograd 0.1.0 runs the same code as the oracle. Its backward visits nodes
in a depth-first topological order, ours in reverse creation order: both
are topological, so grads agree up to the order of floating-point sums.
"""

import gc
import math
import threading

import pytest
from helpers import assert_same_numbers, exp, lin, tanh
from micrograd.engine import Value as MicroValue

from micrograd_c import Value, stats

ENGINES = [MicroValue, Value]


def lecture_neuron(V):
    """The lecture's neuron, once with tanh and once with tanh spelled through exp."""
    x1, x2, w1, w2 = V(2.0), V(0.0), V(-3.0), V(1.0)
    b = V(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    e = exp(2 * n)
    o = (e - 1) / (e + 1)
    root = tanh(n) * o + o
    root.backward()
    return [x1, x2, w1, w2, b, n, e, o, root]


def test_the_lectures_tanh_and_exp_neuron():
    ours, theirs = lecture_neuron(Value), lecture_neuron(MicroValue)
    assert [v.grad for v in ours] == [v.grad for v in theirs]  # a chain: the same sums
    assert [v.data for v in ours] == [v.data for v in theirs]
    assert ours[-1]._op == "+" and ours[6]._op == "exp"
    assert ours[5].grad != 0  # the Python rules ran: n gets its grad through them


def test_monkeypatched_methods_like_the_lecture(monkeypatch):
    monkeypatch.setattr(Value, "tanh", tanh)
    x = Value(0.5)
    y = (x * 2).tanh() * 3 + 1
    y.backward()
    assert y._prev and (x * 2).tanh()._op == "tanh"
    assert x.grad == pytest.approx(6 * (1 - math.tanh(1.0) ** 2), rel=1e-15)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7])
def test_any_number_of_children_and_repeats(n):
    def build(V):
        xs = [V(0.5 + k) for k in range(n)]
        kids = xs + xs[:2]  # repeats too: micrograd's _prev (a set) has each once
        coefs = [1.5 + k for k in range(len(kids))]
        root = lin(V, [x * x for x in kids], coefs) * 2
        root.backward()
        return xs + [root]

    ours, theirs = build(Value), build(MicroValue)
    assert_same_numbers(ours, theirs)


def test_a_hand_built_node_without_a_rule_passes_nothing_on():
    for V in ENGINES:
        x = V(3.0)
        y = V(5.0, (x * 2,), "mystery")  # no _backward assigned: micrograd's lambda: None
        (y * 4).backward()
        assert x.grad == 0.0 and y.grad == 4.0
        y._backward()  # callable by hand, and does nothing


def test_backward_calls_each_python_rule_once_children_after_parents():
    calls = []

    def traced(V, name, kids):
        out = V(1.0, tuple(kids), name)
        out._backward = lambda: calls.append(name)
        return out

    for V in ENGINES:
        calls.clear()
        leaf = traced(V, "leaf", [])
        a = traced(V, "a", [leaf])
        b = traced(V, "b", [a * 2, a])
        c = traced(V, "c", [b, a, b + leaf])
        (c * 3).backward()
        assert sorted(calls) == ["a", "b", "c", "leaf"]
        assert calls.index("c") < calls.index("b") < calls.index("a") < calls.index("leaf")


@pytest.mark.parametrize("when", ["before parents", "after parents"])
def test_backward_assigned_to_a_c_node_replaces_its_rule(when):
    def build(V):
        x = V(1.5)
        y = x * 3
        if when == "before parents":
            y._backward = lambda: setattr(x, "grad", x.grad + 100 * y.grad)
        z = y * y + y.relu()
        if when == "after parents":  # z's nodes already stand over y
            y._backward = lambda: setattr(x, "grad", x.grad + 100 * y.grad)
        z.backward()
        return [x, y, z]

    ours, theirs = build(Value), build(MicroValue)
    assert_same_numbers(ours, theirs)
    assert ours[0].grad == 100 * ours[1].grad


@pytest.mark.parametrize("V", ENGINES)
def test_backward_assigned_to_a_leaf_after_it_has_parents(V):
    x = V(2.0)
    y = x * x
    seen = []
    x._backward = lambda: seen.append(x.grad)
    y.backward()
    assert seen == [4.0]


def test_a_python_rule_may_build_values_write_data_and_run_another_backward():
    def build(V):
        x, other = V(0.3), V(2.0)

        def sigmoid(v):
            s = 1 / (1 + math.exp(-v.data))
            out = V(s, (v,), "sigmoid")

            def _backward():
                local = out * (1 - out)  # new Values, made mid-backward
                side = other * other
                side.backward()  # a whole backward of another graph, nested
                v.grad += local.data * out.grad

            out._backward = _backward
            return out

        y = sigmoid(x * 4) * x
        y.backward()
        return [x, other, y]

    ours, theirs = build(Value), build(MicroValue)
    assert_same_numbers(ours, theirs)
    assert ours[1].grad == 4.0


@pytest.mark.parametrize("V", ENGINES)
def test_a_rule_that_writes_data_makes_a_later_power_raise_as_micrograd_does(V):
    x = V(2.0)
    p = x**-1
    hook = V(1.0, (p,), "hook")

    def _backward():
        p.grad += hook.grad
        x.data = 0.0  # p's rule now divides by zero

    hook._backward = _backward
    with pytest.raises(ZeroDivisionError):
        (hook * 2).backward()


def test_an_exception_in_a_python_rule_propagates_with_earlier_grads_updated():
    def build(V):
        x = V(1.25)
        y = V(2.0, (x,), "boom")

        def _backward():
            raise KeyError("boom")

        y._backward = _backward
        z = y * 3
        w = z + 1
        return x, y, z, w

    gc.collect()
    before = stats().live
    for V in ENGINES:
        x, y, z, w = build(V)
        with pytest.raises(KeyError):
            w.backward()
        # the nodes above the failing rule applied theirs; nothing below it ran
        assert (w.grad, z.grad, y.grad, x.grad) == (1.0, 1.0, 3.0, 0.0)
    del x, y, z, w
    gc.collect()
    assert stats().live == before  # the walk gave back every reference it held


def test_python_rules_in_several_threads_at_once():
    """Two threads backpropagate graphs with Python ops; each rule waits for the other thread."""
    expected = [v.grad for v in lecture_neuron(MicroValue)]
    go, failures = [threading.Event(), threading.Event()], []

    def worker(me):
        other = 1 - me

        def waiting(v):
            out = Value(v.data, (v,), "wait")

            def _backward():
                go[me].set()
                # the other thread must be able to run its whole backward meanwhile
                if not go[other].wait(timeout=30):
                    failures.append(f"thread {me}: the other thread could not run")
                v.grad += out.grad

            out._backward = _backward
            return out

        for _ in range(20):
            vals = lecture_neuron(Value)
            if [v.grad for v in vals] != expected:
                failures.append(f"thread {me}: wrong grads")
        root = waiting(Value(1.0) * 2)
        root.backward()
        other_graph = lecture_neuron(Value)
        if [v.grad for v in other_graph] != expected:
            failures.append(f"thread {me}: wrong grads while the other waits")

    threads = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and failures == []


def test_backward_by_hand_node_by_node():
    """Reverse topological order by hand, micrograd's way, on both kinds of node."""

    def build(V):
        vals = lecture_neuron(V)
        for v in vals:
            v.grad = 0.0
        root = vals[-1]
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(root)
        root.grad = 1.0
        for v in reversed(topo):
            v._backward()
        return vals

    ours, theirs = build(Value), build(MicroValue)
    assert_same_numbers(ours, theirs)
    assert ours[0].grad != 0.0
