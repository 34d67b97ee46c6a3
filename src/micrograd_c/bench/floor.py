"""The C floor: benchmarks/floor.c, the W3 step hand-written in C, compiled and run.

The program reads the data and the initial parameters on stdin and prints one
JSON line: its node count, the mean seconds per step and the loss at every
step. Its source is in the source checkout, not in the wheel: from an
installed package, pass ``--floor FILE.c``; without a compiler the floor is
skipped.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Optional

SOURCE = Path(__file__).resolve().parents[3] / "benchmarks" / "floor.c"  # in a source checkout
FLAGS = ["-O3", "-ffp-contract=off", "-std=c11"]


class Unavailable(Exception):
    """Why the floor cannot run here."""


def find_compiler() -> Optional[str]:
    """The C compiler on the PATH (cc, else gcc), or None."""
    return shutil.which("cc") or shutil.which("gcc")


class Floor:
    """The floor program, compiled into a temporary directory that lives as long as this."""

    def __init__(self, source: Path = SOURCE):
        if not source.is_file():
            raise Unavailable(f"{source} not found (floor.c is in the source checkout, not in "
                              f"the installed package; --floor FILE.c names it)")
        compiler = find_compiler()
        if compiler is None:
            raise Unavailable("no C compiler (cc or gcc) on the PATH")
        self._dir = tempfile.TemporaryDirectory(prefix="micrograd_c-floor-")
        self.program = str(Path(self._dir.name) / "floor")
        built = subprocess.run([compiler, *FLAGS, str(source), "-o", self.program, "-lm"],
                               capture_output=True, text=True)
        if built.returncode:
            raise Unavailable(f"{source} did not compile: {built.stderr.strip()}")

    def run(self, steps: int, data: str) -> dict[str, Any]:
        """A fresh run of steps steps on data (its stdin): the JSON it prints."""
        done = subprocess.run([self.program, str(steps)], input=data, capture_output=True,
                              text=True)
        if done.returncode:
            raise RuntimeError(f"the C floor failed: {done.stderr.strip()}")
        return json.loads(done.stdout)
