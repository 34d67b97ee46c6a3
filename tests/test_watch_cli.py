"""python -m micrograd_c explain: the tutorial's first example, as a page of backward's steps."""

from helpers import page_data, run_python

from micrograd_c import backprop_steps
from micrograd_c.watch import chapter_example


def explain(*args, cwd):
    return run_python("-m", "micrograd_c", "explain", *args, cwd=cwd)


def test_explain_writes_the_chapters_example_and_says_where(tmp_path):
    run = explain("--out", "chapter.html", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    path = tmp_path / "chapter.html"
    assert run.stdout.startswith(f"wrote {path}: ")
    text = path.read_text(encoding="utf-8")
    data = page_data(text)
    z, names = chapter_example()
    assert z.data == 7.0 and sorted(names.values()) == ["b", "x", "y", "z"]
    assert [(s["name"], s["grad"]) for s in data["steps"]] == [
        (s.name, str(s.grad)) for s in backprop_steps(z, names)
    ]


def test_explain_writes_backprop_html_by_default(tmp_path):
    run = explain(cwd=tmp_path)
    assert run.returncode == 0 and (tmp_path / "backprop.html").is_file()
    assert str(tmp_path / "backprop.html") in run.stdout


def test_explain_says_when_it_cannot_write(tmp_path):
    run = explain("--out", str(tmp_path / "missing" / "x.html"), cwd=tmp_path)
    assert run.returncode == 2 and "cannot write" in run.stderr and "Traceback" not in run.stderr
