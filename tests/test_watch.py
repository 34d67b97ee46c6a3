"""backprop_steps: the steps backward() takes, recorded without changing a grad, against
backward() itself, bit for bit, on random graphs of every op (Python ops and nn outputs too)."""

from __future__ import annotations

import contextlib
import math
import random

import pytest
from helpers import ROOT, needs_checkout, page_data
from helpers import same_bits as same
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_c import MLP, Value, backprop_steps
from micrograd_c.viz import _walk
from micrograd_c.watch import MAX_NODES, Step

# ---- ops written in Python, as the micrograd lecture writes them -------------------------------


def py_sin(a: Value) -> Value:
    out = Value(math.sin(a.data), (a,), "sin")

    def _backward() -> None:
        a.grad += math.cos(a.data) * out.grad

    out._backward = _backward
    return out


def py_square(a: Value) -> Value:
    """Hand-built with a repeated child, as micrograd's x*x has: (a, a)."""
    out = Value(a.data * a.data, (a, a), "sq")

    def _backward() -> None:
        a.grad += 2 * a.data * out.grad

    out._backward = _backward
    return out


def py_sum3(a: Value, b: Value, c: Value) -> Value:
    """Three children: C chains the third in a link node of its own."""
    out = Value(a.data + b.data + c.data, (a, b, c), "sum3")

    def _backward() -> None:
        a.grad += out.grad
        b.grad += out.grad
        c.grad += out.grad

    out._backward = _backward
    return out


def py_div_rule(a: Value, b: Value) -> Value:
    """A built-in op whose rule is replaced by one that divides (so local × grad is not it)."""
    out = a * b

    def _backward() -> None:
        a.grad += out.grad / 3.0
        b.grad += a.data * out.grad

    out._backward = _backward
    return out


def hand_no_rule(a: Value) -> Value:
    """Built by hand with no _backward: it passes nothing down, as in micrograd."""
    return Value(a.data, (a,), "id")


MODEL_SEED = 7


def nn_output(a: Value, b: Value) -> Value:
    random.seed(MODEL_SEED)
    return MLP(2, [2, 1])([a, b])


BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**V": lambda a, b: a**b,
    "mlp": nn_output,
    "py_div_rule": py_div_rule,
}
UNARY = {
    "**2": lambda a: a**2,
    "**3": lambda a: a**3,
    "**-1": lambda a: a**-1,
    "**0.5": lambda a: a**0.5,
    "**1.5": lambda a: a**1.5,
    "2**": lambda a: 2**a,
    "relu": lambda a: a.relu(),
    "tanh": lambda a: a.tanh(),
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "sigmoid": lambda a: a.sigmoid(),
    "softplus": lambda a: a.softplus(),
    "logaddexp": lambda a: a.logaddexp(a * 2),
    "neg": lambda a: -a,
    "x*x": lambda a: a * a,
    "x+x": lambda a: a + a,
    "x**x": lambda a: a**a,
    "c-": lambda a: 1.5 - a,
    "/c": lambda a: a / 3,
    "sin": py_sin,
    "sq": py_square,
    "id": hand_no_rule,
}

leaf = st.floats(1e-3, 3) | st.floats(-3, -1e-3)
step = st.one_of(
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 99), st.integers(0, 99)),
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 99), st.just(0)),
    st.tuples(st.just("sum3"), st.integers(0, 99), st.integers(0, 99)),
)
program = st.tuples(
    st.lists(leaf, min_size=1, max_size=4),
    st.lists(step, min_size=1, max_size=12),
    st.integers(1, 3),
    st.booleans(),
)


def build(prog):
    """The root and the leaves of a random program (ops that fail forward are left out)."""
    leaves, steps, outputs, _ = prog
    pool = [Value(x) for x in leaves]
    for op, i, j in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]  # shared subexpressions
        try:
            if op == "sum3":
                pool.append(py_sum3(a, b, pool[(i + j) % len(pool)]))
            elif op in BINARY:
                pool.append(BINARY[op](a, b))
            else:
                pool.append(UNARY[op](a))
        except (ArithmeticError, ValueError):
            pass
    return sum(pool[-outputs:], Value(0.0)), pool


