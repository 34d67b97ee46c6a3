"""``python -m micrograd_c bench``: W1 to W5 for every contender, as markdown ready to paste.

The workloads are DESIGN.md section 4's: W1 the per-op mesh forward, W2 its
backward and a ~1M-node graph's, W3 the moons training step, W4 the deepest
chain, W5 memory per node; the contenders micrograd 0.1.0 with its GC on and
off, PyTorch 0-d tensors (when torch imports), micrograd_c in every way it
runs the step, and the C floor (when a compiler and floor.c are there).
"""

from __future__ import annotations

import argparse
import importlib.util

from .._cli import image_file
from ..demo import figure
from . import harness
from .harness import BASELINES, Report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench command's description and options."""
    parser.description = __doc__.split("\n\n")[0]
    harness.add_options(parser, "smaller sizes and 3 repeats, under a minute", floor=True)
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        type=image_file,
        help="also draw the ratios as a bar chart (needs matplotlib)",
    )


def run(args: argparse.Namespace) -> None:
    """Run every workload, print the tables, write the JSON and the plot if asked."""
    if importlib.util.find_spec("micrograd") is None:
        raise SystemExit(
            "the benchmarks need micrograd 0.1.0, their baseline: pip install 'micrograd_c[bench]'"
        )
    if args.plot:
        figure()  # fail now, not after the run
    from . import engine, nn

    sizes, repeats = harness.sizes_of(args)
    report = Report("python -m micrograd_c bench", sizes, repeats)
    with harness.stages(5) as done:  # a bar with the time left, on a terminal, with tqdm
        mesh = engine.bench_w1(report, sizes, repeats)
        done()
        engine.bench_w2(report, mesh, sizes, repeats, args.floor)
        done()
        nn.bench_steps(report, sizes, repeats, nn.make_floor(report, args.floor))
        done()
        engine.bench_w4(report, sizes, repeats)
        done()
        engine.bench_w5(report, sizes)
        done()
    if args.plot:
        plot(report, args.plot)
    harness.finish(report, args.json)


def plot(report: Report, path: str) -> None:
    """Draw each of our rows' ratio to each baseline as a bar, on a log scale (needs matplotlib)."""
    baselines = report.baselines()
    rows = [
        (f"{f.title.split(' (')[0]}\n{label}", f, label)
        for f in report.figures
        for label in f.samples
        if label not in BASELINES and any(b in f.samples for b in baselines)
    ]
    width = 0.8 / len(baselines)
    fig = figure((10, 1.5 + 0.25 * len(rows) * len(baselines)))
    ax = fig.subplots()
    for j, baseline in enumerate(baselines):
        bars = [
            (i + j * width, f.ratio(label, baseline))
            for i, (_, f, label) in enumerate(rows)
            if baseline in f.samples
        ]
        drawn = ax.barh(
            [y for y, _ in bars],
            [r - 1 for _, r in bars],
            width,
            left=1,
            label=f"vs {BASELINES[baseline]}",
        )  # from 1: right faster, left slower
        ax.bar_label(drawn, [f"{harness.fmt(r)}x" for _, r in bars], padding=2, fontsize=7)
    ax.set_yticks(
        [i + (len(baselines) - 1) * width / 2 for i in range(len(rows))],
        [name for name, _, _ in rows],
        fontsize=7,
    )
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.margins(x=0.1)  # room for the labels
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xlabel("times faster (smaller, deeper) than the baseline, log scale")
    v = harness.versions()
    ax.set_title(
        f"micrograd_c ratios: {harness.cpu_model()}, {v['python']}, {report.sizes.name} sizes",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    harness.log(f"bar chart written to {path}")
