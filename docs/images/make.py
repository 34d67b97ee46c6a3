"""Remake the pictures in docs/images/ and the outputs saved in docs/walkthrough.ipynb.

    python docs/images/make.py            # everything: graph, moons, bench, notebook
    python docs/images/make.py graph moons --out /tmp/pictures
    python docs/images/make.py bench --bench-json bench.json   # from another run of the suite

Run from a source checkout with the test extra installed (`pip install -e '.[test]'`: graphviz,
matplotlib, nbclient and ipykernel for the notebook) and
Graphviz's `dot` program on the PATH. Each picture is made by the library's own commands:

- chapter-graph.svg: `draw_dot` of the §3.2 example, z = x·y + b, after `z.backward()`;
- moons.png: `python -m micrograd_c demo --plot` (the 100-step demo's decision boundary);
- bench.png: the ratios of the run of `python benchmarks/run.py` whose JSON docs/benchmarks.md
  quotes (docs/benchmarks.json), drawn by the suite's own chart (benchmarks/report.py);
- walkthrough.ipynb: the notebook executed in place with nbclient, so it keeps its outputs.

A PNG over 150 KB is reduced to a 256-colour palette.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
LIMIT = 150_000  # bytes: pictures stay small in the repository and the sdist
PICTURES = ("graph", "moons", "bench", "notebook")


def graph(out: Path) -> Path:
    """The §3.2 example drawn by draw_dot, grads filled in by backward(), as SVG."""
    from micrograd_c import draw_dot
    from micrograd_c.watch import chapter_example

    z, names = chapter_example()
    z.backward()
    path = out / "chapter-graph.svg"
    path.write_bytes(draw_dot(z, labels=names).pipe(format="svg"))
    return path


def moons(out: Path) -> Path:
    """The decision boundary of the moons demo, drawn by `demo --plot`."""
    path = out / "moons.png"
    subprocess.run(
        [sys.executable, "-m", "micrograd_c", "demo", "--plot", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return small(path)


def bench(out: Path, raw: Path = DOCS / "benchmarks.json") -> Path:
    """The benchmark's ratio chart, drawn from the JSON of a run of benchmarks/run.py."""
    sys.path.insert(0, str(DOCS.parent / "benchmarks"))
    from report import plot

    path = out / "bench.png"
    plot(json.loads(raw.read_text()), str(path))
    return small(path)


def notebook(out: Path) -> Path:
    """docs/walkthrough.ipynb executed with nbclient and saved with its outputs (into out)."""
    import nbformat
    from nbclient import NotebookClient

    source = DOCS / "walkthrough.ipynb"
    nb = nbformat.read(source, as_version=4)
    with tempfile.TemporaryDirectory() as cwd:  # the files the notebook writes go here
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": cwd}}
        ).execute()
    path = out / source.name if out != HERE else source
    nbformat.write(nb, path)
    return path


def small(path: Path) -> Path:
    """Reduce a PNG over LIMIT bytes to a 256-colour palette (Pillow comes with matplotlib)."""
    if path.stat().st_size > LIMIT:
        from PIL import Image

        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "pictures",
        nargs="*",
        metavar="PICTURE",
        help=f"any of {', '.join(PICTURES)} (default: all)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE,
        help="where to write them (default: docs/images/, the notebook in docs/)",
    )
    parser.add_argument(
        "--bench-json",
        type=Path,
        default=DOCS / "benchmarks.json",
        help="the run of benchmarks/run.py --json to draw (default: docs/benchmarks.json)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.pictures) - set(PICTURES))
    if unknown:
        parser.error(f"no picture named {', '.join(unknown)}; choose from {', '.join(PICTURES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.pictures or PICTURES:
        made = bench(args.out, args.bench_json) if name == "bench" else globals()[name](args.out)
        print(f"{name}: {made} ({made.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