def check(root: Value, labels=None) -> list[Step]:
    """backprop_steps(root) against root.backward(); what the steps are, if any."""
    nodes = list(_walk(root))  # (held: the same handles all along)
    before = [v.grad for v in nodes]
    try:
        steps = backprop_steps(root, labels)
    except (ArithmeticError, ValueError) as exc:  # a power whose derivative fails
        assert all(same(v.grad, g) for v, g in zip(nodes, before))
        with pytest.raises(type(exc)):
            root.backward()
        assert all(same(v.grad, g) for v, g in zip(nodes, before))  # backward changed none
        return []
    assert all(same(v.grad, g) for v, g in zip(nodes, before)), "backprop_steps changed a grad"
    # a topological order: each node's step before its children's, each node once
    position = {s.node: k for k, s in enumerate(steps)}
    assert len(position) == len(steps)
    for k, s in enumerate(steps):
        for e in s.edges:
            assert position.get(e.child, len(steps)) > k
    assert all(v in position for v in nodes if v._children())  # every node with a rule
    # applying the steps from the grads as they were, root.grad = 1
    expected = dict(zip(nodes, before))
    expected[root] = 1.0
    for s in steps:
        assert same(s.grad, expected[s.node])
        assert s.data == s.node.data or math.isnan(s.data)
        for e in s.edges:
            assert same(e.grad_before, expected[e.child])
            if not s.python:  # C's rule adds exactly `added`
                assert same(e.grad_before + e.added, e.grad_after)
            expected[e.child] = e.grad_after
    root.backward()
    for v in nodes:
        assert same(v.grad, expected[v]), (v, expected[v])
    for s in steps:  # the DP guarantee: a node's grad is final when its rule runs
        assert same(s.grad, s.node.grad)
    return steps


@settings(max_examples=250, deadline=None)
@given(program)
def test_steps_reproduce_backward_bit_for_bit(prog):
    root, _pool = build(prog)
    if prog[3]:  # grads already accumulated: backward adds to them, and so must the steps
        with contextlib.suppress(ArithmeticError, ValueError):  # (check() sees the same error)
            root.backward()
    check(root)


@pytest.mark.parametrize("op", sorted(UNARY) + sorted(BINARY) + ["sum3"])
def test_every_op(op):
    a, b, c = Value(0.7), Value(1.3), Value(-0.4)
    if op == "sum3":
        out = py_sum3(a, b, c)
    elif op in BINARY:
        out = BINARY[op](a, b)
    else:
        out = UNARY[op](a)
    root = out * c + out  # shared
    steps = check(root)
    assert steps and any(s.node is out or s.op == op for s in steps)


def test_the_chapters_example():
    x, y, b = Value(2.0), Value(3.0), Value(1.0)
    z = x * y + b
    names = {x: "x", y: "y", b: "b", z: "z"}
    steps = backprop_steps(z, names)
    assert [(s.name, s.op, s.data, s.grad) for s in steps] == [
        ("z", "+", 7.0, 1.0),
        ("v2", "*", 6.0, 1.0),
    ]
    assert [(e.name, e.local, e.added, e.grad_before, e.grad_after) for e in steps[1].edges] == [
        ("x", 3.0, 3.0, 0.0, 3.0),
        ("y", 2.0, 2.0, 0.0, 2.0),
    ]
    assert str(steps[1]) == "v2 (*) grad 1.0: x.grad += 1.0 × 3.0 → 3.0, y.grad += 1.0 × 2.0 → 2.0"
    assert (x.grad, y.grad, b.grad, z.grad) == (0.0, 0.0, 0.0, 0.0)  # nothing changed


def test_a_repeated_child_is_two_edges():
    x = Value(3.0)
    y = x * x
    (step,) = check(y)
    assert [(e.child, e.local, e.grad_before, e.grad_after) for e in step.edges] == [
        (x, 3.0, 0.0, 3.0),
        (x, 3.0, 3.0, 6.0),
    ]


def test_python_rule_shares_are_what_it_adds():
    a, b = Value(2.0), Value(5.0)
    out = py_div_rule(a, b)
    root = out * 4.0
    steps = check(root)
    step = next(s for s in steps if s.node is out)
    assert step.python and step.grad == 4.0
    assert [(e.local, e.added) for e in step.edges] == [(1 / 3.0, 4.0 / 3.0), (2.0, 8.0)]


def test_a_leaf_root_has_no_steps_and_keeps_its_grad():
    v = Value(5.0)
    v.grad = 2.5
    assert backprop_steps(v) == []
    assert v.grad == 2.5


def test_a_leaf_with_a_python_rule_is_a_step():
    calls = []
    leaf = Value(1.5)
    leaf._backward = lambda: calls.append(leaf.grad)
    root = leaf * 2.0
    steps = check(root)
    assert [s.node for s in steps][-1] is leaf and steps[-1].edges == []
    assert calls[-1] == 2.0  # run by backward() with its final grad


def test_mlp_output_fused_nodes_are_steps():
    random.seed(3)
    model = MLP(3, [4, 1])
    out = model([Value(0.5), Value(-1.0), Value(2.0)])
    steps = check((out - 1.0) ** 2)
    ops = {s.op for s in steps}
    assert {"*", "+", "ReLU", "**2"} <= ops
    assert {e.child for s in steps for e in s.edges} >= set(model.parameters())


def test_a_graph_above_the_limit_is_refused_clearly():
    v = Value(0.1)
    for _ in range(MAX_NODES - 1):
        v = v.tanh()
    assert len(backprop_steps(v)) == MAX_NODES - 1  # exactly MAX_NODES Values: fine
    with pytest.raises(ValueError, match=f"at most {MAX_NODES} Values"):
        backprop_steps(v.tanh())


