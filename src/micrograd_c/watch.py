"""Backprop you can watch: the steps ``backward()`` takes, and a page that plays them.

The course chapter's claim is that backpropagation is dynamic programming: a
topological order, each node's gradient finished exactly once before it is
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
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ._core import ffi, lib, raise_error
from ._python_rules import in_python, nothing
from .engine import Value
from .viz import Graph, Labels, TooBig, _c_rule, _names, _num, _run_rule, _walk

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


def _dot_available() -> bool:
    """Whether Graphviz can lay the graph out: the graphviz package and the `dot` program."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def _widest(texts: list[str]) -> str:
    """The longest of texts (the label a node is sized for)."""
    return max(texts, key=len)


def _svg_dot(model: dict[str, Any]) -> str:
    """The graph as SVG laid out by Graphviz's dot, stripped to what an inline <svg> needs."""
    from graphviz import Digraph, nohtml

    def label(text: str) -> str:  # never an HTML-like label; a backslash is a backslash
        quoted: str = nohtml(text.replace("\\", "\\\\"))
        return quoted

    dot = Digraph(
        graph_attr={
            "rankdir": "LR",
            "bgcolor": "transparent",
            "nodesep": "0.25",
            "ranksep": "0.35",
        },
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7", "color": "#555555"},
    )
    for k, node in enumerate(model["nodes"]):
        dot.node(
            f"n{k}",
            label=label("\n".join(node["lines"])),
            shape="box",
            style="rounded,filled",
            fillcolor="white",
            id=f"n{k}",
        )
        if node["operands"]:
            dot.node(
                f"o{k}",
                label=label(node["op"] or "op"),
                shape="ellipse",
                style="filled",
                fillcolor="white",
                id=f"o{k}",
                fontsize="10",
                margin="0.04,0.02",
                width="0.3",
                height="0.3",
            )
            dot.edge(f"o{k}", f"n{k}", id=f"r{k}")
            for j, c in enumerate(node["operands"]):
                dot.edge(f"n{c}", f"o{k}", id=f"e{k}_{j}")
    svg: str = dot.pipe(format="svg").decode("utf-8")
    svg = svg[svg.index("<svg") :]
    for pattern in (r"<!--.*?-->", r'\s+xmlns(:\w+)?="[^"]*"'):
        svg = re.sub(pattern, "", svg, flags=re.DOTALL)
    return svg


