"""The backprop page's graph as inline SVG: laid out by Graphviz's dot, or here.

Both take the page's model (watch._model: the nodes, with their names, data,
op and grad texts, and the edges) and give one ``<svg>`` whose ``g.node``
and ``g.edge`` groups the page's script colours as the steps go.
"""

from __future__ import annotations

import html
import math
import re
import shutil
from typing import Any


def dot_available() -> bool:
    """Whether Graphviz can lay the graph out: the graphviz package and the `dot` program."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def svg_dot(model: dict[str, Any]) -> str:
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


def svg_own(model: dict[str, Any]) -> str:
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
