"""W6, a workload from outside: the graph of A. Rogozhnikov's "Fastest Autograd in the West".

The graph starts from 100 leaves holding 0, 1, ..., 99; op k appends, by k mod 4,
``softplus(nodes[-10])``, ``sum(nodes[-30:-10:5])`` (4 terms, added left to right),
``nodes[-20] * nodes[-10]``, or the 4 outputs of ``softmax(nodes[-4:])``. The root, where
backward starts, is the last node appended. An iteration is a forward and a backward pass
over the whole graph. The gradient fades along it (each softmax is of values far apart):
at 10,000 ops every leaf's grad underflows to 0, so the checks compare every node's grad
with the C floor's, not only the leaves'. Each contender, in its own process:

- micrograd 0.1.0 with its GC on (as its users run it), given softplus, logaddexp and exp the
  way the lecture adds an op (a Value with a ``_backward`` closure), softmax built from them
  as micrograd_c builds it; the graph rebuilt each iteration;
- PyTorch 0-d float64 tensors (when torch is installed): ``torch.nn.functional.softplus``,
  softmax as ``torch.softmax`` over the 4 inputs stacked, then unbound into 0-d tensors; the
  graph rebuilt each iteration;
- micrograd_c eager: ``Value.softplus`` and ``micrograd_c.softmax``, the graph rebuilt each
  iteration; micrograd_c replay: built once, recorded, then forward, zero_grad and backward
  in C per iteration;
- the C floor, benchmarks/floor_west.c: a tape of multi-input ops, softmax one op of 4 outputs;
- and, as rows of their own, micrograd_c's eager build of the graph alone (each graph freed
  untimed), and record() of a built graph.

Every eager contender builds on fresh leaves each iteration and pays for freeing its graph.
A sample is the mean time per iteration over a repeat's iterations, after 1 + iterations/10
untimed ones (the floor: one), with the GC on.
"""

from __future__ import annotations

import functools
import gc
import math
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import micrograd.engine
from engine import engines, figure
from harness import FLOOR, MG_ON, TORCH, Run, Sample, race, run_floor, timed
from mesh import c_nodes, graph_shape, torch_leaf, torch_nodes
from report import Report, fmt
from training import REPLAY

import micrograd_c

LEAVES = 100
EAGER = "micrograd_c eager: graph rebuilt each iteration"
BUILD = "micrograd_c: the graph built eagerly, no backward"
RECORD = "micrograd_c: record() of the built graph"
ITERATIONS = {MG_ON: 3, TORCH: 5, EAGER: 20, REPLAY: 1_000, FLOOR: 2_000, BUILD: 10, RECORD: 10}
TIMES = (BUILD, RECORD)  # contenders timing a build or a record(), not an iteration
SHORT = {
    MG_ON: "micrograd",
    TORCH: "PyTorch",
    EAGER: "eager",
    REPLAY: "replay",
    FLOOR: "C floor",
    BUILD: "build",
    RECORD: "record",
}  # the names the note uses


@dataclass(frozen=True)
class Kind:
    """A kind of value the graph is built of: a leaf, softplus and softmax."""

    leaf: Callable[[float], Any]
    softplus: Callable[[Any], Any]
    softmax: Callable[[list[Any]], list[Any]]


def build(of: Kind, ops: int) -> tuple[list[Any], list[Any]]:
    """The post's graph of ops ops on fresh leaves: (the leaves, every node in the order made)."""
    leaves = [of.leaf(float(i)) for i in range(LEAVES)]
    nodes = list(leaves)
    for k in range(ops):
        match k % 4:
            case 0:
                nodes.append(of.softplus(nodes[-10]))
            case 1:
                a, b, c, d = nodes[-30:-10:5]
                nodes.append(a + b + c + d)
            case 2:
                nodes.append(nodes[-20] * nodes[-10])
            case _:
                nodes.extend(of.softmax(nodes[-4:]))
    return leaves, nodes


