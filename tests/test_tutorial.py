"""The tutorials cannot rot: every ```python block runs, in order, in one namespace, and every
```mermaid or ```text block (an output shown to the reader) is printed by them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def blocks(path: Path, lang: str) -> list[tuple[int, str]]:
    """(first line number, text) of each fenced block of language lang in path."""
    text = path.read_text(encoding="utf-8")
    fence = re.compile(rf"^```{lang}\n(.*?)^```", re.DOTALL | re.MULTILINE)
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in fence.finditer(text)]


@pytest.mark.parametrize("name", [p.name for p in sorted(DOCS.glob("tutorial*.md"))])
def test_tutorial_runs(name, tmp_path, monkeypatch, capsys):
    pytest.importorskip("graphviz")  # the tutorial draws with draw_dot (the viz extra)
    pytest.importorskip("numpy")
    monkeypatch.chdir(tmp_path)
    path = DOCS / name
    found = blocks(path, "python")
    assert found, f"no python blocks in {name}"
    namespace: dict = {"__name__": "tutorial"}
    for line, code in found:
        # padding with newlines makes tracebacks point at the tutorial's own line numbers
        exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)
    printed = capsys.readouterr().out
    for line, shown in blocks(path, "mermaid") + blocks(path, "text"):
        assert shown in printed, f"{name}:{line}: this output is not what the code prints"
