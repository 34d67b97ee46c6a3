"""Benchmark micrograd_c's training step against micrograd 0.1.0 on W3, the moons demo step.

W3 (DESIGN.md section 4) is one training step of micrograd's demo notebook:
100 two-moons points, MLP(2, [16, 16, 1]) seeded with random.seed(1337), mean
max-margin (SVM) loss + 1e-4 * L2, zero_grad, backward, one SGD update. Each
contender times the full step:

- micrograd 0.1.0 running its notebook's code, with the cyclic GC on (as its
  users run it) and with the GC disabled during each timed step;
- the same code on PyTorch 0-d float64 tensors (skipped if torch won't import);
- the same code on micrograd_c's engine under micrograd's own nn.py, and under
  micrograd_c.nn (whose MLP call is one C call per sample): "eager";
- micrograd_c fused: micrograd_c.nn with losses.svm, losses.l2 and optim.SGD;
- micrograd_c replay: the fused step's graph recorded once (untimed, when the
  trainer is made), then each step is forward, zero_grad, backward and SGD in C;
- the C floor, benchmarks/floor.c, when a C compiler and the file are there.

Repeats are interleaved so that drift hits all alike; each cell is the median
over repeats of the mean step time in a repeat, with the min-max range. Also
checked: the loss trajectories of the first 20 steps agree with micrograd's,
and, in a fresh process with the GC off, RSS and live nodes stay flat over many
fused training steps.

    python benchmarks/bench_nn.py [--quick] [--repeats N] [--json FILE] [--profile]
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import micrograd.engine
import micrograd.nn

import micrograd_c
from micrograd_c import losses, optim
from micrograd_c.demo import ALPHA, fused_graph, learning_rate, make_moons, micrograd_graph
from micrograd_c.nn import MLP as CMLP

from . import floor, harness
from .engine import c_nodes, graph_shape
from .harness import BASELINES, FLOOR, MG_OFF, MG_ON, TORCH, Figure, Report, Sizes, log

MgValue = micrograd.engine.Value
CValue = micrograd_c.Value

SEED, SIZES = 1337, [16, 16, 1]
X, Y = make_moons(100, noise=0.1, seed=SEED)
TRAJECTORY_STEPS, TOLERANCE = 20, 1e-9
WARM_STEPS = 10  # fused steps after which the arena has reached its steady size

ENGINE = "micrograd_c engine under micrograd's nn.py"
EAGER = "micrograd_c eager: micrograd's code on micrograd_c.nn"
FUSED = "micrograd_c fused: nn + losses + optim.SGD"
REPLAY = "micrograd_c replay: recorded once, forward + backward in C"
GAUGE = "gauge"
SHORT = {
    **BASELINES,
    ENGINE: "engine under micrograd's nn.py",
    EAGER: "eager",
    FUSED: "fused",
    REPLAY: "replay",
}
# DESIGN.md section 4, measured on the development machine, for comparison
DESIGN_MS = {MG_ON: 1525, MG_OFF: 98, TORCH: 569, FLOOR: 0.42}

Step = Callable[[int], Any]  # training step k: returns the loss it computed


def demo_lr(k: int) -> float:
    """The demo's learning rate at step k of 100, held at its last value after step 99."""
    return learning_rate(min(k, 99), 100)


# ---------------------------------------------------------------- the contenders


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
    torch = harness.import_torch()

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

    return demo_trainer(seeded_mlp(param=harness.torch_leaf), value, zero_grad, update)


def fused_trainer(mark: Callable[[str], None] = lambda phase: None) -> Step:
    """micrograd_c's fused step on a seeded micrograd_c MLP; mark(phase) ends each phase."""
    model = seeded_mlp(CMLP)
    opt = optim.SGD(model.parameters(), schedule=demo_lr)  # reads opt.steps, which is k

    def step(k: int) -> Any:
        """One fused step."""
        inputs = [list(map(CValue, xrow)) for xrow in X]
        mark("inputs")
        scores = [model(x) for x in inputs]
        mark("forward")
        total = losses.svm(scores, Y) + ALPHA * losses.l2(model.parameters())
        mark("loss")
        opt.zero_grad()
        mark("zero_grad")
        total.backward()
        mark("backward")
        opt.step()
        mark("update")
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