# ---------------------------------------------------------------- micrograd's ops, as the lecture

MGValue = micrograd.engine.Value


def softplus(x: float) -> float:
    """log(1 + e ** x), never overflowing."""
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


def mg_softplus(v: Any) -> Any:
    """softplus(v) as a micrograd op; its slope, sigmoid(v), is 1 - e ** -out."""
    out = MGValue(softplus(v.data), (v,), "softplus")

    def _backward() -> None:
        v.grad += -math.expm1(-out.data) * out.grad

    out._backward = _backward
    return out


def mg_logaddexp(a: Any, b: Any) -> Any:
    """log(e ** a + e ** b) as a micrograd op, never overflowing."""
    x, y = a.data, b.data
    if x == y:
        data, e = x + math.log(2.0), 1.0
    else:
        e = math.exp(-abs(x - y))
        data = max(x, y) + math.log1p(e)
    out = MGValue(data, (a, b), "logaddexp")

    def _backward() -> None:
        big, small = 1.0 / (1.0 + e), e / (1.0 + e)  # the larger input's slope, the other's
        a.grad += (big if x > y else small) * out.grad
        b.grad += (small if x > y else big) * out.grad

    out._backward = _backward
    return out


def mg_exp(v: Any) -> Any:
    """e ** v as a micrograd op."""
    out = MGValue(math.exp(v.data), (v,), "exp")

    def _backward() -> None:
        v.grad += out.data * out.grad

    out._backward = _backward
    return out


def mg_softmax(values: list[Any]) -> list[Any]:
    """e ** (v - logsumexp(values)) for each v, built as micrograd_c.softmax builds it."""
    shift = -functools.reduce(mg_logaddexp, values)
    return [mg_exp(v + shift) for v in values]


def torch_kind() -> Kind:
    """0-d float64 tensors: F.softplus, and torch.softmax over the inputs stacked."""
    import torch
    import torch.nn.functional as F

    def softmax(values: list[Any]) -> list[Any]:
        """The 4 outputs as 0-d tensors."""
        return list(torch.softmax(torch.stack(values), 0).unbind())

    return Kind(torch_leaf, F.softplus, softmax)


def kind(label: str) -> Kind:
    """The kind of value a contender builds the graph of."""
    if label == TORCH:
        return torch_kind()
    if label == MG_ON:
        return Kind(MGValue, mg_softplus, mg_softmax)
    return Kind(micrograd_c.Value, micrograd_c.Value.softplus, micrograd_c.softmax)


# ---------------------------------------------------------------- in a contender's process


def grad(v: Any) -> float:
    """A node's grad as a float (a torch tensor's None grad is 0)."""
    g = v.grad
    return 0.0 if g is None else float(g)


def eager_check(of: Kind, ops: int) -> dict[str, Any]:
    """One built graph's backward: its root, every node's grad, its count of nodes."""
    nodes = build(of, ops)[1]
    root = nodes[-1]
    if of.leaf is torch_leaf:
        for v in nodes[LEAVES:]:
            v.retain_grad()
        made = torch_nodes(root)
    elif of.leaf is MGValue:
        made, depth = graph_shape(root)
        sys.setrecursionlimit(max(sys.getrecursionlimit(), depth + 200))  # micrograd recurses
    else:
        made = c_nodes(lambda: build(of, ops))
    root.backward()
    return {"root": float(root.data), "grads": [grad(v) for v in nodes], "nodes": made}


def iteration(of: Kind, ops: int) -> Callable[[], None]:
    """An eager iteration: the graph built on fresh leaves, then backward from its root."""

    def run() -> None:
        build(of, ops)[1][-1].backward()

    return run


