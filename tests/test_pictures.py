"""The pictures in docs/images/: there, small, what they claim to be, linked from the README and
the tutorials, and remade by docs/images/make.py."""

import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from helpers import ROOT, needs_checkout, run_python

IMAGES = ROOT / "docs" / "images"
PICTURES = ["chapter-graph.svg", "moons.png", "bench.png"]


@pytest.fixture(autouse=True)
def _checkout():
    needs_checkout(IMAGES / "make.py")


@pytest.mark.parametrize("name", [p for p in PICTURES if p.endswith(".png")])
def test_the_pngs_are_small_pngs(name):
    data = (IMAGES / name).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) < 150_000


def test_the_graph_is_the_chapter_example_with_its_grads():
    svg = ET.parse(IMAGES / "chapter-graph.svg").getroot()
    text = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for shown in (
        "x",
        "y",
        "b",
        "z",
        "data 2.0000",
        "grad 3.0000",
        "grad 2.0000",
        "data 7.0000",
        "*",
        "+",
    ):
        assert shown in text.split() or shown in text, shown


@pytest.mark.parametrize("doc", ["README.md", "docs/tutorial.md", "docs/tutorial.zh.md"])
def test_the_readme_and_the_tutorials_show_the_pictures(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
    for name in PICTURES:
        assert any(link.endswith("images/" + name) for link in shown), (doc, name)


def test_make_py_remakes_the_graph_and_the_moons(tmp_path):
    pytest.importorskip("graphviz")
    pytest.importorskip("matplotlib")
    if shutil.which("dot") is None:
        pytest.skip("needs Graphviz's dot program")
    done = run_python(str(IMAGES / "make.py"), "graph", "moons", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "chapter-graph.svg").read_bytes().count(b"grad 3.0000") == 1
    assert (tmp_path / "moons.png").read_bytes().startswith(b"\x89PNG")
    assert "graph:" in done.stdout and "moons:" in done.stdout


def test_make_py_refuses_an_unknown_picture(tmp_path):
    done = run_python(str(IMAGES / "make.py"), "nope", "--out", str(tmp_path))
    assert done.returncode == 2 and "no picture named nope" in done.stderr
    assert not list(tmp_path.iterdir())
