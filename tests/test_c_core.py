"""Build and run the C unit tests in tests/c, with AddressSanitizer and UBSan when available."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SANITIZE = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
]


def build(out: Path, extra: list) -> bool:
    """Compile tests/c/test_core.c with the C core; whether it worked."""
    cmd = [
        shutil.which("gcc") or shutil.which("cc"),
        "-O1",
        "-g",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        *extra,
        f"-I{ROOT / 'csrc'}",
        str(ROOT / "tests/c/test_core.c"),
        *map(str, sorted((ROOT / "csrc").glob("*.c"))),
        "-o",
        str(out),
        "-pthread",
        "-lm",
    ]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def test_c_core_under_sanitizers(tmp_path):
    if not (ROOT / "csrc").is_dir() or not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("needs the source checkout and a C compiler")
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
