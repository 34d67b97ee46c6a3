"""The benchmark suite, benchmarks/run.py, at its smoke sizes (no timing is asserted)."""

import gc
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

import micrograd_c
from micrograd_c import Value

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if not (BENCHMARKS / "run.py").is_file():
    pytest.skip("needs the source checkout's benchmarks/", allow_module_level=True)
sys.path.insert(0, str(BENCHMARKS))

import goals  # noqa: E402
import harness  # noqa: E402 - benchmarks/ is not a package: found through sys.path
import mesh  # noqa: E402
import west  # noqa: E402

WORKLOADS = {"w0_import", "w0_first", "w1", "w2", "w3", "w4", "w5", "w5_rss", "w5_c", "w6"}
WORKLOADS |= {"w6_build"}


def run(tmp_path, *args):
    """benchmarks/run.py with args in a subprocess, writing its JSON: (the run, the JSON)."""
    raw = tmp_path / "raw.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--smoke", "--json", str(raw), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done, json.loads(raw.read_text())


def assert_one_process_per_contender(figure):
    pids = list(figure["pids"].values())
    assert set(figure["pids"]) == set(figure["samples"])
    assert len(set(pids)) == len(pids) and os.getpid() not in pids


def test_each_contender_of_a_workload_runs_in_a_process_of_its_own(tmp_path):
    done, raw = run(tmp_path, "--only", "w1", "w4")
    assert set(raw["figures"]) == {"w1", "w4"}
    w1 = raw["figures"]["w1"]
    assert {harness.MG_ON, harness.MG_OFF, harness.C_ON} <= set(w1["samples"])
    assert (harness.TORCH in w1["samples"]) == (importlib.util.find_spec("torch") is not None)
    for figure in raw["figures"].values():
        assert_one_process_per_contender(figure)
    assert done.stdout.startswith("Made by `python benchmarks/run.py --smoke --json ")


def test_w6_runs_every_contender_and_replay_and_the_floor_agree_on_the_root(tmp_path):
    """W6, Rogozhnikov's graph: a row per contender; replay agrees with the C floor."""
    _, raw = run(tmp_path, "--only", "w6")
    assert set(raw["figures"]) == {"w6", "w6_build"}
    for figure in raw["figures"].values():
        assert_one_process_per_contender(figure)
        assert all(m > 0 for m in figure["median"].values())
    details = raw["details"]["w6"]
    replay = details[west.REPLAY]["setup"]
    assert replay["root"] == details[west.EAGER]["setup"]["root"]
    assert (harness.TORCH in details) == (importlib.util.find_spec("torch") is not None)
    if harness.FLOOR in details:
        floor = details[harness.FLOOR]["setup"]
        assert floor["root"] == pytest.approx(replay["root"], rel=1e-12)
        assert floor["nodes"] == 450  # 100 + 200 ops
        assert west.largest_difference(replay["grads"], floor["grads"][: west.LEAVES])[0] < 1e-12


def test_w0_starts_a_fresh_process_per_sample_and_the_goals_read_its_json(tmp_path):
    """W0 times the import and first Value in fresh processes; goals.py marks each goal."""
    _, raw = run(tmp_path, "--only", "w0", "--repeats", "1")
    first = raw["details"]["w0"]
    assert len({s["pid"] for r in first.values() for s in r["samples"]}) == 10  # 5 each
    raw["versions"]["python"] = "CPython X"
    raw["figures"]["w6_build"] = {"median": {west.BUILD: 40.0, west.RECORD: 20.0}}
    lines = goals.table([raw]).splitlines()
    assert lines[0] == "| figure | goal | CPython X |"
    by_figure = {
        figure: cells[1] for figure, *cells in (line.strip("| ").split(" | ") for line in lines[2:])
    }
    assert by_figure["W6 build + record"] == "60.0 ms ✗"  # 40 + 20, over 50
    assert by_figure["W1 per op, GC on: time ÷ the bound's"] == "—"  # not in this run
    assert by_figure["W0 first Value after the import"].endswith(" ms ✓")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Every workload at the smoke sizes: the run, its JSON and its plot's path (or None)."""
    tmp = tmp_path_factory.mktemp("bench")
    plot = tmp / "ratios.png" if importlib.util.find_spec("matplotlib") else None
    done, raw = run(tmp, *(["--plot", str(plot)] if plot else []))
    return done, raw, plot