def test_labels_name_the_steps():
    a = Value(1.0)
    h = a.exp()
    out = h * h
    steps = backprop_steps(out, {a: "a", h: "h", out: "out"})
    assert [s.name for s in steps] == ["out", "h"]
    assert [e.name for e in steps[0].edges] == ["h", "h"] and steps[1].edges[0].name == "a"


def test_a_failing_power_raises_as_backward_does_and_changes_nothing():
    x = Value(0.0)
    w = Value(2.0)
    root = x**0.5 * w  # d(x ** 0.5)/dx = 0.5 * 0.0 ** -0.5: ZeroDivisionError, as micrograd
    with pytest.raises(ZeroDivisionError):
        backprop_steps(root)
    assert (x.grad, w.grad, root.grad) == (0.0, 0.0, 0.0)


# ---- the page, without a browser (tests/test_watch_page.py drives it in one) ---------------------


@pytest.mark.parametrize("use_dot", [True, False])
def test_page_is_one_self_contained_file(use_dot, tmp_path, monkeypatch):
    import re

    from micrograd_c import backprop_html, watch

    if use_dot and not watch._dot_available():
        pytest.skip("no graphviz package or `dot`")
    monkeypatch.setattr(watch, "_dot_available", lambda: use_dot)
    x, y, b = Value(2.0), Value(3.0), Value(1.0)
    z = x * y + b
    page = backprop_html(z, tmp_path / "page.html", {x: "x", y: "y", b: "b", z: "z"})
    text = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert text == page.html and text.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?:|<link\b|\bsrc=|@import", text)
    assert "\\\\" not in text  # the script as written: a row's children are joined by "\n"
    assert (x.grad, y.grad, b.grad, z.grad) == (0.0, 0.0, 0.0, 0.0)
    for element in (
        "n0",
        "o2",
        "e2_0",
        "e2_1",
        "r2",
        "e4_0",
        "e4_1",
        "r4",
        "slider",
        "prev",
        "next",
        "explain",
        "rows",
    ):
        assert f'id="{element}"' in text, element
    data = page_data(text)
    assert [s["name"] for s in data["steps"]] == ["z", "v2"]
    assert [e["formula"] + " = " + e["local"] for e in data["steps"][1]["edges"]] == [
        "∂(x·y)/∂x = y = 3.0",
        "∂(x·y)/∂y = x = 2.0",
    ]
    assert data["start"] == ["0.0", "0.0", "0.0", "0.0", "1.0"]
    import html

    srcdoc = re.fullmatch(r'<iframe srcdoc="([^"]*)" style="[^"]*"></iframe>', page._repr_html_())
    assert srcdoc and html.unescape(srcdoc.group(1)) == text  # what Jupyter shows inline


@pytest.mark.parametrize("use_dot", [True, False])
def test_page_escapes_what_it_is_given(use_dot, tmp_path, monkeypatch):
    from micrograd_c import backprop_html, watch

    if use_dot and not watch._dot_available():
        pytest.skip("no graphviz package or `dot`")
    monkeypatch.setattr(watch, "_dot_available", lambda: use_dot)
    a = Value(1.0)
    out = Value(2.0, (a,), "</script><b>")
    text = backprop_html(out * 2, tmp_path / "p.html").html
    assert "</script><b>" not in text and "<b>" not in text
    assert "&lt;/script&gt;&lt;b&gt;" in text  # drawn as the op's name


def test_page_refuses_a_graph_above_the_limit(tmp_path):
    from micrograd_c import backprop_html

    v = Value(0.1)
    for _ in range(MAX_NODES):
        v = v.tanh()
    with pytest.raises(ValueError, match="at most"):
        backprop_html(v, tmp_path / "big.html")
    assert not (tmp_path / "big.html").exists()


def test_the_tutorials_pictures_and_page_are_there():
    """The screenshots and the page docs/tutorial*.md link to: small PNGs, a self-contained page."""
    import re

    from micrograd_c.watch import chapter_example

    docs = ROOT / "docs"
    needs_checkout(docs / "images")  # (an sdist carries only docs/*.md)
    for tutorial in ("tutorial.md", "tutorial.zh.md"):
        links = re.findall(r"\]\((images/backprop[^)]*)\)", (docs / tutorial).read_text("utf-8"))
        assert len(links) == 4, tutorial
        for link in links:
            assert (docs / link).is_file(), link
    for k in range(3):
        png = (docs / "images" / f"backprop-step-{k}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) < 60_000
    text = (docs / "images" / "backprop-chapter.html").read_text(encoding="utf-8")
    assert not re.search(r"https?:", text)
    data = page_data(text)
    z, names = chapter_example()
    assert [(s["name"], s["grad"], [e["after"] for e in s["edges"]]) for s in data["steps"]] == [
        (s.name, str(s.grad), [str(e.grad_after) for e in s.edges])
        for s in backprop_steps(z, names)
    ]
