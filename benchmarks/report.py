"""What a run found: its figures as one markdown table, its raw numbers as JSON, its chart."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

from harness import BASELINES, Sizes


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


def version(package: str) -> str:
    """A package's installed version, or 'absent' (read from its metadata: nothing is imported)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def versions() -> dict[str, str]:
    """Versions of Python and of every package measured."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        **{p: version(p) for p in ("micrograd_c", "micrograd", "torch")},
    }


def fmt(x: float) -> str:
    """x with about three significant digits, without an exponent."""
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.3g}"


def spread(xs: list[float]) -> str:
    """'median (min–max)' of xs, or the one value they all are."""
    if min(xs) == max(xs):
        return fmt(xs[0])
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}–{fmt(max(xs))})"


@dataclass
class Figure:
    """One workload of the table: each contender's samples in unit (lower is better unless said)."""

    key: str
    title: str
    unit: str
    samples: dict[str, list[float]]
    pids: dict[str, int]  # the process each contender ran in
    higher_is_better: bool = False

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
    """What a run found: the figures, notes and raw numbers."""

    command: str
    sizes: Sizes
    repeats: int
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    date: str = field(default_factory=lambda: datetime.date.today().isoformat())

    def baselines(self) -> list[str]:
        """The baselines measured in some figure: the ratio columns."""
        return [b for b in BASELINES if any(b in f.samples for f in self.figures)]

    def header(self) -> str:
        """Which command, machine, Python and packages made the figures, and how to read them."""
        v = versions()
        n = self.repeats
        return (
            f"Made by `{self.command}` on {self.date}, {self.sizes.name} sizes: "
            f"{cpu_model()}, {os.cpu_count()} cores, {v['python']}, micrograd_c "
            f"{v['micrograd_c']}, micrograd {v['micrograd']}, torch {v['torch']}. Each "
            f"contender ran in its own process; cells are median (min–max) of {n} "
            f"repeat{'s' * (n != 1)}, alternated between contenders; a ratio is how many times "
            f"faster (smaller, deeper) the row is than the column's baseline, from medians."
        )

    def table(self) -> list[str]:
        """The figures as one markdown table, a row per workload and contender."""
        baselines = self.baselines()
        head = [
            "workload",
            "contender",
            "median (min–max)",
            *(f"vs {BASELINES[b]}" for b in baselines),
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for f in self.figures:
            for k, label in enumerate(f.samples):
                ratios = [f.ratio(label, b) for b in baselines]
                cells = [
                    f"{f.title}, {f.unit}" if k == 0 else "",
                    label,
                    spread(f.samples[label]),
                    *("—" if r is None else f"{fmt(r)}x" for r in ratios),
                ]
                lines.append("| " + " | ".join(cells) + " |")
        return lines

    def render(self) -> str:
        """The report as markdown: header, table, notes."""
        notes = [f"- {n}" for n in self.notes]
        return "\n".join([self.header(), "", *self.table(), "", "Notes:", "", *notes])

    def to_json(self) -> dict[str, Any]:
        """The raw numbers: every sample, median, ratio and pid, with the machine and sizes."""
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
                    "pids": f.pids,
                    "median": {c: f.median(c) for c in f.samples},
                    "ratios": {
                        c: {b: f.ratio(c, b) for b in baselines if b in f.samples}
                        for c in f.samples
                    },
                }
                for f in self.figures
            },
            "notes": self.notes,
            "details": self.raw,
        }


def plot(data: dict[str, Any], path: str) -> None:
    """Draw a run's JSON as bars: each of our rows' ratio to each baseline, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figures = data["figures"]
    baselines = [b for b in BASELINES if any(b in f["samples"] for f in figures.values())]
    rows = [
        (f"{f['title'].split(' (')[0]}\n{label}", ratios)
        for f in figures.values()
        for label, ratios in f["ratios"].items()
        if label not in BASELINES and ratios
    ]
    width = 0.8 / len(baselines)
    fig = pyplot.figure(figsize=(10, 1.5 + 0.25 * len(rows) * len(baselines)))
    ax = fig.subplots()
    for j, baseline in enumerate(baselines):
        bars = [(i + j * width, r[baseline]) for i, (_, r) in enumerate(rows) if baseline in r]
        drawn = ax.barh(
            [y for y, _ in bars],
            [r - 1 for _, r in bars],
            width,
            left=1,
            label=f"vs {BASELINES[baseline]}",
        )  # from 1: right faster, left slower
        ax.bar_label(drawn, [f"{fmt(r)}x" for _, r in bars], padding=2, fontsize=7)
    ax.set_yticks(
        [i + (len(baselines) - 1) * width / 2 for i in range(len(rows))],
        [name for name, _ in rows],
        fontsize=7,
    )
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.margins(x=0.1)  # room for the labels
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xlabel("times faster (smaller, deeper) than the baseline, log scale")
    ax.set_title(
        f"micrograd_c ratios: {data['machine']['cpu']}, {data['versions']['python']}, "
        f"{data['sizes']['name']} sizes, {data['date']}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
