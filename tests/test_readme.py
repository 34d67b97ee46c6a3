"""The README's code runs as written: every ```python block, in order, in one namespace; the
ten-line example prints what its comments say, and the drop-in switch gives micrograd_c."""

import sys

import pytest
from helpers import ROOT, blocks, needs_checkout, run_blocks

README = ROOT / "README.md"


def test_readme_code_blocks_run(tmp_path, monkeypatch, capsys, keep_micrograd):
    needs_checkout(README)
    pytest.importorskip("graphviz")  # the example draws with draw_dot (the viz extra)
    import re

    import micrograd_c

    monkeypatch.chdir(tmp_path)
    found = blocks(README, "python")
    assert len(found) >= 3, "the imports, the ten-line example, the drop-in switch"
    namespace = run_blocks(README, "readme")
    printed = capsys.readouterr().out.splitlines()
    assert "Value(data=7.0, grad=1.0) 3.0 2.0 1.0" in printed and "337" in printed
    example = next(code for _, code in found if "MLP(2, [16, 16, 1])" in code)
    assert len(example.strip().splitlines()) <= 12  # a ten-line example, give or take
    assert namespace["Value"] is micrograd_c.Value and sys.modules["micrograd"] is micrograd_c
    # each commented print shows what it prints
    for comment in re.findall(r"^print\(.*?\)\s+# (.*)$", "".join(c for _, c in found), re.M):
        assert comment in printed, comment


def test_the_micrograd_modules_are_back_after_the_readme(keep_micrograd):
    """install_as_micrograd() in the README test must not leak into the oracle tests."""
    mg = pytest.importorskip("micrograd.engine")
    import micrograd_c

    assert mg.Value is not micrograd_c.Value
