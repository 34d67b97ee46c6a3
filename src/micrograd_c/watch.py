"""Backprop you can watch: the steps ``backward()`` takes, and a page that plays them.

Backpropagation is dynamic programming (docs/tutorial.md, "Watching backward() step by
step"): a topological order, each node's gradient finished exactly once before it is
passed down, each local chain rule applied in that order.

    x, y, b = Value(2.0), Value(3.0), Value(1.0)
    z = x * y + b
    names = {x: "x", y: "y", b: "b", z: "z"}
    for step in backprop_steps(z, names):   # grads are left as they were
        print(step)                          # z (+) grad 1.0: v2.grad += 1.0 × 1.0 → 1.0, ...
    backprop_html(z, "backprop.html", names) # a page with a slider through the steps

``backprop_steps`` runs the very rules ``backward()`` runs, in its order (the
C core's ``mg_walk_order``; C rules through ``mg_node_backward``, the same C
code), recording each grad as it goes, and then puts every grad back. A rule
written in Python is opaque, so at its step it is run up to three times: on
its children's grads set to 0, once with its own grad 1 (its local
derivatives, as grad_table learns them) and once with the grad it has (what
it adds), every grad put back after, then for real; its edges are one per
distinct child (a built-in op's are one per operand: x*x has two). Graphs
of more than ``MAX_NODES`` Values are refused: neither a list of steps nor a
drawing of that size can be followed by eye (use ``backward()`` and
``grad_table`` there).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ._core import ffi, lib, raise_error
from ._python_rules import in_python, nothing
from ._svg import dot_available as _dot_available
from ._svg import svg_dot, svg_own
from .engine import Value
from .viz import Graph, Labels, TooBig, _c_rule, _names, _num, _run_rule, _walk

# the page: its CSS, script and layout, with <!--title-->, <!--svg--> and <!--data--> to fill
_TEMPLATE = (Path(__file__).parent / "backprop.html").read_text(encoding="utf-8")
MAX_NODES = 200  # Values (leaves included) a graph may have for backprop_steps and backprop_html


class Edge(NamedTuple):
    """One child's share of a step: what the node's rule added to the child's grad."""

    child: Value
    name: str
    local: float  # ∂node/∂child
    added: float  # what the rule added to child.grad (node.grad × local, as C computes it)
    grad_before: float  # child.grad just before this edge's addition
    grad_after: float  # and just after it


class Step(NamedTuple):
    """One node's local chain rule, applied as backward() applies it."""

    node: Value
    name: str
    op: str
    data: float
    grad: float  # node.grad when its rule runs: final (the DP guarantee)
    edges: list[Edge]  # one per child: x*x has two; a rule in Python, one per distinct child
    python: bool  # whether the rule is written in Python (its _backward)

    def __str__(self) -> str:
        """The step on one line: the node, its grad, and what it passes to each child."""
        passes = ", ".join(
            f"{e.name}.grad += {_num(self.grad)} × {_num(e.local)} → {_num(e.grad_after)}"
            for e in self.edges
        )
        passed = passes or "no children"
        return f"{self.name} ({self.op or 'leaf'}) grad {_num(self.grad)}: {passed}"


def _graph(root: Value) -> Graph:
    """viz._walk, refusing a graph of more than MAX_NODES Values as soon as it sees one."""
    try:
        return _walk(root, MAX_NODES)
    except TooBig:
        raise ValueError(
            f"backprop_steps and backprop_html show graphs of at most {MAX_NODES} Values "
            f"(leaves included); this one has more. Steps and a drawing of that size "
            f"cannot be followed by eye: run backward() and look at grad_table, or "
            f"watch a smaller piece of the graph (one neuron, one term of the loss)"
        ) from None


def _rule(v: Value) -> Callable[[], None] | None:
    """v's rule written in Python, if it has one that can change anything; else None."""
    fn = v._backward
    return None if fn is nothing else fn


