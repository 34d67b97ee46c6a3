#!/usr/bin/env python
"""Benchmark micrograd_c's fused nn against micrograd 0.1.0 on W3, the moons demo step.

W3 (DESIGN.md section 4) is one training step of micrograd's demo notebook:
100 two-moons points, MLP(2, [16, 16, 1]) seeded with random.seed(1337), mean
max-margin (SVM) loss + 1e-4 * L2, zero_grad, backward, one SGD update. Each
contender times the full step:

- micrograd 0.1.0 running its notebook's code, with the cyclic GC on (as its
  users run it) and with the GC disabled during each timed step;
- the same code on PyTorch 0-d float64 tensors (skipped if torch won't import);
- the same code on micrograd_c's engine under micrograd's own nn.py, and under
  micrograd_c.nn (whose MLP call is one C call per sample): "eager";
- micrograd_c fused: micrograd_c.nn with losses.svm, losses.l2 and optim.SGD.

Repeats are interleaved so that drift hits all alike; each cell is the median
over repeats of the mean step time in a repeat, with the min-max range, and
ratios are from medians. Also checked: the loss trajectories of the first 20
steps agree with micrograd's, and, in a fresh process with the GC off, RSS and
live nodes stay flat over many fused training steps.

    python benchmarks/bench_nn.py [--quick] [--repeats N] [--json FILE] [--profile]
"""
from __future__ import annotations

import cProfile
import gc
import json
import os
import pstats
import random
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import _harness
import micrograd.engine
import micrograd.nn
import micrograd_c
from micrograd_c import losses, optim
from micrograd_c.demo import make_moons
from micrograd_c.nn import MLP as CMLP

try:
    import torch
except ImportError:  # the PyTorch contender is skipped
    torch = None

MgValue = micrograd.engine.Value
CValue = micrograd_c.Value

SEED, SIZES, ALPHA = 1337, [16, 16, 1], 1e-4
X, Y = make_moons(100, noise=0.1, seed=SEED)
TRAJECTORY_STEPS, TOLERANCE = 20, 1e-9
WARM_STEPS = 10  # fused steps after which the arena has reached its steady size

MG_ON, MG_OFF = "micrograd, GC on", "micrograd, GC off"
TORCH = "PyTorch 0-d float64 tensors, micrograd's code"
ENGINE = "micrograd_c engine under micrograd's nn.py"
EAGER = "micrograd_c eager: micrograd's code on micrograd_c.nn"
FUSED = "micrograd_c fused: nn + losses + optim.SGD"
GAUGE = "gauge"
SHORT = {MG_ON: "micrograd GC on", MG_OFF: "micrograd GC off", TORCH: "PyTorch",
         ENGINE: "engine under micrograd's nn.py", EAGER: "eager", FUSED: "fused"}
REFERENCES = (MG_ON, MG_OFF, TORCH)
# DESIGN.md section 4, measured on the development machine, for comparison
DESIGN_MS = {MG_ON: 1525, MG_OFF: 98, TORCH: 569}
FLOOR_MS = 0.42  # a hand-written C tape

Step = Callable[[int], Any]  # training step k: returns the loss it computed

_t0 = time.perf_counter()


