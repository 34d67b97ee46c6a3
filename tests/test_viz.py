"""draw_dot, to_mermaid and the gradient table, on the tutorial's first example."""

from __future__ import annotations

import math
import re
import shutil
import sys

import pytest
from helpers import chapter

from micrograd_c import Value, draw_dot, grad_table, leaf_gradients, to_mermaid


def shared():
    """x, y -> h = x*y -> z = h*h + h: h is used three times but is one node."""
    x, y = Value(2.0), Value(-3.0)
    h = x * y
    z = h * h + h
    z.backward()
    return z


def test_mermaid_is_the_chapters_diagram():
    z, names = chapter()
    assert (
        to_mermaid(z, names)
        == """\
graph LR
    x(2.0) --> Mul
    y(3.0) --> Mul
    Mul --> Add
    b(1.0) --> Add
    Add --> z(7.0)"""
    )


def test_mermaid_shows_grads_after_backward():
    z, names = chapter()
    z.backward()
    lines = to_mermaid(z, names).splitlines()
    assert lines[1] == '    x("2.0, grad 3.0") --> Mul'
    assert lines[-1] == '    Add --> z("7.0, grad 1.0")'


def test_mermaid_names_are_stable_identifiers_and_shared_nodes_appear_once():
    texts = {to_mermaid(shared()) for _ in range(3)}
    assert len(texts) == 1  # the same program gives the same text
    lines = texts.pop().splitlines()
    assert lines[0] == "graph LR"
    edges = [line.strip().split(" --> ") for line in lines[1:]]
    node_ids = {re.match(r"[^(\[]*", end).group() for edge in edges for end in edge}
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in node_ids)
    # x, y, the root, and ops Mul (h), Mul2 (h*h), Add: h feeds Mul2 (once) and Add
    assert node_ids == {"v0", "v1", "v4", "Mul", "Mul2", "Add"}
    assert len(edges) == len({tuple(e) for e in edges}) == 6
    assert ["Mul", "Mul2"] in edges and ["Mul", "Add"] in edges


def test_mermaid_rejects_labels_that_are_not_identifiers():
    z, _ = chapter()
    with pytest.raises(ValueError, match="identifier"):
        to_mermaid(z, {z: "z 1"})
    with pytest.raises(ValueError, match="distinct"):
        to_mermaid(z, {z: "a", next(iter(z._prev)): "a"})


def test_grad_table_numbers_for_the_chapter():
    z, names = chapter()
    z.backward()
    rows = {g.name: g for g in leaf_gradients(z, names)}
    assert [(n, g.data, g.grad) for n, g in rows.items()] == [
        ("x", 2.0, 3.0),
        ("y", 3.0, 2.0),
        ("b", 1.0, 1.0),
    ]
    # ∂z/∂x = y through '*', ∂z/∂y = x through '*', ∂z/∂b = 1 through '+'
    assert [(t.op, t.local, t.parent.grad) for t in rows["x"].terms] == [("*", 3.0, 1.0)]
    assert [(t.op, t.local, t.parent.grad) for t in rows["y"].terms] == [("*", 2.0, 1.0)]
    assert [(t.op, t.local, t.parent.grad) for t in rows["b"].terms] == [("+", 1.0, 1.0)]
    assert (
        grad_table(z, names)
        == """\
leaf  data  grad  grad = Σ parent.grad × ∂parent/∂leaf (op)
x     2.0   3.0   1.0 × 3.0 (*)
y     3.0   2.0   1.0 × 2.0 (*)
b     1.0   1.0   1.0 × 1.0 (+)"""
    )
    assert grad_table(z, names, markdown=True).splitlines()[2:] == [
        "| x | 2.0 | 3.0 | 1.0 × 3.0 (*) |",
        "| y | 3.0 | 2.0 | 1.0 × 2.0 (*) |",
        "| b | 1.0 | 1.0 | 1.0 × 1.0 (+) |",
    ]


@pytest.mark.parametrize(
    "build",
    [
        lambda x, y: x * x + x,  # a leaf used twice by one op
        lambda x, y: (x * y).tanh() * (x - y) ** 2 / (x + 4),  # '**k', '**-1', sub via * -1
        lambda x, y: (x.exp() + y.sigmoid()).log() + (x * y).relu() + (-y).relu(),
        lambda x, y: (x + 2) ** y + 2**x,  # Value ** Value, number ** Value
        lambda x, y: x.softplus() * x.logaddexp(y) + y.logaddexp(x * 3),
    ],
)
def test_every_leaf_grad_is_the_sum_of_its_chain_rule_terms(build):
    x, y = Value(0.7), Value(1.3)
    out = build(x, y)
    out.backward()
    leaves = leaf_gradients(out, {x: "x", y: "y"})
    assert "x" in {g.name for g in leaves}
    for g in leaves:
        assert g.terms, g
        assert math.isclose(
            g.grad, sum(t.parent.grad * t.local for t in g.terms), rel_tol=1e-12, abs_tol=1e-15
        ), g


def test_traversal_is_iterative():
    x = Value(1.0)
    out = x
    for _ in range(20_000):  # far deeper than Python's recursion limit
        out = out * 1.0001 + 0.1
    out.backward()
    (first, *_constants) = leaf_gradients(out)
    assert math.isclose(first.grad, 1.0001**20_000, rel_tol=1e-9)
    assert to_mermaid(out).count("\n") == 4 * 20_000 + 1


def test_draw_dot_counts_nodes_and_edges_of_a_shared_subexpression():
    pytest.importorskip("graphviz")
    dot = draw_dot(shared())
    lines = [line.strip() for line in dot.body]
    edges = [line for line in lines if " -> " in line]
    nodes = [line for line in lines if " -> " not in line]
    # 5 Values (x, y, h, h*h, z) + 3 op nodes; op->result 3 + x,y->* + h->* (once) + h*h,h->+
    assert (len(nodes), len(edges)) == (8, 8)
    assert sum("shape=record" in line for line in nodes) == 5
    assert dot.graph_attr["rankdir"] == "LR" and dot.format == "svg"


def test_draw_dot_without_graphviz_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    with pytest.raises(ImportError, match=r"pip install 'micrograd_c\[viz\]'.*`dot`"):
        draw_dot(Value(1.0))


def test_draw_dot_renders_an_svg_with_the_labels():
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    z, names = chapter()
    z.backward()
    svg = draw_dot(z, labels=names).pipe(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for text in ("data 2.0000", "grad 3.0000", "data 7.0000", "grad 1.0000", ">x<", ">*<", ">+<"):
        assert text in svg, text


def test_mermaid_and_grad_table_are_strings_that_jupyter_renders():
    import pickle

    z, names = chapter()
    z.backward()
    text, table = to_mermaid(z, names), grad_table(z, names)
    md = grad_table(z, names, markdown=True)
    for s in (text, table, md):  # strings in every way a caller can tell, but type()
        assert isinstance(s, str) and str(s) == s and s + "" == str(s)
        assert repr(s) == repr(str(s)) and f"{s}" == str(s) and hash(s) == hash(str(s))
        assert pickle.loads(pickle.dumps(s)) == s
    assert text.startswith("graph LR") and table.startswith("leaf ")
    assert text._repr_markdown_() == f"```mermaid\n{text}\n```"  # JupyterLab draws the fence
    assert table._repr_markdown_() == md._repr_markdown_() == md  # a markdown table
    assert md.startswith("| leaf | data | grad |")
