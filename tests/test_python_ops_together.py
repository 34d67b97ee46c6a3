"""Ops written in Python with the rest of the library: subclasses, attributes, pickling, replay,
the drawings, the fused kernels, random graphs mixing them with C ops, and Value.__init__ run
again. micrograd 0.1.0 is the oracle where it has the feature."""

import gc
import math
import pickle
import weakref

import pytest
from helpers import assert_same_numbers, exp, lin, tanh
from hypothesis import given, settings
from hypothesis import strategies as st
from micrograd.engine import Value as MicroValue

from micrograd_c import Value, record, stats

ENGINES = [MicroValue, Value]


class Tensor(Value):
    """A subclass adding its own ops, as users extend micrograd."""

    def __init__(self, data, _children=(), _op="", label=""):
        super().__init__(data, _children, _op)
        self.label = label

    def tanh(self):
        return tanh(self)

    def cube(self):
        out = type(self)(self.data**3, (self,), "cube")

        def _backward():
            self.grad += 3 * self.data**2 * out.grad

        out._backward = _backward
        return out


class MicroTensor(MicroValue):
    def __init__(self, data, _children=(), _op="", label=""):
        super().__init__(data, _children, _op)
        self.label = label

    tanh = Tensor.tanh
    cube = Tensor.cube


def test_a_subclass_with_its_own_ops():
    def build(T):
        a, b = T(0.7, label="a"), T(-1.2, label="b")
        c = T(0.5).tanh() * a * b  # (a * b is a plain Value, as on micrograd)
        d = T(2.0, label="d").cube() * c + a.cube() + b.tanh()
        d.backward()
        return [a, b, d]

    ours, theirs = build(Tensor), build(MicroTensor)
    assert_same_numbers(ours, theirs)
    assert [v.label for v in ours[:2]] == ["a", "b"]
    assert type(Tensor(1.0) + Tensor(2.0)) is Value  # as micrograd's: its ops make Values
    assert type(MicroTensor(1.0) + MicroTensor(2.0)) is MicroValue
    assert type(Tensor(1.0).tanh()) is Tensor


def test_attributes_weak_references_and_vars():
    v = Value(1.0)
    v.label = "a"
    assert vars(v) == {"label": "a"} and v.label == "a"
    r = weakref.ref(v)
    assert r() is v
    w = (v * 2).relu()
    w.note = [1, 2]
    assert vars(w) == {"note": [1, 2]}


def test_values_with_attributes_are_freed_without_the_cyclic_gc():
    gc.collect()
    before = stats().live
    gc.disable()
    try:
        x = Value(2.0)
        x.label = "x"
        y = x * x + 1
        y.label = "y"
        refs = [weakref.ref(x), weakref.ref(y)]
        y.backward()
        del x, y
        assert [r() for r in refs] == [None, None]
        assert stats().live == before
    finally:
        gc.enable()


def test_a_leaf_pickles_with_its_attributes():
    v = Value(1.5)
    v.label = "w1"
    copy = pickle.loads(pickle.dumps(v))
    assert (copy.data, copy.label) == (1.5, "w1")


def test_record_names_the_python_op_it_cannot_replay():
    x = Value(0.5)
    loss = tanh(x * 2) * x
    with pytest.raises(TypeError, match=r"'tanh'.*written in Python"):
        record(loss, inputs=[x])
    y = x * 3
    y._backward = lambda: None
    with pytest.raises(TypeError, match="'\\*'"):
        record(y + 1, inputs=[x])


def test_children_must_be_values_and_init_again_takes_none():
    with pytest.raises(TypeError, match="children must be Values, not int"):
        Value(1.0, (Value(2.0), 3))
    v = Value(1.0)
    with pytest.raises(TypeError, match="cannot be run again with children"):
        v.__init__(2.0, (Value(3.0),))
    with pytest.raises(TypeError, match="callable"):
        v._backward = 3


