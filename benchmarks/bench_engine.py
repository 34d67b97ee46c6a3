#!/usr/bin/env python
"""Benchmark micrograd_c against micrograd 0.1.0 on the workloads of DESIGN.md section 4.

One run measures, side by side:

- W1  forward over a ~100k-operator expression mesh (``+ * ** / - relu`` over
      shared leaves and earlier results), in microseconds per operator;
- W2  its backward, per node, on the same graph for both engines, and on a
      ~1M-node graph for micrograd_c alone;
- W4  the deepest chain ``x = x*1.0001 + 0.1`` whose backward succeeds;
- W5  memory per node, with facades and without;
- RSS flatness over many build / backward / drop cycles with the GC off.

micrograd runs with the cyclic GC on (as its users run it) and with the GC off
inside the timed region; micrograd_c runs with the GC on. Every workload times
the very same operator sequence on each engine, repeats interleaved so that
drift hits all alike, and reports the median with the min-max range. Ratios
are micrograd time / micrograd_c time (or bytes / bytes), from medians.
Memory figures, the deep chain and the RSS loop run in fresh interpreters, so
that memory freed by earlier workloads does not hide growth.

    python benchmarks/bench_engine.py [--quick] [--repeats N] [--json FILE]
"""
from __future__ import annotations

import gc
import json
import math
import os
import random
import statistics
import sys
import time
import tracemalloc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import _harness
import micrograd.engine
import micrograd_c

MgValue = micrograd.engine.Value
CValue = micrograd_c.Value
ENGINES: dict[str, type] = {"micrograd": MgValue, "micrograd_c": CValue}

MG_ON, MG_OFF = "micrograd, GC on", "micrograd, GC off"
C_ON, C_OFF = "micrograd_c", "micrograd_c, GC off"
FLOATS = "plain floats"
COLUMNS = (MG_ON, MG_OFF, C_ON, C_OFF)

# The mesh: each step applies one template to operands drawn from LEAVES shared
# leaves (a LEAF_SHARE of the time) or from the last WINDOW results.
LEAVES, WINDOW, LEAF_SHARE, SEED = 64, 2_000, 0.3, 20240611
MESH_KINDS = {  # name: (template, operators applied); values stay within [-1, 1]
    "mul": ("{a} * {b}", 1),
    "mean": ("({a} + {b}) * 0.5", 2),
    "halfdiff": ("({a} - {b}) * 0.5", 2),
    "bump": ("1 - {a} ** 2", 2),
    "squash": ("{a} / (1 + {b} ** 2)", 3),
    "relu": ("relu({a})", 1),
}
FACADE_KINDS = {  # one node per operator in both engines, and a facade on every node
    "mul": ("{a} * {b}", 1),
    "add": ("{a} + {b}", 1),
    "relu": ("relu({a})", 1),
}
# W5 graphs are copies of a small mesh: tracemalloc looks up the line of every
# allocation by scanning the code object, which is quadratic in one huge function.
W5_MESH_OPS, W5_LEAVES = 200, 8


@dataclass(frozen=True)
class Sizes:
    """Workload sizes for one run."""

    w1_ops: int
    w2_nodes: int
    w4_depth: int
    w5_nodes: int
    flat_iterations: int
    flat_ops: int


FULL = Sizes(100_000, 1_000_000, 10_000_000, 500_000, 10_000, 5_000)
QUICK = Sizes(20_000, 200_000, 1_000_000, 120_000, 1_000, 5_000)

_t0 = time.perf_counter()


