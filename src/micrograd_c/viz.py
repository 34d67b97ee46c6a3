"""Drawing a graph and explaining its gradients, as docs/tutorial.md's first example does.

    z = x * y + b; z.backward()
    names = {x: "x", y: "y", b: "b", z: "z"}
    print(to_mermaid(z, names))     # x(2.0) --> Mul ... Add --> z(7.0)
    print(grad_table(z, names))     # each leaf's grad = Σ parent.grad × ∂parent/∂leaf
    draw_dot(z, labels=names)       # a graphviz.Digraph, as micrograd's trace_graph notebook

Every walk over the graph is iterative (any depth) and by identity over
``_prev``: a shared subexpression is one node. Names are stable: a label you
give, or ``v<k>`` in the order the walk meets the Values (children first).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ._core import child, data_of, lib
from ._python_rules import in_python
from .engine import Value

Labels = dict[Value, str] | None
Graph = dict[Value, list[Value]]  # each Value -> its operands, children first
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OP_WORDS = {
    "+": "Add",
    "*": "Mul",
    "ReLU": "ReLU",
    "tanh": "Tanh",
    "exp": "Exp",
    "log": "Log",
    "sigmoid": "Sigmoid",
    "softplus": "Softplus",
    "logaddexp": "LogAddExp",
}  # '**k' and '**' are Pow


def _operands(v: Value) -> list[Value]:
    """v's operands, in order; each once where its rule is written in Python (micrograd's set)."""
    operands = v._children()
    return list(dict.fromkeys(operands)) if in_python(v) else operands


class TooBig(ValueError):
    """A graph with more Values than a walk was given leave to visit."""


def _walk(root: Value, most: int | None = None) -> Graph:
    """Every Value reachable from root, each once, children before parents: its operands.

    TooBig as soon as it meets more than most Values (None: no limit).
    """
    graph: Graph = {}
    stack = [(root, _operands(root), 0)]
    seen = {root}
    while stack:
        v, operands, k = stack.pop()
        while k < len(operands) and operands[k] in seen:
            k += 1
        if k == len(operands):
            graph[v] = operands
        else:
            c = operands[k]
            seen.add(c)
            if most is not None and len(seen) > most:
                raise TooBig(most)
            stack += [(v, operands, k + 1), (c, _operands(c), 0)]
    return graph


def _names(order: Graph, labels: Labels) -> dict[Value, str]:
    """A valid, unique identifier per Value: its label, or v<k> by position in order."""
    names = dict(labels or {})
    for name in names.values():
        if not _IDENTIFIER.match(name) or name == "end":
            raise ValueError(f"label {name!r} is not an identifier (letters, digits, _; not 'end')")
    if len(set(names.values())) < len(names):
        raise ValueError("labels must be distinct")
    taken = set(names.values())
    for k, v in enumerate(order):
        if v not in names:
            name = f"v{k}"
            while name in taken:
                name += "_"
            names[v] = name
    return names


def _num(x: float) -> str:
    """x in at most 6 significant digits, keeping a float's look (7.0, not 7)."""
    s = f"{x:.6g}"
    return s if any(c in s for c in ".ena") else s + ".0"


def _run_rule(v: Value, operands: list[Value], fn: Callable[[], None], g: float) -> list[float]:
    """What one run of v's Python rule fn adds to each operand's grad, v.grad being g.

    It leaves v.grad at g and each operand's grad at what was added: the caller puts them back.
    """
    for u in operands:
        u.grad = 0.0
    v.grad = g
    fn()
    return [u.grad for u in operands]


def _probe(v: Value, operands: list[Value]) -> list[float]:
    """∂v/∂operand of a rule written in Python: what one run of it adds when v.grad is 1.

    Every grad it touches is put back afterwards.
    """
    saved = [(u, u.grad) for u in [v, *operands]]
    try:
        return _run_rule(v, operands, v._backward, 1.0)
    finally:
        for u, grad in reversed(saved):
            u.grad = grad


