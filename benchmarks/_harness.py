"""What the benchmark programs share: running a task in a fresh interpreter."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any, Callable, Optional


def in_fresh_process(script: str, task: str, **kwargs: Any) -> dict:
    """Task `task` of benchmark `script`, run with kwargs in a new interpreter; its JSON result."""
    done = subprocess.run([sys.executable, script, "--child", task, json.dumps(kwargs)],
                          stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout)


def run_child(tasks: dict[str, Callable[..., dict]], child: Optional[list[str]]) -> bool:
    """If this process is a child (--child TASK KWARGS), run the task, print its JSON: True."""
    if not child:
        return False
    print(json.dumps(tasks[child[0]](**json.loads(child[1]))))
    return True


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table's lines."""
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in rows)]


def target_lines(targets: list[tuple[str, Optional[bool], str]]) -> list[str]:
    """The targets section: PASS, FAIL or (None) SKIP, with what was measured."""
    return ["", "Targets:", "", *(f"- {'SKIP' if ok is None else 'PASS' if ok else 'FAIL'}  "
                                  f"{name}: {detail}" for name, ok, detail in targets)]


def arguments(doc: str, quick_help: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: --repeats, --quick, --json (and the hidden --child)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    return parser
