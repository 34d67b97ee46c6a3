"""The compiled module: a missing or stale build fails with an ImportError saying how to rebuild."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import micrograd_c

PACKAGE = Path(micrograd_c.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[1]


def import_from(tree: Path) -> subprocess.CompletedProcess:
    """Import micrograd_c from tree/src in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", "import micrograd_c"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree / "src")},
        capture_output=True,
        text=True,
    )


def copy_package(tmp_path: Path, with_binary: bool) -> Path:
    """A source-checkout-like tree holding a copy of the package, compiled or not."""
    ignore = shutil.ignore_patterns("__pycache__", *([] if with_binary else ["_cmg*"]))
    shutil.copytree(PACKAGE, tmp_path / "src" / "micrograd_c", ignore=ignore)
    return tmp_path


def test_missing_compiled_module(tmp_path):
    result = import_from(copy_package(tmp_path, with_binary=False))
    assert "ImportError" in result.stderr and "pip install" in result.stderr


def test_stale_compiled_module(tmp_path):
    if not (ROOT / "csrc").is_dir():
        pytest.skip("needs the source checkout")
    tree = copy_package(tmp_path, with_binary=True)
    shutil.copytree(ROOT / "csrc", tree / "csrc")
    shutil.copy(ROOT / "build_ext.py", tree / "build_ext.py")
    assert import_from(tree).returncode == 0  # sources as built: imports fine
    with open(tree / "csrc" / "mg_ops.c", "a") as f:
        f.write("\n/* edited after the build */\n")
    result = import_from(tree)
    assert "ImportError" in result.stderr and "stale" in result.stderr
    assert "pip install" in result.stderr
