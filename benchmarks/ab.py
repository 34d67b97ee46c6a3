#!/usr/bin/env python
"""Two builds of micrograd_c, A and B, on the suite's workloads: each figure as a B/A ratio.

    python benchmarks/ab.py A_DIR B_DIR [--repeats 7] [--tasks w1 w2 ...] [--instructions]

A_DIR and B_DIR are directories that hold a ``micrograd_c`` package (an install made with
``pip install --target DIR .``, or a checkout's ``src``). Each build runs a task in a process
of its own, with its directory first on ``sys.path``, set up as benchmarks/run.py sets up
that workload's micrograd_c contender; the two alternate, repeat after repeat, so drift on a
shared machine hits both alike. Printed: each task's median for A and B, and the ratio B/A
of the medians (below 1: B is faster or smaller). Only the public API is used, so any two
versions can be compared.

    w1       ns per operator, W1's mesh forward (quick sizes)
    w2       ns per node, backward on W2's big graph (quick sizes)
    w2walk   the same under an op written in Python: the stepped walk
    w3eager  ms per moons step, micrograd's demo code on micrograd_c.nn
    w3fused  ms per moons step through the fused kernels, losses and SGD
    w3replay ms per moons step replayed in C
    w5       bytes per node with facades (tracemalloc + the arena)

With --instructions, the timed tasks count instructions instead, under valgrind's callgrind
(smoke sizes): each build's process takes one sample, then another takes three, and the
difference, per op, node or step, does not depend on the machine's load (each process runs
with PYTHONHASHSEED=0, so string hashes, and with them the counts, repeat). No repeats.
w2 counts only inside mg_backward, the C sweep that its timing times: a sample also builds
its graph in Python, untimed, which would be 98% of the count.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from dataclasses import dataclass
from typing import Any

import engine
import harness
import mesh
import training
from harness import C_OFF, C_ON, Contender, Sizes, alternate

CALLGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")


@dataclass(frozen=True)
class Task:
    """A contender of one of the suite's workloads, and what one of its samples amounts to."""

    module: str
    workload: str
    label: str
    unit: str
    counted: tuple[str, ...] = ()  # with --instructions, count only inside these C functions

    def params(self, sizes: Sizes, build: str) -> dict[str, Any]:
        """The workload's parameters at these sizes, its mesh written into build."""
        if self.workload == "w3":
            return {
                "steps": {self.label: max(1, round(training.STEPS[self.label] * sizes.w3_share))}
            }
        if self.workload == "w5":
            path = mesh.write_mesh(build, engine.W5_MESH_OPS, "FACADE_KINDS", engine.W5_LEAVES)
            return {"mode": "tracemalloc", "nodes": sizes.w5_nodes, "mesh_path": path}
        path = mesh.write_mesh(build, sizes.w1_ops)
        if self.workload == "w1":
            return {"mesh_path": path}
        return {"mesh_path": path, "copies": engine.big_copies(path, sizes.w2_nodes)}

    def units(self, setup: dict[str, Any], params: dict[str, Any]) -> float:
        """Ops, nodes or steps in one sample (W5's samples count their own nodes)."""
        if self.workload in ("w3", "w5"):
            return float(params["steps"][self.label]) if self.workload == "w3" else 1.0
        return float(setup["ops"] if self.workload == "w1" else setup["nodes"])

    def figure(self, sample: dict[str, Any], units: float) -> float:
        """A sample in the task's unit (W3's seconds are already per step)."""
        if self.workload == "w5":
            return float(sample["py"] + sample["c"]) / sample["nodes"]
        return sample["seconds"] * 1e3 if self.workload == "w3" else sample["seconds"] / units * 1e9


TASKS = {
    "w1": Task("engine", "w1", C_ON, "ns/op"),
    "w2": Task("engine", "w2", engine.C_BIG, "ns/node", ("mg_backward",)),
    "w2walk": Task("engine", "w2", engine.C_WALK, "ns/node"),
    "w3eager": Task("training", "w3", training.EAGER, "ms/step"),
    "w3fused": Task("training", "w3", training.FUSED, "ms/step"),
    "w3replay": Task("training", "w3", training.REPLAY, "ms/step"),
    "w5": Task("engine", "w5", C_OFF, "B/node"),
}


def timings(task: Task, sites: dict[str, str], repeats: int, build: str) -> dict[str, float]:
    """The task's median figure for each build, repeats alternating between their processes."""
    params = task.params(harness.QUICK, build)
    started = {
        name: Contender(task.module, task.workload, task.label, params, site)
        for name, site in sites.items()
    }
    results = alternate(started, repeats, task.label)
    return {
        name: statistics.median(
            task.figure(s, task.units(r["setup"], params)) for s in r["samples"]
        )
        for name, r in results.items()
    }


def instructions(task: Task, sites: dict[str, str], build: str) -> dict[str, float]:
    """Instructions per op, node or step for each build: 3 samples' count less 1's, halved."""
    params, found = task.params(harness.SMOKE, build), {}
    callgrind = CALLGRIND + (
        ("--collect-atstart=no", *(f"--toggle-collect={f}" for f in task.counted))
        if task.counted
        else ()
    )
    for name, site in sites.items():
        counts = []
        for samples in (1, 3):
            harness.log(f"{task.label}: {name}, {samples} under callgrind")
            c = Contender(task.module, task.workload, task.label, params, site, callgrind)
            setup = c.receive()
            for _ in range(samples):
                c.sample()
            counts.append(int(re.findall(r"Collected : (\d+)", c.close())[-1]))
        found[name] = (counts[1] - counts[0]) / 2 / task.units(setup, params)
    return found


def main() -> None:
    """Parse the command line; print the table."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/ab.py", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("a", metavar="A_DIR")
    parser.add_argument("b", metavar="B_DIR")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind instead"
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    sites = {"A": args.a, "B": args.b}
    print(
        f"A = {args.a}, B = {args.b}; "
        + (
            "instructions counted by callgrind (w5: bytes)"
            if args.instructions
            else f"medians of {args.repeats} alternated repeats, each build in its own process"
        )
    )
    print("| task | unit | A | B | B/A |\n|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="micrograd_c-ab-") as build:
        for name in args.tasks:
            task, counted = TASKS[name], args.instructions and name != "w5"
            med = (
                instructions(task, sites, build)
                if counted
                else timings(task, sites, args.repeats, build)
            )
            unit = f"instr/{task.unit.split('/')[1]}" if counted else task.unit
            print(
                f"| {name} | {unit} | {med['A']:.4g} | {med['B']:.4g} | "
                f"{med['B'] / med['A']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
