"""Command line: ``python -m micrograd_c demo | compare | explain``, or ``micrograd-c ...``."""

import argparse

from . import __version__, compare, demo
from ._cli import Parser, image_file, natural, positive_int, prog, regex, timeout

BENCH_MOVED = "the benchmarks moved: run `python benchmarks/run.py` from a source checkout"


def main() -> None:
    """Parse the command line and run the chosen command."""
    parser = Parser(prog=prog())
    parser.add_argument("--version", action="version", version=f"micrograd_c {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="train micrograd's moons demo")
    demo_cmd.add_argument("--steps", type=positive_int, default=100, help="SGD steps (default 100)")
    demo_cmd.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    demo_cmd.add_argument(
        "--compare",
        action="store_true",
        help="also train micrograd itself and compare losses and time",
    )
    demo_cmd.add_argument(
        "--plot",
        metavar="FILE.png",
        type=image_file,
        help="draw the decision boundary (needs matplotlib)",
    )
    demo_cmd.add_argument(
        "--replay",
        action="store_true",
        help="record the graph once and replay it in C at every step",
    )
    compare_cmd = commands.add_parser(
        "compare",
        help="run a micrograd program on micrograd and on micrograd_c and compare",
        usage="%(prog)s [options] SCRIPT.py [ARGS ...]",
        epilog="Options go before SCRIPT; everything after it is the script's. Exit status: 0 "
        "both runs succeeded and their outputs agree, 1 the outputs differ, 2 usage "
        "error, 3 the script failed or timed out in one run or both.",
    )
    compare_cmd.add_argument(
        "--rtol",
        type=float,
        default=1e-9,
        help="relative tolerance for printed numbers (default 1e-9)",
    )
    compare_cmd.add_argument(
        "--atol",
        type=float,
        default=1e-12,
        help="absolute tolerance for printed numbers (default 1e-12)",
    )
    compare_cmd.add_argument(
        "--top",
        type=natural,
        default=10,
        metavar="N",
        help="functions to list from a separate profiled run of each "
        "(default 10; 0 skips profiling)",
    )
    compare_cmd.add_argument(
        "--timeout",
        type=timeout,
        metavar="SECONDS",
        help="stop a run that goes on longer, and report it as timed out "
        "(each run, the profiled ones too; default: no limit)",
    )
    compare_cmd.add_argument(
        "--ignore",
        type=regex,
        action="append",
        default=[],
        metavar="REGEX",
        help="leave out of the comparison the lines, in both outputs, in "
        "which REGEX matches (re.search), such as printed timings; "
        "repeatable",
    )
    compare_cmd.add_argument("script", metavar="SCRIPT.py", help="an unmodified micrograd program")
    script_args = compare_cmd.add_argument(
        "script_args", nargs=argparse.REMAINDER, metavar="ARGS", help="its arguments, if any"
    )
    script_args.required = False  # argparse takes a REMAINDER for required, though it may be empty
    commands.add_parser(
        "bench", help="moved: see benchmarks/run.py in a source checkout", add_help=False
    )
    # explain: the tutorial's first example as a page that steps through backward()
    explain_cmd = commands.add_parser(
        "explain", help="write a page that steps through backward() on z = x*y + b"
    )
    explain_cmd.add_argument(
        "--out",
        metavar="FILE.html",
        default="backprop.html",
        help="where to write it (default backprop.html)",
    )
    args, unknown = parser.parse_known_args()  # bench takes anything, to say where it went
    if args.command == "bench":
        parser.exit(1, f"{parser.prog} bench: {BENCH_MOVED}\n")
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "explain":
        from .watch import explain

        try:
            path = explain(args.out)
        except OSError as exc:
            parser.exit(2, f"{parser.prog} explain: cannot write {args.out}: {exc.strerror}\n")
        print(
            f"wrote {path}: backward() on z = x*y + b (x=2, y=3, b=1), step by step; "
            f"open it in a browser"
        )
        return
    if args.command == "demo":
        demo.run(args.steps, args.seed, args.compare, args.plot, args.replay)
    elif args.command == "compare":
        raise SystemExit(
            compare.run(
                args.script,
                args.script_args,
                args.rtol,
                args.atol,
                args.top,
                args.timeout,
                args.ignore,
            )
        )


if __name__ == "__main__":
    main()
