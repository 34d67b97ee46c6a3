"""``python -m micrograd_c compare SCRIPT.py [ARGS...]``: one micrograd program, both engines.

``run()`` runs an unmodified micrograd program twice, each time in a fresh
process, on the same standard input: once on micrograd, once on micrograd_c
(installed as ``micrograd`` first). Each child times the script alone and
reports its peak resident memory; when both runs succeed, a second pair of
runs, under cProfile, gives the top functions by time. A run can be given a
time limit. Last comes the verdict on what the two runs printed on standard
output (up to the failure, if one failed): line by line, numbers within a
relative (and a small absolute) tolerance, the text between them exactly,
lines that match a pattern to ignore left out.

Exit status: 0 both runs succeeded and their outputs agree, 1 the outputs
differ, 2 a usage error (no such script, micrograd missing), 3 the script
failed (an exception, a nonzero exit, a crash, or the time limit) in one run
or both.

Each child is _compare_child.py run by path, not as part of the package, so
that the micrograd run never imports micrograd_c.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import pstats
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any, TextIO

ENGINES = ("micrograd", "micrograd_c")
CHILD = Path(__file__).with_name("_compare_child.py")  # what runs the script, in the child
AGREE, DIFFER, USAGE, FAILED = 0, 1, 2, 3
TICK = 0.25  # seconds between looks at a running child: its progress, its timeout
GRACE = 2.0  # seconds a child has to end on SIGTERM, when it runs out of time, before SIGKILL
PERIOD = 10.0  # seconds between progress lines when stderr is not a terminal
NUMBER = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|nan)(?!\w))")


@dataclass
class Run:
    """One run of the script in a child process: how it ended, what it printed, what it cost."""

    engine: str
    status: int
    stdout: str
    stderr: str
    seconds: float = math.nan
    peak_bytes: int = 0
    stopped_after: float | None = None  # the timeout it ran out of, when it was stopped

    @property
    def failed(self) -> bool:
        """Whether the script raised, exited nonzero, died before reporting or ran out of time."""
        return self.status != 0 or math.isnan(self.seconds) or self.stopped_after is not None

    def ending(self) -> str:
        """How the run ended, and after how long, in words."""
        if self.stopped_after is not None:
            return f"timed out: stopped after {seconds(self.stopped_after)} (--timeout)"
        if self.status < 0:
            number = -self.status
            try:
                return f"killed by {signal.Signals(number).name}"
            except ValueError:  # a real-time signal has no name
                return f"killed by signal {number}"
        took = "" if math.isnan(self.seconds) else f" in {seconds(self.seconds)}"
        if self.status:
            return f"exit status {self.status}{took}"
        return f"ran{took}" if took else "ended without reporting its time"


@dataclass
class Verdict:
    """How the two runs' outputs compare, line by line, on the lines that --ignore leaves."""

    agree: int  # lines that agree, counted from the first
    # the first line that differs, as (its number, its text) in each output; None past the end
    difference: tuple[tuple[int, str] | None, tuple[int, str] | None] | None = None
    ignored: tuple[int, int] = (0, 0)  # lines of each output left out


