"""micrograd's moons demo: a 2-16-16-1 MLP learns two interleaved half circles."""
from __future__ import annotations

import math
import random
import time
from typing import Callable, List, Sequence, Tuple

from .engine import Value
from .nn import MLP

Point = Tuple[float, float]


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 1337) -> Tuple[List[Point], List[int]]:
    """Two interleaved half circles with Gaussian noise, labelled -1 and +1 (like sklearn's)."""
    rng = random.Random(seed)
    outer, inner = n // 2, n - n // 2
    points = [(math.cos(math.pi * k / (outer - 1)), math.sin(math.pi * k / (outer - 1)))
              for k in range(outer)]
    points += [(1 - math.cos(math.pi * k / (inner - 1)), 0.5 - math.sin(math.pi * k / (inner - 1)))
               for k in range(inner)]
    labels = [-1] * outer + [1] * inner
    order = list(range(n))
    rng.shuffle(order)
    return ([(points[i][0] + rng.gauss(0, noise), points[i][1] + rng.gauss(0, noise))
             for i in order], [labels[i] for i in order])


def svm_loss(model: Callable, X: Sequence[Point], y: Sequence[int],
             value: type = Value, alpha: float = 1e-4) -> Tuple[Value, float]:
    """micrograd's demo loss: mean max-margin loss plus alpha * L2; and the accuracy."""
    scores = [model([value(a), value(b)]) for a, b in X]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    accuracy = sum((yi > 0) == (si.data > 0) for yi, si in zip(y, scores)) / len(y)
    return data_loss + reg_loss, accuracy


def train(model, X: Sequence[Point], y: Sequence[int], steps: int = 100, value: type = Value,
          report: Callable[[int, float, float], None] = lambda k, loss, acc: None
          ) -> List[Tuple[float, float]]:
    """micrograd's demo loop: SGD with learning rate 1 - 0.9 k / steps; (loss, accuracy) per step."""
    history = []
    for k in range(steps):
        loss, accuracy = svm_loss(model, X, y, value)
        model.zero_grad()
        loss.backward()
        rate = 1.0 - 0.9 * k / steps
        for p in model.parameters():
            p.data -= rate * p.grad
        history.append((loss.data, accuracy))
        report(k, loss.data, accuracy)
    return history


def run(steps: int = 100, seed: int = 1337, quiet: bool = False) -> List[Tuple[float, float]]:
    """Train the demo on micrograd_c, printing progress and timing."""
    random.seed(seed)
    X, y = make_moons(100, noise=0.1, seed=seed)
    model = MLP(2, [16, 16, 1])

    def report(k: int, loss: float, acc: float) -> None:
        if not quiet and (k % 10 == 0 or k == steps - 1):
            print(f"step {k:3d}  loss {loss:.6f}  accuracy {acc * 100:.0f}%")
    start = time.perf_counter()
    history = train(model, X, y, steps, report=report)
    elapsed = time.perf_counter() - start
    print(f"final accuracy {history[-1][1] * 100:.0f}% after {steps} steps: "
          f"{elapsed:.2f} s in all, {elapsed / steps * 1e3:.1f} ms per step")
    return history
