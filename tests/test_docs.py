"""The documentation cannot rot: every ```python block of docs/api.md, docs/benchmarks.md and
docs/testing.md runs, in order, one namespace per page (the README's: tests/test_readme.py, the
tutorials': tests/test_tutorial.py); every fence names a known language; every relative link in
README.md and docs/*.md reaches a file in the repository, and every #anchor a heading there; no
page names an issue number or a path outside the repository, and no code, test or build file
names one, or the course chapter's sections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import ROOT, blocks, needs_checkout, run_blocks

DOCS = ROOT / "docs"
PAGES = ["README.md"] + [f"docs/{p.name}" for p in sorted(DOCS.glob("*.md"))]
LANGUAGES = {"python", "bash", "console", "text", "mermaid"}  # ```python blocks run; others not


@pytest.fixture(autouse=True)
def _checkout():
    needs_checkout(ROOT / "README.md", DOCS)


@pytest.mark.parametrize(
    "name", [p for p in PAGES if p.startswith("docs/") and not Path(p).name.startswith("tutorial")]
)
def test_code_blocks_run(name, tmp_path, monkeypatch, keep_micrograd):
    pytest.importorskip("graphviz")  # draw_dot's examples (the viz extra)
    monkeypatch.chdir(tmp_path)  # files the examples write land here
    namespace = run_blocks(ROOT / name, "__docs__")
    if name == "docs/api.md":
        # the replay example replayed what rebuilding the graph computes, bit for bit
        from micrograd_c import losses

        model, xs, ys, rec = (namespace[k] for k in ("model", "xs", "ys", "rec"))
        fresh = losses.mse([model([v.data for v in x]) for x in xs], [v.data for v in ys])
        assert rec.forward() == fresh.data


def test_the_reference_and_the_readme_have_code_to_run():
    assert blocks(ROOT / "README.md", "python") and blocks(DOCS / "api.md", "python")


def fences(text: str) -> list[tuple[int, str]]:
    """(line number, info string) of each opening fence."""
    found, inside = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            if not inside:
                found.append((number, line[3:].strip()))
            inside = not inside
    assert not inside, "a fence is not closed"
    return found


@pytest.mark.parametrize("page", PAGES)
def test_every_fence_names_a_language_the_tests_know(page):
    for number, lang in fences((ROOT / page).read_text(encoding="utf-8")):
        assert lang in LANGUAGES, f"{page}:{number}: ```{lang} (shell commands: bash or console)"


def prose(text: str) -> str:
    """text without its fenced blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"(`+)(.+?)\1", "", text, flags=re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"[`*_]", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of path's headings; a repeated heading's get -1, -2, ... as on GitHub."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in prose_lines(path):
        m = re.match(r"#{1,6} (.*)", line)
        if m:
            base = slug(m.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def prose_lines(path: Path) -> list[str]:
    text = re.sub(
        r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE
    )
    return text.splitlines()


def links(page: str) -> list[str]:
    text = prose((ROOT / page).read_text(encoding="utf-8"))
    found = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    found += re.findall(r"""(?:src|href)=["']([^"']+)["']""", text)
    return [link for link in found if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


def test_the_link_checker_sees_links():
    assert "docs/api.md" in links("README.md")
    assert "images/backprop-chapter.html" in links("docs/tutorial.md")
    assert slug("Training: `nn`, losses, optimizers") == "training-nn-losses-optimizers"
    assert (
        slug("6. Adding your own operation, as the micrograd lecture does")
        == "6-adding-your-own-operation-as-the-micrograd-lecture-does"
    )


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_reach_files_and_headings(page):
    here = (ROOT / page).parent
    for link in links(page):
        target, _, anchor = link.partition("#")
        path = (here / target).resolve() if target else ROOT / page
        assert path.is_relative_to(ROOT), f"{page}: {link} leaves the repository"
        assert path.exists(), f"{page}: {link} does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{page}: {link}: no such heading in {path.name}"


OUTSIDE = [
    r"(?i)\bissues?\s*#?\d+",
    r"(?<![\w&/])#\d+\b",
    r"\.\./",
    r"(?i)\bshared/",
    r"(?i)design notes",
]


@pytest.mark.parametrize("page", PAGES)
def test_no_page_names_an_issue_or_a_path_outside_the_repository(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    # links from docs/ up to the repository's root (the link test checks they stay inside it)
    text = re.sub(r"\]\(\.\./(?!\.\.)", "](", text)
    for pattern in OUTSIDE:
        m = re.search(pattern, text)
        assert not m, f"{page}: {m.group(0)!r} at line {text.count(chr(10), 0, m.start()) + 1}"


# What code, tests and build files may not name: documents outside the repository, issues,
# or the course chapter's sections (docs/tutorial.md introduces the chapter, once)
NOT_IN_CODE = [
    r"(?i)\bissues?\s*#\d+",
    r"\.\./shared",
    r"(?i)\bshared/",
    r"(?i)design notes",
    r"DESIGN\.md",
    r"(?i)seed chapter",
    r"§",
]
CODE = ["src", "csrc", "tests", "benchmarks", "build_ext.py", "setup.py", "pyproject.toml"]


def code_files() -> list[Path]:
    """The repository's code, test and build files (text), this file left out."""
    here = Path(__file__).resolve()
    found = []
    for name in CODE:
        top = ROOT / name
        paths = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        found += [
            p
            for p in paths
            if p.is_file() and p.suffix in {".py", ".c", ".h", ".toml", ".html"} and p != here
        ]
    return found


def test_no_code_names_an_issue_the_chapter_or_a_document_outside_the_repository():
    needs_checkout(ROOT / "csrc")
    files = code_files()
    assert any(p.suffix == ".c" for p in files)  # (the walk found the code)
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in NOT_IN_CODE:
            m = re.search(pattern, text)
            where = f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}" if m else ""
            assert not m, f"{where}: {m.group(0)!r}"
