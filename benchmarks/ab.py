#!/usr/bin/env python
"""Two builds of micrograd_c, A and B, on the same workloads: each figure as a B/A ratio.

    python benchmarks/ab.py A_DIR B_DIR [--repeats 7] [--tasks w1 w2 w3 w5]

A_DIR and B_DIR are directories that hold a ``micrograd_c`` package (an
install made with ``pip install --target DIR .``, or a checkout's ``src``).
Every measurement runs in a fresh process with that directory first on
``sys.path``; the two builds alternate, repeat after repeat, so drift on a
shared machine hits both alike. Printed: each task's median for A and B,
and the ratio B/A of the medians (below 1: B is faster or smaller).
Only the public API is used, so any two versions can be compared.

    w1      ns per operation building graphs (`a * b + c`, relu...), GC on
    w2      ns per node of backward on a ~1M-node graph (one C call)
    w2walk  the same graph under one op written in Python (B only if A lacks it)
    w3drop  ms per moons step, micrograd's demo code (MLP, loss in Python)
    w3fused ms per moons step through the fused kernels, losses and SGD
    w5      bytes per Value made by operations (tracemalloc + the arena)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TASKS = ["w1", "w2", "w2walk", "w3drop", "w3fused", "w5"]


def mesh(Value, leaves, ops):
    """ops nodes over leaves, mixing +, *, relu and constants; the last few summed."""
    pool = list(leaves)
    for k in range(ops):
        a, b = pool[(k * 7919) % len(pool)], pool[(k * 104729 + 13) % len(pool)]
        pool.append((a * b).relu() if k % 3 == 0 else a + b * 0.5 if k % 3 == 1 else a * b)
        if len(pool) > 400:
            del pool[100:200]  # keep the operands recent, as a forward pass does
    return sum(pool[-50:], leaves[0] * 0)


def task(name):
    """Run one measurement in this process; its number."""
    import random

    import micrograd_c
    from micrograd_c import Value
    random.seed(0)
    leaves = [Value(random.uniform(-1, 1)) for _ in range(100)]
    if name == "w1":
        mesh(Value, leaves, 20_000)  # warm up
        best = []
        for _ in range(5):
            t = time.perf_counter()
            root = mesh(Value, leaves, 100_000)
            best.append((time.perf_counter() - t) / 100_000 * 1e9)
            del root
        return statistics.median(best)
    if name in ("w2", "w2walk"):
        base = micrograd_c.stats().live
        root = sum((mesh(Value, leaves, 100_000) for _ in range(4)), Value(0.0))
        if name == "w2walk":
            hand = Value(1.0, (root,), "hand")
            hand._backward = lambda: None
            root = hand * 1.0
        nodes = micrograd_c.stats().live - base
        root.backward()
        times = []
        for _ in range(5):
            t = time.perf_counter()
            root.backward()
            times.append(time.perf_counter() - t)
        return statistics.median(times) / nodes * 1e9
    if name in ("w3drop", "w3fused"):
        from micrograd_c import demo, optim
        from micrograd_c.nn import MLP
        X, y = demo.make_moons()
        model = MLP(2, [16, 16, 1])
        sgd = optim.SGD(model.parameters(), lr=0.5)
        times = []
        for k in range(12):
            t = time.perf_counter()
            if name == "w3drop":
                loss, _ = demo.micrograd_loss(model, X, y)
                model.zero_grad()
                loss.backward()
                for p in model.parameters():
                    p.data -= 0.5 * p.grad
            else:
                loss, _ = demo.fused_loss(model, X, y)
                model.zero_grad()
                loss.backward()
                sgd.step()
            del loss
            times.append(time.perf_counter() - t)
        return statistics.median(times[2:]) * 1e3
    if name == "w5":
        import gc
        import tracemalloc
        gc.collect()
        c0, n0 = micrograd_c.stats().bytes, micrograd_c.stats().live
        tracemalloc.start()
        kept = []
        for _ in range(20):
            pool = list(leaves)
            for k in range(10_000):
                pool.append(pool[-1] * pool[k % 100] + 0.5 if k % 2 else pool[-1].relu())
            kept.append(pool)
        py = tracemalloc.get_traced_memory()[0]
        values = sum(len(p) - len(leaves) for p in kept)
        c = micrograd_c.stats().bytes - c0
        nodes = micrograd_c.stats().live - n0
        return (py + c) / values if nodes else float("nan")
    raise SystemExit(f"unknown task {name}")


def measure(directory, name):
    """One measurement of task name with the package in directory, in a fresh process."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(directory))
    out = subprocess.run([sys.executable, __file__, "--task", name], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode:
        return None  # (A may lack what the task needs)
    return json.loads(out.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", nargs="?")
    parser.add_argument("b", nargs="?")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        print(json.dumps(task(args.task)))
        return
    if not (args.a and args.b) or args.repeats < 1:
        parser.error("give the two package directories A and B, and --repeats >= 1")
    print(f"A = {args.a}, B = {args.b}; medians of {args.repeats} alternated runs, "
          f"each in its own process")
    print("| task | A | B | B/A |\n|---|---|---|---|")
    for name in args.tasks:
        runs = {"A": [], "B": []}
        for _ in range(args.repeats):
            for label, directory in (("A", args.a), ("B", args.b)):
                value = measure(directory, name)
                if value is not None:
                    runs[label].append(value)
        med = {k: statistics.median(v) if v else None for k, v in runs.items()}
        ratio = f"{med['B'] / med['A']:.3f}" if med["A"] and med["B"] else "-"
        fmt = {k: "n/a" if v is None else f"{v:.4g}" for k, v in med.items()}
        print(f"| {name} | {fmt['A']} | {fmt['B']} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
