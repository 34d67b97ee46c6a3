#!/usr/bin/env python
"""The benchmark suite: W0 to W6 for every contender, as one markdown table ready to paste.

W0 the import and the first Value (fresh processes), W1 the per-op mesh forward, W2 its
backward and a ~1M-node graph's, W3 the moons training step, W4 the deepest chain, W5 memory
per node, W6 the graph of Rogozhnikov's "Fastest Autograd in the West" (forward + backward,
eager and replayed). The contenders: micrograd 0.1.0 with its GC on and off, PyTorch 0-d
tensors (when torch is installed), micrograd_c in every way it runs, a bound on any Python
facade (W1), and the C floors (when a C compiler is there). Each contender runs in its own
process; repeats alternate between them.

    python benchmarks/run.py [--quick | --smoke] [--only w1 w3 ...] [--repeats N]
                             [--json FILE] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import engine
import harness
import report as reporting
import startup
import training
import west

WORKLOADS = {
    "w0": startup.w0,
    "w1": engine.w1,
    "w2": engine.w2,
    "w3": training.w3,
    "w4": engine.w4,
    "w5": engine.w5,
    "w6": west.w6,
}
SIZES = {"full": harness.FULL, "quick": harness.QUICK, "smoke": harness.SMOKE}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py", description=(__doc__ or "").split("\n\n")[0]
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="smaller sizes and 3 repeats, about a minute"
    )
    size.add_argument(
        "--smoke", action="store_true", help="tiny sizes and 1 repeat, seconds: does it run?"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=WORKLOADS,
        default=list(WORKLOADS),
        metavar="W",
        help=f"the workloads to run (default all: {' '.join(WORKLOADS)})",
    )
    parser.add_argument("--repeats", type=int, help="timed repeats (default 5; 3 with --quick)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")
    parser.add_argument(
        "--plot", metavar="FILE.png", help="also draw the ratios as a bar chart (matplotlib)"
    )
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    for path in (args.json, args.plot):
        if path and not Path(path).resolve().parent.is_dir():
            parser.error(f"cannot write {path}: no such directory")
    if args.plot:
        try:
            import matplotlib  # noqa: F401 - fail now, not after the run
        except ImportError:
            parser.error("--plot needs matplotlib: pip install matplotlib")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the workloads asked for; print the table; write the JSON and the chart if asked."""
    args = parse(argv)
    sizes = SIZES["smoke" if args.smoke else "quick" if args.quick else "full"]
    repeats = args.repeats or sizes.repeats
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    found = reporting.Report(command, sizes, repeats)
    with tempfile.TemporaryDirectory(prefix="micrograd_c-bench-") as build:
        floors = {
            name: program
            for name in ("floor_tape", "floor", "floor_west")
            if (program := harness.compile_floor(name, build, found.notes))
        }
        run = harness.Run(sizes, repeats, build, floors)
        for name in args.only:
            WORKLOADS[name](found, run)
    harness.log("done")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(found.render())
    data = found.to_json()
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    if args.plot:
        reporting.plot(data, args.plot)


if __name__ == "__main__":
    main()