def _steps(root: Value, labels: Labels) -> tuple[Graph, dict[Value, str], list[Step]]:
    """The graph, its names, and the steps backward() takes on it; every grad is put back."""
    graph = _graph(root)
    names = _names(graph, labels)
    by_index: dict[int, Value] = {}
    for v in graph:
        if v._i not in by_index or in_python(v):  # (one handle per node: this is a guard)
            by_index[v._i] = v
    saved = [(v, v.grad) for v in graph]
    steps: list[Step] = []
    walk = ffi.gc(ffi.new("mg_walk *"), lib.mg_walk_end)
    try:
        err = lib.mg_walk_order(root._i, walk)
        if err:
            raise_error(err, "backprop_steps")
        order = [walk.order[k] for k in range(walk.n)]
        root.grad = 1.0
        for i in order:
            found = by_index.get(i)
            if found is None:  # a link in a hand-built node's chain of children: no rule
                continue
            v = found
            operands = graph[v]
            python = in_python(v)
            fn = _rule(v) if python else None
            if not operands and fn is None:  # a leaf (the root can be one): nothing to apply
                continue
            g = v.grad
            before = [c.grad for c in operands]
            if python:
                if fn is None:  # built by hand, no rule given: it adds nothing, as micrograd's
                    shares = [(0.0, 0.0)] * len(operands)
                else:
                    everything = [(u, u.grad) for u in graph]  # a rule may touch any grad
                    locals_ = _run_rule(v, operands, fn, 1.0)
                    added = locals_ if g == 1.0 else _run_rule(v, operands, fn, g)
                    for u, grad in everything:
                        u.grad = grad
                    shares = list(zip(locals_, added))
                    fn()
            else:
                err = lib.mg_node_backward(i)
                if err:
                    raise_error(err, "backward")
                shares = _c_rule(v, operands, g)
            after = {c: c.grad for c in operands}
            running = dict(zip(operands, before))
            edges = []
            for k, (c, (local, add)) in enumerate(zip(operands, shares)):
                last = c not in operands[k + 1 :]
                grad_after = after[c] if last or python else running[c] + add
                edges.append(Edge(c, names[c], local, add, running[c], grad_after))
                running[c] = grad_after
            steps.append(Step(v, names[v], v._op, v.data, g, edges, python))
    finally:
        for v, grad in reversed(saved):
            v.grad = grad
        lib.mg_walk_end(walk)
    return graph, names, steps


def backprop_steps(root: Value, labels: Labels = None) -> list[Step]:
    """The steps root.backward() takes, in its order, with every grad left as it was."""
    return _steps(root, labels)[2]


# --- the page ---------------------------------------------------------------------------------


def _k(x: float) -> str:
    """An exponent as written: 2, -1, 0.5."""
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else _num(x)


def _formulas(v: Value, operands: list[Value], names: dict[Value, str], python: bool) -> list[str]:
    """Per edge, the local derivative written out: ∂(x·y)/∂x = y (its value follows)."""
    n = [names[c] for c in operands]
    op = v._op
    if python:
        expr = f"{op or 'op'}({', '.join(n)})"
        return [f"∂{expr}/∂{c} (its _backward, run once with grad 1)" for c in n]
    a = n[0]
    if op == "+":
        return [f"∂({a}+{n[1]})/∂{a} = 1", f"∂({a}+{n[1]})/∂{n[1]} = 1"]
    if op == "*":
        return [f"∂({a}·{n[1]})/∂{a} = {n[1]}", f"∂({a}·{n[1]})/∂{n[1]} = {a}"]
    if op == "logaddexp":
        b = n[1]
        return [f"∂logaddexp({a},{b})/∂{x} = e^{x}/(e^{a}+e^{b})" for x in (a, b)]
    if op == "**":
        b = n[1]
        return [f"∂({a}^{b})/∂{a} = {b}·{a}^({b}−1)", f"∂({a}^{b})/∂{b} = {a}^{b}·ln {a}"]
    if op.startswith("**"):
        k = float(op[2:])
        slope = f"{_k(k)}·{a}" if k - 1 == 1 else f"{_k(k)}·{a}^{_k(k - 1)}"
        return [f"∂({a}^{_k(k)})/∂{a} = {slope}"]
    unary = {
        "ReLU": f"∂relu({a})/∂{a} = [{a} > 0]",
        "tanh": f"∂tanh({a})/∂{a} = 1 − tanh({a})²",
        "exp": f"∂exp({a})/∂{a} = exp({a})",
        "log": f"∂log({a})/∂{a} = 1/{a}",
        "sigmoid": f"∂σ({a})/∂{a} = σ({a})·(1 − σ({a}))",
        "softplus": f"∂softplus({a})/∂{a} = σ({a})",
    }
    return [unary.get(op, f"∂{op}({a})/∂{a}")]