def log(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since start."""
    print(f"[bench {time.perf_counter() - _t0:7.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the mesh

@dataclass
class Mesh:
    """A compiled expression mesh: build(leaves, relu) returns the values nothing used."""

    build: Callable[[Sequence[Any], Callable[[Any], Any]], list]
    ops: int
    steps: int
    leaves: int
    sinks: int


def make_mesh(ops: int, kinds: dict[str, tuple[str, int]], n_leaves: int = LEAVES,
              seed: int = SEED) -> Mesh:
    """Straight-line Python source for a random mesh of at least ops operators, compiled."""
    rng = random.Random(seed)
    names = sorted(kinds)
    leaves = [f"l{i}" for i in range(n_leaves)]

    def pick(k: int) -> str:
        """An operand for step k: a shared leaf or one of the last WINDOW results."""
        if k == 0 or rng.random() < LEAF_SHARE:
            return rng.choice(leaves)
        return f"r{rng.randrange(max(0, k - WINDOW), k)}"

    lines, used, n_ops, k = [], set(), 0, 0
    while n_ops < ops:
        template, cost = kinds[rng.choice(names)]
        a, b = pick(k), pick(k)
        used.update([a, b] if "{b}" in template else [a])
        lines.append(f"    r{k} = {template.format(a=a, b=b)}")
        n_ops, k = n_ops + cost, k + 1
    sinks = [v for v in leaves + [f"r{i}" for i in range(k)] if v not in used]
    source = "\n".join([f"def mesh(leaves, relu):\n    {', '.join(leaves)}, = leaves",
                        *lines, f"    return [{', '.join(sinks)}]\n"])
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<mesh of {k} steps>", "exec"), namespace)
    return Mesh(namespace["mesh"], n_ops, k, n_leaves, len(sinks))


def float_relu(x: float) -> float:
    """relu on a plain float, for the harness floor."""
    return x if x > 0.0 else 0.0


def relu_of(cls: type) -> Callable[[Any], Any]:
    """The relu the mesh calls for values of cls (Value.relu(x) costs what x.relu() does)."""
    return float_relu if cls is float else cls.relu


def make_leaves(cls: type, n: int = LEAVES, seed: int = SEED) -> list:
    """n values of cls, uniform in [-1, 1]."""
    rng = random.Random(seed)
    return [cls(rng.uniform(-1.0, 1.0)) for _ in range(n)]


def tree_sum(values: list) -> Any:
    """The sum of values as a balanced tree of +, so its depth is only log2(len)."""
    while len(values) > 1:
        values = [values[i] + values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


def build_graph(cls: type, mesh: Mesh, copies: int = 1) -> tuple[Any, list]:
    """Root and leaves of copies meshes over separate leaves, all their sinks summed."""
    leaves, sinks = [], []
    for c in range(copies):
        pool = make_leaves(cls, mesh.leaves, SEED + c)
        leaves += pool
        sinks += mesh.build(pool, relu_of(cls))
    return tree_sum(sinks), leaves


def graph_shape(root: Any) -> tuple[int, int]:
    """Nodes reachable from a root through _prev, and the longest path in nodes."""
    seen: set[int] = set()
    depth: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        v, expanded = stack.pop()
        if expanded:
            depth[id(v)] = 1 + max((depth[id(c)] for c in v._prev), default=0)
        elif id(v) not in seen:
            seen.add(id(v))
            stack.append((v, True))
            stack.extend((c, False) for c in v._prev if id(c) not in seen)
    return len(depth), depth[id(root)]


def c_nodes(build: Callable[[], Any]) -> int:
    """Nodes alive in the C arena (stats().live delta) while build()'s result is kept."""
    before = micrograd_c.stats().live
    result = build()
    nodes = micrograd_c.stats().live - before
    del result
    return nodes


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    """Raise the recursion limit to at least limit for the duration of the block."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


# ---------------------------------------------------------------- timing

@dataclass
class Variant:
    """One contender: what to time, how to prepare its input, and the GC state while timed."""

    label: str
    run: Callable[[Any], Any]
    setup: Callable[[], Any] = lambda: None
    gc_on: bool = True


def measure(what: str, variants: list[Variant], repeats: int) -> dict[str, list[float]]:
    """Seconds of run(setup()) per repeat for each variant, repeats interleaved.

    Setup, the collection of earlier garbage and the drop of the result are
    outside the timed region; the GC is switched as the variant asks only inside it.
    """
    times: dict[str, list[float]] = {v.label: [] for v in variants}
    for r in range(repeats):
        for v in variants:
            log(f"{what}: {v.label}, repeat {r + 1}/{repeats}")
            arg = v.setup()
            gc.collect()
            if not v.gc_on:
                gc.disable()
            start = time.perf_counter()
            result = v.run(arg)
            times[v.label].append(time.perf_counter() - start)
            gc.enable()
            del arg, result
    gc.collect()
    return times


def fmt(x: float) -> str:
    """x with about three significant digits, without an exponent."""
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.3g}"


def cell(seconds: list[float], scale: float) -> str:
    """'median (min-max)' of seconds * scale."""
    xs = [s * scale for s in seconds]
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}–{fmt(max(xs))})"


def ratio(slow: list[float], fast: list[float]) -> float:
    """Median of slow over median of fast."""
    return statistics.median(slow) / statistics.median(fast)


@dataclass
class Report:
    """What the run found: table rows, notes, targets and raw numbers."""

    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flat: list[dict] = field(default_factory=list)
    targets: list[tuple[str, bool, str]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def row(self, name: str, cells: dict[str, str], vs_on: str = "—", vs_off: str = "—") -> None:
        """Add a table row; columns missing from cells print as a dash."""
        self.rows.append([name, *(cells.get(c, "—") for c in COLUMNS), vs_on, vs_off])

    def target(self, name: str, ok: bool, detail: str) -> None:
        """Record an issue target as met or not."""
        self.targets.append((name, ok, detail))

    def render(self) -> str:
        """The report as markdown."""
        lines = _harness.table(["workload", *COLUMNS, "ratio vs GC on", "ratio vs GC off"],
                               self.rows)
        lines += ["", "Notes:", *(f"- {n}" for n in self.notes)]
        if self.flat:
            lines += ["", "RSS flatness (micrograd_c, GC off):", ""]
            lines += _harness.table(["point", "iteration", "RSS (MiB)", "stats().live"], [
                [p["point"], f"{p['iteration']:,}", f"{p['rss'] / 2**20:.1f}", f"{p['live']:,}"]
                for p in self.flat])
        return "\n".join(lines + _harness.target_lines(self.targets))


# ---------------------------------------------------------------- workloads

def bench_w1(report: Report, sizes: Sizes, repeats: int) -> Mesh:
    """W1: forward over the mesh; returns the mesh for W2."""
    log(f"W1: compiling a mesh of {sizes.w1_ops:,} operators")
    mesh = make_mesh(sizes.w1_ops, MESH_KINDS)

    def variant(label: str, cls: type, gc_on: bool = True) -> Variant:
        """Build the mesh on fresh leaves of cls."""
        return Variant(label, lambda leaves: mesh.build(leaves, relu_of(cls)),
                       lambda: make_leaves(cls), gc_on)

    t = measure("W1 forward", [variant(MG_ON, MgValue), variant(MG_OFF, MgValue, False),
                               variant(C_ON, CValue), variant(C_OFF, CValue, False),
                               variant(FLOATS, float)], repeats)
    us = 1e6 / mesh.ops
    vs_on, vs_off = ratio(t[MG_ON], t[C_ON]), ratio(t[MG_OFF], t[C_ON])
    report.row(f"W1 forward, µs/op ({mesh.ops:,} ops)", {c: cell(t[c], us) for c in COLUMNS},
               f"{vs_on:.1f}x", f"{vs_off:.1f}x")
    report.target("W1 forward ≥ 40x micrograd GC on", vs_on >= 40, f"{vs_on:.1f}x")
    report.target("W1 forward ≥ 5x micrograd GC off", vs_off >= 5, f"{vs_off:.1f}x")

    nodes = c_nodes(lambda: mesh.build(make_leaves(CValue), CValue.relu))
    floats = mesh.build(make_leaves(float), float_relu)
    diff = max(abs(m.data - c.data) for m, c in zip(mesh.build(make_leaves(MgValue), MgValue.relu),
                                                     mesh.build(make_leaves(CValue), CValue.relu)))
    report.notes.append(
        f"W1: {mesh.steps:,} random steps over {LEAVES} shared leaves and the last {WINDOW:,} "
        f"results (seed {SEED}); micrograd_c makes {nodes / mesh.ops:.2f} C nodes per op. "
        f"Harness floor, the same "
        f"compiled code on plain floats: {cell(t[FLOATS], us)} µs/op. Forward values equal "
        f"micrograd's (max |diff| {diff:.3g}); all finite and within [-1, 1]: "
        f"{all(abs(x) <= 1 for x in floats)}.")
    report.raw["w1"] = {"ops": mesh.ops, "steps": mesh.steps, "c_nodes": nodes, "seconds": t}
    return mesh


def bench_w2(report: Report, mesh: Mesh, sizes: Sizes, repeats: int) -> None:
    """W2: backward on the W1 graph for both engines, and on ~1M nodes for micrograd_c."""
    mg_nodes, depth = graph_shape(build_graph(MgValue, mesh)[0])
    c_mesh_nodes = c_nodes(lambda: build_graph(CValue, mesh))
    copies = math.ceil(sizes.w2_nodes / c_mesh_nodes)
    c_big_nodes = c_nodes(lambda: build_graph(CValue, mesh, copies))
    check = backward_check(mesh)
    limit = depth + 200

    def variant(label: str, cls: type, gc_on: bool = True, n: int = 1) -> Variant:
        """Backward on a freshly built graph of n mesh copies."""
        return Variant(label, lambda g: g[0].backward(), lambda: build_graph(cls, mesh, n), gc_on)

    with recursion_limit(limit):
        t = measure("W2 backward", [variant(MG_ON, MgValue), variant(MG_OFF, MgValue, False),
                                    variant(C_ON, CValue)], repeats)
    big = measure("W2 backward 1M", [variant(C_ON, CValue, n=copies)], repeats)[C_ON]

    ns = {MG_ON: 1e9 / mg_nodes, MG_OFF: 1e9 / mg_nodes, C_ON: 1e9 / c_mesh_nodes}
    same_on, same_off = ratio(t[MG_ON], t[C_ON]), ratio(t[MG_OFF], t[C_ON])
    report.row(f"W2 backward, ns/node, W1 graph (micrograd {mg_nodes:,} nodes, "
               f"micrograd_c {c_mesh_nodes:,})", {c: cell(t[c], ns[c]) for c in t},
               f"{same_on:.1f}x", f"{same_off:.1f}x")
    per_node = {c: statistics.median(t[c]) * ns[c] for c in (MG_ON, MG_OFF)}
    big_ns = statistics.median(big) * 1e9 / c_big_nodes
    report.row(f"W2 backward, ns/node, {c_big_nodes:,}-node graph (micrograd_c only)",
               {C_ON: cell(big, 1e9 / c_big_nodes)},
               f"{per_node[MG_ON] / big_ns:.1f}x", f"{per_node[MG_OFF] / big_ns:.1f}x")
    report.notes.append(
        f"W2: the W1 mesh with all its unused values summed by a balanced tree; micrograd's "
        f"graph has {mg_nodes:,} nodes and depth {depth:,}, so its recursion limit was raised "
        f"to {limit:,} (default {sys.getrecursionlimit():,}). micrograd_c has more nodes for the "
        f"same expression (a leaf holds each ** exponent), so the ratios on the W1-graph row "
        f"compare backward times of the identical expression. The ~1M-node graph is {copies} "
        f"copies of the mesh; its ratios compare ns/node against micrograd's on the W1 graph, "
        f"each engine counting its own nodes. "
        f"Leaf grads match micrograd's: max relative difference {check:.2g}.")
    worst = min(same_off, per_node[MG_OFF] / big_ns)
    report.target("W2 backward ≤ 10 ns/node (micrograd_c, ~1M nodes)", big_ns <= 10,
                  f"{big_ns:.1f} ns/node")
    report.target("W2 backward ≥ 60x micrograd per node", worst >= 60,
                  f"{same_off:.1f}x on the same expression, {per_node[MG_OFF] / big_ns:.1f}x "
                  f"per node on the 1M graph (vs GC off; the lower one counts)")
    report.raw["w2"] = {"micrograd_nodes": mg_nodes, "micrograd_depth": depth,
                        "c_nodes": c_mesh_nodes, "c_big_nodes": c_big_nodes, "copies": copies,
                        "seconds": t, "c_big_seconds": big, "grad_rel_diff": check}


def backward_check(mesh: Mesh) -> float:
    """Largest relative difference between the engines' leaf grads after one backward."""
    (m_root, m_leaves), (c_root, c_leaves) = build_graph(MgValue, mesh), build_graph(CValue, mesh)
    with recursion_limit(graph_shape(m_root)[1] + 200):
        m_root.backward()
    c_root.backward()
    return max(abs(m.grad - c.grad) / max(abs(m.grad), 1e-300)
               for m, c in zip(m_leaves, c_leaves) if m.grad or c.grad)


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
            chain(MgValue, n)[1].backward()
            return True
        except RecursionError:
            return False

    lo, hi = 1, 2 * sys.getrecursionlimit()
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def task_w4(depth: int, repeats: int) -> dict:
    """In a fresh process: build micrograd_c's chain of the given depth and time backward."""
    n = depth // 2
    start = time.perf_counter()
    x0, x = chain(CValue, n)
    result = {"iterations": n, "depth": 2 * n + 1, "build_s": time.perf_counter() - start,
              "live": micrograd_c.stats().live}
    log(f"W4: chain of {2 * n + 1:,} nodes built; first backward")
    try:
        start = time.perf_counter()
        x.backward()  # the first pass alone gives the closed-form grad; later ones accumulate
        result.update(first_s=time.perf_counter() - start, grad=x0.grad)
        result["seconds"] = measure("W4 backward", [Variant(C_ON, lambda g: g.backward(),
                                                            lambda: x)], repeats)[C_ON]
    except Exception as exc:  # reported, not raised: surviving is what W4 measures
        result["error"] = f"{type(exc).__name__}: {exc}"
    return result


def bench_w4(report: Report, sizes: Sizes, repeats: int) -> None:
    """W4: micrograd's deepest chain against micrograd_c's at sizes.w4_depth."""
    log("W4: searching micrograd's deepest chain")
    steps = micrograd_chain_limit()
    mg_depth = 2 * steps + 1
    log(f"W4: micrograd survives {mg_depth} nodes; building micrograd_c's in a fresh process")
    r = in_fresh_process("w4", depth=sizes.w4_depth, repeats=repeats)
    report.raw["w4"] = {"micrograd_steps": steps, "micrograd_depth": mg_depth, **r}
    n = r["iterations"]
    mg_cell = f"{mg_depth:,} nodes deep (RecursionError at {mg_depth + 2:,})"
    if "error" in r:
        report.row("W4 deepest chain", {MG_ON: mg_cell, C_ON: f"{r['depth']:,}: {r['error']}"})
        report.target(f"W4 backward on a {r['depth']:,}-node chain", False, r["error"])
        return
    expected = 1.0001 ** n
    rel = abs(r["grad"] - expected) / expected
    tolerance = n * 2.0 ** -52  # one rounding per multiplication along the chain
    report.row("W4 deepest chain: longest path that backward survives, backward time",
               {MG_ON: mg_cell, MG_OFF: "same",
                C_ON: f"{r['depth']:,} nodes deep, OK: {cell(r['seconds'], 1)} s"},
               f"{r['depth'] / mg_depth:,.0f}x deeper")
    report.notes.append(
        f"W4: {n:,} steps of x = x*1.0001 + 0.1 make a path of {r['depth']:,} nodes "
        f"({r['live']:,} C nodes with the constants), built in {r['build_s']:.1f} s; the first "
        f"backward took {r['first_s']:.2f} s, later ones (same graph) "
        f"{cell(r['seconds'], 1)} s = {statistics.median(r['seconds']) * 1e9 / r['live']:.1f} "
        f"ns/node. x0.grad = {r['grad']:.6g} vs 1.0001**{n:,} = {expected:.6g}, relative "
        f"error {rel:.2g} (bound n·2^-52 = {tolerance:.2g}).")
    report.target(f"W4 backward on a {r['depth']:,}-node chain, grad = 1.0001**n",
                  rel <= tolerance, f"backward OK, relative error {rel:.2g} "
                                    f"(bound {tolerance:.2g})")


def task_w5(engine: str, mode: str, nodes: int) -> dict:
    """In a fresh process: memory of a facade-only graph of about nodes nodes."""
    cls, mesh = ENGINES[engine], make_mesh(W5_MESH_OPS, FACADE_KINDS, W5_LEAVES)
    copies = math.ceil(nodes / (mesh.leaves + mesh.steps + mesh.sinks))
    gc.collect()
    gc.disable()  # nothing becomes garbage here; the GC would only cost time
    if mode == "tracemalloc":
        tracemalloc.start()
    rss0, py0, c0 = rss_bytes(), tracemalloc.get_traced_memory()[0], micrograd_c.stats()
    root, leaves = build_graph(cls, mesh, copies)
    rss1, py1, c1 = rss_bytes(), tracemalloc.get_traced_memory()[0], micrograd_c.stats()
    tracemalloc.stop()
    result = {"rss": rss1 - rss0, "py": py1 - py0, "c": c1.bytes - c0.bytes,
              "live": c1.live - c0.live, "capacity": c1.capacity, "c_total": c1.bytes}
    if engine == "micrograd":
        result["nodes"] = graph_shape(root)[0]
    else:
        result["nodes"] = result["live"]
        root.backward()
        result["c_after_backward"] = micrograd_c.stats().bytes - c0.bytes
    return result


def bench_w5(report: Report, sizes: Sizes) -> None:
    """W5: bytes per node with facades (tracemalloc + C, and RSS) and in C alone."""
    r = {}
    for engine in ENGINES:
        for mode in ("tracemalloc", "rss"):
            log(f"W5: {engine}, {mode}, fresh process")
            r[engine, mode] = in_fresh_process("w5", engine=engine, mode=mode,
                                               nodes=sizes.w5_nodes)
    report.raw["w5"] = {f"{e}/{m}": v for (e, m), v in r.items()}
    mg, c, mg_rss, c_rss = (r["micrograd", "tracemalloc"], r["micrograd_c", "tracemalloc"],
                            r["micrograd", "rss"], r["micrograd_c", "rss"])
    mg_b, c_b = (mg["py"] + mg["c"]) / mg["nodes"], (c["py"] + c["c"]) / c["nodes"]
    mg_rb, c_rb = mg_rss["rss"] / mg_rss["nodes"], c_rss["rss"] / c_rss["nodes"]
    c_only = c["c"] / c["nodes"]
    per_slot = c["c_total"] / c["capacity"]
    scratch = (c["c_after_backward"] - c["c"]) / c["nodes"]
    report.row(f"W5 B/node, facades included, tracemalloc + C ({c['nodes']:,} nodes)",
               {MG_ON: fmt(mg_b), C_ON: fmt(c_b)}, f"{mg_b / c_b:.1f}x")
    report.row("W5 B/node, facades included, RSS delta", {MG_ON: fmt(mg_rb), C_ON: fmt(c_rb)},
               f"{mg_rb / c_rb:.1f}x")
    report.row("W5 C B/node without facade: stats().bytes delta / live delta "
               "(+ backward scratch)", {C_ON: f"{fmt(c_only)} (+{fmt(scratch)})"})
    report.notes.append(
        f"W5: copies of a {W5_MESH_OPS}-op mesh over {W5_LEAVES} leaves of Value-Value `*`, "
        f"`+` and relu(), so both engines make the same nodes (micrograd {mg['nodes']:,} by "
        f"walking _prev, micrograd_c {c['live']:,} by stats().live) and every node keeps a "
        f"facade; built op by op in a fresh process, GC off; Python bytes by tracemalloc, C "
        f"bytes by stats().bytes. micrograd_c's Python side is {c['py'] / c['nodes']:.0f} B/node, "
        f"its C side {c_only:.1f} B/node: {per_slot:.1f} B per allocated slot (node, "
        f"backward bitmap, region and chunk tables) plus the unused rest of the last "
        f"64Ki-node chunk. A backward adds {scratch:.1f} B/node (it needs no sort scratch).")
    report.target("W5 ≤ 200 B/node facades included", c_b <= 200 and c_rb <= 200,
                  f"{c_b:.0f} B (tracemalloc + C), {c_rb:.0f} B (RSS)")
    report.target("W5 ≤ 48 B/node without facade", c_only <= 48,
                  f"{c_only:.1f} B ({per_slot:.1f} B per slot); {c_only + scratch:.1f} B "
                  f"counting the backward scratch")


def task_flat(iterations: int, ops: int) -> dict:
    """In a fresh process, GC off: build, backward and drop a mesh graph iterations times."""
    mesh = make_mesh(ops, MESH_KINDS)
    nodes = c_nodes(lambda: build_graph(CValue, mesh))
    gc.collect()
    gc.disable()
    marks = {0: "start", 1: "after 1st", iterations // 2: "middle", iterations: "end"}
    samples = []
    for i in range(iterations + 1):
        if i:
            root, _ = build_graph(CValue, mesh)
            root.backward()
            del root, _
        if i in marks:
            samples.append({"point": marks[i], "iteration": i, "rss": rss_bytes(),
                            "live": micrograd_c.stats().live})
        if i and i % max(1, iterations // 10) == 0:
            log(f"RSS flatness: {i:,}/{iterations:,}")
    return {"nodes": nodes, "ops": mesh.ops, "samples": samples}


def bench_flat(report: Report, sizes: Sizes) -> None:
    """RSS and live nodes over repeated build / backward / drop cycles."""
    log("RSS flatness: fresh process")
    start = time.perf_counter()
    r = in_fresh_process("flat", iterations=sizes.flat_iterations, ops=sizes.flat_ops)
    report.raw["flat"] = r
    report.flat = r["samples"]
    first, last = r["samples"][1], r["samples"][-1]
    growth = last["rss"] - first["rss"]
    report.notes.append(
        f"RSS flatness: {sizes.flat_iterations:,} cycles of building the W1-style mesh of "
        f"{r['ops']:,} ops ({r['nodes']:,} C nodes), backward, drop, with the GC disabled, in a "
        f"fresh process ({time.perf_counter() - start:.0f} s).")
    report.target("RSS flat over build/backward/drop cycles, GC off",
                  growth <= 2**20 and last["live"] == r["samples"][0]["live"],
                  f"RSS {growth / 2**20:+.2f} MiB from the 1st cycle to the last, live "
                  f"{r['samples'][0]['live']} → {last['live']}")


# ---------------------------------------------------------------- driver

CHILD_TASKS: dict[str, Callable[..., dict]] = {"w4": task_w4, "w5": task_w5, "flat": task_flat}


def in_fresh_process(task: str, **kwargs: Any) -> dict:
    """CHILD_TASKS[task](**kwargs), run in a new interpreter; its JSON result."""
    return _harness.in_fresh_process(os.path.abspath(__file__), task, **kwargs)


def main(argv: Optional[list[str]] = None) -> None:
    """Parse options, run every workload, print the report."""
    args = _harness.arguments(__doc__, "smaller sizes, well under a minute").parse_args(argv)
    if _harness.run_child(CHILD_TASKS, args.child):
        return

    sizes = QUICK if args.quick else FULL
    report = Report()
    mesh = bench_w1(report, sizes, args.repeats)
    bench_w2(report, mesh, sizes, args.repeats)
    bench_w4(report, sizes, args.repeats)
    bench_w5(report, sizes)
    bench_flat(report, sizes)
    report.notes.insert(0, (
        f"Cells are median (min–max) over {args.repeats} repeats. Ratios are micrograd ÷ "
        f"micrograd_c from medians (time; bytes for W5; depth for W4), against micrograd with "
        f"the GC on or off; micrograd_c always runs with the GC on, as users run it. Python "
        f"{sys.version.split()[0]}, micrograd_c {micrograd_c.__version__}, {os.cpu_count()} "
        f"CPUs, {'quick' if args.quick else 'full'} sizes, "
        f"{time.perf_counter() - _t0:.0f} s in all."))
    print(report.render())
    if args.json:
        report.raw.update(sizes=vars(sizes), repeats=args.repeats, python=sys.version)
        with open(args.json, "w") as f:
            json.dump(report.raw, f, indent=1)
    log("done")


if __name__ == "__main__":
    main()