def replayer(ops: int) -> tuple[dict[str, Any], Callable[[], None]]:
    """The graph built and recorded once; its check, and a replayed iteration."""
    leaves, nodes = build(kind(REPLAY), ops)
    rec = micrograd_c.record(nodes[-1])
    del nodes
    zero = micrograd_c.optim.Optimizer(leaves)

    def run() -> None:
        rec.forward()
        zero.zero_grad()
        rec.backward()

    run()
    check = {"root": rec.value, "grads": [v.grad for v in leaves], "nodes": len(rec)}
    return check, run


def mean_seconds(action: Callable[[], None], n: int) -> dict[str, Any]:
    """Mean seconds of action() over n runs, the GC on, after 1 + n/10 untimed ones."""

    def runs(k: int) -> None:
        for _ in range(k):
            action()

    runs(1 + n // 10)
    return {"seconds": timed(lambda: runs(n), gc_on=True)[0] / n}


def builds(of: Kind, ops: int, n: int) -> dict[str, Any]:
    """Mean seconds of n builds, each graph freed untimed before the next."""
    total = 0.0
    for _ in range(n):
        gc.collect()
        seconds, graph = timed(lambda: build(of, ops), gc_on=True)
        total += seconds
        del graph
        micrograd_c.stats()  # (frees the C nodes it queued)
    return {"seconds": total / n}


def records(of: Kind, ops: int, n: int) -> dict[str, Any]:
    """Mean seconds of record() over n graphs built beforehand (their leaves kept: variables)."""
    graphs = [(leaves, nodes[-1]) for leaves, nodes in (build(of, ops) for _ in range(n))]
    made = timed(lambda: [micrograd_c.record(root) for _, root in graphs], gc_on=True)
    return {"seconds": made[0] / n}


def prepare_w6(
    label: str, ops: int, iterations: dict[str, int], floor: str | None = None
) -> tuple[dict[str, Any], Sample]:
    """W6 in label's process: its check once, then a sample is its mean seconds per iteration."""
    n = iterations[label]
    if label == FLOOR:
        assert floor is not None
        out = run_floor(floor, "", str(ops), "1")
        check = {"root": out["root"], "grads": out["grads"], "nodes": out["values"]}
        return check, lambda: {
            "seconds": run_floor(floor, "", str(ops), str(n))["seconds_per_iteration"]
        }
    of = kind(label)
    if label == REPLAY:
        check, run = replayer(ops)
        return check, lambda: mean_seconds(run, n)
    if label == BUILD:
        return {}, lambda: builds(of, ops, n)
    if label == RECORD:
        return {}, lambda: records(of, ops, n)
    return eager_check(of, ops), lambda: mean_seconds(iteration(of, ops), n)


PREPARE = {"w6": prepare_w6}


# ---------------------------------------------------------------- in the run's process


def relative(a: float, b: float) -> float:
    """|a - b| relative to the larger; 0 where both are 0."""
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def normal(x: float) -> bool:
    """Whether x is a normal float: not 0, not subnormal (where rounding runs out of digits)."""
    return abs(x) >= sys.float_info.min


def largest_difference(xs: list[float], ys: list[float]) -> tuple[float, int]:
    """The largest relative difference between xs and ys, item by item, where both are normal.

    Also how many pairs that is. Grads that underflow below the normal range have few
    digits left, so the same value computed in another order may differ in all of them.
    """
    found = [relative(x, y) for x, y in zip(xs, ys) if normal(x) and normal(y)]
    return max(found, default=0.0), len(found)


def w6(report: Report, run: Run) -> None:
    """W6: each contender's forward + backward iteration; micrograd_c's build and record()."""
    labels = engines(MG_ON, TORCH, EAGER, REPLAY) + ([FLOOR] if "floor_west" in run.floors else [])
    labels += [BUILD, RECORD]
    n = {label: max(1, round(ITERATIONS[label] * run.sizes.w6_share)) for label in labels}
    ops = run.sizes.w6_ops
    params = {"ops": ops, "iterations": n, "floor": run.floors.get("floor_west")}
    r = race("west", "w6", labels, params, run.repeats)
    each = {label: x for label, x in r.items() if label not in TIMES}
    report.figures += [
        figure(
            "w6",
            f"W6 Rogozhnikov's graph ({ops:,} ops), forward + backward",
            "ms",
            each,
            dict.fromkeys(each, 1e3),
        ),
        figure(
            "w6_build",
            f"W6 micrograd_c build and record ({ops:,} ops)",
            "ms",
            {label: r[label] for label in TIMES},
            dict.fromkeys(TIMES, 1e3),
        ),
    ]
    report.notes.append(w6_note(r, ops, n))
    for x in r.values():  # the JSON keeps the leaves' grads: every node's is megabytes
        if "grads" in x["setup"]:
            x["setup"]["grads"] = x["setup"]["grads"][:LEAVES]
    report.raw["w6"] = r


def nodes_appended(ops: int) -> int:
    """How many nodes the post's graph of ops ops has, its leaves included."""
    return LEAVES + sum(4 if k % 4 == 3 else 1 for k in range(ops))


def differences(what: str, xs: list[float], ys: list[float]) -> str:
    """', what at most (the largest relative difference) (how many compared)'."""
    most, compared = largest_difference(xs, ys)
    return f", {what} at most {most:.2g} ({compared:,} compared)"


def w6_checks(checks: dict[str, dict[str, Any]]) -> str:
    """How the roots and grads found by each contender compare with the C floor's."""
    if FLOOR not in checks:
        return "No C floor to check against."
    floor = checks[FLOOR]
    grads, leaves = floor["grads"], floor["grads"][:LEAVES]
    found = [
        (
            f"Checks against the C floor, whose root is {floor['root']!r} and whose grads are "
            f"nonzero on {sum(g != 0.0 for g in grads):,} of {len(grads):,} nodes and on "
            f"{sum(g != 0.0 for g in leaves)} of the {LEAVES} leaves; relative differences, "
            "compared where both grads are normal floats (below, in the subnormal range, they "
            "keep too few digits to agree)"
        )
    ]
    for label, c in checks.items():
        if label == FLOOR:
            continue
        root = relative(c["root"], floor["root"])
        line = f"{SHORT[label]}: root {root:.2g}{' (bit for bit)' * (root == 0.0)}"
        line += differences("leaf grads", c["grads"][:LEAVES], leaves)
        if len(c["grads"]) == len(grads):  # (replay reads only the leaves' grads)
            line += differences("all nodes' grads", c["grads"], grads)
        found.append(line)
    return "; ".join(found) + "."


def w6_note(r: dict[str, Any], ops: int, n: dict[str, int]) -> str:
    """W6's note: ns per op, the nodes each made, the checks, build + record, the iterations."""
    checks = {label: x["setup"] for label, x in r.items() if label not in TIMES}
    ms = {
        label: statistics.median(s["seconds"] for s in x["samples"]) * 1e3 for label, x in r.items()
    }
    return (
        f"W6: {ops:,} ops, {nodes_appended(ops):,} nodes with the leaves, backward from the last "
        "node; every eager row builds on fresh leaves and pays for freeing the last graph, with "
        "the GC on. Medians in ns per op: "
        + ", ".join(f"{SHORT[label]} {fmt(ms[label] * 1e6 / ops)}" for label in checks)
        + f"; build + record {fmt(ms[BUILD] + ms[RECORD])} ms. Nodes, each counted its own way "
        "(micrograd: reached from the root; PyTorch: grad_fns; eager: C nodes made; replay: "
        "recorded; the floor: its tape's values): "
        + ", ".join(f"{SHORT[label]} {c['nodes']:,}" for label, c in checks.items())
        + ". "
        + w6_checks(checks)
        + " Iterations (builds, records) timed per repeat: "
        + ", ".join(f"{SHORT[label]} {k:,}" for label, k in n.items())
        + "."
    )
