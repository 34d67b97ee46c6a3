"""Benchmark micrograd_c's engine against micrograd 0.1.0 on W1, W2, W4 and W5 (DESIGN.md §4).

One run measures, side by side:

- W1  forward over a ~100k-operator expression mesh (``+ * ** / - relu`` over
      shared leaves and earlier results), in microseconds per operator;
- W2  its backward, per node, on the same graph for every engine, and on a
      ~1M-node graph for micrograd_c alone;
- W4  the deepest chain ``x = x*1.0001 + 0.1`` whose backward succeeds;
- W5  memory per node, with facades and without;
- RSS flatness over many build / backward / drop cycles with the GC off;
- the arena after training steps that each keep two Values (a new leaf and a
      computed one), and the RSS still held after a peak graph is freed.

micrograd runs with the cyclic GC on (as its users run it) and with the GC off
inside the timed region; PyTorch 0-d tensors (when torch imports) and
micrograd_c run with the GC on. Every workload times the very same operator
sequence on each engine, repeats interleaved so that drift hits all alike.
Memory figures, the deep chain and the RSS loop run in fresh interpreters, so
that memory freed by earlier workloads does not hide growth.

    python benchmarks/bench_engine.py [--quick] [--repeats N] [--json FILE]
"""

from __future__ import annotations

import functools
import gc
import math
import random
import statistics
import sys
import time
import tracemalloc
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import micrograd.engine

import micrograd_c

from .._core import MASK, child, doubles_of, lib
from . import floor, harness
from .harness import C_OFF, C_ON, FLOOR, MG_OFF, MG_ON, TORCH, Figure, Report, Sizes, log

MgValue = micrograd.engine.Value
_new = object.__new__
CValue = micrograd_c.Value
FLOATS = "plain floats"
BARE_ON = "bound: a bare object per operator, no C (engine.Bare)"
BARE_OFF = BARE_ON + ", GC off"
C_BIG = "micrograd_c, big graph"

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


# ---------------------------------------------------------------- the mesh


@dataclass
class Mesh:
    """A compiled expression mesh: build(leaves, relu) returns the values nothing used."""

    build: Callable[[Sequence[Any], Callable[[Any], Any]], list]
    ops: int
    steps: int
    leaves: int
    sinks: int