def _div(x: float, y: float) -> float:
    """x / y as C's doubles divide: ±inf or nan for y == 0 instead of ZeroDivisionError."""
    if y != 0 or math.isnan(y):
        return x / y
    if x == 0 or math.isnan(x):
        return math.nan
    return math.copysign(math.inf, x) * math.copysign(1.0, y)


def _pow_slope(x: float, k: float) -> float:
    """k * x ** (k - 1), as csrc/mg_rules.h's mg_pow_slope (called only once C's succeeded)."""
    return k * (x if k - 1.0 == 1.0 else x ** (k - 1.0))


def _c_rule(v: Value, operands: list[Value], g: float) -> list[tuple[float, float]]:
    """(∂v/∂operand, what the C rule adds to its grad) per operand, as mg_rules.h computes them."""
    op = lib.mg_op(v._i)
    out, a = v.data, operands[0].data
    if op == lib.MG_ADD:
        return [(1.0, g), (1.0, g)]
    if op == lib.MG_MUL:
        b = operands[1].data
        return [(b, b * g), (a, a * g)]
    if op in (lib.MG_POWI, lib.MG_POWF):
        s = _pow_slope(a, data_of(child(v._i, 1)))
        return [(s, s * g)]
    if op == lib.MG_POW:
        b = operands[1].data
        s = _pow_slope(a, b)
        log_a = math.log(a) if a > 0 else -math.inf if a == 0 else math.nan
        t = 0.0 if a == 0.0 and b >= 0.0 else out * log_a
        return [(s, s * g), (t, t * g)]
    if op == lib.MG_LOG:
        return [(_div(1.0, a), _div(1.0, a) * g)]
    if op == lib.MG_LOGADDEXP:
        b = operands[1].data
        e = 1.0 if a == b else math.exp(-abs(a - b))
        big, small = 1.0 / (1.0 + e), e / (1.0 + e)
        return [(s, s * g) for s in ((big, small) if a > b else (small, big))]
    local = {
        lib.MG_RELU: 1.0 if out > 0.0 else 0.0,
        lib.MG_TANH: 1.0 - out * out,
        lib.MG_EXP: out,
        lib.MG_SIGMOID: out * (1.0 - out),
        lib.MG_SOFTPLUS: -math.expm1(-out),
    }.get(op)
    if local is None:
        raise RuntimeError(f"internal error: no local derivative known for op {v._op!r}")
    return [(local, local * g)]


def _local_derivatives(v: Value, operands: list[Value]) -> list[float]:
    """∂v/∂operand for each of v's operands, as the engine applies them."""
    if not operands:
        return []
    if in_python(v):
        return _probe(v, operands)
    return [local for local, _ in _c_rule(v, operands, 1.0)]


class Term(NamedTuple):
    """One parent's share of a leaf's gradient: parent.grad × local."""

    parent: Value
    op: str
    local: float  # ∂parent/∂leaf


class LeafGradient(NamedTuple):
    """A leaf, its value and gradient, and the terms that sum to the gradient."""

    name: str
    data: float
    grad: float
    terms: list[Term]


class Mermaid(str):
    """Mermaid flowchart text: a str, which Jupyter renders as the diagram."""

    def _repr_markdown_(self) -> str:
        """The text in a mermaid fence, which Jupyter's markdown draws."""
        return f"```mermaid\n{self}\n```"


class GradTable(str):
    """The gradient table: a str (plain or markdown text), which Jupyter shows as a table."""

    markdown: str  # the same table in markdown

    def _repr_markdown_(self) -> str:
        """The table in markdown, for Jupyter."""
        return self.markdown


def leaf_gradients(root: Value, labels: Labels = None) -> list[LeafGradient]:
    """For each leaf below root (children-first order): data, grad and its chain-rule terms."""
    graph = _walk(root)
    names = _names(graph, labels)
    terms: dict[Value, list[Term]] = {v: [] for v in graph}
    for v, operands in graph.items():
        for c, local in zip(operands, _local_derivatives(v, operands)):
            terms[c].append(Term(v, v._op, local))
    return [
        LeafGradient(names[v], v.data, v.grad, terms[v])
        for v, operands in graph.items()
        if not operands
    ]


