"""W0, start-up: the import, and the first Value after it, each in a fresh Python process.

Nothing of W1-W6 sees this cost, as each contender's process is set up before it is
timed. A user's first script does: the import, then its first ``Value``, which for
micrograd_c is the first call into C (the arena's first chunk, the views of it). A
repeat is one fresh process per contender, alternated; a sample is that process's own
``perf_counter`` readings around the import and around ``Value(1.0)``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from engine import figure
from harness import MG_ON, Run, log
from report import Report

C_START = "micrograd_c"
IMPORTS = {MG_ON: "micrograd.engine", C_START: "micrograd_c"}  # what each contender imports
PROGRAM = """
import json, os, time
t0 = time.perf_counter()
from {module} import Value
t1 = time.perf_counter()
v = Value(1.0)
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first": t2 - t1, "pid": os.getpid()}}))
"""


def fresh(module: str) -> dict[str, Any]:
    """One fresh process's import and first-Value seconds."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    )
    sample: dict[str, Any] = json.loads(done.stdout)
    return sample


def w0(report: Report, run: Run) -> None:
    """W0: the import and the first Value, in fresh processes, alternated."""
    log("W0: start-up, a fresh process per sample")
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label in IMPORTS}
    for _ in range(max(run.repeats, 5)):
        for label, module in IMPORTS.items():
            samples[label].append(fresh(module))
    results = {label: {"samples": s, "pid": s[0]["pid"]} for label, s in samples.items()}
    ms = dict.fromkeys(IMPORTS, 1e3)
    report.figures += [
        figure("w0_import", "W0 import, fresh process", "ms", results, ms, "import"),
        figure("w0_first", "W0 first Value(1.0) after the import", "ms", results, ms, "first"),
    ]
    report.notes.append(
        f"W0: each sample a fresh `{sys.executable.rsplit('/', 1)[-1]} -c` process per "
        f"contender, alternated, {max(run.repeats, 5)} each; the import is "
        f"`from micrograd.engine import Value` or `from micrograd_c import Value`. Each "
        f"sample ran in a process of its own (the pid shown is the first's)."
    )
    report.raw["w0"] = results
