"""docs/walkthrough.ipynb runs from top to bottom without an error, and is saved with outputs."""

import json
import shutil

import pytest
from helpers import ROOT, needs_checkout

NOTEBOOK = ROOT / "docs" / "walkthrough.ipynb"


def test_the_notebook_is_saved_with_its_outputs():
    needs_checkout(NOTEBOOK)
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(c["outputs"] for c in code), "run: python docs/images/make.py notebook"
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    kinds = {kind for c in code for o in c["outputs"] for kind in o.get("data", {})}
    assert {"image/svg+xml", "text/html", "image/png"} <= kinds  # draw_dot, the page, the plot


def test_the_notebook_runs(tmp_path):
    needs_checkout(NOTEBOOK)
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("graphviz")
    pytest.importorskip("matplotlib")
    if shutil.which("dot") is None:
        pytest.skip("draw_dot's picture needs Graphviz's dot program")
    from jupyter_client.kernelspec import NoSuchKernel

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    except NoSuchKernel:
        pytest.skip("no python3 Jupyter kernel")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert 'x("2.0, grad 3.0") --> Mul' in printed and "step 20" in printed
    assert (tmp_path / "backprop.html").is_file()
