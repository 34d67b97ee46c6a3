"""micrograd's moons demo: a 2-16-16-1 MLP learns two interleaved half circles.

``run()`` trains it on micrograd_c (fused forward, losses and SGD), with
``replay=True`` by recording the graph once and replaying it in C, and with
``compare=True`` trains micrograd itself side by side from the same seed,
printing both losses and the speedup.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import losses, optim
from ._progress import Bar
from .engine import Value
from .nn import MLP
from .replay import Recording, record

Point = tuple[float, float]
ALPHA = 1e-4  # weight of the L2 term


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 1337) -> tuple[list[Point], list[int]]:
    """Two interleaved half circles with Gaussian noise, labelled -1 and +1 (like sklearn's)."""
    rng = random.Random(seed)
    outer, inner = n // 2, n - n // 2
    points = [
        (math.cos(math.pi * k / (outer - 1)), math.sin(math.pi * k / (outer - 1)))
        for k in range(outer)
    ]
    points += [
        (1 - math.cos(math.pi * k / (inner - 1)), 0.5 - math.sin(math.pi * k / (inner - 1)))
        for k in range(inner)
    ]
    labels = [-1] * outer + [1] * inner
    order = list(range(n))
    rng.shuffle(order)
    return (
        [(points[i][0] + rng.gauss(0, noise), points[i][1] + rng.gauss(0, noise)) for i in order],
        [labels[i] for i in order],
    )


def learning_rate(k: int, steps: int) -> float:
    """micrograd's demo schedule: from 1.0 down to 0.1."""
    return 1.0 - 0.9 * k / steps


def accuracy(scores: Sequence[Any], y: Sequence[int]) -> float:
    """The fraction of points whose score (a Value or a number) has the label's sign."""
    right: int = sum((yi > 0) == (getattr(s, "data", s) > 0) for yi, s in zip(y, scores))
    return right / len(y)


def micrograd_graph(
    model: Any, X: Sequence[Point], y: Sequence[int], value: Callable[[float], Any] = Value
) -> tuple[Any, list[Any]]:
    """micrograd's demo loss, as its notebook writes it, on any Value class: (loss, scores)."""
    inputs = [list(map(value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in model.parameters())
    return data_loss + reg_loss, scores


def micrograd_loss(
    model: Any, X: Sequence[Point], y: Sequence[int], value: Callable[[float], Any] = Value
) -> tuple[Any, float]:
    """micrograd's demo loss and the accuracy."""
    loss, scores = micrograd_graph(model, X, y, value)
    return loss, accuracy(scores, y)


def fused_graph(model: MLP, X: Sequence[Point], y: Sequence[int]) -> tuple[Value, list[Value]]:
    """The same loss, node for node, through micrograd_c's fused kernels: (loss, scores)."""
    scores: list[Value] = [model([Value(a), Value(b)]) for a, b in X]
    return losses.svm(scores, y) + ALPHA * losses.l2(model.parameters()), scores


def fused_loss(model: MLP, X: Sequence[Point], y: Sequence[int]) -> tuple[Value, float]:
    """The loss through the fused kernels, and the accuracy."""
    loss, scores = fused_graph(model, X, y)
    return loss, accuracy(scores, y)


def train_micrograd(
    X: Sequence[Point],
    y: Sequence[int],
    steps: int,
    seed: int,
    after_step: Callable[[int], object] | None = None,
) -> tuple[list[float], float]:
    """Train micrograd itself as its demo does, after_step(k) after step k: (losses, seconds)."""
    from micrograd.engine import Value as MicroValue
    from micrograd.nn import MLP as MicroMLP

    random.seed(seed)
    model = MicroMLP(2, [16, 16, 1])
    history, start = [], time.perf_counter()
    for k in range(steps):
        loss, _ = micrograd_loss(model, X, y, MicroValue)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= learning_rate(k, steps) * p.grad
        history.append(loss.data)
        if after_step is not None:
            del loss  # (its graph is garbage now, for after_step to collect if it wants)
            after_step(k)
    return history, time.perf_counter() - start


def run(
    steps: int = 100,
    seed: int = 1337,
    compare: bool = False,
    plot: str | None = None,
    replay: bool = False,
) -> list[tuple[float, float]]:
    """Train the demo on micrograd_c, printing progress and timing; (loss, accuracy) per step."""
    if steps < 1:
        raise ValueError(f"steps must be 1 or more, not {steps}")
    X, y = make_moons(100, noise=0.1, seed=seed)
    random.seed(seed)
    model = MLP(2, [16, 16, 1])
    opt = optim.SGD(model.parameters(), schedule=lambda k: learning_rate(k, steps))
    history = []
    start = time.perf_counter()
    if replay:  # the graph is the same every step: record it once
        loss, scores = fused_graph(model, X, y)
        rec = record(loss, outputs=scores, model=model)
        del loss, scores
    graph: Value | Recording  # what backward() runs on: the graph built, or the recording
    for k in range(steps):
        if replay:
            value, acc, graph = rec.forward(), accuracy(rec.outputs, y), rec
        else:
            loss, acc = fused_loss(model, X, y)
            value, graph = loss.data, loss
        opt.zero_grad()
        graph.backward()
        opt.step()
        history.append((value, acc))
        if k % 10 == 0 or k == steps - 1:
            print(f"step {k:3d}  loss {value:.6f}  accuracy {acc * 100:.0f}%")
    elapsed = time.perf_counter() - start
    print(
        f"final accuracy {history[-1][1] * 100:.0f}% after {steps} steps: "
        f"{elapsed:.2f} s in all, {elapsed / steps * 1e3:.2f} ms per step"
    )
    if compare:
        _compare(X, y, steps, seed, [h[0] for h in history], elapsed)
    if plot:
        draw(model, X, y, plot)
        print(f"decision boundary written to {plot}")
    return history


def _compare(
    X: Sequence[Point],
    y: Sequence[int],
    steps: int,
    seed: int,
    ours: list[float],
    ours_seconds: float,
) -> None:
    """Train micrograd on the same data and seed; print both losses and the speedup."""
    try:
        with Bar(steps, "training micrograd") as bar:  # on a terminal, or in a notebook
            theirs, seconds = train_micrograd(X, y, steps, seed, bar.update if bar.shown else None)
    except ImportError:
        print("--compare needs micrograd: pip install micrograd==0.1.0")
        return
    print("step  micrograd_c loss     micrograd loss       |difference|")
    for k in range(0, steps, 10):
        print(f"{k:4d}  {ours[k]:.15f}  {theirs[k]:.15f}  {abs(ours[k] - theirs[k]):.1e}")
    worst = max(abs(a - b) for a, b in zip(ours, theirs))
    print(
        f"largest loss difference over {steps} steps: {worst:.1e}; micrograd took "
        f"{seconds:.2f} s ({seconds / steps * 1e3:.1f} ms per step): "
        f"micrograd_c is {seconds / ours_seconds:.0f}x faster"
    )


def figure(figsize: tuple[float, float] = (6, 4)) -> Any:
    """A matplotlib Figure made without pyplot; a clear exit if matplotlib is missing.

    pyplot is left alone: its backend (a notebook's inline one stays) and its figures.
    """
    try:
        import matplotlib  # noqa: F401 - first: matplotlib.figure may be imported, it not
        from matplotlib.figure import Figure
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'micrograd_c[plot]'") from None
    return Figure(figsize=figsize)


def draw(model: MLP, X: Sequence[Point], y: Sequence[int], path: str) -> None:
    """Save the decision boundary and the points as an image (needs matplotlib)."""
    fig = figure((6, 4))
    h = 0.05
    xs = [-1.6 + h * i for i in range(int(4.2 / h))]
    ys = [-1.1 + h * j for j in range(int(2.7 / h))]
    grid = [[model([x, yy]).data > 0 for x in xs] for yy in ys]
    ax = fig.subplots()
    ax.contourf(xs, ys, grid, levels=[-0.5, 0.5, 1.5], colors=["#f4c7c3", "#c6dbef"])
    ax.scatter(
        [p[0] for p in X],
        [p[1] for p in X],
        c=["#c0392b" if t < 0 else "#2166ac" for t in y],
        s=18,
        edgecolors="black",
        linewidths=0.4,
    )
    ax.set_title("micrograd_c: moons decision boundary")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
