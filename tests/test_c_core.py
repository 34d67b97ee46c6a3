"""Build and run the C unit tests in tests/c, with AddressSanitizer and UBSan when available."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SANITIZE = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
]


def compiler() -> str:
    """The C compiler, or a skip without one or without the source checkout."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if not (ROOT / "csrc").is_dir() or not cc:
        pytest.skip("needs the source checkout and a C compiler")
    return cc


def build(out: Path, extra: list) -> bool:
    """Compile tests/c/*.c with the C core, its invariants checked; whether it worked."""
    cmd = [
        shutil.which("gcc") or shutil.which("cc"),
        "-O1",
        "-g",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-DMG_DEBUG",
        *extra,
        f"-I{ROOT / 'csrc'}",
        *map(str, sorted((ROOT / "tests/c").glob("*.c"))),
        *map(str, sorted((ROOT / "csrc").glob("mg_*.c"))),  # (py_value.c is Python's)
        "-o",
        str(out),
        "-pthread",
        "-lm",
    ]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def test_c_core_under_sanitizers(tmp_path):
    compiler()
    exe = tmp_path / "test_core"
    if not build(exe, SANITIZE):  # only where the compiler has no sanitizer runtime
        runtime = (
            subprocess.run(
                ["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True
            ).stdout.strip()
            if shutil.which("gcc")
            else ""
        )
        assert not Path(runtime).is_absolute() or not Path(runtime).exists(), (
            "the sanitizer build failed although libasan is installed"
        )
        assert build(exe, []), "tests/c/test_core.c does not compile"
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "all checks passed" in result.stdout


@pytest.mark.parametrize("debug", [True, False])
def test_mg_assert_checks_only_in_a_debug_build(tmp_path, debug):
    source = tmp_path / "broken.c"
    source.write_text('#include "mg_internal.h"\nint main(void) { mg_assert(1 + 1 == 3); }\n')
    exe = tmp_path / "broken"
    define = ["-DMG_DEBUG"] if debug else []
    cmd = [compiler(), "-std=c11", *define, f"-I{ROOT / 'csrc'}", str(source), "-o", str(exe)]
    subprocess.run(cmd, check=True)
    result = subprocess.run([str(exe)], capture_output=True, text=True)
    assert (result.returncode != 0) == debug
    assert ("invariant broken: 1 + 1 == 3" in result.stderr) == debug


@pytest.mark.parametrize(("env", "defined"), [("1", True), ("0", False), (None, False)])
def test_micrograd_c_debug_defines_mg_debug_and_changes_the_generated_source(env, defined):
    script = (
        "import runpy; b = runpy.run_path('build_ext.py'); "
        "print(b['flags']); print(b['ffibuilder']._assigned_source[1])"
    )
    environ = {k: v for k, v in os.environ.items() if k != "MICROGRAD_C_DEBUG"}
    if env is not None:
        environ["MICROGRAD_C_DEBUG"] = env
    compiler()
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    flags, source = result.stdout.split("\n", 1)
    assert ("'-DMG_DEBUG'" in flags) == defined
    # (so a build with other flags is not taken for the one setuptools left in build/)
    assert ("-DMG_DEBUG" in source) == defined
