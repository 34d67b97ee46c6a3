"""Command line: ``python -m micrograd_c demo`` trains micrograd's moons demo."""
import argparse

from . import demo


def main() -> None:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m micrograd_c")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_cmd = commands.add_parser("demo", help="train micrograd's moons demo")
    demo_cmd.add_argument("--steps", type=int, default=100, help="SGD steps (default 100)")
    demo_cmd.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    demo_cmd.add_argument("--compare", action="store_true",
                          help="also train micrograd itself and compare losses and time")
    demo_cmd.add_argument("--plot", metavar="FILE.png", help="draw the decision boundary")
    args = parser.parse_args()
    if args.command == "demo":
        demo.run(args.steps, args.seed, args.compare, args.plot)


if __name__ == "__main__":
    main()
