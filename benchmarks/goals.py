#!/usr/bin/env python
"""The speed goals, read off one or more runs' JSON: a column per run (one per CPython).

Each goal is a ratio of two medians of one run (or one median), so every column comes
from a single run, its contenders in their own processes, repeats alternated.

    python benchmarks/run.py --json 3.11.json        # (once per Python: each its own venv)
    python benchmarks/goals.py 3.10.json 3.11.json 3.12.json 3.13.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import engine
import harness
import startup
import training
import west
from report import fmt

Medians = dict[str, dict[str, float]]  # figure key: contender: median


@dataclass(frozen=True)
class Goal:
    """A figure, how to read it off a run's medians, and the bound it must meet."""

    figure: str
    read: Callable[[Medians], float]
    goal: float
    at_most: bool  # the figure must be <= goal (else >=)
    unit: str = "x"

    def met(self, value: float) -> bool:
        """Whether value meets the goal."""
        return value <= self.goal if self.at_most else value >= self.goal

    def bound(self) -> str:
        """The goal as written: ≤ 1.5x, ≥ 100x."""
        return f"{'≤' if self.at_most else '≥'} {fmt(self.goal)}{self.unit}"


def times(key: str, slow: str, fast: str) -> Callable[[Medians], float]:
    """How many times faster contender fast is than slow in figure key."""
    return lambda m: m[key][slow] / m[key][fast]


def of(key: str, *labels: str) -> Callable[[Medians], float]:
    """The sum of these contenders' medians in figure key."""
    return lambda m: sum(m[key][label] for label in labels)


GOALS = [
    Goal(
        "W1 per op, GC on: time ÷ the bound's",
        times("w1", harness.C_ON, engine.BARE_ON),
        1.5,
        True,
    ),
    Goal(
        "W1 per op, GC off on both: time ÷ the bound's",
        times("w1", harness.C_OFF, engine.BARE_OFF),
        1.5,
        True,
    ),
    Goal(
        "W2 backward, big graph: time ÷ floor_tape.c's on it",
        times("w2", engine.C_BIG, harness.FLOOR),
        1.3,
        True,
    ),
    Goal(
        "W3 replayed step: time ÷ floor.c's",
        times("w3", training.REPLAY, harness.FLOOR),
        1.15,
        True,
    ),
    Goal(
        "W3 drop-in (micrograd's demo code on micrograd_c) vs micrograd GC off",
        times("w3", harness.MG_OFF, training.EAGER),
        100,
        False,
    ),
    Goal(
        "W3 fused vs micrograd GC off",
        times("w3", harness.MG_OFF, training.FUSED),
        120,
        False,
    ),
    Goal(
        "W3 engine only, under micrograd's nn.py, vs micrograd GC off",
        times("w3", harness.MG_OFF, training.ENGINE),
        3,
        False,
    ),
    Goal("W0 first Value after the import", of("w0_first", startup.C_START), 0.3, True, " ms"),
    Goal("W6 replay vs PyTorch eager", times("w6", harness.TORCH, training.REPLAY), 1000, False),
    Goal("W6 replay: time ÷ floor_west.c's", times("w6", training.REPLAY, harness.FLOOR), 2, True),
    Goal("W6 build + record", of("w6_build", west.BUILD, west.RECORD), 50, True, " ms"),
]


def cell(goal: Goal, medians: Medians) -> str:
    """The goal's figure in one run, marked met or not; a dash if the run lacks it."""
    try:
        value = goal.read(medians)
    except KeyError:
        return "—"
    return f"{fmt(value)}{goal.unit} {'✓' if goal.met(value) else '✗'}"


def table(runs: list[dict[str, Any]]) -> str:
    """The goals as a markdown table: a row per goal, a column per run."""
    medians = [{k: f["median"] for k, f in run["figures"].items()} for run in runs]
    head = ["figure", "goal", *(run["versions"]["python"] for run in runs)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for goal in GOALS:
        row = [goal.figure, goal.bound(), *(cell(goal, m) for m in medians)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the goals table of the runs named."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/goals.py", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("runs", nargs="+", metavar="RUN.json", help="JSON from run.py --json")
    args = parser.parse_args(argv)
    runs = []
    for path in args.runs:
        with open(path) as f:
            runs.append(json.load(f))
    print(table(runs))


if __name__ == "__main__":
    main()
