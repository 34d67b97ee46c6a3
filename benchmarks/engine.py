"""The engine workloads: W1 forward over a mesh, W2 its backward, W4 the deepest chain, W5 memory.

- W1  forward over a ~100k-operator expression mesh, in microseconds per operator;
- W2  its backward, per node, on the same graph for every engine, on a ~1M-node graph for
      micrograd_c, and the C floor's reverse sweep over that big graph;
- W4  the deepest chain ``x = x*1.0001 + 0.1`` whose backward succeeds;
- W5  memory per node, with facades (tracemalloc + C, and RSS) and in C alone.

micrograd runs with the cyclic GC on (as its users run it) and with the GC off inside the
timed region; PyTorch 0-d tensors (when torch is installed) and micrograd_c run with the GC
on. Every contender times the very same operator sequence, in its own process.
"""

from __future__ import annotations

import gc
import math
import os
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import mesh
from harness import C_OFF, C_ON, FLOOR, MG_OFF, MG_ON, TORCH, Run, Sample, race, run_floor, timed
from mesh import build_graph, c_nodes, graph_shape, kind, load_mesh, torch_nodes
from report import Figure, Report, fmt, spread, version

import micrograd_c

FLOATS = "plain floats (the harness's own cost)"
BARE_ON = "bound: a bare object per operator, no C (mesh.Bare)"
BARE_OFF = BARE_ON + ", GC off"
C_BIG = "micrograd_c, big graph"
C_WALK = "micrograd_c, big graph under an op written in Python (the stepped walk)"
W5_MESH_OPS, W5_LEAVES = 200, 8  # tracemalloc is slow on one huge function: copies of a small one

ENGINES = {  # label: (kind, GC on while timed), for W1 and W2
    MG_ON: ("micrograd", True),
    MG_OFF: ("micrograd", False),
    TORCH: ("torch", True),
    C_ON: ("micrograd_c", True),
    C_OFF: ("micrograd_c", False),
    BARE_ON: ("bare", True),
    BARE_OFF: ("bare", False),
    FLOATS: ("floats", True),
}


def engines(*labels: str) -> list[str]:
    """Those contenders that can run here: PyTorch only when it is installed."""
    return [label for label in labels if label != TORCH or version("torch") != "absent"]


def seconds(run: Callable[[Any], Any], setup: Callable[[], Any], gc_on: bool) -> Sample:
    """A sample: the seconds of run(setup()), setup and the collection of garbage untimed."""

    def sample() -> dict[str, Any]:
        arg = setup()
        gc.collect()
        return {"seconds": timed(lambda: run(arg), gc_on)[0]}

    return sample


# ---------------------------------------------------------------- in a contender's process


def prepare_w1(label: str, mesh_path: str) -> tuple[dict[str, Any], Sample]:
    """W1 in label's process: build the mesh on fresh leaves."""
    m, (name, gc_on) = load_mesh(mesh_path), ENGINES[label]
    of = kind(name)
    setup: dict[str, Any] = {"ops": m.OPS}
    if name == "micrograd_c":
        setup["c_nodes"] = c_nodes(lambda: m.build(mesh.make_leaves(of), of.relu))
    return setup, seconds(
        lambda leaves: m.build(leaves, of.relu), lambda: mesh.make_leaves(of), gc_on
    )


def prepare_w2(
    label: str, mesh_path: str, copies: int, floor: str | None = None
) -> tuple[dict[str, Any], Sample]:
    """W2 in label's process: backward on a freshly built graph (the floor: on its tape)."""
    m = load_mesh(mesh_path)
    if label == FLOOR:
        assert floor is not None
        root = build_graph(kind("micrograd_c"), m, copies)[0]
        data, values = mesh.tape_input(root, 1)
        out = run_floor(floor, data)
        root.backward()
        ours = sum(v.grad for v in values)
        setup = {"nodes": out["nodes"], "grad_sum": out["grad_sum"], "our_grad_sum": ours}
        return setup, lambda: {"seconds": run_floor(floor, data)["seconds"][0]}
    name, gc_on = ENGINES[C_ON if label in (C_BIG, C_WALK) else label]
    of, n = kind(name), copies if label in (C_BIG, C_WALK) else 1

    def build() -> tuple[Any, list[Any]]:
        graph = build_graph(of, m, n)
        return under_python_op(graph) if label == C_WALK else graph

    root = build()[0]
    if name == "micrograd":
        nodes, depth = graph_shape(root)
        sys.setrecursionlimit(max(sys.getrecursionlimit(), depth + 200))  # recursive backward
    else:
        nodes = torch_nodes(root) if name == "torch" else c_nodes(build)
    del root
    return {"nodes": nodes}, seconds(lambda g: g[0].backward(), build, gc_on)


def under_python_op(graph: tuple[Any, list[Any]]) -> tuple[Any, list[Any]]:
    """The graph's root passed through an op written in Python, as the lecture writes one."""
    root, leaves = graph
    out = type(root)(root.data, (root,), "same")
    out._backward = lambda: setattr(root, "grad", root.grad + out.grad)
    return out, leaves