def _svg_own(model: dict[str, Any]) -> str:
    """The graph as SVG laid out here: layered left to right by depth, ordered by barycenters."""
    nodes = model["nodes"]
    back = [0] * len(nodes)  # columns from the right: the root's 0, its op's 1, its operands' 2
    for k in range(len(nodes) - 1, -1, -1):  # parents first
        for c in nodes[k]["operands"]:
            back[c] = max(back[c], back[k] + 2)
    last = max(back)
    items: dict[str, tuple[int, float, float]] = {}  # id -> (column, width, height)
    preds: dict[str, list[str]] = {}
    for k, node in enumerate(nodes):
        width = 7.0 * max(len(line) for line in node["lines"]) + 18
        items[f"n{k}"] = (last - back[k], width, 50.0)
        if node["operands"]:
            items[f"o{k}"] = (
                last - back[k] - 1,
                max(30.0, 7.0 * len(node["op"] or "op") + 16),
                26.0,
            )
            preds[f"o{k}"] = [f"n{c}" for c in node["operands"]]
            preds[f"n{k}"] = [f"o{k}"]
    succs: dict[str, list[str]] = {}
    for target, sources in preds.items():
        for s in sources:
            succs.setdefault(s, []).append(target)
    ncols = 1 + max(col for col, _, _ in items.values())
    columns: list[list[str]] = [[] for _ in range(ncols)]
    for name, (col, _, _) in items.items():
        columns[col].append(name)
    rank = {name: float(r) for column in columns for r, name in enumerate(column)}

    def sweep(cols: range, neighbours: dict[str, list[str]]) -> None:
        for col in cols:
            column = columns[col]
            key = {
                name: (
                    sum(rank[m] for m in neighbours[name]) / len(neighbours[name])
                    if neighbours.get(name)
                    else rank[name]
                )
                for name in column
            }
            column.sort(key=lambda name: key[name])
            for r, name in enumerate(column):
                rank[name] = float(r)

    for _ in range(3):
        sweep(range(1, ncols), preds)
        sweep(range(ncols - 2, -1, -1), succs)
    gap_x, gap_y, margin = 36.0, 16.0, 10.0
    heights = [sum(items[n][2] for n in column) + gap_y * (len(column) - 1) for column in columns]
    total_h = max(heights) + 2 * margin
    pos: dict[str, tuple[float, float]] = {}  # centre
    x = margin
    for col, column in enumerate(columns):
        width = max(items[n][1] for n in column)
        y = (total_h - heights[col]) / 2
        for name in column:
            h = items[name][2]
            pos[name] = (x + width / 2, y + h / 2)
            y += h + gap_y
        x += width + gap_x
    total_w = x - gap_x + margin
    out = [
        (
            f'<svg width="{total_w:.0f}pt" height="{total_h:.0f}pt" '
            f'viewBox="0 0 {total_w:.1f} {total_h:.1f}">'
        )
    ]
    font = 'font-family="Helvetica,Arial,sans-serif"'
    for k, node in enumerate(nodes):  # edges first, under the nodes
        if not node["operands"]:
            continue
        m = len(node["operands"])
        rx, ry = items[f"o{k}"][1] / 2, items[f"o{k}"][2] / 2
        targets = [(f"r{k}", f"o{k}", f"n{k}", 0.0, 0.0)]
        for j, c in enumerate(node["operands"]):  # spread over the op's left side
            dy = 0.0 if m == 1 else ry * 0.7 * (2 * j / (m - 1) - 1)
            inset = rx * (1 - math.sqrt(1 - (dy / ry) ** 2))
            targets.append((f"e{k}_{j}", f"n{c}", f"o{k}", dy, inset))
        for eid, src, dst, dy, inset in targets:
            (x1, y1), (x2, y2) = pos[src], pos[dst]
            x1 += items[src][1] / 2
            x2 += inset - items[dst][1] / 2 - 7
            y2 += dy
            dx = max(12.0, (x2 - x1) / 2)
            out.append(
                f'<g id="{eid}" class="edge"><path fill="none" stroke="#555555" '
                f'd="M{x1:.1f},{y1:.1f} C{x1 + dx:.1f},{y1:.1f} {x2 - dx:.1f},{y2:.1f} '
                f'{x2:.1f},{y2:.1f}"/><polygon fill="#555555" stroke="#555555" '
                f'points="{x2:.1f},{y2 - 3.5:.1f} {x2 + 7:.1f},{y2:.1f} {x2:.1f},'
                f'{y2 + 3.5:.1f}"/></g>'
            )
    for k, node in enumerate(nodes):
        cx, cy = pos[f"n{k}"]
        w, h = items[f"n{k}"][1], items[f"n{k}"][2]
        texts = "".join(
            f'<text text-anchor="middle" x="{cx:.1f}" y="{cy - 10 + 14 * r:.1f}" '
            f'{font} font-size="11">{html.escape(line)}</text>'
            for r, line in enumerate(node["lines"])
        )
        out.append(
            f'<g id="n{k}" class="node"><title>{html.escape(node["name"])}</title>'
            f'<rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w:.1f}" '
            f'height="{h:.1f}" rx="5" fill="white" stroke="black"/>{texts}</g>'
        )
        if node["operands"]:
            ox, oy = pos[f"o{k}"]
            ow, oh = items[f"o{k}"][1], items[f"o{k}"][2]
            out.append(
                f'<g id="o{k}" class="node"><ellipse cx="{ox:.1f}" cy="{oy:.1f}" '
                f'rx="{ow / 2:.1f}" ry="{oh / 2:.1f}" fill="white" stroke="black"/>'
                f'<text text-anchor="middle" x="{ox:.1f}" y="{oy + 4:.1f}" {font} '
                f'font-size="10">{html.escape(node["op"] or "op")}</text></g>'
            )
    out.append("</svg>")
    return "".join(out)


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


