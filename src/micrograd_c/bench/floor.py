"""The C floors: plain C programs doing a workload's work with no Python, compiled and run.

``benchmarks/floor.c`` is the W3 step: it reads the data and the initial
parameters on stdin and prints one JSON line: its node count, the mean
seconds per step and the loss at every step. ``benchmarks/floor_tape.c`` is
W2's: a backward sweep over a graph given on stdin (see its header). Their
sources are in the source checkout, not in the wheel: from an installed
package, pass ``--floor FILE.c`` (W3's; W2's is then looked for beside it);
without a compiler the floors are skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .harness import Report, log

SOURCE = Path(__file__).resolve().parents[3] / "benchmarks" / "floor.c"  # in a source checkout
TAPE = "floor_tape.c"  # W2's floor, beside floor.c
FLAGS = ["-O3", "-ffp-contract=off", "-std=c11"]


class Unavailable(Exception):
    """Why the floor cannot run here."""


def find_compiler() -> str | None:
    """The C compiler on the PATH (cc, else gcc), or None."""
    return shutil.which("cc") or shutil.which("gcc")


class Floor:
    """The floor program, compiled into a temporary directory that lives as long as this."""

    def __init__(self, source: Path = SOURCE):
        if not source.is_file():
            raise Unavailable(
                f"{source} not found (the floors are in the source checkout, not "
                f"in the installed package; --floor FILE.c names floor.c)"
            )
        compiler = find_compiler()
        if compiler is None:
            raise Unavailable("no C compiler (cc or gcc) on the PATH")
        self._dir = tempfile.TemporaryDirectory(prefix="micrograd_c-floor-")
        self.program = str(Path(self._dir.name) / "floor")
        built = subprocess.run(
            [compiler, *FLAGS, str(source), "-o", self.program, "-lm"],
            check=False,
            capture_output=True,
            text=True,
        )
        if built.returncode:
            raise Unavailable(f"{source} did not compile: {built.stderr.strip()}")

    def run(self, data: str | bytes, *args: str) -> dict[str, Any]:
        """A fresh run with these arguments on data (its stdin): the JSON it prints."""
        done = subprocess.run(
            [self.program, *args],
            check=False,
            capture_output=True,
            input=data.encode() if isinstance(data, str) else data,
        )
        if done.returncode:
            why = done.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"the C floor failed: {why}")
        return json.loads(done.stdout)


def compiled(report: Report, source: Path, what: str) -> Floor | None:
    """The floor program built from source, or None and a note saying why what is skipped."""
    try:
        return Floor(source)
    except Unavailable as why:
        log(f"{what} skipped: {why}")
        report.notes.append(f"{what} skipped: {why}.")
        return None