def chain(cls: type, n: int) -> tuple[Any, Any]:
    """x0 and x after n steps of x = x*1.0001 + 0.1 (2n + 1 nodes deep)."""
    x0 = x = cls(1.0)
    for _ in range(n):
        x = x * 1.0001 + 0.1
    return x0, x


def micrograd_chain_limit() -> int:
    """The most chain steps micrograd's backward survives at the default recursion limit."""

    def ok(n: int) -> bool:
        """Whether backward on an n-step chain returns."""
        try:
            chain(kind("micrograd").leaf, n)[1].backward()
            return True
        except RecursionError:
            return False

    lo, hi = 1, 2 * sys.getrecursionlimit()
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def prepare_w4(label: str, depth: int) -> tuple[dict[str, Any], Sample]:
    """W4 in label's process: micrograd's deepest chain, or micrograd_c's backward at depth."""
    if label == MG_ON:
        deepest = 2 * micrograd_chain_limit() + 1
        return {}, lambda: {"depth": deepest}
    n = depth // 2
    build_s, (x0, x) = timed(lambda: chain(micrograd_c.Value, n), gc_on=True)
    first_s = timed(x.backward, gc_on=True)[0]  # the first pass alone gives 1.0001**n
    setup = {"steps": n, "build_s": build_s, "first_s": first_s, "grad": x0.grad}
    setup["live"] = micrograd_c.stats().live
    return setup, lambda: {"depth": 2 * n + 1, "seconds": timed(x.backward, True)[0]}


def prepare_w5(label: str, mode: str, nodes: int, mesh_path: str) -> tuple[dict[str, Any], Sample]:
    """W5 in label's process: the memory of a graph of about nodes nodes, each with a facade."""
    m, of = load_mesh(mesh_path), kind("micrograd" if label == MG_OFF else "micrograd_c")
    copies = math.ceil(nodes / (m.LEAVES + m.STEPS + m.SINKS))

    def sample() -> dict[str, Any]:
        gc.collect()
        gc.disable()  # nothing becomes garbage here; the GC would only cost time
        if mode == "tracemalloc":
            tracemalloc.start()
        rss0, py0, c0 = rss_bytes(), tracemalloc.get_traced_memory()[0], micrograd_c.stats()
        root = build_graph(of, m, copies)[0]
        rss1, py1, c1 = rss_bytes(), tracemalloc.get_traced_memory()[0], micrograd_c.stats()
        tracemalloc.stop()
        made = graph_shape(root)[0] if label == MG_OFF else c1.live - c0.live
        result = {"nodes": made, "rss": rss1 - rss0, "py": py1 - py0, "c": c1.bytes - c0.bytes}
        if label == C_OFF:
            root.backward()
            result["scratch"] = micrograd_c.stats().bytes - c1.bytes
        return result

    return {}, sample


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


PREPARE = {"w1": prepare_w1, "w2": prepare_w2, "w4": prepare_w4, "w5": prepare_w5}


# ---------------------------------------------------------------- in the run's process


def figure(
    key: str,
    title: str,
    unit: str,
    results: dict[str, Any],
    scale: dict[str, float],
    field: str = "seconds",
    higher_is_better: bool = False,
) -> Figure:
    """A figure of each contender's samples' field, times its scale."""
    return Figure(
        key,
        title,
        unit,
        {label: [s[field] * scale[label] for s in r["samples"]] for label, r in results.items()},
        {label: r["pid"] for label, r in results.items()},
        higher_is_better,
    )


def w1(report: Report, run: Run) -> None:
    """W1: forward over the mesh."""
    path = mesh.write_mesh(run.build, run.sizes.w1_ops)
    labels = engines(*ENGINES)
    r = race("engine", "w1", labels, {"mesh_path": path}, run.repeats)
    ops = r[C_ON]["setup"]["ops"]
    floats = r.pop(FLOATS)
    f = figure("w1", f"W1 forward ({ops:,} ops)", "µs/op", r, dict.fromkeys(r, 1e6 / ops))
    report.figures.append(f)
    report.notes.append(
        f"W1: {ops:,} operators over {mesh.LEAVES} shared leaves and the last {mesh.WINDOW:,} "
        f"results (seed {mesh.SEED}); micrograd_c makes {r[C_ON]['setup']['c_nodes'] / ops:.2f} "
        f"C nodes per op. Harness floor, the same code on plain floats: "
        f"{spread([s['seconds'] * 1e6 / ops for s in floats['samples']])} µs/op. The bound, a "
        f"facade that only makes one slotted Python object per operator (no C call, no "
        f"arithmetic, no reclamation), reaches {fmt(f.ratio(BARE_ON, MG_ON) or 0)}x micrograd GC "
        f"on; the difference to micrograd_c's row is what the C call and the reclamation cost."
    )
    report.raw["w1"] = r | {FLOATS: floats}


def big_copies(mesh_path: str, nodes: int) -> int:
    """How many copies of the mesh make W2's big graph of at least nodes micrograd_c nodes."""
    return math.ceil(
        nodes / c_nodes(lambda: build_graph(kind("micrograd_c"), load_mesh(mesh_path)))
    )


