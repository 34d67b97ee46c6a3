"""Progress with the time left: a tqdm bar on a terminal, a plain line there without tqdm, and
otherwise nothing."""

import io
import sys

import pytest
from helpers import Terminal

from micrograd_c import demo
from micrograd_c._progress import Bar


@pytest.fixture
def no_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails


def test_a_bar_on_a_terminal_shows_steps_and_the_time_left():
    pytest.importorskip("tqdm")
    stream = Terminal()
    with Bar(3, "work", stream) as bar:
        for _ in range(3):
            bar.update()
        bar.note("half way")
        shown = stream.getvalue()
    assert "work" in shown and "3/3" in shown and "half way" in shown
    assert "<00:00" in shown  # elapsed<remaining


def test_without_a_terminal_nothing_is_shown():
    stream = io.StringIO()
    with Bar(3, "work", stream) as bar:
        bar.update()
        bar.note("x")
    assert not bar.shown and stream.getvalue() == ""


def test_on_a_terminal_without_tqdm_a_plain_line_shows_steps_and_the_time_left(no_tqdm):
    stream = Terminal()
    with Bar(3, "work", stream) as bar:
        bar.update()
        assert bar.shown and bar.bar is None
        bar.note("half way")
        shown = stream.getvalue()
    assert "work: 1/3, about " in shown and " s left" in shown and "half way" in shown
    assert shown.startswith("\r\x1b[K") and stream.getvalue().endswith("\r\x1b[K")  # wiped


def test_in_a_notebook_tqdm_auto_draws_it(monkeypatch):
    auto = pytest.importorskip("tqdm.auto")
    made = []

    class ZMQInteractiveShell:  # what get_ipython() gives in a Jupyter kernel
        pass

    ipython = type(sys)("IPython")
    ipython.get_ipython = ZMQInteractiveShell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setattr(auto, "tqdm", lambda **kwargs: made.append(kwargs) or None)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a kernel's stderr is no terminal
    Bar(5, "work")
    assert made and made[0]["total"] == 5


def compare_run(monkeypatch, capsys, stderr):
    """demo --compare's part that trains micrograd, on a few points: (stdout, stderr)."""
    monkeypatch.setattr(sys, "stderr", stderr)
    X, y = demo.make_moons(6)
    demo._compare(X, y, 2, 1337, [1.0, 1.0], 1.0)
    return capsys.readouterr().out, stderr.getvalue()


def test_demo_compare_shows_micrograds_training_on_a_terminal(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    out, err = compare_run(monkeypatch, capsys, Terminal())
    assert "training micrograd" in err and "2/2" in err
    assert "training micrograd" not in out and "micrograd took" in out


def test_demo_compare_shows_nothing_more_without_a_terminal(monkeypatch, capsys):
    out, err = compare_run(monkeypatch, capsys, io.StringIO())
    assert err == "" and "micrograd took" in out


def test_demo_compare_shows_a_plain_line_on_a_terminal_without_tqdm(monkeypatch, capsys, no_tqdm):
    out, err = compare_run(monkeypatch, capsys, Terminal())
    assert "training micrograd: 1/2" in err and "micrograd took" in out
