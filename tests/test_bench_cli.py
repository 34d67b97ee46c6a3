"""The benchmark suite's command line: python -m micrograd_c bench (no timing is asserted)."""

import gc
import importlib.util
import json
import platform
import subprocess
import sys
from array import array

import pytest

from micrograd_c import Value
from micrograd_c._core import MASK, doubles_of
from micrograd_c.bench import engine, floor, harness, suite

WORKLOADS = {"w1", "w2", "w3", "w4", "w5", "w5_rss", "w5_c"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One run at the tests' tiny sizes: its stdout, its JSON and its plot's path (or None)."""
    tmp = tmp_path_factory.mktemp("bench")
    plot = tmp / "ratios.png" if importlib.util.find_spec("matplotlib") else None
    command = [
        sys.executable,
        "-m",
        "micrograd_c",
        "bench",
        "--smoke",
        "--json",
        str(tmp / "raw.json"),
        *(["--plot", str(plot)] if plot else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return done, json.loads((tmp / "raw.json").read_text()), plot


def test_json_has_every_workload_with_positive_medians_and_ratios(smoke):
    _, raw, _ = smoke
    assert set(raw["figures"]) == WORKLOADS
    assert raw["machine"]["cores"] >= 1 and raw["versions"]["python"].endswith(
        platform.python_version()
    )
    for key, figure in raw["figures"].items():
        assert figure["unit"] and figure["median"], key
        assert all(m > 0 for m in figure["median"].values()), key
        assert all(r > 0 for ratios in figure["ratios"].values() for r in ratios.values()), key
    w3 = raw["figures"]["w3"]["samples"]
    assert {harness.MG_ON, harness.MG_OFF, harness.C_ON, engine.BARE_ON, engine.BARE_OFF} <= set(
        raw["figures"]["w1"]["samples"]
    )
    assert any(label.startswith("micrograd_c fused") for label in w3)
    assert (harness.TORCH in w3) == (importlib.util.find_spec("torch") is not None)
    compiler = floor.find_compiler() is not None
    assert (harness.FLOOR in w3) == (floor.SOURCE.is_file() and compiler)
    assert (harness.FLOOR in raw["figures"]["w2"]["samples"]) == (
        floor.SOURCE.with_name(floor.TAPE).is_file() and compiler
    )


def test_prints_a_markdown_table_under_a_header_naming_machine_and_python(smoke):
    done, _, _ = smoke
    header, blank, head, rule, *rest = done.stdout.splitlines()
    assert header.startswith("Made by `python -m micrograd_c bench`")
    assert platform.python_version() in header and harness.cpu_model() in header
    assert blank == "" and head.startswith("| workload | contender |") and rule.startswith("|---|")
    assert any(line.startswith("| W3 moons training step") for line in rest)
    assert "W3 step: micrograd, GC on" in done.stderr  # the progress line


def test_plot_writes_a_png(smoke):
    _, _, plot = smoke
    if plot is None:
        pytest.skip("matplotlib is not installed")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(SystemExit, match=r"pip install 'micrograd_c\[plot\]'"):
        suite.figure()


def test_the_floor_is_skipped_without_its_source(tmp_path):
    with pytest.raises(floor.Unavailable, match="not found"):
        floor.Floor(tmp_path / "floor.c")


def test_the_floor_is_compiled_and_run_with_the_data_on_stdin(tmp_path):
    if not floor.find_compiler():
        pytest.skip("no C compiler")
    source = tmp_path / "floor.c"
    source.write_text(
        "#include <stdio.h>\n#include <stdlib.h>\n"
        'int main(int argc, char **argv) { int n; scanf("%d", &n);\n'
        '  printf("{\\"nodes\\": %d, \\"seconds_per_step\\": 0.5, \\"losses\\": '
        '[%d.0]}\\n", n, atoi(argv[1])); return 0; }\n'
    )
    assert floor.Floor(source).run("3\n", "7") == {
        "nodes": 3,
        "seconds_per_step": 0.5,
        "losses": [7.0],
    }


def test_the_w1_bound_makes_one_object_per_operator():
    mesh = engine.make_mesh(300, engine.MESH_KINDS)
    leaves = engine.make_leaves(engine.BARE)
    made, stack = set(), mesh.build(leaves, engine.BARE.relu)
    while stack:
        v = stack.pop()
        if isinstance(v, engine.Bare) and id(v) not in made and v not in leaves:
            made.add(id(v))
            stack += [v._a, v._b]
    assert len(made) == mesh.ops


@pytest.fixture
def tape_floor():
    """W2's floor program, compiled, or a skip."""
    try:
        return floor.Floor(floor.SOURCE.with_name(floor.TAPE))
    except floor.Unavailable as why:
        pytest.skip(str(why))


def test_the_w2_floor_computes_micrograd_c_grads(tape_floor):
    x, y = Value(0.5), Value(-1.5)
    z = (x * y + 2).relu() + x**2 * y + (x * y).relu() + y**-1 + x**0.5  # every floor op
    data, nodes = engine.tape_input(z, 2)
    out = tape_floor.run(data)
    z.backward()
    assert out["nodes"] == len(nodes) and len(out["seconds"]) == 2
    assert out["grad_sum"] == sum(doubles_of(i)[(i & MASK) * 4 + 1] for i in nodes)


def ints(*xs: int) -> bytes:
    """Native int32s, as floor_tape.c reads them."""
    return array("i", xs).tobytes()


@pytest.mark.parametrize(
    "data, why",
    [
        (b"", "bad header"),
        (ints(2, 2, 1), "bad header"),  # root out of range
        (ints(2, 1, 1, 0, 1), "input too short"),
        (ints(2, 1, 1, 0, 9, -1, -1, -1, -1) + array("d", [1, 2]).tobytes(), "bad node"),  # op 9
        (ints(2, 1, 1, 0, 1, -1, -1, -1, 0) + array("d", [1, 2]).tobytes(), "bad node"),  # add of 1
        (
            ints(2, 1, 1, 4, 4, 1, 0, -1, -1) + array("d", [1, 2]).tobytes(),
            "cycle",
        ),  # relu(relu(..))
    ],
)
def test_the_w2_floor_rejects_bad_input(tape_floor, data, why):
    with pytest.raises(RuntimeError, match=f"floor_tape: .*{why}"):
        tape_floor.run(data)


@pytest.mark.parametrize("before", [True, False])
@pytest.mark.parametrize("gc_on", [True, False])
def test_timed_switches_the_gc_as_asked_and_restores_it(before, gc_on):
    (gc.enable if before else gc.disable)()
    try:
        seconds, inside = harness.timed(gc.isenabled, gc_on)
        assert (inside, gc.isenabled()) == (gc_on, before) and seconds >= 0
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "option, value, why",
    [
        ("--repeats", "0", "not a whole number above 0: '0'"),
        ("--repeats", "-1", "not a whole number above 0"),
        ("--floor", "missing.c", "no such file: 'missing.c'"),
        ("--json", "no/such/folder/raw.json", "cannot write a file there"),
        ("--plot", "ratios.txt", "not an image file name: 'ratios.txt'"),
    ],
)
def test_bad_options_are_a_usage_error_before_any_run(tmp_path, option, value, why):
    if option == "--plot":
        pytest.importorskip("matplotlib")
    done = subprocess.run(
        [sys.executable, "-m", "micrograd_c", "bench", "--smoke", option, value],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert done.stderr.startswith(f"python -m micrograd_c bench: error: argument {option}: {why}")
    assert len(done.stderr.splitlines()) == 1 and "[bench" not in done.stderr