@pytest.mark.slow
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
        assert_one_process_per_contender(figure)
    w3 = raw["figures"]["w3"]["samples"]
    assert any(label.startswith("micrograd_c fused") for label in w3)
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert (
        (harness.FLOOR in w3)
        == (harness.FLOOR in raw["figures"]["w2"]["samples"])
        == bool(compiler)
    )


@pytest.mark.slow
def test_prints_a_markdown_table_under_a_header_naming_machine_and_python(smoke):
    done, _, _ = smoke
    header, blank, head, rule, *rest = done.stdout.splitlines()
    assert platform.python_version() in header and "its own process" in header
    assert blank == "" and head.startswith("| workload | contender |") and rule.startswith("|---|")
    assert any(line.startswith("| W3 moons training step") for line in rest)
    assert "w3: micrograd, GC on, repeat 1/1" in done.stderr  # the progress line


@pytest.mark.slow
def test_plot_writes_a_png(smoke):
    _, _, plot = smoke
    if plot is None:
        pytest.skip("matplotlib is not installed")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ab_runs_a_build_against_itself_in_alternating_processes():
    site = str(Path(micrograd_c.__file__).resolve().parents[1])  # where micrograd_c is found
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "ab.py"), site, site, "--repeats", "2"]
        + ["--tasks", "w1", "w3replay"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| w")]
    assert [(r[0], r[1]) for r in rows] == [("| w1", "ns/op"), ("| w3replay", "ms/step")]
    assert all(float(r[2]) > 0 and float(r[3]) > 0 for r in rows)
    assert done.stderr.count(": A, repeat") == done.stderr.count(": B, repeat") == 4


def test_a_counted_contender_runs_with_a_fixed_hash_seed():
    """Instruction counts repeat from run to run only if string hashes do (ab.py --instructions)."""
    show_seed = ("sh", "-c", 'echo "seed=${PYTHONHASHSEED-unset}" >&2; exec "$@"', "sh")
    c = harness.Contender("engine", "w4", "micrograd_c", {"depth": 10}, None, show_seed)
    c.receive()
    assert "seed=0" in c.close()


@pytest.mark.parametrize(
    "args, why",
    [
        (["--repeats", "0"], "--repeats must be 1 or more"),
        (["--json", "no/such/folder/raw.json"], "cannot write no/such/folder/raw.json"),
        (["--only", "w9"], "invalid choice: 'w9'"),
    ],
)
def test_bad_options_are_a_usage_error_before_any_run(tmp_path, args, why):
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    assert why in done.stderr and "[bench" not in done.stderr


def test_python_m_micrograd_c_bench_says_where_the_benchmarks_went():
    done = subprocess.run(
        [sys.executable, "-m", "micrograd_c", "bench", "--quick"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "python benchmarks/run.py" in done.stderr


def test_the_w1_bound_makes_one_object_per_operator(tmp_path):
    m = mesh.load_mesh(mesh.write_mesh(str(tmp_path), 300))
    bare = mesh.kind("bare")
    leaves = mesh.make_leaves(bare)
    made, stack = set(), m.build(leaves, bare.relu)
    while stack:
        v = stack.pop()
        if isinstance(v, mesh.Bare) and id(v) not in made and v not in leaves:
            made.add(id(v))
            stack += [v._a, v._b]
    assert len(made) == m.OPS


@pytest.fixture
def tape_floor(tmp_path):
    """W2's floor program, compiled, or a skip."""
    notes = []
    program = harness.compile_floor("floor_tape", str(tmp_path), notes)
    if program is None:
        pytest.skip(notes[0])
    return program


def test_the_w2_floor_computes_micrograd_c_grads_from_the_public_graph(tape_floor):
    x, y = Value(0.5), Value(-1.5)
    z = (x * y + 2).relu() + x**2 * y + (x * y).relu() + y**-1 + x**0.5 + x * x  # every op
    data, values = mesh.tape_input(z, 2)
    out = harness.run_floor(tape_floor, data)
    z.backward()
    assert out["nodes"] == len(values) + 3 and len(out["seconds"]) == 2  # + 3 exponents
    assert out["grad_sum"] == sum(v.grad for v in values)


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
        harness.run_floor(tape_floor, data)


@pytest.mark.parametrize("before", [True, False])
@pytest.mark.parametrize("gc_on", [True, False])
def test_timed_switches_the_gc_as_asked_and_restores_it(before, gc_on):
    (gc.enable if before else gc.disable)()
    try:
        seconds, inside = harness.timed(gc.isenabled, gc_on)
        assert (inside, gc.isenabled()) == (gc_on, before) and seconds >= 0
    finally:
        gc.enable()