def log(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since start."""
    print(f"[bench {time.perf_counter() - _t0:7.1f}s] {message}", file=sys.stderr, flush=True)


def demo_lr(k: int) -> float:
    """The demo's learning rate at step k, 1 - 0.9 k/100, held at its last value after step 99."""
    return 1.0 - 0.9 * min(k, 99) / 100


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


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


def seeded_mlp(mlp: type = micrograd.nn.MLP, param: Optional[Callable[[float], Any]] = None) -> Any:
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


def demo_trainer(model: Any, value: Callable[[float], Any],
                 zero_grad: Callable[[Any], None] = micrograd_zero_grad,
                 update: Callable[[Any, float], None] = micrograd_update) -> Step:
    """micrograd's notebook step on model, its inputs made by value each step as the demo does."""
    def step(k: int) -> Any:
        """One demo step at learning rate demo_lr(k)."""
        inputs = [list(map(value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(Y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum((p * p for p in model.parameters()))
        total = data_loss + reg_loss
        zero_grad(model)
        total.backward()
        update(model, demo_lr(k))
        return total
    return step


def torch_param(x: float) -> Any:
    """A parameter: a 0-d float64 tensor that requires grad."""
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


def torch_input(x: float) -> Any:
    """An input: a 0-d float64 tensor."""
    return torch.tensor(x, dtype=torch.float64)


def torch_zero_grad(model: Any) -> None:
    """Drop the parameters' grads, as torch's own zero_grad does by default."""
    for p in model.parameters():
        p.grad = None


def torch_update(model: Any, lr: float) -> None:
    """micrograd's update, in place under torch.no_grad()."""
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad


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


@dataclass(frozen=True)
class Contender:
    """One way to run the step: how to make a fresh trainer, steps per repeat, GC state."""

    label: str
    make: Callable[[], Step]
    steps: tuple[int, int]  # timed steps per repeat: full, quick
    gc_on: bool = True


def contenders() -> list[Contender]:
    """Every contender that can run here."""
    found = [Contender(MG_ON, lambda: demo_trainer(seeded_mlp(), MgValue), (3, 1)),
             Contender(MG_OFF, lambda: demo_trainer(seeded_mlp(), MgValue), (10, 3), False)]
    if torch is not None:
        found.append(Contender(TORCH, lambda: demo_trainer(
            seeded_mlp(param=torch_param), torch_input, torch_zero_grad, torch_update), (5, 2)))
    found += [Contender(ENGINE, lambda: demo_trainer(seeded_mlp(param=CValue), CValue), (10, 5)),
              Contender(EAGER, lambda: demo_trainer(seeded_mlp(CMLP), CValue), (20, 10)),
              Contender(FUSED, fused_trainer, (20, 10))]
    return found


class Runner:
    """A contender's trainer mid-training; the loss of its last step is kept until the next.

    Keeping it is what a training loop does (``total = ...`` rebinds it), so each
    step pays for freeing the graph before it; the last step of a run also pays
    for freeing its own. With the GC off, garbage is collected before each step,
    untimed, and the GC is disabled only while the step runs.
    """

    def __init__(self, contender: Contender):
        self.contender, self.step, self.k, self.last = contender, contender.make(), 0, None

    def timed(self, action: Callable[[], None]) -> float:
        """Seconds that action() takes, with the GC switched as the contender asks."""
        if not self.contender.gc_on:
            gc.collect()
            gc.disable()
        start = time.perf_counter()
        action()
        elapsed = time.perf_counter() - start
        gc.enable()
        return elapsed

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


# ---------------------------------------------------------------- measurements

def gauge() -> float:
    """Seconds for a fixed pure-Python loop of 1M float additions: how fast the machine is now."""
    start, x = time.perf_counter(), 0.0
    for _ in range(1_000_000):
        x += 1.0
    return time.perf_counter() - start


def measure(runners: list[Runner], quick: bool, repeats: int) -> dict[str, list[float]]:
    """Seconds per step, the mean of each repeat, for every runner, and the gauge per repeat."""
    per_step: dict[str, list[float]] = {r.contender.label: [] for r in runners}
    per_step[GAUGE] = []
    for r in runners:
        n = r.contender.steps[quick]
        log(f"warm-up: {r.contender.label}, {1 + n // 10} steps")
        r.run(1 + n // 10)
    for k in range(repeats):
        per_step[GAUGE].append(gauge())
        for r in runners:
            n = r.contender.steps[quick]
            log(f"W3 step: {r.contender.label}, repeat {k + 1}/{repeats}, {n} steps")
            gc.collect()
            per_step[r.contender.label].append(sum(r.run(n)) / n)
    gc.collect()
    return per_step


def trajectory(contender: Contender, steps: int) -> list[float]:
    """The losses of the first steps of a freshly seeded trainer, at the demo's rates."""
    runner = Runner(contender)
    history = []
    for _ in range(steps):
        runner.run(1, keep=True)
        history.append(float(runner.last.data))
    return history


def first_step(contender: Contender) -> Runner:
    """A fresh runner of contender after one step, its loss kept."""
    runner = Runner(contender)
    runner.run(1, keep=True)
    return runner


def c_nodes(contender: Contender) -> int:
    """Nodes in the C arena of a fresh model and one step's graph (stats().live delta)."""
    before = micrograd_c.stats().live
    alive = first_step(contender)
    nodes = micrograd_c.stats().live - before
    del alive
    return nodes


def micrograd_nodes(contender: Contender) -> int:
    """Nodes in micrograd's graph of one step, by walking _prev from the loss."""
    root = first_step(contender).last
    seen, stack = {id(root)}, [root]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


class Clock:
    """Seconds spent in each named phase, one lap per call of mark."""

    def __init__(self) -> None:
        self.laps: dict[str, list[float]] = {}
        self.start()

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
    log(f"cProfile of {steps} fused steps:")
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)


def task_flat(steps: int) -> dict:
    """In a fresh process, GC off: steps fused training steps, sampling RSS and the arena."""
    step = fused_trainer()
    gc.collect()
    gc.disable()
    marks = {0: "start", 1: "after 1st", WARM_STEPS: f"after {WARM_STEPS}th", steps // 2: "middle",
             steps: "end"}

    def sample(point: str, k: int) -> dict:
        """RSS, live nodes and arena capacity now (stats() also frees the pending dead)."""
        rss, s = rss_bytes(), micrograd_c.stats()
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

def fmt(x: float) -> str:
    """x with about three significant digits, without an exponent."""
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.3g}"


def ms_cell(seconds: list[float]) -> str:
    """'median (min–max)' of seconds, in milliseconds."""
    ms = [x * 1e3 for x in seconds]
    return f"{fmt(statistics.median(ms))} ({fmt(min(ms))}–{fmt(max(ms))})"


@dataclass
class Report:
    """What the run found: table rows, notes, RSS samples, targets and raw numbers."""

    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flat: list[dict] = field(default_factory=list)
    targets: list[tuple[str, Optional[bool], str]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def target(self, name: str, ok: Optional[bool], detail: str) -> None:
        """Record a target as met, not met, or (None) not measurable here."""
        self.targets.append((name, ok, detail))

    def render(self) -> str:
        """The report as markdown."""
        lines = _harness.table(["W3 step", "ms per step, median (min–max)", "steps × repeats",
                                *(f"× faster than {SHORT[ref]}" for ref in REFERENCES)], self.rows)
        lines += ["", "Notes:", *(f"- {n}" for n in self.notes)]
        lines += ["", "RSS flatness (micrograd_c fused training, GC off, fresh process):", ""]
        lines += _harness.table(["point", "step", "RSS (MiB)", "stats().live", "stats().capacity"],
                                [[p["point"], f"{p['step']:,}", f"{p['rss'] / 2**20:.1f}",
                                  f"{p['live']:,}", f"{p['capacity']:,}"] for p in self.flat])
        return "\n".join(lines + _harness.target_lines(self.targets))


def bench_steps(report: Report, quick: bool, repeats: int) -> None:
    """Time every contender's step; table rows, the fused phases and the speed targets."""
    runners = [Runner(c) for c in contenders()]
    t = measure(runners, quick, repeats)
    med = {label: statistics.median(s) for label, s in t.items()}
    for r in runners:
        label = r.contender.label
        speedups = [f"{med[ref] / med[label]:,.1f}x" if ref in med else "—" for ref in REFERENCES]
        report.rows.append([label, ms_cell(t[label]), f"{r.contender.steps[quick]} × {repeats}",
                            *speedups])

    phases = fused_phases(20 if quick else 100)
    report.notes.append(
        f"Machine gauge, a pure-Python loop of 1M float additions timed before each repeat: "
        f"{ms_cell(t[GAUGE])} ms; its spread shows how steady the machine was.")
    report.notes.append(
        "Where the fused step's time goes (median ms per phase over "
        f"{20 if quick else 100} steps, timed apart): "
        + ", ".join(f"{phase} {s * 1e3:.3f}" for phase, s in phases.items())
        + f"; sum {sum(phases.values()) * 1e3:.2f} ms. Dropping the loss only queues the "
        f"graph's facades for release; backward() releases the queue first, so its phase "
        f"includes freeing the previous step's graph in C. DESIGN.md's floor, a hand-written "
        f"C tape, is {FLOOR_MS} ms.")
    report.raw.update(seconds_per_step=t, fused_phases=phases)

    for ref, goal in ((MG_ON, 600), (MG_OFF, 60), (TORCH, 250)):
        name = f"fused step ≥ {goal}x faster than {SHORT[ref]}"
        if ref not in med:
            report.target(name, None, "torch does not import here")
            continue
        x = med[ref] / med[FUSED]
        report.target(name, x >= goal, f"{x:,.1f}x ({fmt(med[ref] * 1e3)} ms vs "
                                       f"{fmt(med[FUSED] * 1e3)} ms)")


def bench_trajectory(report: Report) -> None:
    """Losses of the first steps of micrograd (GC off) against every micrograd_c way, and torch."""
    by_label = {c.label: c for c in contenders()}
    log(f"trajectories: {TRAJECTORY_STEPS} steps of micrograd, GC off")
    reference = trajectory(by_label[MG_OFF], TRAJECTORY_STEPS)
    diffs = {}
    for label in (FUSED, EAGER, ENGINE, TORCH):
        if label in by_label:
            log(f"trajectories: {TRAJECTORY_STEPS} steps of {label}")
            losses_ = trajectory(by_label[label], TRAJECTORY_STEPS)
            diffs[label] = max(abs(a - b) for a, b in zip(reference, losses_))
    report.notes.append(
        f"Loss trajectories over the first {TRAJECTORY_STEPS} steps, lr = 1 - 0.9 k/100, from "
        f"{reference[0]:.12f} to {reference[-1]:.12f} in micrograd (GC off); the largest "
        f"|difference| from micrograd: "
        + ", ".join(f"{SHORT[label]} {d:.2g}" for label, d in diffs.items()) + ".")
    report.raw["trajectory"] = {"micrograd": reference, "max_abs_diff": diffs}
    report.target(f"fused loss trajectory = micrograd's (GC off) within {TOLERANCE:g}, "
                  f"{TRAJECTORY_STEPS} steps", diffs[FUSED] <= TOLERANCE,
                  f"max |difference| {diffs[FUSED]:.2g}")


def bench_flat(report: Report, quick: bool) -> None:
    """RSS and live nodes over many fused training steps, in a fresh process."""
    steps = 200 if quick else 1_000
    log(f"RSS flatness: {steps:,} fused steps in a fresh process")
    start = time.perf_counter()
    r = in_fresh_process("flat", steps=steps)
    report.raw["flat"] = r
    report.flat = r["samples"]
    at = {p["point"]: p for p in r["samples"]}
    warm, mid, end, dropped = (at[f"after {WARM_STEPS}th"], at["middle"], at["end"],
                               at["end, graph dropped"])
    growth = end["rss"] - warm["rss"]
    report.notes.append(
        f"RSS flatness: {steps:,} fused training steps with the GC disabled, each loss kept "
        f"until the next step replaces it, as a training loop does; final loss "
        f"{r['loss']:.6f}, {time.perf_counter() - start:.0f} s. The arena grows during the "
        f"first steps, to {warm['capacity']:,} slots for {end['live']:,} live nodes; RSS "
        f"{(warm['rss'] - at['start']['rss']) / 2**20:+.1f} MiB by step {WARM_STEPS}, then "
        f"{growth / 2**20:+.2f} MiB to the end.")
    report.target(f"RSS flat over {steps:,} fused training steps, GC off",
                  growth <= 2**20 and end["capacity"] == warm["capacity"]
                  and mid["live"] == end["live"] and dropped["live"] == at["start"]["live"],
                  f"RSS {growth / 2**20:+.2f} MiB and arena capacity {warm['capacity']:,} → "
                  f"{end['capacity']:,} from step {WARM_STEPS} to {steps:,}; live "
                  f"{mid['live']:,} at the middle and {end['live']:,} at the end, "
                  f"{at['start']['live']:,} before the first step and {dropped['live']:,} "
                  f"after the last graph is dropped")


def bench_nodes(report: Report) -> None:
    """How many nodes one step builds in each engine."""
    by_label = {c.label: c for c in contenders()}
    counts = {"micrograd": micrograd_nodes(by_label[MG_OFF]),
              **{SHORT[label]: c_nodes(by_label[label]) for label in (FUSED, EAGER, ENGINE)}}
    report.notes.append("Nodes in one step's graph, parameters included (micrograd's by walking "
                        "_prev, micrograd_c's by stats().live): "
                        + ", ".join(f"{k} {n:,}" for k, n in counts.items()) + ".")
    report.raw["nodes"] = counts


# ---------------------------------------------------------------- driver

CHILD_TASKS: dict[str, Callable[..., dict]] = {"flat": task_flat}


def in_fresh_process(task: str, **kwargs: Any) -> dict:
    """CHILD_TASKS[task](**kwargs), run in a new interpreter; its JSON result."""
    return _harness.in_fresh_process(os.path.abspath(__file__), task, **kwargs)


def main(argv: Optional[list[str]] = None) -> None:
    """Parse options, run every measurement, print the report."""
    parser = _harness.arguments(__doc__, "fewer steps, 1-2 minutes")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of fused steps on stderr")
    args = parser.parse_args(argv)
    if _harness.run_child(CHILD_TASKS, args.child):
        return

    load = os.getloadavg()[0]
    report = Report()
    bench_trajectory(report)
    bench_nodes(report)
    bench_steps(report, args.quick, args.repeats)
    bench_flat(report, args.quick)
    if args.profile:
        profile_fused(20)
    report.notes.insert(0, (
        f"Cells are the median (min–max) over {args.repeats} repeats of the mean ms per step in "
        f"a repeat; ratios are the reference's median over the row's. Each contender first "
        f"warms up (1 + steps/10 untimed steps); a step builds its inputs as the demo does, "
        f"and pays for freeing the previous step's graph. micrograd, GC off: the garbage is "
        f"collected before each step, untimed, and the GC is disabled while it runs; every "
        f"other row runs with the GC on. DESIGN.md section 4 measured micrograd GC on "
        f"{DESIGN_MS[MG_ON]} ms, GC off {DESIGN_MS[MG_OFF]} ms, PyTorch {DESIGN_MS[TORCH]} ms. "
        f"Python {sys.version.split()[0]}, micrograd_c {micrograd_c.__version__}, torch "
        f"{torch.__version__ if torch else 'absent'}, {os.cpu_count()} CPUs, 1-minute load "
        f"average {load:.2f} at the start and {os.getloadavg()[0]:.2f} at the end, "
        f"{'quick' if args.quick else 'full'} sizes, {time.perf_counter() - _t0:.0f} s in all."))
    print(report.render())
    if args.json:
        report.raw.update(quick=args.quick, repeats=args.repeats, python=sys.version)
        with open(args.json, "w") as f:
            json.dump(report.raw, f, indent=1)
    log("done")


if __name__ == "__main__":
    main()
