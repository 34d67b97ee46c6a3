#!/usr/bin/env python
"""Two builds of micrograd_c, A and B, on the same workloads: each figure as a B/A ratio.

    python benchmarks/ab.py A_DIR B_DIR [--repeats 7] [--tasks w1 w2 ...] [--instructions]

A_DIR and B_DIR are directories that hold a ``micrograd_c`` package (an
install made with ``pip install --target DIR .``, or a checkout's ``src``).
Every measurement runs in a fresh process with that directory first on
``sys.path``; the two builds alternate, repeat after repeat, so drift on a
shared machine hits both alike. Printed: each task's median for A and B,
and the ratio B/A of the medians (below 1: B is faster or smaller).
Only the public API is used, so any two versions can be compared.

    w1      ns per operation building graphs (`a * b`, `+ 0.5`, relu), GC on
    w2      ns per node of backward on a ~400k-node graph (one C call)
    w2walk  the same graph under one op written in Python (needs that feature)
    w3drop  ms per moons step, micrograd's demo code (MLP, loss in Python)
    w3fused ms per moons step through the fused kernels, losses and SGD
    w5      bytes per Value made by operations (tracemalloc + the arena)

With --instructions, the timed tasks count instructions instead, under
valgrind's callgrind (smaller sizes): a unit of work is run once and three
times in two processes, and the difference, per op, node or step, does not
depend on the machine's load. It is one process per count: no repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

TASKS = ["w1", "w2", "w2walk", "w3drop", "w3fused", "w5"]
UNITS = {
    "w1": "ns/op",
    "w2": "ns/node",
    "w2walk": "ns/node",
    "w3drop": "ms/step",
    "w3fused": "ms/step",
    "w5": "B/Value",
}
SCALE = {"ns/op": 1e9, "ns/node": 1e9, "ms/step": 1e3}


def mesh(value: Callable[[float], Any], leaves: list[Any], ops: int) -> Any:
    """ops nodes over leaves, mixing +, *, relu and constants; the last few summed."""
    pool = list(leaves)
    for k in range(ops):
        a, b = pool[(k * 7919) % len(pool)], pool[(k * 104729 + 13) % len(pool)]
        pool.append((a * b).relu() if k % 3 == 0 else a + b * 0.5 if k % 3 == 1 else a * b)
        if len(pool) > 400:
            del pool[100:200]  # keep the operands recent, as a forward pass does
    return sum(pool[-50:], leaves[0] * 0)


def unit(name: str, small: bool) -> tuple[Callable[[], None], int]:
    """Task name's unit of work, made ready, and how many ops, nodes or steps one unit is."""
    import random

    import micrograd_c
    from micrograd_c import Value

    random.seed(0)
    leaves = [Value(random.uniform(-1, 1)) for _ in range(100)]
    if name == "w1":
        ops = 5_000 if small else 50_000
        return (lambda: mesh(Value, leaves, ops) and None), ops
    if name in ("w2", "w2walk"):
        base = micrograd_c.stats().live
        root = sum(
            (mesh(Value, leaves, 10_000 if small else 100_000) for _ in range(4)), Value(0.0)
        )
        if name == "w2walk":
            hand = Value(1.0, (root,), "hand")
            hand._backward = lambda: None
            root = hand * 1.0
        root.backward()
        return root.backward, micrograd_c.stats().live - base
    if name in ("w3drop", "w3fused"):
        from micrograd_c import demo, optim
        from micrograd_c.nn import MLP

        X, y = demo.make_moons()
        model = MLP(2, [16, 16, 1])
        sgd = optim.SGD(model.parameters(), lr=0.5)
        loss_of = demo.micrograd_loss if name == "w3drop" else demo.fused_loss

        def step() -> None:
            loss, _ = loss_of(model, X, y)
            model.zero_grad()
            loss.backward()
            if name == "w3drop":
                for p in model.parameters():
                    p.data -= 0.5 * p.grad
            else:
                sgd.step()

        step()
        return step, 1
    raise SystemExit(f"no unit of work for {name}")