def _expression(v: Value, operands: list[Value], names: dict[Value, str]) -> str:
    """v as its op applied to its operands' names: v2 + b, relu(v5), sin(t)."""
    n = [names[c] for c in operands]
    op = v._op
    if not operands:
        return "a leaf"
    if op in ("+", "*", "**") and len(n) == 2:
        return f"{n[0]} {'·' if op == '*' else '^' if op == '**' else '+'} {n[1]}"
    if op.startswith("**"):
        return f"{n[0]}^{_k(float(op[2:]))}"
    return f"{ {'ReLU': 'relu', 'sigmoid': 'σ'}.get(op, op or 'op') }({', '.join(n)})"


def _widest(texts: list[str]) -> str:
    """The longest of texts (the label a node is sized for)."""
    return max(texts, key=len)


def _model(root: Value, labels: Labels) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data: nodes, grads at the start, steps."""
    graph, names, steps = _steps(root, labels)
    index = {v: k for k, v in enumerate(graph)}
    position = {s.node: p for p, s in enumerate(steps, 1)}
    start = [_num(1.0 if v is root else v.grad) for v in graph]
    touched: list[int | None] = [0 if v is root else None for v in graph]
    final: list[int] = [0] * len(graph)
    shown = [[g] for g in start]  # every grad text each node shows, for sizing its box
    rows = []
    for p, s in enumerate(steps, 1):
        python = s.python
        formulas = _formulas(s.node, [e.child for e in s.edges], names, python)
        edges = []
        for j, (e, formula) in enumerate(zip(s.edges, formulas)):
            c = index[e.child]
            touched[c] = p if touched[c] is None else touched[c]
            final[c] = p
            shown[c].append(_num(e.grad_after))
            edges.append(
                {
                    "child": c,
                    "id": f"e{index[s.node]}_{j}",
                    "name": e.name,
                    "formula": formula,
                    "local": _num(e.local),
                    "added": _num(e.added),
                    "before": _num(e.grad_before),
                    "after": _num(e.grad_after),
                }
            )
        rows.append(
            {
                "node": index[s.node],
                "name": s.name,
                "op": s.op or "leaf",
                "expr": _expression(s.node, [e.child for e in s.edges], names),
                "data": _num(s.data),
                "grad": _num(s.grad),
                "python": python,
                "edges": edges,
            }
        )
    nodes = []
    for k, (v, operands) in enumerate(graph.items()):
        lines = [names[v], f"data {_num(v.data)}", f"grad {_widest(shown[k])}"]
        nodes.append(
            {
                "name": names[v],
                "op": v._op,
                "operands": [index[c] for c in operands],
                "lines": lines,
                "step": position.get(v),
                "touched": touched[k],
                "final": final[k],
            }
        )
    return {
        "root": index[root],
        "rootName": names[root],
        "nodes": nodes,
        "start": start,
        "steps": rows,
    }


def _page(root: Value, labels: Labels, use_dot: bool | None = None) -> str:
    """The page as one self-contained HTML string (use_dot None: Graphviz if available)."""
    model = _model(root, labels)
    if use_dot is None:
        use_dot = _dot_available()
    svg = svg_dot(model) if use_dot else svg_own(model)
    data = json.dumps(model, ensure_ascii=False).replace("<", "\\u003c")  # no </script>
    title = html.escape(f"Backprop, step by step: {model['rootName']}")
    page = _TEMPLATE.replace("<!--title-->", title).replace("<!--svg-->", svg)
    return page.replace("<!--data-->", data)  # last: the data is the user's text


class BackpropPage:
    """The page backprop_html wrote: its path and HTML; Jupyter shows it inline."""

    def __init__(self, path: Path, html_text: str) -> None:
        self.path = path
        self.html = html_text

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"BackpropPage({str(self.path)!r})"

    def _repr_html_(self) -> str:
        """The page in an iframe (srcdoc: no file or server needed), for Jupyter."""
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            f'style="width:100%;height:620px;border:1px solid #ddd"></iframe>'
        )


def backprop_html(root: Value, path: str | Path, labels: Labels = None) -> BackpropPage:
    """Write one self-contained HTML page that steps through root.backward(); grads unchanged."""
    page = _page(root, labels)
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return BackpropPage(out, page)


def chapter_example() -> tuple[Value, dict[Value, str]]:
    """docs/tutorial.md's first example, z = x·y + b with x=2, y=3, b=1, and its names."""
    x, y, b = Value(2.0), Value(3.0), Value(1.0)
    z = x * y + b
    return z, {x: "x", y: "y", b: "b", z: "z"}


def explain(out: str | Path = "backprop.html") -> Path:
    """Write the page for the tutorial's first example (python -m micrograd_c explain); its path."""
    z, names = chapter_example()
    return backprop_html(z, out, names).path.resolve()