@dataclass(frozen=True)
class Contender:
    """One way to run the step in Python: a fresh trainer, full steps per repeat, GC state."""

    label: str
    make: Callable[[], Step]
    steps: int  # timed steps per repeat at full size
    gc_on: bool = True


def contenders() -> list[Contender]:
    """Every Python contender that can run here; one more is a trainer and a line here."""
    found = [
        Contender(MG_ON, lambda: demo_trainer(seeded_mlp(), MgValue), 3),
        Contender(MG_OFF, lambda: demo_trainer(seeded_mlp(), MgValue), 10, False),
    ]
    if harness.import_torch() is not None:
        found.append(Contender(TORCH, torch_trainer, 5))
    found += [
        Contender(ENGINE, lambda: demo_trainer(seeded_mlp(param=CValue), CValue), 10),
        Contender(EAGER, lambda: demo_trainer(seeded_mlp(CMLP), CValue), 20),
        Contender(FUSED, fused_trainer, 20),
        Contender(REPLAY, replay_trainer, 1_000),
    ]
    return found


class Runner:
    """A contender's trainer mid-training; the loss of its last step is kept until the next.

    Keeping it is what a training loop does (``total = ...`` rebinds it), so each
    step pays for freeing the graph before it; the last step of a run also pays
    for freeing its own. With the GC off, garbage is collected before each step,
    untimed, and the GC is disabled only while the step runs.
    """

    def __init__(self, contender: Contender):
        self.label, self.steps, self.gc_on = contender.label, contender.steps, contender.gc_on
        self.step, self.k, self.last = contender.make(), 0, None

    def timed(self, action: Callable[[], None]) -> float:
        """Seconds that action() takes, with the GC switched as the contender asks."""
        if not self.gc_on:
            gc.collect()
        return harness.timed(action, self.gc_on)[0]

    def advance(self) -> None:
        """Take the next step, keeping its loss (which frees the previous graph)."""
        self.last = self.step(self.k)
        self.k += 1

    def drop(self) -> None:
        """Free the last step's graph (stats() frees the C nodes micrograd_c queued)."""
        self.last = None
        micrograd_c.stats()

    def run(self, n: int, keep: bool = False) -> list[float]:
        """Seconds of each of the next n steps; unless keep, freeing the last graph is timed too."""
        times = [self.timed(self.advance) for _ in range(n)]
        if not keep:
            times[-1] += self.timed(self.drop)
        return times

    def mean_step(self, n: int) -> float:
        """Mean seconds per step over the next n steps."""
        return sum(self.run(n)) / n


def floor_input() -> str:
    """The C floor's stdin: the points and labels, then the seeded parameters."""
    rows = [f"{x0!r} {x1!r} {label}" for (x0, x1), label in zip(X, Y)]
    params = [repr(p.data) for p in seeded_mlp(CMLP).parameters()]
    return "\n".join([str(len(X)), *rows, *params, ""])


class FloorRunner:
    """The C floor as a W3 contender: every call runs the program afresh; it times itself."""

    label, steps = FLOOR, 1_000

    def __init__(self, program: floor.Floor):
        self.program, self.data = program, floor_input()

    def run(self, steps: int) -> dict[str, Any]:
        """The program's JSON after steps steps from the seeded start."""
        return self.program.run(self.data, str(steps))

    def mean_step(self, n: int) -> float:
        """Mean seconds per step over n steps, as the program measures them."""
        return self.run(n)["seconds_per_step"]


def make_floor(report: Report, source: str | None) -> FloorRunner | None:
    """The C floor contender, or None and a note saying why it is skipped."""
    program = floor.compiled(report, Path(source) if source else floor.SOURCE, "C floor")
    return FloorRunner(program) if program else None


# ---------------------------------------------------------------- measurements


def gauge() -> float:
    """Seconds for a fixed pure-Python loop of 1M float additions: how fast the machine is now."""
    start, x = time.perf_counter(), 0.0
    for _ in range(1_000_000):
        x += 1.0
    return time.perf_counter() - start