def run(
    script: str,
    args: Sequence[str] = (),
    rtol: float = 1e-9,
    atol: float = 1e-12,
    top: int = 10,
    timeout: float | None = None,
    ignore: Sequence[str | re.Pattern[str]] = (),
) -> int:
    """Run script with args on micrograd and on micrograd_c, print the report; the exit status.

    Each run, the profiled ones too, is stopped after timeout seconds, if given.
    Lines in which any of the regular expressions ignore matches are left out
    of both outputs before they are compared.
    """
    patterns = [re.compile(pattern) for pattern in ignore]
    if importlib.util.find_spec("micrograd") is None:
        print("compare needs micrograd: pip install micrograd==0.1.0", file=sys.stderr)
        return USAGE
    if not os.path.isfile(script):
        print(f"compare: no such file: {script}", file=sys.stderr)
        return USAGE
    print(
        f"running `{shlex.join([script, *args])}` on micrograd, then on micrograd_c, "
        f"each in a fresh process",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as workdir:
        stdin = save_input(workdir)
        runs = [spawn(engine, script, args, workdir, stdin, timeout) for engine in ENGINES]
        failed = any(r.failed for r in runs)
        if failed:
            print_failures(runs)
        else:
            print_costs(runs)
            if top > 0:
                for engine in ENGINES:
                    stats = os.path.join(workdir, engine + ".prof")
                    profiled = spawn(engine, script, args, workdir, stdin, timeout, profile=stats)
                    print_profile(profiled, stats, top)
    verdict = compare_outputs(runs[0].stdout, runs[1].stdout, rtol, atol, patterns)
    rules = f"numbers within rtol {rtol:g} or atol {atol:g}, text exactly"
    if patterns:
        rules += f"; lines left out by --ignore: {per_run(verdict.ignored)}"
    print_verdict(verdict, rules, failed)
    if failed:
        return FAILED
    return AGREE if verdict.difference is None else DIFFER


def save_input(workdir: str) -> str | None:
    """Read all of standard input into a file in workdir, its path; None for a terminal or none."""
    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return None
    try:
        data = stdin.buffer.read()
    except OSError:  # a stand-in that cannot be read, as pytest's while it captures output
        return None
    path = os.path.join(workdir, "stdin")
    Path(path).write_bytes(data)
    return path


def spawn(
    engine: str,
    script: str,
    args: Sequence[str],
    workdir: str,
    stdin: str | None,
    timeout: float | None,
    profile: str = "",
) -> Run:
    """Run script on engine in a child process reading the file stdin (None: no input), stopped
    after timeout seconds (None: no limit), under cProfile to the file profile if profile."""
    report = Path(workdir, engine + ".json")
    report.unlink(missing_ok=True)
    command = [sys.executable, str(CHILD), engine, str(report), profile, script, *args]
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(open(stdin, "rb")) if stdin else subprocess.DEVNULL
        child = stack.enter_context(
            subprocess.Popen(
                command,
                stdin=source,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
        )
        progress = Progress(f"running on {engine}" + (" under cProfile" if profile else ""))
        stack.callback(progress.close)
        stdout, stderr, stopped = wait(child, timeout, progress)
    run = Run(engine, child.returncode, stdout, stderr, stopped_after=timeout if stopped else None)
    if report.exists():
        run.seconds, run.peak_bytes = json.loads(report.read_text())
    return run


def wait(
    child: subprocess.Popen[str], timeout: float | None, progress: Progress
) -> tuple[str, str, bool]:
    """What child printed on stdout and on stderr, once it ended; whether it ran out of time."""
    start = time.monotonic()
    while True:
        left = math.inf if timeout is None else timeout - (time.monotonic() - start)
        if left <= 0:
            return *stop(child), True
        try:
            return *child.communicate(timeout=min(TICK, left)), False
        except subprocess.TimeoutExpired:
            progress.update(time.monotonic() - start)


def stop(child: subprocess.Popen[str]) -> tuple[str, str]:
    """End child with SIGTERM, or SIGKILL if it is still there GRACE seconds later; its output.

    The child takes SIGTERM as Ctrl-C (see child()): the script ends with a
    traceback of where it was, and what it printed is flushed.
    """
    child.terminate()
    try:
        return child.communicate(timeout=GRACE)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.communicate()


class Progress:
    """Which run is going, and for how long, on stderr: never in the report on stdout.

    On a terminal, a line that updates (a tqdm bar, if tqdm is installed) and
    is wiped when the run ends; elsewhere, as in a log, a line every PERIOD
    seconds.
    """

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = f"compare: {label}"
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.bar: Any = None  # a tqdm bar showing the label and the time, if tqdm is installed
        if self.terminal:
            with contextlib.suppress(ImportError):
                from tqdm import tqdm

                self.bar = tqdm(
                    desc=self.label, file=self.stream, bar_format="{desc}, {elapsed}", leave=False
                )
        self.line = ""  # the line shown on a terminal without tqdm
        self.shown = 0.0  # the elapsed time in the last line elsewhere

    def update(self, elapsed: float) -> None:
        """Show that the run has gone on for elapsed seconds."""
        if self.bar is not None:
            self.bar.refresh()
        elif self.terminal:
            self.line = f"{self.label}, {elapsed:.1f} s"
            self.stream.write("\r" + self.line)
            self.stream.flush()
        elif elapsed >= self.shown + PERIOD:
            self.shown = elapsed
            print(f"{self.label}, {elapsed:.0f} s so far", file=self.stream, flush=True)

    def close(self) -> None:
        """Wipe the line shown on a terminal."""
        if self.bar is not None:
            self.bar.close()
        elif self.line:
            self.stream.write("\r" + " " * len(self.line) + "\r")
            self.stream.flush()


def compare_outputs(
    theirs: str, ours: str, rtol: float, atol: float, ignore: Sequence[re.Pattern[str]] = ()
) -> Verdict:
    """Compare two outputs line by line, without the lines in which any of ignore matches."""
    lines = [text.splitlines() for text in (theirs, ours)]
    kept = [
        [
            (number, line)
            for number, line in enumerate(output, 1)
            if not any(pattern.search(line) for pattern in ignore)
        ]
        for output in lines
    ]
    ignored = (len(lines[0]) - len(kept[0]), len(lines[1]) - len(kept[1]))
    for agree, (a, b) in enumerate(zip_longest(*kept)):
        if a is None or b is None or not lines_agree(a[1], b[1], rtol, atol):
            return Verdict(agree, (a, b), ignored)
    return Verdict(len(kept[0]), None, ignored)


def lines_agree(a: str, b: str, rtol: float, atol: float) -> bool:
    """Same text between the numbers, and numbers equal within tolerance (nan matching nan)."""
    parts_a, parts_b = NUMBER.split(a), NUMBER.split(b)
    if len(parts_a) != len(parts_b):
        return False
    return all(
        x == y if k % 2 == 0 else close(float(x), float(y), rtol, atol)
        for k, (x, y) in enumerate(zip(parts_a, parts_b))
    )


def close(x: float, y: float, rtol: float, atol: float) -> bool:
    """|x - y| <= max(rtol * max(|x|, |y|), atol), as math.isclose, with nan equal to nan."""
    return math.isclose(x, y, rel_tol=rtol, abs_tol=atol) or (math.isnan(x) and math.isnan(y))


def print_failures(runs: list[Run]) -> None:
    """Say which runs failed, and how, with what they wrote on stderr (the traceback)."""
    failed = [r for r in runs if r.failed]
    what = "timed out" if all(r.stopped_after is not None for r in failed) else "failed"
    where = "both engines" if len(failed) == 2 else f"{failed[0].engine} only"
    print(f"\nthe script {what} on {where}")
    for r in runs:
        print(f"\non {r.engine}: {r.ending()}")
        if r.failed:
            print(
                textwrap.indent(r.stderr.rstrip() or "(nothing on stderr)", "    ", lambda _: True)
            )


def print_verdict(verdict: Verdict, rules: str, failed: bool) -> None:
    """Whether the outputs agree (up to the failure, if a run failed), else where they differ."""
    head = "output before the failure" if failed else "output"
    if verdict.difference is None:
        print(f"\n{head}: agrees ({count(verdict.agree, 'line')}; {rules})")
        return
    agreed = (
        f"agrees on the first {count(verdict.agree, 'line')}, then "
        if failed and verdict.agree
        else ""
    )
    numbers = [side[0] for side in verdict.difference if side is not None]
    print(f"\n{head}: {agreed}differs at line {per_run(numbers)} ({rules})")
    for engine, side in zip(ENGINES, verdict.difference):
        print(f"  {engine + ':':13} {'(no such line)' if side is None else repr(side[1])}")


def print_costs(runs: list[Run]) -> None:
    """Wall time and peak memory of each run, and the speedup."""
    print(f"\n{'':13}{ENGINES[0]:>12}{ENGINES[1]:>14}")
    print(
        f"{'wall time':13}{seconds(runs[0].seconds):>12}{seconds(runs[1].seconds):>14}"
        "   the script alone, without the profiler"
    )
    print(
        f"{'peak memory':13}{mebibytes(runs[0].peak_bytes):>12}"
        f"{mebibytes(runs[1].peak_bytes):>14}   the process's maximum resident set size"
    )
    print(
        f"speedup: {runs[0].seconds / runs[1].seconds:.1f}x (micrograd's wall time over "
        f"micrograd_c's)"
    )


def print_profile(run: Run, path: str, top: int) -> None:
    """The top functions by own time from a profiled run's saved stats."""
    if not os.path.exists(path):
        print(f"\n{run.engine}: the profiled run ended without saving its profile ({run.ending()})")
        return
    stats = pstats.Stats(path)
    total: float = stats.total_tt  # type: ignore[attr-defined]
    print(
        f"\ntop {top} functions by own time on {run.engine} (cProfile, a separate run: "
        f"{seconds(total)} under the profiler)"
    )
    if run.failed:
        print(f"the profiled run {run.ending()}; this is its profile until then")
    print(f"{'own s':>10}{'cumul. s':>10}{'calls':>10}  function")
    # (total_tt and stats: pstats.Stats's own attributes, which typeshed leaves out)
    table = stats.stats  # type: ignore[attr-defined]
    rows = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for func, (_, calls, own, cumulative, _) in rows:
        print(f"{own:10.4f}{cumulative:10.4f}{calls:10d}  {label(func)}")


def label(func: tuple[str, int, str]) -> str:
    """A profiled function as folder/file.py:line(name), or a built-in's own name."""
    path, line, name = func
    if path == "~":
        return name
    return f"{os.path.join(Path(path).parent.name, Path(path).name)}:{line}({name})"


def seconds(s: float) -> str:
    """A duration in s or ms."""
    return f"{s:.3f} s" if s >= 1 else f"{s * 1e3:.1f} ms"


def count(n: int, noun: str) -> str:
    """n and the noun, plural unless n is 1."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def per_run(numbers: Sequence[int]) -> str:
    """One number if every run's is the same, else each run's: 3 on micrograd, 4 on micrograd_c."""
    if len(set(numbers)) == 1:
        return str(numbers[0])
    return ", ".join(f"{n} on {engine}" for n, engine in zip(numbers, ENGINES))


def mebibytes(n: int) -> str:
    """A size in MiB."""
    return f"{n / 2**20:.1f} MiB"
