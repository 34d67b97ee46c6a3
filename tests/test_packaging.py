"""Building from source: without a C compiler the build stops at once, saying what to install;
with one, the wheel holds the package and nothing of the benchmarks."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, needs_checkout

SOURCE = [
    "setup.py",
    "build_ext.py",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "NOTICE",
    "MANIFEST.in",
]


def source_tree(tmp_path: Path) -> Path:
    """A copy of the sdist's files, without any compiled module."""
    needs_checkout(ROOT / "setup.py", ROOT / "csrc")
    pytest.importorskip("setuptools", minversion="77")
    pytest.importorskip("cffi")
    tree = tmp_path / "micrograd_c"
    tree.mkdir()
    for name in SOURCE:
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "csrc", tree / "csrc")
    shutil.copytree(
        ROOT / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("__pycache__", "_cmg*", "*.egg-info"),
    )
    return tree


def build_wheel(tree: Path, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """pip wheel of the tree into out, with these environment variables set."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--no-cache-dir", "--wheel-dir", str(out), str(tree)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_without_a_c_compiler_the_build_fails_with_a_short_message_saying_what_to_install(tmp_path):
    tree = source_tree(tmp_path)
    done = build_wheel(tree, tmp_path / "out", CC="/nonexistent/cc")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "no C compiler was found ('/nonexistent/cc' is not on the PATH" in output, output
    assert "apt install gcc" in output and "xcode-select --install" in output
    assert not list((tmp_path / "out").glob("*.whl"))


def test_the_installed_build_is_one_limited_api_wheel_for_cpython_3_10_and_later():
    import sysconfig
    from importlib import metadata

    import micrograd_c._cmg as cmg

    if hasattr(sys, "gettotalrefcount") or sysconfig.get_config_var("Py_GIL_DISABLED"):
        pytest.skip("debug and free-threaded builds have no limited API")
    assert Path(cmg.__file__).name.endswith(".abi3.so")
    tags = metadata.distribution("micrograd_c").read_text("WHEEL")
    assert [
        line.split(": ")[1].split("-")[:2] for line in tags.splitlines() if line.startswith("Tag: ")
    ] == [["cp310", "abi3"]]


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_no_benchmarks(tmp_path):
    import zipfile

    tree = source_tree(tmp_path)
    shutil.copytree(ROOT / "benchmarks", tree / "benchmarks")  # as in the sdist
    done = build_wheel(tree, tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "out").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "micrograd_c/engine.py" in names and "micrograd_c/__main__.py" in names
    assert not [n for n in names if "bench" in n], names