_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 0; color: #222; }
header { padding: 8px 14px; border-bottom: 1px solid #ddd; display: flex; gap: 12px;
         align-items: center; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
#slider { width: 260px; }
main { display: flex; align-items: flex-start; }
#graph { flex: 1 1 auto; overflow: auto; padding: 10px; max-height: calc(100vh - 70px); }
#graph svg { height: auto; }
#panel { flex: 0 0 460px; border-left: 1px solid #ddd; padding: 10px 14px; font-size: 13px;
         max-height: calc(100vh - 60px); overflow: auto; }
#explain { min-height: 70px; }
#explain .formula { font-family: "DejaVu Sans Mono", Menlo, monospace; margin: 3px 0; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 5px; text-align: left;
         vertical-align: top; }
th { background: #f5f5f5; }
tr.current td { background: #ffe3c4; }
td:nth-child(2) { white-space: nowrap; }
.legend span { display: inline-block; padding: 1px 6px; margin-right: 4px; border: 1px solid #999;
               border-radius: 4px; font-size: 12px; }
g.node.pending > path, g.node.pending > polygon, g.node.pending > rect { fill: #eeeeee;
  stroke: #999999; stroke-dasharray: 4 3; }
g.node.pending > text { fill: #888888; }
g.node.partial > path, g.node.partial > polygon, g.node.partial > rect { fill: #fff4c2; }
g.node.final > path, g.node.final > polygon, g.node.final > rect { fill: #dff3dc; }
g.node.current > path, g.node.current > polygon, g.node.current > rect,
g.node.current > ellipse { fill: #ffc98f; stroke: #d9480f; stroke-width: 2.5; }
g.edge.active > path { stroke: #d9480f; stroke-width: 2.5; }
g.edge.active > polygon { fill: #d9480f; stroke: #d9480f; }
"""

_JS = """
(function () {
  const D = JSON.parse(document.getElementById('mg-data').textContent);
  const n = D.steps.length;
  const grads = [D.start.slice()];  // grads[p]: every node's grad text after p steps
  for (let p = 1; p <= n; p++) {
    const g = grads[p - 1].slice();
    for (const e of D.steps[p - 1].edges) g[e.child] = e.after;
    grads.push(g);
  }
  const $ = (id) => document.getElementById(id);
  const groups = D.nodes.map((node, k) => {
    const g = $('n' + k);
    g.dataset.name = node.name;
    return g;
  });
  const texts = groups.map((g) => {
    const t = g.querySelectorAll('text');
    return t[t.length - 1];
  });
  const svg = document.querySelector('#graph svg');  // a small graph is drawn larger
  const room = $('graph').clientWidth - 24, drawn = svg.getBoundingClientRect().width;
  if (drawn > 0 && room > drawn) svg.style.width = Math.min(1.6 * drawn, room) + 'px';
  const slider = $('slider');
  slider.max = n;
  const tbody = $('rows');
  D.steps.forEach((s, i) => {
    const tr = document.createElement('tr');
    tr.dataset.step = i + 1;
    const cells = [String(i + 1), s.name + ' = ' + s.expr, s.data, s.grad,
      s.edges.map((e) => e.name + ' += ' + s.grad + ' × ' + e.local + ' → ' + e.after).join('\\n')
        || '(no children)'];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.appendChild(td);
    }
    tr.lastChild.style.whiteSpace = 'pre-line';  // one line per child
    tbody.appendChild(tr);
  });
  function line(text) {
    const div = document.createElement('div');
    div.className = 'formula';
    div.textContent = text;
    return div;
  }
  function show(p) {
    p = Math.max(0, Math.min(n, p));
    slider.value = p;
    $('position').textContent = p === 0 ? 'start' : 'step ' + p + ' of ' + n;
    document.querySelectorAll('.current, .active').forEach(
      (el) => el.classList.remove('current', 'active'));
    D.nodes.forEach((node, k) => {
      const g = groups[k];
      g.classList.remove('pending', 'partial', 'final');
      const state = node.step === p ? 'current'
        : (node.touched === null || p < node.touched) ? 'pending'
        : p >= node.final ? 'final' : 'partial';
      g.classList.add(state);
      g.dataset.state = state;
      texts[k].textContent = 'grad ' + grads[p][k];
    });
    const explain = $('explain');
    explain.replaceChildren();
    if (p === 0) {
      explain.appendChild(line('backward() sets ' + D.rootName + '.grad = 1. ' +
        (n ? 'Nothing has been passed down yet: every other node is pending.'
           : 'The root is a leaf: there is no rule to apply.')));
    } else {
      const s = D.steps[p - 1];
      const k = s.node;
      $('o' + k) && $('o' + k).classList.add('current');
      const box = groups[k].getBoundingClientRect(), area = $('graph').getBoundingClientRect();
      if (box.left < area.left || box.right > area.right) {  // scroll the drawing, not the page
        $('graph').scrollLeft += box.left - area.left - (area.width - box.width) / 2;
      }
      if (box.top < area.top || box.bottom > area.bottom) {
        $('graph').scrollTop += box.top - area.top - (area.height - box.height) / 2;
      }
      $('r' + k) && $('r' + k).classList.add('active');
      explain.appendChild(line(s.name + ' = ' + s.expr + ': grad ' + s.grad +
        (k === D.root ? ' (the root: backward() set it)'
                      : ' is final (every parent has passed its share down)') +
        (s.python ? '; its rule is written in Python' : '') + '.'));
      for (const e of s.edges) {
        $(e.id).classList.add('active');
        explain.appendChild(line(e.formula + ' = ' + e.local));
        explain.appendChild(line('  ' + e.name + '.grad += ' + s.grad + ' × ' + e.local +
          ' = ' + e.added + '  (' + e.before + ' → ' + e.after + ')'));
      }
    }
    tbody.querySelectorAll('tr').forEach((tr) => {
      const k = Number(tr.dataset.step);
      tr.hidden = k > p;
      tr.classList.toggle('current', k === p);
    });
  }
  slider.addEventListener('input', () => show(Number(slider.value)));
  $('prev').addEventListener('click', () => show(Number(slider.value) - 1));
  $('next').addEventListener('click', () => show(Number(slider.value) + 1));
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      ev.preventDefault();
      show(Number(slider.value) + (ev.key === 'ArrowRight' ? 1 : -1));
    }
  });
  show(0);
})();
"""


def _page(root: Value, labels: Labels, use_dot: bool | None = None) -> str:
    """The page as one self-contained HTML string (use_dot None: Graphviz if available)."""
    model = _model(root, labels)
    if use_dot is None:
        use_dot = _dot_available()
    svg = _svg_dot(model) if use_dot else _svg_own(model)
    data = json.dumps(model, ensure_ascii=False).replace("<", "\\u003c")  # no </script>
    title = html.escape(f"Backprop, step by step: {model['rootName']}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<button id="prev" title="previous step (←)">◀ prev</button>
<input id="slider" type="range" min="0" max="0" value="0" aria-label="step">
<button id="next" title="next step (→)">next ▶</button>
<span id="position"></span>
<span class="legend"><span style="background:#eeeeee">pending</span><span
 style="background:#fff4c2">partial</span><span style="background:#dff3dc">final</span><span
 style="background:#ffc98f">current</span></span>
</header>
<main>
<div id="graph">{svg}</div>
<div id="panel">
<div id="explain"></div>
<table><thead><tr><th>#</th><th>node</th><th>data</th><th>grad</th>
<th>passes down: child.grad += grad × ∂node/∂child</th></tr></thead>
<tbody id="rows"></tbody></table>
</div>
</main>
<script id="mg-data" type="application/json">{data}</script>
<script>{_JS}</script>
</body>
</html>
"""


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
    """The course chapter's §3.2 example, z = x·y + b with x=2, y=3, b=1, and its names."""
    x, y, b = Value(2.0), Value(3.0), Value(1.0)
    z = x * y + b
    return z, {x: "x", y: "y", b: "b", z: "z"}


def explain(out: str | Path = "backprop.html") -> Path:
    """Write the page for the chapter's §3.2 example (python -m micrograd_c explain); its path."""
    z, names = chapter_example()
    return backprop_html(z, out, names).path.resolve()
