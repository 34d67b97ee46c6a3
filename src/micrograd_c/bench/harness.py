"""What every benchmark shares: sizes, the progress line, fresh processes, the report."""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import import_module, metadata
from types import ModuleType
from typing import Any

from .._cli import Parser, existing_file, output_file, positive_int
from .._progress import Bar

MG_ON, MG_OFF = "micrograd, GC on", "micrograd, GC off"
TORCH = "PyTorch 0-d float64 tensors"
FLOOR = "C floor: plain C in benchmarks/ (W2 floor_tape.c, W3 floor.c)"
C_ON, C_OFF = "micrograd_c", "micrograd_c, GC off"
BASELINES = {
    MG_ON: "micrograd GC on",
    MG_OFF: "micrograd GC off",
    TORCH: "PyTorch",
    FLOOR: "C floor",
}  # the ratio columns, by contender label


@dataclass(frozen=True)
class Sizes:
    """Workload sizes for one run."""

    name: str
    repeats: int  # timed repeats unless --repeats says otherwise
    w1_ops: int  # operators in the W1 mesh
    w2_nodes: int  # nodes in W2's big graph
    w3_share: float  # of each W3 contender's full steps per repeat (at least one step)
    w4_depth: int  # micrograd_c's chain
    w5_nodes: int  # per W5 memory graph
    flat_cycles: int  # build / backward / drop cycles of the engine's RSS check
    flat_ops: int  # operators per cycle
    flat_steps: int  # fused training steps of the training RSS check
    phase_steps: int  # fused steps timed phase by phase
    survivor_steps: int  # training steps keeping two Values each, for the arena's size
    peak_nodes: int  # nodes of the peak freed for the RSS kept after it


FULL = Sizes(
    "full",
    5,
    100_000,
    1_000_000,
    1.0,
    10_000_000,
    500_000,
    10_000,
    5_000,
    1_000,
    100,
    3_000,
    5_000_000,
)
QUICK = Sizes(
    "quick", 3, 10_000, 200_000, 0.2, 1_000_000, 120_000, 1_000, 5_000, 200, 20, 3_000, 5_000_000
)
SMOKE = Sizes("smoke", 1, 2_000, 20_000, 0.0, 10_000, 5_000, 10, 1_000, 20, 3, 30, 100_000)

# The progress line's clock: a fresh process keeps the one of the run that started it.
_START = float(os.environ.get("MICROGRAD_C_BENCH_START", time.time()))


def timed(action: Callable[[], Any], gc_on: bool) -> tuple[float, Any]:
    """Seconds that action() takes and its result, with the GC on or off meanwhile as gc_on says."""
    was_on = gc.isenabled()
    (gc.enable if gc_on else gc.disable)()
    try:
        start = time.perf_counter()
        result = action()
        return time.perf_counter() - start, result
    finally:
        (gc.enable if was_on else gc.disable)()


_bar: Bar | None = None  # the bar of the stages() running, if any


@contextmanager
def stages(total: int) -> Iterator[Callable[[], None]]:
    """A bar over a run's stages with the time left (on a terminal); yields its step."""
    global _bar
    _bar = Bar(total, "bench")
    try:
        yield _bar.update
    finally:
        _bar.close()
        _bar = None


def log(message: str) -> None:
    """The progress line on stderr: rewritten in place on a terminal, a line per event if not."""
    line = f"[bench {time.time() - _START:6.1f}s] {message}"
    if _bar is not None and _bar.shown:
        _bar.note(line)  # beside the bar, or after the plain line's count
    elif sys.stderr.isatty():
        width = shutil.get_terminal_size().columns - 1
        print(f"\r\x1b[K{line[:width]}", end="", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)


def add_options(parser: argparse.ArgumentParser, quick_help: str, floor: bool = False) -> None:
    """The options every benchmark takes, and --floor for those that run the C floor."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests' size
    parser.add_argument(
        "--repeats",
        type=positive_int,
        help=f"timed repeats (default {FULL.repeats}; {QUICK.repeats} with --quick)",
    )
    parser.add_argument(
        "--json", metavar="FILE", type=output_file, help="also write the raw numbers to FILE"
    )
    if floor:
        parser.add_argument(
            "--floor",
            metavar="FILE.c",
            type=existing_file,
            help="the C floor's source (default: benchmarks/floor.c of the "
            "source checkout this package runs from)",
        )


def arguments(doc: str, quick_help: str, floor: bool = False) -> argparse.ArgumentParser:
    """A benchmark program's parser, described by the first paragraph of its doc."""
    parser = Parser(description=doc.split("\n\n")[0])
    add_options(parser, quick_help, floor)
    return parser


def sizes_of(args: argparse.Namespace) -> tuple[Sizes, int]:
    """The sizes and the number of repeats the options ask for."""
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    return sizes, args.repeats or sizes.repeats


