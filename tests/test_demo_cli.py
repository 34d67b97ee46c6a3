"""The main job's command line: python -m micrograd_c demo."""

import builtins
import os
import subprocess
import sysconfig
from importlib import metadata

import pytest
from helpers import run_python

from micrograd_c import MLP, __version__, demo


def cli(*args: str, before: str = "pass") -> subprocess.CompletedProcess:
    """python -m micrograd_c with args, in a fresh interpreter that first runs before."""
    code = f"{before}; import runpy; runpy.run_module('micrograd_c', run_name='__main__')"
    return run_python("-c", code, *args, timeout=120)


def assert_usage_error(done: subprocess.CompletedProcess, *words: str) -> None:
    """Exit status 2 before any work: nothing on stdout, one line on stderr saying why."""
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("python -m micrograd_c demo: error: argument ")
    assert all(word in done.stderr for word in words), done.stderr


def test_demo_prints_progress_accuracy_and_timing():
    out = run_python("-m", "micrograd_c", "demo", "--steps", "3", check=True).stdout
    assert "step   0  loss 0.909364" in out
    assert "final accuracy" in out and "ms per step" in out


def test_moons_are_two_balanced_noisy_half_circles():
    X, y = demo.make_moons(100, noise=0.1, seed=1)
    assert len(X) == 100 and sorted(set(y)) == [-1, 1] and y.count(1) == 50
    assert demo.make_moons(100, noise=0.1, seed=1) == (X, y)  # fixed seed, same data


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(SystemExit, match=r"pip install 'micrograd_c\[plot\]'"):
        demo.draw(MLP(2, [4, 1]), [(0.0, 0.0)], [1], str(tmp_path / "x.png"))


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "moons.png"
    X, y = demo.make_moons(20)
    demo.draw(MLP(2, [4, 1]), X, y, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_leaves_pyplots_backend_and_figures_alone(tmp_path, capsys):
    """As in a notebook: after demo.run(plot=...), the backend is the one set, and
    pyplot's figures are those it had."""
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    try:
        matplotlib.use("svg")  # any backend but Agg, standing for a notebook's inline one
        mine = plt.figure()
        figures = plt.get_fignums()
        demo.run(2, plot=str(tmp_path / "moons.png"))
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == figures and plt.gcf() is mine
        assert (tmp_path / "moons.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        plt.close("all")
        matplotlib.use(before)


def test_replay_demo_trains_exactly_like_the_eager_demo(capsys):
    assert demo.run(30, replay=True) == demo.run(30)
    out = run_python("-m", "micrograd_c", "demo", "--replay", "--steps", "3", check=True).stdout
    assert "step   0  loss 0.909364" in out


@pytest.mark.parametrize("steps", ["0", "-3", "many"])
def test_steps_below_one_are_a_usage_error(steps):
    assert_usage_error(cli("demo", "--steps", steps), "--steps", repr(steps))
    with pytest.raises(ValueError, match="steps must be 1 or more"):
        demo.run(0)


def test_a_plot_file_matplotlib_cannot_write_is_a_usage_error_before_training(tmp_path):
    pytest.importorskip("matplotlib")
    assert_usage_error(
        cli("demo", "--plot", str(tmp_path / "out.txt")), "--plot", "out.txt", ".png"
    )
    assert_usage_error(cli("demo", "--plot", str(tmp_path / "no" / "out.png")), "--plot")
    assert_usage_error(cli("demo", "--plot", str(tmp_path)), "--plot")  # a directory


def test_plot_without_matplotlib_is_a_usage_error_saying_how_to_get_it(tmp_path):
    done = cli(
        "demo",
        "--plot",
        str(tmp_path / "moons.png"),
        before="import sys; sys.modules['matplotlib'] = None",
    )
    assert_usage_error(done, "pip install 'micrograd_c[plot]'")


def test_version():
    done = cli("--version")
    assert done.returncode == 0 and done.stdout == f"micrograd_c {__version__}\n"
    assert __version__ == metadata.version("micrograd_c")


def test_the_console_script_runs_the_same_command_line():
    (script,) = metadata.entry_points(group="console_scripts", name="micrograd-c")
    assert script.value == "micrograd_c.__main__:main"
    path = os.path.join(sysconfig.get_path("scripts"), "micrograd-c")
    if not os.path.isfile(path):
        pytest.skip("installed without its scripts (pip install --target)")
    done = subprocess.run([path, "demo", "--steps", "0"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("micrograd-c demo: error: argument --steps: ")
    done = subprocess.run(
        [path, "demo", "--steps", "1"], capture_output=True, text=True, check=True
    )
    assert "step   0  loss 0.909364" in done.stdout