def measure(
    runners: list[Runner | FloorRunner], steps: dict[str, int], repeats: int
) -> dict[str, list[float]]:
    """Seconds per step, the mean of each repeat, for every runner, and the gauge per repeat."""
    per_step: dict[str, list[float]] = {r.label: [] for r in runners}
    per_step[GAUGE] = []
    for r in runners:
        log(f"W3 warm-up: {r.label}, {harness.count(1 + steps[r.label] // 10, 'step')}")
        r.mean_step(1 + steps[r.label] // 10)
    for k in range(repeats):
        per_step[GAUGE].append(gauge())
        for r in runners:
            log(
                f"W3 step: {r.label}, repeat {k + 1}/{repeats}, "
                f"{harness.count(steps[r.label], 'step')}"
            )
            gc.collect()
            per_step[r.label].append(r.mean_step(steps[r.label]))
    gc.collect()
    return per_step


def trajectory(contender: Contender, steps: int) -> list[float]:
    """The losses of the first steps of a freshly seeded trainer, at the demo's rates."""
    runner = Runner(contender)
    history = []
    for _ in range(steps):
        runner.advance()
        history.append(float(getattr(runner.last, "data", runner.last)))  # replay: a float
    return history


def first_step(contender: Contender) -> Runner:
    """A fresh runner of contender after one step, its loss kept."""
    runner = Runner(contender)
    runner.advance()
    return runner


class Clock:
    """Seconds spent in each named phase, one lap per call of mark."""

    def __init__(self) -> None:
        self.laps: dict[str, list[float]] = {}

    def start(self) -> None:
        """Start timing the first phase."""
        self.t = time.perf_counter()

    def mark(self, phase: str) -> None:
        """End phase here; the next phase starts."""
        now = time.perf_counter()
        self.laps.setdefault(phase, []).append(now - self.t)
        self.t = now


def fused_phases(steps: int, warmup: int = 3) -> dict[str, float]:
    """Median seconds of each phase of the fused step, freeing its graph last."""
    clock = Clock()
    step = fused_trainer(clock.mark)
    for k in range(warmup + steps):
        if k == warmup:
            clock.laps.clear()
        clock.start()
        total = step(k)
        total = None  # noqa: F841 - freeing the graph is the phase timed here
        clock.mark("free graph")
    return {phase: statistics.median(t) for phase, t in clock.laps.items()}


def profile_fused(steps: int) -> None:
    """cProfile of fused steps, the top functions by own time, on stderr."""
    step = fused_trainer()
    for k in range(3):
        step(k)
    profiler = cProfile.Profile()
    profiler.enable()
    for k in range(3, 3 + steps):
        total = step(k)
    del total
    profiler.disable()
    print(f"\ncProfile of {steps} fused steps:", file=sys.stderr)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)