def in_fresh_process(task: Callable[..., dict], **kwargs: Any) -> dict:
    """task(**kwargs), a module-level function, run in a new interpreter; its JSON result."""
    code = "import sys; from micrograd_c.bench.harness import child; child(*sys.argv[1:])"
    done = subprocess.run(
        [sys.executable, "-c", code, task.__module__, task.__name__, json.dumps(kwargs)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        env={**os.environ, "MICROGRAD_C_BENCH_START": str(_START)},
    )
    return json.loads(done.stdout)


def child(module: str, name: str, kwargs: str) -> None:
    """In the new interpreter: run module.name(**kwargs) and print its result as JSON."""
    print(json.dumps(getattr(import_module(module), name)(**json.loads(kwargs))))


@functools.cache
def import_torch() -> ModuleType | None:
    """torch, or None when it does not import (its contenders are then skipped)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_leaf(x: float) -> Any:
    """A 0-d float64 tensor that requires grad: a parameter, or a leaf of a graph."""
    torch = import_torch()
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo on Linux."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def versions() -> dict[str, str]:
    """Versions of Python and of every package measured."""
    torch = import_torch()
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "micrograd_c": metadata.version("micrograd_c"),
        "micrograd": metadata.version("micrograd"),
        "torch": torch.__version__ if torch else "absent",
    }


# ---------------------------------------------------------------- the report


def count(n: int, noun: str) -> str:
    """'1 step', '2 steps'."""
    return f"{n:,} {noun}{'s' * (n != 1)}"


def fmt(x: float) -> str:
    """x with about three significant digits, without an exponent."""
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.3g}"


def spread(xs: list[float]) -> str:
    """'median (min–max)' of xs, or the one value."""
    if len(xs) == 1:
        return fmt(xs[0])
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}–{fmt(max(xs))})"


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table's lines."""
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


@dataclass
class Figure:
    """One workload of the table: each contender's samples in unit (lower is better unless said)."""

    key: str
    title: str
    unit: str
    samples: dict[str, list[float]]
    cells: dict[str, str] = field(default_factory=dict)  # shown instead of median (min–max)
    higher_is_better: bool = False

    def labels(self) -> list[str]:
        """The contenders, one row each: those measured, then those with only a cell."""
        return list(dict.fromkeys([*self.samples, *self.cells]))

    def median(self, label: str) -> float:
        """The median sample of a contender."""
        return statistics.median(self.samples[label])

    def ratio(self, label: str, baseline: str) -> float | None:
        """How many times better label is than baseline, from medians; None if one is missing."""
        if label not in self.samples or baseline not in self.samples:
            return None
        mine, theirs = self.median(label), self.median(baseline)
        return mine / theirs if self.higher_is_better else theirs / mine


@dataclass
class Report:
    """What a run found: the figures, notes, extra tables, targets and raw numbers."""

    command: str
    sizes: Sizes
    repeats: int
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sections: list[list[str]] = field(default_factory=list)
    targets: list[tuple[str, bool | None, str]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    date: str = field(default_factory=lambda: datetime.date.today().isoformat())

    def target(self, name: str, ok: bool | None, detail: str) -> None:
        """Record a target as met, not met, or (None) not measurable here."""
        self.targets.append((name, ok, detail))

    def baselines(self) -> list[str]:
        """The baselines measured in some figure: the ratio columns."""
        return [b for b in BASELINES if any(b in f.samples for f in self.figures)]

    def header(self) -> str:
        """Which command, machine, Python and packages made the figures, and how to read them."""
        v = versions()
        return (
            f"Made by `{self.command}` on {self.date}, {self.sizes.name} sizes: "
            f"{cpu_model()}, {os.cpu_count()} cores, {v['python']}, micrograd_c "
            f"{v['micrograd_c']}, micrograd {v['micrograd']}, torch {v['torch']}. Cells "
            f"are median (min–max) of {count(self.repeats, 'repeat')}; a ratio is how many "
            f"times faster (smaller, deeper) the row is than the column's baseline, from "
            f"medians."
        )

    def table(self) -> list[str]:
        """The figures as one markdown table, a row per workload and contender."""
        baselines = self.baselines()
        rows = []
        for f in self.figures:
            for k, label in enumerate(f.labels()):
                ratios = [f.ratio(label, b) for b in baselines]
                rows.append(
                    [
                        f"{f.title}, {f.unit}" if k == 0 else "",
                        label,
                        f.cells.get(label) or spread(f.samples[label]),
                        *("—" if r is None else f"{fmt(r)}x" for r in ratios),
                    ]
                )
        return table(
            [
                "workload",
                "contender",
                "median (min–max)",
                *(f"vs {BASELINES[b]}" for b in baselines),
            ],
            rows,
        )

    def render(self) -> str:
        """The report as markdown: header, table, notes, extra tables, targets."""
        lines = [
            self.header(),
            "",
            *self.table(),
            "",
            "Notes:",
            "",
            *(f"- {n}" for n in self.notes),
        ]
        for section in self.sections:
            lines += ["", *section]
        if self.targets:
            lines += [
                "",
                "Targets:",
                "",
                *(
                    f"- {'SKIP' if ok is None else 'PASS' if ok else 'FAIL'}  {name}: {detail}"
                    for name, ok, detail in self.targets
                ),
            ]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The raw numbers: every sample, median and ratio, with the machine and sizes."""
        baselines = self.baselines()
        return {
            "header": self.header(),
            "date": self.date,
            "command": self.command,
            "machine": {
                "cpu": cpu_model(),
                "cores": os.cpu_count(),
                "platform": platform.platform(),
            },
            "versions": versions(),
            "sizes": asdict(self.sizes),
            "repeats": self.repeats,
            "figures": {
                f.key: {
                    "title": f.title,
                    "unit": f.unit,
                    "higher_is_better": f.higher_is_better,
                    "samples": f.samples,
                    "median": {c: f.median(c) for c in f.samples},
                    "ratios": {
                        c: {b: f.ratio(c, b) for b in baselines if b in f.samples}
                        for c in f.samples
                    },
                }
                for f in self.figures
            },
            "details": self.raw,
        }


def finish(report: Report, json_path: str | None) -> None:
    """Print the report, write its raw numbers if asked, end the progress line."""
    log("done")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(report.render())
    if json_path:
        with open(json_path, "w") as f:
            json.dump(report.to_json(), f, indent=1)