def w2(report: Report, run: Run) -> None:
    """W2: backward on the W1 graph for every engine, on a big one for micrograd_c and its floor."""
    path = mesh.write_mesh(run.build, run.sizes.w1_ops)
    copies = big_copies(path, run.sizes.w2_nodes)
    labels = engines(MG_ON, MG_OFF, TORCH, C_ON, C_BIG, C_WALK) + (
        [FLOOR] if "floor_tape" in run.floors else []
    )
    params = {"mesh_path": path, "copies": copies, "floor": run.floors.get("floor_tape")}
    r = race("engine", "w2", labels, params, run.repeats)
    counts = {label: x["setup"]["nodes"] for label, x in r.items()}
    scale = {label: 1e9 / n for label, n in counts.items()}
    report.figures.append(
        figure(
            "w2", f"W2 backward (W1 graph; big graph {counts[C_BIG]:,} nodes)", "ns/node", r, scale
        )
    )
    report.notes.append(
        "W2: the W1 mesh with all its unused values summed by a balanced tree; each engine "
        "counts its own nodes: "
        + ", ".join(f"{label} {n:,}" for label, n in counts.items())
        + f". The big graph is {copies} copies of the mesh; micrograd's recursion limit is "
        "raised to its graph's depth."
    )
    if FLOOR in r:
        s = r[FLOOR]["setup"]
        theirs = math.nan if s["grad_sum"] is None else s["grad_sum"]
        report.notes.append(
            "W2's C floor: benchmarks/floor_tape.c, one reverse sweep in plain C over the big "
            "graph laid out in topological order (read through `_prev`, `_op` and `data`), run "
            "afresh in each repeat, timing itself; the sum of all its grads is micrograd_c's to "
            f"a relative {abs(theirs - s['our_grad_sum']) / abs(s['our_grad_sum']):.2g}."
        )
    report.raw["w2"] = r


def w4(report: Report, run: Run) -> None:
    """W4: micrograd's deepest chain against micrograd_c's at the run's depth."""
    r = race("engine", "w4", [MG_ON, C_ON], {"depth": run.sizes.w4_depth}, run.repeats)
    report.figures.append(
        figure(
            "w4",
            "W4 deepest chain that backward survives",
            "nodes",
            r,
            {MG_ON: 1, C_ON: 1},
            "depth",
            higher_is_better=True,
        )
    )
    s, times = r[C_ON]["setup"], [x["seconds"] for x in r[C_ON]["samples"]]
    n, expected = s["steps"], 1.0001 ** s["steps"]
    report.notes.append(
        f"W4: {n:,} steps of x = x*1.0001 + 0.1 make a path of {2 * n + 1:,} nodes "
        f"({s['live']:,} C nodes with the constants), built in {s['build_s']:.1f} s; the first "
        f"backward took {s['first_s']:.2f} s, later ones {spread(times)} s. x0.grad = "
        f"{s['grad']:.6g} vs 1.0001**{n:,} = {expected:.6g}, relative error "
        f"{abs(s['grad'] - expected) / expected:.2g}. micrograd's limit is its recursion."
    )
    report.raw["w4"] = r


def w5(report: Report, run: Run) -> None:
    """W5: bytes per node with facades (tracemalloc + C, and RSS) and in C alone."""
    path = mesh.write_mesh(run.build, W5_MESH_OPS, "FACADE_KINDS", W5_LEAVES)
    r = {
        mode: race(
            "engine",
            "w5",
            [MG_OFF, C_OFF],
            {"mode": mode, "nodes": run.sizes.w5_nodes, "mesh_path": path},
            1,
        )
        for mode in ("tracemalloc", "rss")
    }
    traced, rss = ({label: x["samples"][0] for label, x in r[m].items()} for m in r)
    pids = {m: {label: x["pid"] for label, x in r[m].items()} for m in r}
    c = traced[C_OFF]
    report.figures += [
        Figure(
            "w5",
            f"W5 memory with facades, tracemalloc + C ({c['nodes']:,} nodes)",
            "B/node",
            {label: [(x["py"] + x["c"]) / x["nodes"]] for label, x in traced.items()},
            pids["tracemalloc"],
        ),
        Figure(
            "w5_rss",
            "W5 memory with facades, RSS delta",
            "B/node",
            {label: [x["rss"] / x["nodes"]] for label, x in rss.items()},
            pids["rss"],
        ),
        Figure(
            "w5_c",
            "W5 memory in C without facades",
            "B/node",
            {C_OFF: [c["c"] / c["nodes"]]},
            {C_OFF: pids["tracemalloc"][C_OFF]},
        ),
    ]
    report.notes.append(
        f"W5: copies of a {W5_MESH_OPS}-op mesh over {W5_LEAVES} leaves of Value-Value `*`, "
        f"`+` and relu(), so both engines make the same nodes, each keeping a facade; built in "
        f"a fresh process per engine and way of measuring, with the GC off; Python bytes by "
        f"tracemalloc, C bytes by stats().bytes. A backward adds "
        f"{c['scratch'] / c['nodes']:.1f} B/node in C."
    )
    report.raw["w5"] = r