def grad_table(root: Value, labels: Labels = None, markdown: bool = False) -> GradTable:
    """The leaves' values and gradients, with the local derivatives that produced them."""
    header = ("leaf", "data", "grad", "grad = Σ parent.grad × ∂parent/∂leaf (op)")
    rows = [
        (
            g.name,
            _num(g.data),
            _num(g.grad),
            " + ".join(f"{_num(t.parent.grad)} × {_num(t.local)} ({t.op})" for t in g.terms) or "-",
        )
        for g in leaf_gradients(root, labels)
    ]
    lines = [header, ("---",) * 4] + rows
    as_markdown = "\n".join("| " + " | ".join(row) + " |" for row in lines)
    if markdown:
        table = GradTable(as_markdown)
    else:
        widths = [max(len(row[k]) for row in [header] + rows) for k in range(3)]
        table = GradTable(
            "\n".join(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3]
                for row in [header] + rows
            )
        )
    table.markdown = as_markdown
    return table


def to_mermaid(root: Value, labels: Labels = None) -> Mermaid:
    """Mermaid flowchart text in the tutorial's style: x(2.0) --> Mul ... Add --> z(7.0).

    Leaves, the root and labelled Values are drawn as value nodes ``name(data)``
    (``name("data, grad g")`` once backward has run); an unlabelled result is
    drawn as its op node only (Mul, Add, Pow, ... numbered Mul2, Mul3 when repeated).
    """
    graph = _walk(root)
    names = _names(graph, labels)
    with_grad = root.grad != 0
    shown = {v for v, operands in graph.items() if not operands or v is root or v in (labels or {})}
    op_ids: dict[Value, str] = {}
    count: dict[str, int] = {}
    for v, operands in graph.items():
        if operands:
            word = "Pow" if v._op.startswith("**") else _OP_WORDS.get(v._op, "Op")
            count[word] = count.get(word, 0) + 1
            op_ids[v] = word + (str(count[word]) if count[word] > 1 else "")

    def op_node(v: Value) -> str:
        return op_ids[v] + (f'["{v._op}"]' if op_ids[v].startswith(("Pow", "Op")) else "")

    def value_node(v: Value) -> str:
        return names[v] + (
            f'("{_num(v.data)}, grad {_num(v.grad)}")' if with_grad else f"({_num(v.data)})"
        )

    def source(v: Value) -> str:
        return value_node(v) if v in shown else op_node(v)

    edges: dict[str, None] = {}  # an ordered set
    for v, operands in graph.items():
        if operands:
            for c in operands:
                edges[f"{source(c)} --> {op_node(v)}"] = None
            if v in shown:
                edges[f"{op_node(v)} --> {value_node(v)}"] = None
    body = list(edges) or [value_node(root)]
    return Mermaid("\n".join(["graph LR"] + ["    " + line for line in body]))


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR", labels: Labels = None) -> Any:
    """A graphviz.Digraph of the graph, as micrograd's trace_graph notebook draws it."""
    try:
        from graphviz import Digraph
    except ImportError:
        raise ImportError(
            "draw_dot needs the graphviz package: pip install 'micrograd_c[viz]'; "
            "rendering also needs Graphviz's `dot` program on the PATH "
            "(apt-get install graphviz, brew install graphviz)"
        ) from None
    graph = _walk(root)
    names = _names(graph, labels)
    dot = Digraph(format=format, graph_attr={"rankdir": rankdir})
    for v, operands in graph.items():
        name = f"{names[v]} | " if labels and v in labels else ""
        dot.node(names[v], f"{{ {name}data {v.data:.4f} | grad {v.grad:.4f} }}", shape="record")
        if operands:
            dot.node(names[v] + "_op", label=v._op)
            dot.edge(names[v] + "_op", names[v])
            for c in dict.fromkeys(operands):
                dot.edge(names[c], names[v] + "_op")
    return dot
