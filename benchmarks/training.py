"""W3, one training step of micrograd's moons demo, run every way there is.

100 two-moons points, MLP(2, [16, 16, 1]) seeded with random.seed(1337), mean max-margin
(SVM) loss + 1e-4 * L2, zero_grad, backward, one SGD update. Each contender times the full
step, in its own process:

- micrograd 0.1.0 running its notebook's code, with the cyclic GC on (as its users run it)
  and with the GC disabled during each timed step;
- the same code on PyTorch 0-d float64 tensors (when torch is installed);
- the same code on micrograd_c's engine under micrograd's own nn.py, and under
  micrograd_c.nn (whose MLP call is one C call per sample): "eager";
- micrograd_c fused: micrograd_c.nn with losses.svm, losses.l2 and optim.SGD;
- micrograd_c replay: the fused step's graph recorded once (untimed), then each step is
  forward, zero_grad, backward and SGD in C;
- the C floor, benchmarks/floor.c, when a C compiler is there.

Each step builds its inputs as the demo does and pays for freeing the previous step's graph.
A sample is the mean step time over a repeat's steps, after 1 + steps/10 untimed steps.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import micrograd.engine
import micrograd.nn
from engine import engines
from harness import FLOOR, MG_OFF, MG_ON, TORCH, Run, Sample, race, run_floor, timed
from report import Figure, Report

import micrograd_c
from micrograd_c import losses, optim
from micrograd_c.demo import ALPHA, fused_graph, learning_rate, make_moons, micrograd_graph
from micrograd_c.nn import MLP as CMLP

SEED, SIZES = 1337, [16, 16, 1]
X, Y = make_moons(100, noise=0.1, seed=SEED)
ENGINE = "micrograd_c engine under micrograd's nn.py"
EAGER = "micrograd_c eager: micrograd's code on micrograd_c.nn"
FUSED = "micrograd_c fused: nn + losses + optim.SGD"
REPLAY = "micrograd_c replay: recorded once, forward + backward in C"
STEPS = {MG_ON: 3, MG_OFF: 10, TORCH: 5, ENGINE: 10, EAGER: 20, FUSED: 20, REPLAY: 1_000}
STEPS[FLOOR] = 1_000  # timed steps per repeat at full size

Step = Callable[[int], Any]  # training step k: returns the loss it computed


def demo_lr(k: int) -> float:
    """The demo's learning rate at step k of 100, held at its last value after step 99."""
    return learning_rate(min(k, 99), 100)


@contextmanager
def micrograd_nn_values(param: Callable[[float], Any]) -> Iterator[None]:
    """Let micrograd's nn.py make its parameters with param instead of micrograd's Value."""
    old = micrograd.nn.Value
    micrograd.nn.Value = param
    try:
        yield
    finally:
        micrograd.nn.Value = old


def seeded_mlp(mlp: type = micrograd.nn.MLP, param: Callable[[float], Any] | None = None) -> Any:
    """mlp(2, [16, 16, 1]) made after random.seed(1337), micrograd.nn's parameters by param."""
    random.seed(SEED)
    if param is None:
        return mlp(2, SIZES)
    with micrograd_nn_values(param):
        return mlp(2, SIZES)


def micrograd_zero_grad(model: Any) -> None:
    """micrograd's zero_grad."""
    model.zero_grad()


def micrograd_update(model: Any, lr: float) -> None:
    """micrograd's demo update."""
    for p in model.parameters():
        p.data -= lr * p.grad


def demo_trainer(
    model: Any,
    value: Callable[[float], Any],
    zero_grad: Callable[[Any], None] = micrograd_zero_grad,
    update: Callable[[Any, float], None] = micrograd_update,
) -> Step:
    """micrograd's notebook step on model, its inputs made by value each step as the demo does."""

    def step(k: int) -> Any:
        """One demo step at learning rate demo_lr(k)."""
        total = micrograd_graph(model, X, Y, value)[0]
        zero_grad(model)
        total.backward()
        update(model, demo_lr(k))
        return total

    return step


def torch_trainer() -> Step:
    """micrograd's notebook step on PyTorch 0-d float64 tensors."""
    import torch
    from mesh import torch_leaf

    def value(x: float) -> Any:
        """An input: a 0-d float64 tensor."""
        return torch.tensor(x, dtype=torch.float64)

    def zero_grad(model: Any) -> None:
        """Drop the parameters' grads, as torch's own zero_grad does by default."""
        for p in model.parameters():
            p.grad = None

    def update(model: Any, lr: float) -> None:
        """micrograd's update, in place under torch.no_grad()."""
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad  # noqa: PLW2901 - in place on the tensor, torch's idiom

    return demo_trainer(seeded_mlp(param=torch_leaf), value, zero_grad, update)