def task_flat(steps: int) -> dict:
    """In a fresh process, GC off: steps fused training steps, sampling RSS and the arena."""
    step = fused_trainer()
    gc.collect()
    gc.disable()
    marks = {
        0: "start",
        1: "after 1st",
        WARM_STEPS: f"after {WARM_STEPS}th",
        steps // 2: "middle",
        steps: "end",
    }

    def sample(point: str, k: int) -> dict:
        """RSS, live nodes and arena capacity now (stats() also frees the pending dead)."""
        rss, s = harness.rss_bytes(), micrograd_c.stats()
        return {"point": point, "step": k, "rss": rss, "live": s.live, "capacity": s.capacity}

    samples, total = [], None
    for k in range(steps + 1):
        if k:
            total = step(k - 1)  # the previous graph is kept until here, as in a training loop
        if k in marks:
            samples.append(sample(marks[k], k))
        if k and k % max(1, steps // 5) == 0:
            log(f"RSS flatness: {k:,}/{steps:,} steps")
    loss = total.data
    total = None
    samples.append(sample("end, graph dropped", steps))
    return {"samples": samples, "loss": loss}


# ---------------------------------------------------------------- report


def bench_steps(
    report: Report, sizes: Sizes, repeats: int, floor_runner: FloorRunner | None
) -> None:
    """Time every contender's step: the W3 figure, the fused phases and the speed targets."""
    runners = [Runner(c) for c in contenders()] + ([floor_runner] if floor_runner else [])
    steps = {r.label: max(1, round(r.steps * sizes.w3_share)) for r in runners}
    t = measure(runners, steps, repeats)
    gauges = t.pop(GAUGE)
    figure = Figure(
        "w3",
        "W3 moons training step",
        "ms/step",
        {label: [s * 1e3 for s in seconds] for label, seconds in t.items()},
    )
    report.figures.append(figure)

    phases = fused_phases(sizes.phase_steps)
    report.notes.append(
        "W3: the step builds its inputs as the demo does and pays for freeing the previous "
        "step's graph; each contender first warms up (1 + steps/10 untimed steps). micrograd, "
        "GC off: the garbage is collected before each step, untimed, and the GC is disabled "
        "while it runs; every other row runs with the GC on. Steps timed per repeat: "
        + ", ".join(f"{SHORT[label]} {n}" for label, n in steps.items())
        + ". DESIGN.md section 4 measured, in ms: "
        + ", ".join(f"{SHORT[label]} {ms}" for label, ms in DESIGN_MS.items())
        + "."
    )
    report.notes.append(
        f"Machine gauge, a pure-Python loop of 1M float additions timed before each repeat: "
        f"{harness.spread([g * 1e3 for g in gauges])} ms; its spread shows how steady the "
        f"machine was."
    )
    report.notes.append(
        f"Where the fused step's time goes (median ms per phase over {sizes.phase_steps} "
        f"steps, timed apart): "
        + ", ".join(f"{phase} {s * 1e3:.3f}" for phase, s in phases.items())
        + f"; sum {sum(phases.values()) * 1e3:.2f} ms. Dropping the loss only queues the "
        f"graph's facades for release; backward() releases the queue first, so its phase "
        f"includes freeing the previous step's graph in C."
    )
    report.raw.update(seconds_per_step=t, gauge_seconds=gauges, fused_phases=phases)

    x = figure.ratio(REPLAY, FLOOR)
    report.target(
        "replayed step within 1.3x of the C floor",
        None if x is None else 1 / x <= 1.3,
        "no C floor here"
        if x is None
        else f"{1 / x:.2f}x the floor's time "
        f"({harness.fmt(figure.median(REPLAY))} ms vs "
        f"{harness.fmt(figure.median(FLOOR))} ms)",
    )
    x = figure.ratio(REPLAY, MG_OFF)
    report.target("replayed step ≥ 200x faster than micrograd GC off", x >= 200, f"{x:,.1f}x")
    for ref, goal in ((MG_ON, 600), (MG_OFF, 60), (TORCH, 250)):
        name = f"fused step ≥ {goal}x faster than {SHORT[ref]}"
        x = figure.ratio(FUSED, ref)
        if x is None:
            report.target(name, None, "torch does not import here")
        else:
            report.target(
                name,
                x >= goal,
                f"{x:,.1f}x ({harness.fmt(figure.median(ref))} ms vs "
                f"{harness.fmt(figure.median(FUSED))} ms)",
            )


def bench_trajectory(report: Report, floor_runner: FloorRunner | None) -> None:
    """Losses of the first steps of micrograd (GC off) against every other contender's but GC on."""
    by_label = {c.label: c for c in contenders()}
    log(f"trajectories: {TRAJECTORY_STEPS} steps of micrograd, GC off")
    reference = trajectory(by_label.pop(MG_OFF), TRAJECTORY_STEPS)
    del by_label[MG_ON]  # the same code as GC off, 10 times slower
    histories = {}
    for label, contender in by_label.items():
        log(f"trajectories: {TRAJECTORY_STEPS} steps of {label}")
        histories[label] = trajectory(contender, TRAJECTORY_STEPS)
    if floor_runner:  # its schedule spans the steps it runs: 100 make the demo's
        histories[FLOOR] = floor_runner.run(100)["losses"][:TRAJECTORY_STEPS]
    diffs = {label: max(abs(a - b) for a, b in zip(reference, h)) for label, h in histories.items()}
    report.notes.append(
        f"Loss trajectories over the first {TRAJECTORY_STEPS} steps, lr = 1 - 0.9 k/100, from "
        f"{reference[0]:.12f} to {reference[-1]:.12f} in micrograd (GC off); the largest "
        f"|difference| from micrograd: "
        + ", ".join(f"{SHORT.get(label, label)} {d:.2g}" for label, d in diffs.items())
        + "."
    )
    report.raw["trajectory"] = {"micrograd": reference, "max_abs_diff": diffs}
    report.target(
        f"fused loss trajectory = micrograd's (GC off) within {TOLERANCE:g}, "
        f"{TRAJECTORY_STEPS} steps",  # all(), not max(): max() skips a nan
        all(abs(a - b) <= TOLERANCE for a, b in zip(reference, histories[FUSED])),
        f"max |difference| {diffs[FUSED]:.2g}",
    )


def bench_nodes(report: Report, floor_runner: FloorRunner | None) -> None:
    """How many nodes one step builds in each engine."""
    by_label = {c.label: c for c in contenders()}
    counts = {
        "micrograd": graph_shape(first_step(by_label[MG_OFF]).last)[0],
        **{
            SHORT.get(label, label): c_nodes(lambda c=c: first_step(c))
            for label, c in by_label.items()
            if label not in BASELINES and label != REPLAY
        },
    }  # replay: fused's graph
    if floor_runner:
        counts[SHORT[FLOOR]] = floor_runner.run(1)["nodes"]
    report.notes.append(
        "Nodes in one step's graph, parameters included (micrograd's by walking "
        "_prev, micrograd_c's by stats().live, the floor's as it counts them): "
        + ", ".join(f"{k} {n:,}" for k, n in counts.items())
        + "."
    )
    report.raw["nodes"] = counts


def bench_flat(report: Report, sizes: Sizes) -> None:
    """RSS and live nodes over many fused training steps, in a fresh process."""
    steps = sizes.flat_steps
    log(f"RSS flatness: {steps:,} fused steps in a fresh process")
    start = time.perf_counter()
    r = harness.in_fresh_process(task_flat, steps=steps)
    report.raw["flat"] = r
    report.sections.append(
        [
            "RSS flatness (micrograd_c fused training, GC off, fresh process):",
            "",
            *harness.table(
                ["point", "step", "RSS (MiB)", "stats().live", "stats().capacity"],
                [
                    [
                        p["point"],
                        f"{p['step']:,}",
                        f"{p['rss'] / 2**20:.1f}",
                        f"{p['live']:,}",
                        f"{p['capacity']:,}",
                    ]
                    for p in r["samples"]
                ],
            ),
        ]
    )
    *sampled, dropped = r["samples"]
    at = {p["step"]: p for p in sampled}  # by step: two marks may fall on one step
    warm, mid, end = at[WARM_STEPS], at[steps // 2], at[steps]
    growth = end["rss"] - warm["rss"]
    report.notes.append(
        f"RSS flatness: {steps:,} fused training steps with the GC disabled, each loss kept "
        f"until the next step replaces it, as a training loop does; final loss "
        f"{r['loss']:.6f}, {time.perf_counter() - start:.0f} s. The arena grows during the "
        f"first steps, to {warm['capacity']:,} slots for {end['live']:,} live nodes; RSS "
        f"{(warm['rss'] - at[0]['rss']) / 2**20:+.1f} MiB by step {WARM_STEPS}, then "
        f"{growth / 2**20:+.2f} MiB to the end."
    )
    report.target(
        f"RSS flat over {steps:,} fused training steps, GC off",
        growth <= 2**20
        and end["capacity"] == warm["capacity"]
        and mid["live"] == end["live"]
        and dropped["live"] == at[0]["live"],
        f"RSS {growth / 2**20:+.2f} MiB and arena capacity {warm['capacity']:,} → "
        f"{end['capacity']:,} from step {WARM_STEPS} to {steps:,}; live "
        f"{mid['live']:,} at the middle and {end['live']:,} at the end, "
        f"{at[0]['live']:,} before the first step and {dropped['live']:,} "
        f"after the last graph is dropped",
    )


def main(argv: list[str] | None = None) -> None:
    """benchmarks/bench_nn.py: W3 for every contender, trajectories, nodes, RSS, targets."""
    parser = harness.arguments(__doc__, "smaller sizes and 3 repeats, 1-2 minutes", floor=True)
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of fused steps on stderr"
    )
    args = parser.parse_args(argv)
    sizes, repeats = harness.sizes_of(args)
    load = os.getloadavg()[0]
    report = Report("python benchmarks/bench_nn.py", sizes, repeats)
    floor_runner = make_floor(report, args.floor)
    with harness.stages(4 + args.profile) as done:  # a bar with the time left, on a terminal
        for stage in (
            lambda: bench_trajectory(report, floor_runner),
            lambda: bench_nodes(report, floor_runner),
            lambda: bench_steps(report, sizes, repeats, floor_runner),
            lambda: bench_flat(report, sizes),
        ):
            stage()
            done()
        if args.profile:
            profile_fused(20)
            done()
    report.notes.append(
        f"1-minute load average {load:.2f} at the start and {os.getloadavg()[0]:.2f} at the end."
    )
    harness.finish(report, args.json)