leaf = st.floats(-2, 2, allow_nan=False).filter(lambda x: abs(x) > 1e-2)
coef = st.floats(-2, 2, allow_nan=False)
C_OPS = {
    "+": lambda a, b: a + b,
    "*": lambda a, b: a * b,
    "-": lambda a, b: a - b,
    "/": lambda a, b: a / b,
    "**2": lambda a, b: a**2,
    "**-1": lambda a, b: a**-1,
    "relu": lambda a, b: a.relu(),
    "neg": lambda a, b: -a,
    "c*": lambda a, b: 1.5 * a,
    "c-": lambda a, b: 2 - a,
}
step = st.one_of(
    st.tuples(st.sampled_from(sorted(C_OPS)), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(
        st.just("py"),
        st.lists(st.integers(0, 10**6), max_size=4),
        st.lists(coef, min_size=4, max_size=4),
    ),
)


def mixed(V, leaves, steps):
    """A graph of C ops and Python ops (0 to 4 children, shared subexpressions); every node."""
    pool = [V(x) for x in leaves]
    for op, i, arg in steps:
        if op == "py":
            pool.append(lin(V, [pool[k % len(pool)] for k in i], arg))
        else:
            pool.append(C_OPS[op](pool[i % len(pool)], pool[arg % len(pool)]))
    root = sum(pool[-3:], V(0.0))
    root.backward()
    return pool + [root]


@settings(max_examples=200, deadline=None)
@given(st.lists(leaf, min_size=1, max_size=4), st.lists(step, min_size=1, max_size=20))
def test_random_graphs_mixing_python_and_c_ops_match_micrograd(leaves, steps):
    try:
        theirs = mixed(MicroValue, leaves, steps)
    except (ArithmeticError, ValueError) as exc:
        with pytest.raises(type(exc)):
            mixed(Value, leaves, steps)
        return
    assert_same_numbers(mixed(Value, leaves, steps), theirs, rel=1e-9)


def test_grad_table_mermaid_and_draw_dot_show_python_ops():
    from micrograd_c import grad_table, to_mermaid

    x, y = Value(0.5), Value(2.0)
    t = tanh(x)
    z = lin(Value, [t, y, t], [1.0, 3.0, 2.0]) + x * y
    z.backward()
    names = {x: "x", y: "y", t: "t", z: "z"}
    table = grad_table(z, names)
    assert "(tanh)" in table and "(lin)" in table
    # each leaf's terms sum to its grad, Python ops included
    from micrograd_c.viz import leaf_gradients

    for g in leaf_gradients(z, names):
        assert math.isclose(sum(t.parent.grad * t.local for t in g.terms), g.grad, rel_tol=1e-12)
    assert (x.grad, y.grad, t.grad) == pytest.approx((3 * (1 - t.data**2) + 2.0, 3.5, 3.0))
    assert '["lin"]' in to_mermaid(z, names) and "Tanh" in to_mermaid(z, names)
    graphviz = pytest.importorskip("graphviz")
    from micrograd_c import draw_dot

    source = draw_dot(z, labels=names).source
    assert "label=lin" in source and "label=tanh" in source
    assert isinstance(graphviz.Digraph(), type(draw_dot(z)))


def test_python_ops_under_and_over_the_fused_kernels():
    """A Python op's output feeds an MLP (a fused C kernel), whose output feeds Python ops."""
    import random

    from micrograd.nn import MLP as MicroMLP

    from micrograd_c import MLP, losses

    def build(V, M):
        random.seed(1337)
        model = M(2, [4, 1])
        xs = [(V(0.3), V(-0.8)), (V(1.1), V(0.4))]
        scores = [model([tanh(a), lin(V, [a, b, a], [0.5, -1.0, 2.0])]) for a, b in xs]
        out = sum((exp(s) for s in scores), V(0.0))
        if M is MLP:  # the fused losses over Python ops, too
            out = out + losses.l2([tanh(s) for s in scores])
        else:
            out = out + sum(tanh(s) * tanh(s) for s in scores)
        out.backward()
        return [v for pair in xs for v in pair] + model.parameters() + [out]

    ours, theirs = build(Value, MLP), build(MicroValue, MicroMLP)
    assert_same_numbers(ours, theirs, rel=1e-12)
    assert any(v.grad != 0.0 for v in ours[:4])  # grads reached the inputs through it all


def test_init_again_forgets_an_assigned_rule():
    x = Value(2.0)
    y = x * 3
    y._backward = lambda: setattr(x, "grad", 100.0)
    y.__init__(5.0)  # as micrograd's __init__ resets _backward to a no-op
    assert "_backward" not in vars(y) and y._op == "" and y._prev == set()
    (y * 2).backward()
    assert (x.grad, y.grad) == (0.0, 2.0)


def test_a_rule_whose_handle_is_gone_leaves_the_nodes_own_rule_as_backprop_steps_shows():
    from micrograd_c import _handles, backprop_steps

    x = Value(2.0)
    y = x * 3
    z = y * y
    other = _handles._handle(y._i, _handles.Pool(()))  # a second handle on y's node
    other._backward = lambda: None
    del other  # its rule goes with it (no cycle: the rule does not name it)
    gc.collect()
    steps = backprop_steps(z)
    z.backward()
    assert x.grad == 3 * 2 * 6.0  # y's own rule ran
    assert [s.grad for s in steps] == [z.grad, y.grad]


def test_a_children_list_changed_after_it_was_handed_over_changes_nothing():
    a, b, c = Value(1.0), Value(2.0), Value(3.0)
    kids = [a, b]
    out = Value(5.0, kids, "hand")
    out._backward = lambda: [setattr(k, "grad", k.grad + out.grad) for k in (a, b)] and None
    kids.append(c)
    kids[0] = c
    del kids
    assert out._prev == {a, b}
    (out * 2).backward()
    assert (a.grad, b.grad, c.grad) == (2.0, 2.0, 0.0)
