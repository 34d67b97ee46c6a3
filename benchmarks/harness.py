"""What every workload shares: sizes, the progress line, and one process per contender.

Each contender of a workload runs in a Python process of its own, started by ``race``: this
file, run as a program, is that process (``serve``). It sets the workload up once, says it is
ready, then times one repeat each time it is asked, so repeats alternate between contenders
while no contender shares an interpreter (its imports, its heap, its GC's generations) with
another. The C floors are compiled once, by the run, and run by their contender's process.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MG_ON, MG_OFF = "micrograd, GC on", "micrograd, GC off"
TORCH = "PyTorch 0-d float64 tensors"
FLOOR = "C floor: plain C in benchmarks/ (W2 floor_tape.c, W3 floor.c, W6 floor_west.c)"
C_ON, C_OFF = "micrograd_c", "micrograd_c, GC off"
BASELINES = {
    MG_ON: "micrograd GC on",
    MG_OFF: "micrograd GC off",
    TORCH: "PyTorch",
    FLOOR: "C floor",
}  # the ratio columns, by contender label
FLAGS = ["-O3", "-ffp-contract=off", "-std=c11"]  # the floors' compiler flags

Sample = Callable[[], dict[str, Any]]  # one timed repeat in a contender's process: its numbers


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
    w6_ops: int  # ops in W6's graph (the post's is 10,000)
    w6_share: float  # of each W6 contender's full iterations per repeat (at least one)


FULL = Sizes("full", 5, 100_000, 1_000_000, 1.0, 10_000_000, 500_000, 10_000, 1.0)
QUICK = Sizes("quick", 3, 10_000, 200_000, 0.2, 1_000_000, 120_000, 2_000, 0.2)
SMOKE = Sizes("smoke", 1, 2_000, 20_000, 0.0, 10_000, 5_000, 200, 0.0)


@dataclass(frozen=True)
class Run:
    """What every workload of a run is given: sizes, repeats, a scratch directory, the floors."""

    sizes: Sizes
    repeats: int
    build: str  # a directory that lives as long as the run
    floors: dict[str, str]  # the compiled C floor programs, by name: floor, floor_tape


_START = time.time()


def log(message: str) -> None:
    """A progress line on stderr: rewritten in place on a terminal, a line per event if not."""
    line = f"[bench {time.time() - _START:6.1f}s] {message}"
    if sys.stderr.isatty():
        width = shutil.get_terminal_size().columns - 1
        print(f"\r\x1b[K{line[:width]}", end="", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)


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


# ---------------------------------------------------------------- one process per contender


class Contender:
    """A contender's own process, started on a workload: its readiness report, then samples.

    site, a directory holding a micrograd_c package, is put first on its sys.path; prefix
    runs it under another program (valgrind), and then its stderr is kept for close().
    """

    def __init__(
        self,
        module: str,
        workload: str,
        label: str,
        params: dict[str, Any],
        site: str | None = None,
        prefix: tuple[str, ...] = (),
    ):
        self.label = label
        env = dict(os.environ)
        if site is not None:
            env["PYTHONPATH"] = os.path.abspath(site)
        if prefix:  # (counted under callgrind: the same string hashes, the same count each run)
            env["PYTHONHASHSEED"] = "0"
        self.process = subprocess.Popen(
            [*prefix, sys.executable, __file__, module, workload, label, json.dumps(params)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if prefix else None,
            text=True,
            env=env,
        )
        self.pid = self.process.pid

    def receive(self) -> dict[str, Any]:
        """The next JSON line the process prints; a RuntimeError if it died instead."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.label}'s process failed (exit {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def sample(self) -> dict[str, Any]:
        """Ask the process for one timed repeat; its numbers."""
        assert self.process.stdin is not None
        self.process.stdin.write("sample\n")
        self.process.stdin.flush()
        return self.receive()

    def close(self) -> str:
        """End the process (its stdin closes) and wait for it; its stderr, if kept."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        kept = self.process.stderr.read() if self.process.stderr else ""
        self.process.wait()
        return kept


def alternate(contenders: dict[str, Contender], repeats: int, what: str) -> dict[str, Any]:
    """Repeats alternating between contenders' processes, already started; then they end.

    Returns, by name: the process's pid, what it reported once ready (``setup``) and its
    samples, one per repeat.
    """
    try:
        results = {
            name: {"pid": c.pid, "setup": c.receive(), "samples": []}
            for name, c in contenders.items()
        }
        for r in range(repeats):
            for name, c in contenders.items():
                log(f"{what}: {name}, repeat {r + 1}/{repeats}")
                results[name]["samples"].append(c.sample())
    finally:
        for c in contenders.values():
            c.close()
    return results


def race(
    module: str, workload: str, labels: list[str], params: dict[str, Any], repeats: int
) -> dict[str, Any]:
    """Each contender of a workload in its own process, repeats alternating between them."""
    log(f"{workload}: starting {len(labels)} processes, one per contender")
    started = {label: Contender(module, workload, label, params) for label in labels}
    return alternate(started, repeats, workload)


def serve(module: str, workload: str, label: str, params: str) -> None:
    """In a contender's process: set the workload up, then time a repeat per line on stdin."""
    prepare = import_module(module).PREPARE[workload]
    setup, sample = prepare(label, **json.loads(params))
    print(json.dumps({"pid": os.getpid(), **setup}), flush=True)
    for _ in sys.stdin:
        print(json.dumps(sample()), flush=True)


# ---------------------------------------------------------------- the C floors


def compile_floor(name: str, directory: str, notes: list[str]) -> str | None:
    """benchmarks/name.c compiled into directory: the program's path, or None and a note why not."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        notes.append(f"{name}.c skipped: no C compiler (cc or gcc) on the PATH.")
        return None
    program = str(Path(directory) / name)
    built = subprocess.run(
        [compiler, *FLAGS, str(HERE / f"{name}.c"), "-o", program, "-lm"],
        check=False,
        capture_output=True,
        text=True,
    )
    if built.returncode:
        notes.append(f"{name}.c skipped: it did not compile: {built.stderr.strip()}")
        return None
    return program


def run_floor(program: str, data: str | bytes, *args: str) -> dict[str, Any]:
    """A fresh run of a floor program with these arguments on data (its stdin): its JSON."""
    done = subprocess.run(
        [program, *args],
        check=False,
        capture_output=True,
        input=data.encode() if isinstance(data, str) else data,
    )
    if done.returncode:
        raise RuntimeError(f"the C floor failed: {done.stderr.decode(errors='replace').strip()}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


if __name__ == "__main__":
    serve(*sys.argv[1:])