def memory() -> float:
    """Bytes per Value made by operations: Python's (tracemalloc) and the arena's."""
    import gc
    import random
    import tracemalloc

    import micrograd_c
    from micrograd_c import Value

    random.seed(0)
    leaves = [Value(random.uniform(-1, 1)) for _ in range(100)]
    gc.collect()
    c0 = micrograd_c.stats().bytes
    tracemalloc.start()
    kept = []
    for _ in range(20):
        pool = list(leaves)
        for k in range(10_000):
            pool.append(pool[-1] * pool[k % 100] + 0.5 if k % 2 else pool[-1].relu())
        kept.append(pool)
    py = tracemalloc.get_traced_memory()[0]
    values = sum(len(p) - len(leaves) for p in kept)
    return (py + micrograd_c.stats().bytes - c0) / values


def task(name: str, times: int) -> float:
    """In this process: task name's figure; or with times > 0, run its small unit that often
    and return the unit's size."""
    if name == "w5":
        return memory()
    if times:
        work, per = unit(name, small=True)
        for _ in range(times):
            work()
        return per
    work, per = unit(name, small=False)
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        work()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) / per * SCALE[UNITS[name]]


def run(directory: str, name: str, times: int = 0, valgrind: bool = False) -> str:
    """Run this file's --task name in a fresh process with the package in directory."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(directory))
    prefix = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] if valgrind else []
    out = subprocess.run(
        [*prefix, sys.executable, __file__, "--task", name, "--times", str(times)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        return ""  # (A may lack what the task needs)
    return out.stdout + out.stderr


def measure(directory: str, name: str, instructions: bool) -> float | None:
    """One figure of task name with the package in directory; None if the task failed there."""
    if not instructions or name == "w5":
        out = run(directory, name)
        return json.loads(out.splitlines()[0]) if out else None
    counts, per = [], 0.0
    for times in (1, 3):
        out = run(directory, name, times, valgrind=True)
        found = re.search(r"Collected : (\d+)", out)
        if not found:
            return None
        counts.append(int(found.group(1)))
        per = json.loads(out.splitlines()[0])
    return (counts[1] - counts[0]) / 2 / per


def progress_bar(total: int) -> Any:
    """A tqdm bar of total runs with the time left, on stderr if a terminal and tqdm is there."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="ab", file=sys.stderr, leave=False, unit="run")


def main() -> None:
    """Parse the command line; print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("a", nargs="?")
    parser.add_argument("b", nargs="?")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under callgrind instead of timing",
    )
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--times", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        print(json.dumps(task(args.task, args.times)))
        return
    if not (args.a and args.b) or args.repeats < 1:
        parser.error("give the two package directories A and B, and --repeats >= 1")
    repeats = 1 if args.instructions else args.repeats
    print(
        f"A = {args.a}, B = {args.b}; "
        + (
            "instructions counted by callgrind (w5: bytes)"
            if args.instructions
            else f"medians of {repeats} alternated runs, each in its own process"
        )
    )
    print("| task | unit | A | B | B/A |\n|---|---|---|---|---|", flush=True)
    bar = progress_bar(len(args.tasks) * repeats * 2)
    for name in args.tasks:
        runs: dict[str, list[float]] = {"A": [], "B": []}
        for _ in range(repeats):
            for label, directory in (("A", args.a), ("B", args.b)):
                value = measure(directory, name, args.instructions)
                if value is not None:
                    runs[label].append(value)
                if bar is not None:
                    bar.update()
        med = {k: statistics.median(v) if v else None for k, v in runs.items()}
        ratio = f"{med['B'] / med['A']:.3f}" if med["A"] and med["B"] else "-"
        shown = {k: "n/a" if v is None else f"{v:.4g}" for k, v in med.items()}
        what = (
            "instr/" + UNITS[name].split("/")[1]
            if args.instructions and name != "w5"
            else UNITS[name]
        )
        row = f"| {name} | {what} | {shown['A']} | {shown['B']} | {ratio} |"
        if bar is not None:
            bar.write(row, file=sys.stdout)  # above the bar
        else:
            print(row, flush=True)
    if bar is not None:
        bar.close()


if __name__ == "__main__":
    main()