def make_mesh(
    ops: int, kinds: dict[str, tuple[str, int]], n_leaves: int = LEAVES, seed: int = SEED
) -> Mesh:
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
    source = "\n".join(
        [
            f"def mesh(leaves, relu):\n    {', '.join(leaves)}, = leaves",
            *lines,
            f"    return [{', '.join(sinks)}]\n",
        ]
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<mesh of {k} steps>", "exec"), namespace)
    return Mesh(namespace["mesh"], n_ops, k, n_leaves, len(sinks))


def float_relu(x: float) -> float:
    """relu on a plain float, for the harness floor."""
    return x if x > 0.0 else 0.0


@dataclass(frozen=True)
class Kind:
    """A kind of value the mesh runs on: how to make a leaf, and its relu.

    The mesh calls relu(x); Value.relu(x) costs what x.relu() does.
    """

    leaf: Callable[[float], Any]
    relu: Callable[[Any], Any]


class Bare:
    """The least a Value facade can do per operator: make one slotted object holding its operands.

    No C call, no arithmetic, no reclamation. W1 on it bounds what any facade
    can reach whose operators are Python methods returning a new object that
    holds its operands (so the cyclic GC tracks it), as micrograd_c's must.
    """

    __slots__ = ("_a", "_b")

    def __init__(self, data: float) -> None:
        self._a = self._b = None

    def _apply(self, other: Any = None) -> Bare:
        """A new Bare over self and other."""
        out = _new(Bare)
        out._a, out._b = self, other
        return out

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _apply
    __truediv__ = __rtruediv__ = __pow__ = relu = _apply


MICROGRAD = Kind(MgValue, MgValue.relu)
BARE = Kind(Bare, Bare.relu)
OURS = Kind(CValue, CValue.relu)
PLAIN = Kind(float, float_relu)
KINDS = {"micrograd": MICROGRAD, "micrograd_c": OURS}  # W5's, by name for fresh processes


def contenders() -> dict[str, tuple[Kind, bool]]:
    """Label: (kind, GC on while timed) of every engine that runs here."""
    torch = harness.import_torch()
    found = {MG_ON: (MICROGRAD, True), MG_OFF: (MICROGRAD, False)}
    if torch is not None:
        found[TORCH] = (Kind(harness.torch_leaf, torch.relu), True)
    found.update({C_ON: (OURS, True), C_OFF: (OURS, False)})
    return found


def make_leaves(kind: Kind, n: int = LEAVES, seed: int = SEED) -> list:
    """n leaves of kind, uniform in [-1, 1]."""
    rng = random.Random(seed)
    return [kind.leaf(rng.uniform(-1.0, 1.0)) for _ in range(n)]


def tree_sum(values: list) -> Any:
    """The sum of values as a balanced tree of +, so its depth is only log2(len)."""
    while len(values) > 1:
        values = [
            values[i] + values[i + 1] if i + 1 < len(values) else values[i]
            for i in range(0, len(values), 2)
        ]
    return values[0]


def build_graph(kind: Kind, mesh: Mesh, copies: int = 1) -> tuple[Any, list]:
    """Root and leaves of copies meshes over separate leaves, all their sinks summed."""
    leaves, sinks = [], []
    for c in range(copies):
        pool = make_leaves(kind, mesh.leaves, SEED + c)
        leaves += pool
        sinks += mesh.build(pool, kind.relu)
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


def torch_nodes(root: Any) -> int:
    """Nodes of torch's backward graph from a root tensor: its grad_fn and all it reaches."""
    seen, stack = {root.grad_fn}, [root.grad_fn]
    while stack:
        for fn, _ in stack.pop().next_functions:
            if fn is not None and fn not in seen:
                seen.add(fn)
                stack.append(fn)
    return len(seen)


def c_nodes(build: Callable[[], Any]) -> int:
    """Nodes alive in the C arena (stats().live delta) while build()'s result is kept."""
    before = micrograd_c.stats().live
    result = build()
    nodes = micrograd_c.stats().live - before
    del result
    return nodes


# floor_tape.c's op codes: a power by a constant is one op, its exponent in child b
TAPE_OPS = {
    lib.MG_LEAF: 0,
    lib.MG_ADD: 1,
    lib.MG_MUL: 2,
    lib.MG_POWI: 3,
    lib.MG_POWF: 3,
    lib.MG_RELU: 4,
}


def tape_input(root: CValue, repeats: int) -> tuple[bytes, list[int]]:
    """floor_tape.c's stdin for the graph below root, and the C nodes it holds (see its header)."""
    nodes, slot = [root._i], {root._i: 0}
    ops, kids, data = array("i"), (array("i"), array("i")), array("d")
    for i in nodes:  # nodes grows as children are found: every reachable node once, in order
        ops.append(TAPE_OPS[lib.mg_op(i)])  # KeyError: an op the floor does not have
        for k in (0, 1):
            c = child(i, k)
            if c >= 0 and c not in slot:
                slot[c] = len(nodes)
                nodes.append(c)
            kids[k].append(slot[c] if c >= 0 else -1)
        data.append(doubles_of(i)[(i & MASK) * 4])
    head = array("i", [len(nodes), 0, repeats])  # the root is slot 0
    return b"".join(x.tobytes() for x in (head, ops, *kids, data)), nodes


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
    self_timed: bool = False  # run returns the seconds to count (a program that times itself)


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
            seconds, result = harness.timed(functools.partial(v.run, arg), v.gc_on)
            times[v.label].append(result if v.self_timed else seconds)
            del arg, result
    gc.collect()
    return times


def scaled(times: dict[str, list[float]], scale: dict[str, float]) -> dict[str, list[float]]:
    """Each contender's seconds times its scale."""
    return {label: [s * scale[label] for s in t] for label, t in times.items()}


# ---------------------------------------------------------------- workloads


def bench_w1(report: Report, sizes: Sizes, repeats: int) -> Mesh:
    """W1: forward over the mesh; returns the mesh for W2."""
    log(f"W1: compiling a mesh of {sizes.w1_ops:,} operators")
    mesh = make_mesh(sizes.w1_ops, MESH_KINDS)

    def variant(label: str, kind: Kind, gc_on: bool = True) -> Variant:
        """Build the mesh on fresh leaves of kind."""
        return Variant(
            label, lambda leaves: mesh.build(leaves, kind.relu), lambda: make_leaves(kind), gc_on
        )

    bounds = {BARE_ON: (BARE, True), BARE_OFF: (BARE, False)}
    t = measure(
        "W1 forward",
        [
            variant(label, kind, gc_on)
            for label, (kind, gc_on) in {**contenders(), **bounds, FLOATS: (PLAIN, True)}.items()
        ],
        repeats,
    )
    floats = t.pop(FLOATS)
    us = 1e6 / mesh.ops
    figure = Figure(
        "w1", f"W1 forward ({mesh.ops:,} ops)", "µs/op", scaled(t, dict.fromkeys(t, us))
    )
    report.figures.append(figure)
    vs_on, vs_off = figure.ratio(C_ON, MG_ON), figure.ratio(C_ON, MG_OFF)
    report.target("W1 forward ≥ 40x micrograd GC on", vs_on >= 40, f"{vs_on:.1f}x")
    report.target("W1 forward ≥ 5x micrograd GC off", vs_off >= 5, f"{vs_off:.1f}x")
    report.notes.append(
        f"W1 bound: a facade that only makes one slotted Python object per operator (no C "
        f"call, no arithmetic, no reclamation: `bench.engine.Bare`) reaches "
        f"{figure.ratio(BARE_ON, MG_ON):.1f}x micrograd GC on and "
        f"{figure.ratio(BARE_ON, MG_OFF):.1f}x micrograd GC off with the GC on, "
        f"{figure.ratio(BARE_OFF, MG_OFF):.1f}x with the GC off on both sides. Targets above "
        f"these are out of reach of a facade whose operators are Python methods returning a "
        f"new object that holds its operands; "
        f"the difference to micrograd_c's row is what the C call and the reclamation cost."
    )

    before = micrograd_c.stats().live
    values, theirs, ours = (
        mesh.build(make_leaves(kind), kind.relu) for kind in (PLAIN, MICROGRAD, OURS)
    )
    nodes = micrograd_c.stats().live - before
    diff = max(abs(m.data - c.data) for m, c in zip(theirs, ours))
    report.notes.append(
        f"W1: {mesh.steps:,} random steps over {LEAVES} shared leaves and the last {WINDOW:,} "
        f"results (seed {SEED}); micrograd_c makes {nodes / mesh.ops:.2f} C nodes per op. "
        f"Harness floor, the same compiled code on plain floats: "
        f"{harness.spread([s * us for s in floats])} µs/op. Forward values equal micrograd's "
        f"(max |diff| {diff:.3g}); all finite and within [-1, 1]: "
        f"{all(abs(x) <= 1 for x in values)}."
    )
    report.raw["w1"] = {
        "ops": mesh.ops,
        "steps": mesh.steps,
        "c_nodes": nodes,
        "seconds": t,
        "floats_seconds": floats,
    }
    return mesh


def bench_w2(
    report: Report, mesh: Mesh, sizes: Sizes, repeats: int, floor_source: str | None = None
) -> None:
    """W2: backward on the W1 graph for every engine, on a big graph for micrograd_c and its floor.

    floor_source names W3's floor.c; W2's floor_tape.c is taken from beside it.
    """
    timed = {label: c for label, c in contenders().items() if label != C_OFF}
    mg_graph = build_graph(MICROGRAD, mesh)
    mg_nodes, depth = graph_shape(mg_graph[0])
    limit = depth + 200
    before = micrograd_c.stats().live
    c_graph = build_graph(OURS, mesh)
    nodes = {MG_ON: mg_nodes, MG_OFF: mg_nodes, C_ON: micrograd_c.stats().live - before}
    check = backward_check(mg_graph, c_graph, limit)
    del mg_graph, c_graph
    if TORCH in timed:
        nodes[TORCH] = torch_nodes(build_graph(timed[TORCH][0], mesh)[0])
    copies = math.ceil(sizes.w2_nodes / nodes[C_ON])
    nodes[C_BIG] = c_nodes(lambda: build_graph(OURS, mesh, copies))
    tape = floor.compiled(
        report,
        (Path(floor_source).parent if floor_source else floor.SOURCE.parent) / floor.TAPE,
        "W2's C floor",
    )
    floors, floor_notes = [], []
    if tape is not None:
        floor_variant, nodes[FLOOR], note = floor_w2(tape, build_graph(OURS, mesh, copies)[0])
        floors.append(floor_variant)
        floor_notes.append(note)

    def variant(label: str, kind: Kind, gc_on: bool = True, n: int = 1) -> Variant:
        """Backward on a freshly built graph of n mesh copies."""
        return Variant(label, lambda g: g[0].backward(), lambda: build_graph(kind, mesh, n), gc_on)

    with recursion_limit(limit):
        t = measure(
            "W2 backward",
            [
                *(variant(label, kind, gc_on) for label, (kind, gc_on) in timed.items()),
                variant(C_BIG, OURS, n=copies),
                *floors,
            ],
            repeats,
        )
    figure = Figure(
        "w2",
        f"W2 backward (W1 graph; big graph {nodes[C_BIG]:,} nodes)",
        "ns/node",
        scaled(t, {label: 1e9 / n for label, n in nodes.items()}),
    )
    report.figures.append(figure)
    report.notes.append(
        f"W2: the W1 mesh with all its unused values summed by a balanced tree; each engine "
        f"counts its own nodes: micrograd {mg_nodes:,}, "
        + (f"PyTorch {nodes[TORCH]:,} (no node for a constant), " if TORCH in nodes else "")
        + f"micrograd_c {nodes[C_ON]:,} (a leaf holds each ** exponent). The big graph is "
        f"{copies} copies of the mesh. micrograd's graph is {depth:,} deep, so its recursion "
        f"limit was raised to {limit:,} (default {sys.getrecursionlimit():,}). Leaf grads match "
        f"micrograd's: max relative difference {check:.2g}."
    )
    report.notes += floor_notes
    big_ns = figure.median(C_BIG)
    beside = f"; the C floor on the same graph: {figure.median(FLOOR):.1f}" if tape else ""
    worst = min(figure.ratio(C_ON, MG_OFF), figure.ratio(C_BIG, MG_OFF))
    report.target(
        "W2 backward ≤ 10 ns/node (micrograd_c, ~1M nodes)",
        big_ns <= 10,
        f"{big_ns:.1f} ns/node{beside}",
    )
    report.target(
        "W2 backward ≥ 60x micrograd per node",
        worst >= 60,
        f"{figure.ratio(C_ON, MG_OFF):.1f}x on the W1 graph, "
        f"{figure.ratio(C_BIG, MG_OFF):.1f}x on the big graph (vs GC off; the lower "
        f"one counts)",
    )
    report.raw["w2"] = {
        "micrograd_depth": depth,
        "nodes": nodes,
        "copies": copies,
        "seconds": t,
        "grad_rel_diff": check,
    }


def floor_w2(tape: floor.Floor, root: CValue) -> tuple[Variant, int, str]:
    """floor_tape.c over root's graph as a W2 contender; its node count; a note on its grads."""
    data, nodes = tape_input(root, 1)
    out = tape.run(data)
    root.backward()
    ours = sum(doubles_of(i)[(i & MASK) * 4 + 1] for i in nodes)
    theirs = math.nan if out["grad_sum"] is None else out["grad_sum"]  # None: not finite
    note = (
        f"W2's C floor: benchmarks/floor_tape.c, one reverse sweep in plain C over the big "
        f"graph's {out['nodes']:,} nodes laid out in topological order (a hand-written tape: "
        f"no search from the root, no Python), run afresh in each repeat, timing itself; "
        f"the sum of all its grads is micrograd_c's to a relative "
        f"{abs(theirs - ours) / abs(ours):.2g}."
    )
    return (
        Variant(FLOOR, lambda _: tape.run(data)["seconds"][0], self_timed=True),
        out["nodes"],
        note,
    )


def backward_check(mg_graph: tuple[Any, list], c_graph: tuple[Any, list], limit: int) -> float:
    """Largest relative difference between the engines' leaf grads after one backward."""
    (m_root, m_leaves), (c_root, c_leaves) = mg_graph, c_graph
    with recursion_limit(limit):
        m_root.backward()
    c_root.backward()
    return max(
        abs(m.grad - c.grad) / max(abs(m.grad), 1e-300)
        for m, c in zip(m_leaves, c_leaves)
        if m.grad or c.grad
    )


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
    build_s, (x0, x) = harness.timed(lambda: chain(CValue, n), gc_on=True)
    result = {
        "iterations": n,
        "depth": 2 * n + 1,
        "build_s": build_s,
        "live": micrograd_c.stats().live,
    }
    log(f"W4: chain of {2 * n + 1:,} nodes built; first backward")
    try:
        # the first pass alone gives the closed-form grad; later ones accumulate
        result.update(first_s=harness.timed(x.backward, gc_on=True)[0], grad=x0.grad)
        result["seconds"] = measure(
            "W4 backward", [Variant(C_ON, lambda g: g.backward(), lambda: x)], repeats
        )[C_ON]
    except Exception as exc:  # reported, not raised: surviving is what W4 measures
        result["error"] = f"{type(exc).__name__}: {exc}"
    return result


def bench_w4(report: Report, sizes: Sizes, repeats: int) -> None:
    """W4: micrograd's deepest chain against micrograd_c's at sizes.w4_depth."""
    log("W4: searching micrograd's deepest chain")
    steps = micrograd_chain_limit()
    mg_depth = 2 * steps + 1
    log(f"W4: micrograd survives {mg_depth} nodes; building micrograd_c's in a fresh process")
    r = harness.in_fresh_process(task_w4, depth=sizes.w4_depth, repeats=repeats)
    report.raw["w4"] = {"micrograd_steps": steps, "micrograd_depth": mg_depth, **r}
    mg_cell = f"{mg_depth:,} (RecursionError at {mg_depth + 2:,})"
    title, unit = "W4 deepest chain that backward survives", "nodes"
    if "error" in r:
        report.figures.append(
            Figure(
                "w4",
                title,
                unit,
                {MG_ON: [mg_depth]},
                {MG_ON: mg_cell, C_ON: f"{r['depth']:,}: {r['error']}"},
                higher_is_better=True,
            )
        )
        report.target(f"W4 backward on a {r['depth']:,}-node chain", False, r["error"])
        return
    n = r["iterations"]
    report.figures.append(
        Figure(
            "w4",
            title,
            unit,
            {MG_ON: [mg_depth], C_ON: [r["depth"]]},
            {
                MG_ON: mg_cell,
                C_ON: f"{r['depth']:,}, the most tried; backward {harness.spread(r['seconds'])} s",
            },
            higher_is_better=True,
        )
    )
    expected = 1.0001**n
    rel = abs(r["grad"] - expected) / expected
    tolerance = n * 2.0**-52  # one rounding per multiplication along the chain
    report.notes.append(
        f"W4: {n:,} steps of x = x*1.0001 + 0.1 make a path of {r['depth']:,} nodes "
        f"({r['live']:,} C nodes with the constants), built in {r['build_s']:.1f} s; the first "
        f"backward took {r['first_s']:.2f} s, later ones (same graph) "
        f"{harness.spread(r['seconds'])} s = "
        f"{statistics.median(r['seconds']) * 1e9 / r['live']:.1f} ns/node. x0.grad = "
        f"{r['grad']:.6g} vs 1.0001**{n:,} = {expected:.6g}, relative error {rel:.2g} (bound "
        f"n·2^-52 = {tolerance:.2g}). micrograd's limit is its recursion, whatever the GC does."
    )
    report.target(
        f"W4 backward on a {r['depth']:,}-node chain, grad = 1.0001**n",
        rel <= tolerance,
        f"backward OK, relative error {rel:.2g} (bound {tolerance:.2g})",
    )


def task_w5(engine: str, mode: str, nodes: int) -> dict:
    """In a fresh process: memory of a facade-only graph of about nodes nodes."""
    kind, mesh = KINDS[engine], make_mesh(W5_MESH_OPS, FACADE_KINDS, W5_LEAVES)
    copies = math.ceil(nodes / (mesh.leaves + mesh.steps + mesh.sinks))
    gc.collect()
    gc.disable()  # nothing becomes garbage here; the GC would only cost time
    if mode == "tracemalloc":
        tracemalloc.start()
    rss0, py0, c0 = harness.rss_bytes(), tracemalloc.get_traced_memory()[0], micrograd_c.stats()
    root, _ = build_graph(kind, mesh, copies)
    rss1, py1, c1 = harness.rss_bytes(), tracemalloc.get_traced_memory()[0], micrograd_c.stats()
    tracemalloc.stop()
    result = {
        "rss": rss1 - rss0,
        "py": py1 - py0,
        "c": c1.bytes - c0.bytes,
        "live": c1.live - c0.live,
        "capacity": c1.capacity,
        "c_total": c1.bytes,
    }
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
    for engine in KINDS:
        for mode in ("tracemalloc", "rss"):
            log(f"W5: {engine}, {mode}, fresh process")
            r[engine, mode] = harness.in_fresh_process(
                task_w5, engine=engine, mode=mode, nodes=sizes.w5_nodes
            )
    report.raw["w5"] = {f"{e}/{m}": v for (e, m), v in r.items()}
    mg, c, mg_rss, c_rss = (
        r["micrograd", "tracemalloc"],
        r["micrograd_c", "tracemalloc"],
        r["micrograd", "rss"],
        r["micrograd_c", "rss"],
    )
    mg_b, c_b = (mg["py"] + mg["c"]) / mg["nodes"], (c["py"] + c["c"]) / c["nodes"]
    mg_rb, c_rb = mg_rss["rss"] / mg_rss["nodes"], c_rss["rss"] / c_rss["nodes"]
    c_only = c["c"] / c["nodes"]
    per_slot = c["c_total"] / c["capacity"]
    scratch = (c["c_after_backward"] - c["c"]) / c["nodes"]
    report.figures += [
        Figure(
            "w5",
            f"W5 memory with facades, tracemalloc + C ({c['nodes']:,} nodes)",
            "B/node",
            {MG_OFF: [mg_b], C_OFF: [c_b]},
        ),
        Figure(
            "w5_rss",
            "W5 memory with facades, RSS delta",
            "B/node",
            {MG_OFF: [mg_rb], C_OFF: [c_rb]},
        ),
        Figure(
            "w5_c",
            "W5 memory in C without facades (+ backward scratch)",
            "B/node",
            {C_OFF: [c_only]},
            {C_OFF: f"{harness.fmt(c_only)} (+{harness.fmt(scratch)})"},
        ),
    ]
    report.notes.append(
        f"W5: copies of a {W5_MESH_OPS}-op mesh over {W5_LEAVES} leaves of Value-Value `*`, "
        f"`+` and relu(), so both engines make the same nodes (micrograd {mg['nodes']:,} by "
        f"walking _prev, micrograd_c {c['live']:,} by stats().live) and every node keeps a "
        f"facade; built op by op in a fresh process with the GC off (memory does not depend on "
        f"it); Python bytes by tracemalloc, C bytes by stats().bytes. micrograd_c's Python side "
        f"is {c['py'] / c['nodes']:.0f} B/node, its C side {c_only:.1f} B/node: "
        f"{per_slot:.1f} B per allocated slot (node, backward bitmap, region and chunk tables) "
        f"plus the unused rest of the last 64Ki-node chunk. A backward adds {scratch:.1f} "
        f"B/node (it needs no sort scratch)."
    )
    report.target(
        "W5 ≤ 200 B/node facades included",
        c_b <= 200 and c_rb <= 200,
        f"{c_b:.0f} B (tracemalloc + C), {c_rb:.0f} B (RSS)",
    )
    report.target(
        "W5 ≤ 48 B/node without facade",
        c_only <= 48,
        f"{c_only:.1f} B ({per_slot:.1f} B per slot); {c_only + scratch:.1f} B "
        f"counting the backward scratch",
    )


def task_flat(iterations: int, ops: int) -> dict:
    """In a fresh process, GC off: build, backward and drop a mesh graph iterations times.

    Each graph lives until the next one is built, as `loss` does in a training
    loop, so new nodes go into slots while others are still in use; every
    backward is timed, without the freeing of the graph before it.
    """
    mesh = make_mesh(ops, MESH_KINDS)
    nodes = c_nodes(lambda: build_graph(OURS, mesh))
    gc.collect()
    gc.disable()
    marks = {1: "after 1st", iterations // 2: "middle"}
    samples, seconds, root = [], [], None

    def sample(point: str, i: int) -> None:
        """RSS and live nodes now."""
        samples.append(
            {
                "point": point,
                "iteration": i,
                "rss": harness.rss_bytes(),
                "live": micrograd_c.stats().live,
            }
        )

    sample("start", 0)
    for i in range(1, iterations + 1):
        root = build_graph(OURS, mesh)[0]  # the previous graph dies only now
        micrograd_c.stats()  # frees it, untimed
        start = time.perf_counter()
        root.backward()
        seconds.append(time.perf_counter() - start)
        if i in marks:
            sample(marks[i], i)
        if i % max(1, iterations // 10) == 0:
            log(f"RSS flatness: {i:,}/{iterations:,}")
    root = None
    sample("end", iterations)
    return {"nodes": nodes, "ops": mesh.ops, "samples": samples, "backward_seconds": seconds}


def bench_flat(report: Report, sizes: Sizes) -> None:
    """RSS, live nodes and backward speed over repeated build / backward / drop cycles."""
    log("RSS flatness: fresh process")
    start = time.perf_counter()
    r = harness.in_fresh_process(task_flat, iterations=sizes.flat_cycles, ops=sizes.flat_ops)
    report.raw["flat"] = r
    report.sections.append(
        [
            "RSS flatness (micrograd_c, GC off):",
            "",
            *harness.table(
                ["point", "iteration", "RSS (MiB)", "stats().live"],
                [
                    [p["point"], f"{p['iteration']:,}", f"{p['rss'] / 2**20:.1f}", f"{p['live']:,}"]
                    for p in r["samples"]
                ],
            ),
        ]
    )
    first, last = r["samples"][1], r["samples"][-1]
    growth = last["rss"] - first["rss"]
    tenth = max(1, len(r["backward_seconds"]) // 10)
    early, late = (
        statistics.median(s) / r["nodes"] * 1e9
        for s in (r["backward_seconds"][:tenth], r["backward_seconds"][-tenth:])
    )
    report.notes.append(
        f"RSS flatness: {sizes.flat_cycles:,} cycles of building the W1-style mesh of "
        f"{r['ops']:,} ops ({r['nodes']:,} C nodes), backward, drop, with the GC disabled, in a "
        f"fresh process ({time.perf_counter() - start:.0f} s). Each graph is dropped only once "
        f"the next is built, as in a training loop. Backward, median of the first and of the "
        f"last {tenth:,} cycles: {early:.1f} and {late:.1f} ns/node."
    )
    report.target(
        "RSS flat over build/backward/drop cycles, GC off",
        growth <= 2**20 and last["live"] == r["samples"][0]["live"],
        f"RSS {growth / 2**20:+.2f} MiB from the 1st cycle to the last, live "
        f"{r['samples'][0]['live']} → {last['live']}",
    )
    report.target(
        "backward as fast once slots were reused (last cycles ≤ 1.25x the first)",
        late <= 1.25 * early,
        f"{late / early:.2f}x ({early:.1f} → {late:.1f} ns/node)",
    )


def task_survivors(steps: int) -> dict:
    """In a fresh process: steps of an MLP training loop, each keeping a new leaf and a computed
    Value (as a metric kept per step would), each building and dropping its graph."""
    from ..nn import MLP

    random.seed(SEED)
    model = MLP(4, [16, 16, 1])
    xs = [[random.uniform(-1, 1) for _ in range(4)] for _ in range(3)]
    start, kept, graph = micrograd_c.stats(), [], 0
    for step in range(steps):
        leaf = CValue(step * 0.001)
        before = micrograd_c.stats().live
        loss = sum((model(x) * leaf for x in xs), CValue(0.0))
        graph = max(graph, micrograd_c.stats().live - before)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 1e-4 * p.grad
        kept += [leaf, leaf * 0.5 + loss.data]
        loss = None
    end = micrograd_c.stats()
    return {
        "steps": steps,
        "kept": len(kept),
        "graph_nodes": graph,
        "bytes": end.bytes,
        "bytes_at_start": start.bytes,
        "live": end.live - start.live,
        "rss": harness.rss_bytes(),
    }


def task_peak(nodes: int, facades: bool) -> dict:
    """In a fresh process: RSS before, at the peak of and after a chain of about nodes nodes
    (x + 1.0 a step: a constant and an add), held by Values or by C calls alone."""
    gc.disable()
    before = harness.rss_bytes()
    if facades:
        x = CValue(1.0)
        for _ in range(nodes // 2):
            x = x + 1.0  # each Value holds its operand: the whole chain of facades lives
        x.backward()
    else:
        x = lib.mg_leaf(1.0)
        for _ in range(nodes // 2):
            y = lib.mg_add_const(x, 1.0)
            lib.mg_decref(x)
            x = y
        lib.mg_backward(x, 0)
    peak, live = harness.rss_bytes(), micrograd_c.stats().live
    if facades:
        x = None
    else:
        lib.mg_decref(x)
    after = harness.rss_bytes()
    return {
        "before": before,
        "peak": peak,
        "after": after,
        "live": live,
        "kept": (after - before) / (peak - before),
    }


def bench_arena(report: Report, sizes: Sizes) -> None:
    """The arena after steps keeping survivors; the RSS kept after a peak is freed."""
    log("arena: survivors a step, fresh process")
    s = harness.in_fresh_process(task_survivors, steps=sizes.survivor_steps)
    peaks = {}
    for facades in (True, False):
        log(f"arena: a peak of {sizes.peak_nodes:,} nodes freed, {'Values' if facades else 'C'}")
        peaks[facades] = harness.in_fresh_process(
            task_peak, nodes=sizes.peak_nodes, facades=facades
        )
    report.raw["arena"] = {"survivors": s, "peak_values": peaks[True], "peak_c": peaks[False]}
    mib = s["bytes"] / 2**20
    values, c_only = (100 * peaks[k]["kept"] for k in (True, False))
    report.figures += [
        Figure(
            "survivors",
            f"Arena after {s['steps']:,} steps keeping 2 Values each ({s['kept']:,} kept)",
            "MiB",
            {C_ON: [mib]},
        ),
        Figure(
            "peak_kept",
            f"RSS kept after a {peaks[True]['live']:,}-node peak is freed",
            "% of the growth",
            {C_ON: [values], f"{C_ON}, C calls only": [c_only]},
        ),
    ]
    report.notes.append(
        f"Arena: an MLP(4, [16, 16, 1]) training loop, in a fresh process, builds and drops a "
        f"{s['graph_nodes']:,}-node graph a step and keeps a new leaf and a computed Value a "
        f"step: stats().bytes {s['bytes_at_start'] / 2**20:.1f} MiB at the start, {mib:.1f} MiB "
        f"after {s['steps']:,} steps ({s['live']:,} live nodes kept). Peak: a chain x = x + 1.0 "
        f"of {peaks[True]['live']:,} nodes, in a fresh process with the GC off, built through "
        f"Values (which hold their operands, so every facade lives until the end) or through C "
        f"calls alone, then freed; RSS (MiB) before, at the peak, after: "
        + "; ".join(
            f"{label} {p['before'] / 2**20:.0f}, {p['peak'] / 2**20:.0f}, {p['after'] / 2**20:.0f}"
            for label, p in (("Values", peaks[True]), ("C calls", peaks[False]))
        )
        + "."
    )
    report.target(
        "arena ≤ 32 MiB after 3,000 steps keeping 2 Values a step",
        mib <= 32 if s["steps"] >= 3_000 else None,
        f"{mib:.1f} MiB",
    )
    report.target(
        "RSS kept after a peak is freed ≤ 20% of the peak's growth",
        max(values, c_only) <= 20 if sizes.peak_nodes >= 1_000_000 else None,
        f"{values:.1f}% through Values, {c_only:.1f}% through C calls alone (the "
        f"arena keeps up to 8 MiB of empty chunks: a smaller peak stays)",
    )


def main(argv: list[str] | None = None) -> None:
    """benchmarks/bench_engine.py: every engine workload, the RSS check, notes and targets."""
    parser = harness.arguments(__doc__, "smaller sizes and 3 repeats, under a minute", floor=True)
    args = parser.parse_args(argv)
    sizes, repeats = harness.sizes_of(args)
    report = Report("python benchmarks/bench_engine.py", sizes, repeats)
    with harness.stages(6) as done:  # a bar with the time left, on a terminal, with tqdm
        mesh = bench_w1(report, sizes, repeats)
        done()
        for stage in (
            lambda: bench_w2(report, mesh, sizes, repeats, args.floor),
            lambda: bench_w4(report, sizes, repeats),
            lambda: bench_w5(report, sizes),
            lambda: bench_flat(report, sizes),
            lambda: bench_arena(report, sizes),
        ):
            stage()
            done()
    harness.finish(report, args.json)
