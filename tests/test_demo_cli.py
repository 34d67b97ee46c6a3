"""The main job's command line: python -m micrograd_c demo."""
import builtins
import subprocess
import sys

import pytest

from micrograd_c import MLP, demo


def test_demo_prints_progress_accuracy_and_timing():
    out = subprocess.run([sys.executable, "-m", "micrograd_c", "demo", "--steps", "3"],
                         capture_output=True, text=True, check=True).stdout
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


def test_replay_demo_trains_exactly_like_the_eager_demo(capsys):
    assert demo.run(30, replay=True) == demo.run(30)
    out = subprocess.run([sys.executable, "-m", "micrograd_c", "demo", "--replay", "--steps", "3"],
                         capture_output=True, text=True, check=True).stdout
    assert "step   0  loss 0.909364" in out
