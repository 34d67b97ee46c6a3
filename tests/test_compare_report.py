"""compare's parts that need no run on both engines: the verdict on two outputs, the progress
line, and the command line's usage errors."""

import io
import re
import sys

import pytest
from helpers import Terminal, cli, write

from micrograd_c import compare


@pytest.mark.parametrize(
    "theirs, ours",
    [
        ("loss 1.0", "loss 1.0000000000001"),
        ("Value(data=3, grad=0)", "Value(data=3.0, grad=0.0)"),
        ("1e-3 -2 +inf nan", "0.001 -2.0 inf nan"),
        ("grad 0.0", "grad 1e-13"),
        ("a\nb\n", "a\nb"),
    ],
)
def test_outputs_that_agree(theirs, ours):
    assert compare.compare_outputs(theirs, ours, rtol=1e-9, atol=1e-12).difference is None


@pytest.mark.parametrize(
    "theirs, ours, difference",
    [
        ("loss 1.0", "lost 1.0", (1, "loss 1.0", "lost 1.0")),
        ("a\nloss 1.0", "a\nloss 1.00001", (2, "loss 1.0", "loss 1.00001")),
        ("grad 0.0", "grad 1e-9", (1, "grad 0.0", "grad 1e-9")),
        ("x 1 2", "x 1", (1, "x 1 2", "x 1")),
        ("x nan", "x 1.0", (1, "x nan", "x 1.0")),
        ("a\nb", "a", (2, "b", None)),
    ],
)
def test_outputs_that_differ(theirs, ours, difference):
    number, a, b = difference
    verdict = compare.compare_outputs(theirs, ours, rtol=1e-9, atol=1e-12)
    assert verdict.agree == number - 1
    assert verdict.difference == tuple(None if text is None else (number, text) for text in (a, b))


def test_progress_in_a_log_is_a_line_every_period():
    log = io.StringIO()
    progress = compare.Progress("running on micrograd", log)
    for elapsed in (
        0.5,
        compare.PERIOD - 1,
        compare.PERIOD,
        compare.PERIOD + 1,
        2 * compare.PERIOD + 1,
    ):
        progress.update(elapsed)
    progress.close()
    assert log.getvalue() == (
        f"compare: running on micrograd, {compare.PERIOD:.0f} s so far\n"
        f"compare: running on micrograd, "
        f"{2 * compare.PERIOD + 1:.0f} s so far\n"
    )


def test_progress_on_a_terminal_without_tqdm_is_a_line_updated_then_wiped(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    screen = Terminal()
    progress = compare.Progress("running on micrograd_c", screen)
    progress.update(0.5)
    progress.update(12.5)
    progress.close()
    line = "compare: running on micrograd_c, 12.5 s"
    assert screen.getvalue() == (
        "\rcompare: running on micrograd_c, 0.5 s\r" + line + "\r" + " " * len(line) + "\r"
    )


def test_progress_on_a_terminal_is_a_tqdm_bar_when_tqdm_is_installed():
    pytest.importorskip("tqdm")
    screen = Terminal()
    progress = compare.Progress("running on micrograd", screen)
    progress.update(0.5)
    progress.close()
    *shown, wiped = screen.getvalue().split("\r")[1:-1]
    assert shown and all(line.startswith("compare: running on micrograd, 00:") for line in shown)
    assert wiped.strip() == ""


def test_lines_left_out_are_counted_and_a_difference_shows_each_run_s_line_number(capsys):
    ignore = [re.compile("^debug")]
    verdict = compare.compare_outputs("a\nb\nc\nd", "a\ndebug 1\nb\nc\ne", 1e-9, 1e-12, ignore)
    assert verdict == compare.Verdict(3, ((4, "d"), (5, "e")), ignored=(0, 1))
    compare.print_verdict(verdict, "rules", failed=False)
    assert capsys.readouterr().out == (
        "\noutput: differs at line 4 on micrograd, 5 on micrograd_c "
        "(rules)\n  micrograd:    'd'\n  micrograd_c:  'e'\n"
    )


def test_usage_errors_exit_with_status_2(tmp_path, capsys, monkeypatch):
    done = cli("nope.py", cwd=tmp_path)
    assert done.returncode == 2 and "compare: no such file: nope.py" in done.stderr
    monkeypatch.setitem(sys.modules, "micrograd", None)  # as if micrograd were not installed
    assert compare.run(write(tmp_path / "ok.py", "print(1)\n")) == 2
    assert "compare needs micrograd: pip install micrograd==0.1.0" in capsys.readouterr().err


def test_usage_shows_args_as_optional_and_only_the_script_as_required(tmp_path):
    usage = "usage: python -m micrograd_c compare [options] SCRIPT.py [ARGS ...]\n"
    done = cli("--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith(usage)
    assert re.search(r"\n  ARGS +its arguments, if any\n", done.stdout)
    done = cli(cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "python -m micrograd_c compare: error: the following arguments are "
        "required: SCRIPT.py (see --help)\n"
    )  # one line


@pytest.mark.parametrize(
    "option",
    [
        ["--timeout", "0"],
        ["--timeout", "-2"],
        ["--timeout", "nan"],
        ["--timeout", "soon"],
        ["--ignore", "(unclosed"],
        ["--top", "-1"],
    ],
)
def test_bad_option_values_exit_with_status_2_before_any_run(tmp_path, option):
    done = cli(*option, "nope.py", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        f"python -m micrograd_c compare: error: argument {option[0]}: "
    )
