"""The package's types: the compiled core's stub, a user's script, and what mypy rejects."""

import re
import runpy
import textwrap
from pathlib import Path

import pytest
from helpers import ROOT

PACKAGE = Path(__import__("micrograd_c").__file__).parent
USER_SCRIPT = Path(__file__).parent / "typing" / "user_script.py"


def test_the_core_stub_names_exactly_what_the_compiled_module_has():
    from micrograd_c._cmg import lib

    stub = (PACKAGE / "_cmg.pyi").read_text().split("class _Lib:")[1].split("\nlib: _Lib")[0]
    typed = set(re.findall(r"^    (?:def )?(\w+)", stub, re.M))
    assert typed == {name for name in dir(lib) if not name.startswith("__")}


def test_the_user_script_runs(capsys):
    runpy.run_path(str(USER_SCRIPT), run_name="__main__")
    assert "graph LR" in capsys.readouterr().out


def mypy_strict(*paths: str) -> tuple[str, int]:
    """mypy --strict's report and exit status on paths, with the project's configuration."""
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(
        ["--strict", "--config-file", str(ROOT / "pyproject.toml"), "--no-incremental", *paths]
    )
    return out + err, status


def test_mypy_strict_passes_the_package_and_user_script_and_rejects_misuse(tmp_path):
    script = tmp_path / "misuse.py"
    script.write_text(
        textwrap.dedent("""
        from micrograd_c import Value, losses
        from micrograd_c.nn import Neuron
        a = Value("1")
        b = Value(1.0) + "x"
        c: int = Value(1.0).data
        d: str = Neuron(2)([1.0, 2.0])
        e = losses.mse([Value(1.0)], ["1"])
    """)
    )
    report, status = mypy_strict(str(PACKAGE), str(USER_SCRIPT), str(script))
    assert status == 1
    errors = re.findall(r"^(.*?):(\d+): error", report, re.M)
    assert {(Path(path).name, int(line)) for path, line in errors} == {
        ("misuse.py", line) for line in (4, 5, 6, 7, 8)
    }, report
