"""The tutorials cannot rot: every ```python block runs, in order, in one namespace, and every
```mermaid or ```text block (an output shown to the reader) is printed by them."""

from __future__ import annotations

import pytest
from helpers import ROOT, blocks, run_blocks

DOCS = ROOT / "docs"


@pytest.mark.parametrize("name", [p.name for p in sorted(DOCS.glob("tutorial*.md"))])
def test_tutorial_runs(name, tmp_path, monkeypatch, capsys):
    pytest.importorskip("graphviz")  # the tutorial draws with draw_dot (the viz extra)
    pytest.importorskip("numpy")
    monkeypatch.chdir(tmp_path)
    path = DOCS / name
    assert blocks(path, "python"), f"no python blocks in {name}"
    run_blocks(path, "tutorial")
    printed = capsys.readouterr().out
    for line, shown in blocks(path, "mermaid") + blocks(path, "text"):
        assert shown in printed, f"{name}:{line}: this output is not what the code prints"