def fused_trainer() -> Step:
    """micrograd_c's fused step on a seeded micrograd_c MLP."""
    model = seeded_mlp(CMLP)
    opt = optim.SGD(model.parameters(), schedule=demo_lr)  # reads opt.steps, which is k

    def step(k: int) -> Any:
        """One fused step."""
        scores = [model(list(map(micrograd_c.Value, x))) for x in X]
        total = losses.svm(scores, Y) + ALPHA * losses.l2(model.parameters())
        opt.zero_grad()
        total.backward()
        opt.step()
        return total

    return step


def replay_trainer() -> Step:
    """micrograd_c's replay: the fused step's graph recorded once, then re-run in C."""
    model = seeded_mlp(CMLP)
    opt = optim.SGD(model.parameters(), schedule=demo_lr)
    rec = micrograd_c.record(fused_graph(model, X, Y)[0], model=model)

    def step(k: int) -> float:
        """One replayed step; its loss."""
        loss = rec.forward()
        opt.zero_grad()
        rec.backward()
        opt.step()
        return loss

    return step


TRAINERS: dict[str, Callable[[], Step]] = {
    MG_ON: lambda: demo_trainer(seeded_mlp(), micrograd.engine.Value),
    MG_OFF: lambda: demo_trainer(seeded_mlp(), micrograd.engine.Value),
    TORCH: torch_trainer,
    ENGINE: lambda: demo_trainer(seeded_mlp(param=micrograd_c.Value), micrograd_c.Value),
    EAGER: lambda: demo_trainer(seeded_mlp(CMLP), micrograd_c.Value),
    FUSED: fused_trainer,
    REPLAY: replay_trainer,
}  # one more contender is a trainer and a line here (and its steps in STEPS)


def floor_input() -> str:
    """The C floor's stdin: the points and labels, then the seeded parameters."""
    rows = [f"{x0!r} {x1!r} {label}" for (x0, x1), label in zip(X, Y)]
    params = [repr(p.data) for p in seeded_mlp(CMLP).parameters()]
    return "\n".join([str(len(X)), *rows, *params, ""])


class Runner:
    """A trainer mid-training; the loss of its last step is kept until the next.

    Keeping it is what a training loop does (``total = ...`` rebinds it), so each step pays
    for freeing the graph before it; the last step of a sample also frees its own. With the
    GC off, garbage is collected before each step, untimed.
    """

    def __init__(self, label: str):
        self.step, self.gc_on, self.k, self.last = TRAINERS[label](), label != MG_OFF, 0, None

    def advance(self) -> None:
        """Take the next step, keeping its loss (which frees the previous graph)."""
        self.last = self.step(self.k)
        self.k += 1

    def drop(self) -> None:
        """Free the last step's graph (stats() frees the C nodes micrograd_c queued)."""
        self.last = None
        micrograd_c.stats()

    def timed(self, action: Callable[[], None]) -> float:
        """Seconds that action() takes, with the GC switched as the contender asks."""
        if not self.gc_on:
            gc.collect()
        return timed(action, self.gc_on)[0]

    def mean_step(self, n: int) -> dict[str, Any]:
        """Mean seconds per step over the next n steps, freeing the last graph included."""
        gc.collect()  # earlier garbage, untimed
        total = sum(self.timed(self.advance) for _ in range(n)) + self.timed(self.drop)
        return {"seconds": total / n}


def prepare_w3(
    label: str, steps: dict[str, int], floor: str | None = None
) -> tuple[dict[str, Any], Sample]:
    """W3 in label's process: a trainer warmed up; a sample is its mean seconds per step."""
    n = steps[label]
    if label == FLOOR:
        assert floor is not None
        data = floor_input()
        nodes = run_floor(floor, data, "1")["nodes"]
        return {"nodes": nodes}, lambda: {
            "seconds": run_floor(floor, data, str(n))["seconds_per_step"]
        }
    runner = Runner(label)
    runner.mean_step(1 + n // 10)  # warm up
    return {}, lambda: runner.mean_step(n)


PREPARE = {"w3": prepare_w3}


def w3(report: Report, run: Run) -> None:
    """W3: every contender's training step, each in its own process."""
    labels = engines(*TRAINERS) + ([FLOOR] if "floor" in run.floors else [])
    steps = {label: max(1, round(STEPS[label] * run.sizes.w3_share)) for label in labels}
    r = race(
        "training", "w3", labels, {"steps": steps, "floor": run.floors.get("floor")}, run.repeats
    )
    report.figures.append(
        Figure(
            "w3",
            "W3 moons training step",
            "ms/step",
            {label: [s["seconds"] * 1e3 for s in x["samples"]] for label, x in r.items()},
            {label: x["pid"] for label, x in r.items()},
        )
    )
    report.notes.append(
        "W3: each step builds its inputs as the demo does and pays for freeing the previous "
        "step's graph; each contender first warms up (1 + steps/10 untimed steps). micrograd, "
        "GC off: the garbage is collected before each step, untimed, and the GC is disabled "
        "while it runs; every other row runs with the GC on. Steps timed per repeat: "
        + ", ".join(f"{label} {n:,}" for label, n in steps.items())
        + "."
    )
    report.raw["w3"] = r
