"""python -m micrograd_c compare: one unmodified micrograd program, run on both engines."""

import io
import os
import re
import select
import sys
import zipfile

import pytest
from helpers import cli, write

from micrograd_c import compare

BACKWARD = """
    from micrograd.engine import Value

    for i in range(300):  # enough work for the engine to lead the profile
        a, b = Value(-4.0 + i / 100), Value(2.0)
        c = a + b
        d = a * b + b**3
        e = (c - d).relu() + d / 2 + 1
        e.backward()
    print("e", e.data, "grads", a.grad, b.grad)
    print(Value(3), "and some text")
"""


TRAIN = """
    import os
    import pickle
    import random
    import sys

    from helper import STEPS
    from micrograd.engine import Value
    from micrograd.nn import MLP

    assert __name__ == "__main__"
    assert sys.argv == ["sub/train.py", STEPS, "--lr", "-0.05"], sys.argv
    assert sys.path[0] == os.path.dirname(os.path.realpath(__file__)), sys.path[0]
    assert __file__ == os.path.abspath("sub/train.py") and __cached__ is None, __file__
    def annotated(a: int) -> None:
        pass
    assert annotated.__annotations__ == {"a": int, "return": None}  # no __future__ leaks in
    class Box:
        pass
    assert type(pickle.loads(pickle.dumps(Box()))) is Box  # found as __main__.Box
    random.seed(1337)
    model = MLP(2, [4, 4, 1])
    X, y = [(0.5, -1.0), (-0.3, 0.8), (1.2, 0.1)], [1, -1, 1]
    for k in range(int(sys.argv[1])):
        scores = [model([Value(a), Value(b)]) for a, b in X]
        loss = sum((1 + -t * s).relu() for t, s in zip(y, scores)) * (1.0 / len(y))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data += float(sys.argv[3]) * p.grad
        print(f"step {k} loss {loss.data}")
    sys.exit(0)
"""


FAILS_ON_OURS = """
    from micrograd.engine import Value


    def check(v):
        if type(v).__module__.startswith("micrograd_c"):
            raise RuntimeError("not the original micrograd")


    print("before")
    check(Value(1.0))
    print("after")
"""


FAILS_ON_BOTH = """
    import sys

    from micrograd.engine import Value

    ours = type(Value(1.0)).__module__.startswith("micrograd_c")
    print("same", 1)
    print("same", 2.0)
    print("loss", 0.5 + (1e-6 if ours else 0.0))
    sys.exit("bad input")
"""


DIFFERS = """
    from micrograd.engine import Value

    x = Value(2.0)
    ours = type(x).__module__.startswith("micrograd_c")
    print("same", x.data)
    print("loss", 0.5 + (1e-6 if ours else 0.0))
"""


READS = """
    import sys

    from micrograd.engine import Value

    text = sys.stdin.read()
    with open(sys.argv[1], "a") as log:  # what each run read, one repr a line
        print(repr(text), file=log)
    print("sum", sum((Value(float(word)) for word in text.split()), Value(0.0)).data)
"""


TIMED = """
    import os
    import time

    from micrograd.engine import Value

    start = time.perf_counter()
    print("loss", (Value(0.25) * 2).data)
    print(f"took {time.perf_counter() - start:.9f} s")
    print("pid", os.getpid())  # never the same in two runs
"""


SLEEPS = """
    import time

    print("started")
    time.sleep(60)
"""


@pytest.fixture(autouse=True)
def empty_stdin(monkeypatch):
    """Standard input, for compare.run in this process, is empty (whatever pytest's is)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))


def drain(terminal: int) -> str:
    """What waits to be read at a pseudo-terminal's master end, until a second of quiet."""
    chunks = []
    while select.select([terminal], [], [], 1)[0]:
        chunks.append(os.read(terminal, 1 << 16))
    return b"".join(chunks).decode()


def section(out: str, engine: str) -> str:
    """The profile table printed for engine, below its title."""
    return out.split(f"own time on {engine} (")[1].split("\n\n")[0].split("\n", 1)[1]


def test_values_and_backward_agree_with_time_memory_and_profiles(tmp_path, capsys):
    status = compare.run(write(tmp_path / "backward.py", BACKWARD), top=3)
    out = capsys.readouterr().out
    assert status == 0
    assert "output: agrees (2 lines; numbers within rtol 1e-09 or atol 1e-12, text exactly)" in out
    assert re.search(
        r"wall time +[\d.]+ m?s +[\d.]+ m?s +the script alone, without the profiler", out
    )
    assert re.search(r"speedup: [\d.]+x", out)
    peaks = re.search(r"peak memory +([\d.]+) MiB +([\d.]+) MiB", out).groups()
    assert all(5 < float(mib) < 1000 for mib in peaks)  # bytes, not KiB read as bytes
    theirs, ours = section(out, "micrograd"), section(out, "micrograd_c")
    assert len(theirs.splitlines()) == len(ours.splitlines()) == 1 + 3  # header and the top 3
    # micrograd's time is in its engine.py; micrograd_c's operators run no Python function,
    # so its top rows are the script's own (and the C calls it makes), never micrograd's
    assert "micrograd/engine.py" in theirs and "micrograd/engine.py" not in ours
    assert "backward.py" in ours


def test_argv_path_and_main_as_python_gives_them_and_training_agrees(tmp_path):
    write(tmp_path / "sub" / "helper.py", "STEPS = '3'\n")
    write(tmp_path / "sub" / "train.py", TRAIN)
    done = cli("--top", "0", "sub/train.py", "3", "--lr", "-0.05", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "output: agrees (3 lines;" in done.stdout
    assert "top" not in done.stdout.split("\n", 1)[1]  # --top 0: no profiled runs


def test_peak_memory_is_the_child_s_own_even_from_a_big_parent(tmp_path, capsys):
    big = bytearray(1100 * 2**20)  # resident in this process, which spawns the children
    big[::4096] = b"\1" * len(big[::4096])
    assert compare.run(write(tmp_path / "backward.py", BACKWARD), top=0) == 0
    del big
    peaks = re.search(r"peak memory +([\d.]+) MiB +([\d.]+) MiB", capsys.readouterr().out).groups()
    assert all(float(mib) < 1000 for mib in peaks), peaks


def test_a_zip_application_runs_as_python_runs_it(tmp_path, capsys):
    app = tmp_path / "app.pyz"
    with zipfile.ZipFile(app, "w") as z:
        z.writestr(
            "__main__.py", "from micrograd.engine import Value\nprint((Value(2.0) * 3 + 1).data)\n"
        )
    assert compare.run(str(app), top=0) == 0
    assert "output: agrees (1 line" in capsys.readouterr().out


def test_a_script_that_fails_on_one_engine_only_is_reported_with_its_traceback(tmp_path, capsys):
    script = write(tmp_path / "fails.py", FAILS_ON_OURS)
    assert compare.run(script, top=0) == 3
    out = capsys.readouterr().out
    assert "the script failed on micrograd_c only" in out
    assert re.search(r"on micrograd: ran in [\d.]+ m?s", out)
    traceback = re.split(r"on micrograd_c: exit status 1 in [\d.]+ m?s\n", out)[1]
    # Python 3.11+ may add lines of carets under a frame's code, by rules each version changes
    lines = [line for line in traceback.splitlines() if line.strip(" ~^")]
    assert lines[:6] == [
        "    Traceback (most recent call last):",
        f'      File "{script}", line 11, in <module>',
        "        check(Value(1.0))",
        f'      File "{script}", line 7, in check',
        '        raise RuntimeError("not the original micrograd")',
        "    RuntimeError: not the original micrograd",
    ]
    assert out.endswith(
        "\n\noutput before the failure: agrees on the first 1 line, then differs "
        "at line 2 (numbers within rtol 1e-09 or atol 1e-12, text exactly)\n"
        "  micrograd:    'after'\n"
        "  micrograd_c:  (no such line)\n"
    )


def test_a_script_that_fails_on_both_engines_shows_both_times_and_how_far_outputs_agreed(
    tmp_path, capsys
):
    assert compare.run(write(tmp_path / "exits.py", FAILS_ON_BOTH), top=0) == 3
    out = capsys.readouterr().out
    assert "the script failed on both engines" in out
    assert (
        len(re.findall(r"\non micrograd(_c)?: exit status 1 in [\d.]+ m?s\n    bad input\n", out))
        == 2
    )
    assert out.endswith(
        "\n\noutput before the failure: agrees on the first 2 lines, then differs "
        "at line 3 (numbers within rtol 1e-09 or atol 1e-12, text exactly)\n"
        "  micrograd:    'loss 0.5'\n"
        "  micrograd_c:  'loss 0.500001'\n"
    )


def test_numbers_beyond_the_tolerance_show_the_first_difference(tmp_path, capsys):
    script = write(tmp_path / "differs.py", DIFFERS)
    assert compare.run(script, top=0) == 1
    out = capsys.readouterr().out
    assert out.endswith(
        "output: differs at line 2 (numbers within rtol 1e-09 or atol 1e-12, "
        "text exactly)\n"
        "  micrograd:    'loss 0.5'\n"
        "  micrograd_c:  'loss 0.500001'\n"
    )
    assert compare.run(script, rtol=1e-5, top=0) == 0
    assert "output: agrees (2 lines; numbers within rtol 1e-05" in capsys.readouterr().out


def test_both_runs_and_the_profiled_runs_read_the_same_stdin(tmp_path):
    write(tmp_path / "reads.py", READS)
    done = cli("--top", "1", "reads.py", "log.txt", cwd=tmp_path, feed="1.5 2\n-4\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "output: agrees (1 line" in done.stdout
    assert (tmp_path / "log.txt").read_text() == "'1.5 2\\n-4\\n'\n" * 4


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal; preexec_fn")
@pytest.mark.parametrize("stdin", ["a terminal", "closed"])
def test_a_terminal_or_closed_stdin_is_not_read_and_the_runs_get_none(tmp_path, stdin):
    import pty

    write(tmp_path / "reads.py", READS)
    terminal, other_end = pty.openpty()
    how = {"stdin": other_end} if stdin == "a terminal" else {"preexec_fn": lambda: os.close(0)}
    try:
        done = cli("reads.py", "log.txt", cwd=tmp_path, feed=None, timeout=60, **how)
    finally:
        os.close(terminal)
        os.close(other_end)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "log.txt").read_text() == "''\n" * 4


def test_a_run_past_the_timeout_is_stopped_and_reported_as_timed_out(tmp_path):
    write(tmp_path / "sleeps.py", SLEEPS)
    done = cli("--timeout", "1", "sleeps.py", cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "the script timed out on both engines" in done.stdout
    assert done.stdout.count("timed out: stopped after 1.000 s (--timeout)\n") == 2
    stdout = "".join(
        line for line in done.stdout.splitlines(keepends=True) if line.strip(" ~^\n")
    )  # no caret lines, which differ by Python version
    assert stdout.count("    time.sleep(60)\n    KeyboardInterrupt\n") == 2  # where it was
    assert done.stdout.endswith(
        "\noutput before the failure: agrees (1 line; numbers within "
        "rtol 1e-09 or atol 1e-12, text exactly)\n"
    )  # flushed


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_progress_goes_to_a_terminal_on_stderr_and_not_into_the_report(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    write(tmp_path / "slow.py", "import time\ntime.sleep(0.5)\nprint('done')\n")
    terminal, other_end = pty.openpty()
    fcntl.ioctl(other_end, termios.TIOCSWINSZ, struct.pack("4H", 24, 80, 0, 0))  # 80 columns
    try:
        done = cli("--top", "0", "slow.py", cwd=tmp_path, stderr=other_end)
        shown = drain(terminal)
    finally:
        os.close(terminal)
        os.close(other_end)
    assert done.returncode == 0, done.stdout
    assert "compare: running on micrograd_c, " in shown
    assert "compare:" not in done.stdout.split("\n", 1)[1]


def test_lines_matching_ignore_are_left_out_of_both_outputs(tmp_path):
    write(tmp_path / "timed.py", TIMED)
    done = cli("--top", "0", "timed.py", cwd=tmp_path)
    assert done.returncode == 1 and "output: differs at line " in done.stdout
    done = cli(
        "--top", "0", "--ignore", "^took ", "--ignore", r"^pid \d+$", "timed.py", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith(
        "output: agrees (1 line; numbers within rtol 1e-09 or atol 1e-12, "
        "text exactly; lines left out by --ignore: 2)\n"
    )


def test_a_profiled_run_past_the_timeout_leaves_its_partial_profile_and_the_verdict(
    tmp_path, capsys
):
    script = write(
        tmp_path / "profiled.py",
        """
        import sys
        import time

        print("x")
        monitoring = getattr(sys, "monitoring", None)  # cProfile's since Python 3.12
        if sys.getprofile() or monitoring and monitoring.get_tool(monitoring.PROFILER_ID):
            time.sleep(60)  # only under cProfile
    """,
    )
    assert compare.run(script, top=3, timeout=1.0) == 0
    out = capsys.readouterr().out
    assert (
        out.count(
            "the profiled run timed out: stopped after 1.000 s (--timeout); this is its "
            "profile until then\n"
        )
        == 2
    )
    assert out.count("<built-in method time.sleep>") == 2
    assert "output: agrees (1 line;" in out


LECTURE_OPS = """
    import math
    from micrograd.engine import Value

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')
        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out
    Value.tanh = tanh

    x, w = Value(0.8), Value(-1.5)
    for _ in range(50):
        y = (x * w).tanh() * 2 + x
        w.grad = x.grad = 0.0
        y.backward()
        w.data -= 0.1 * w.grad
    print("y", y.data, "grads", x.grad, w.grad, y._op)
"""


def test_a_program_that_adds_ops_in_python_agrees(tmp_path, capsys):
    status = compare.run(write(tmp_path / "lecture.py", LECTURE_OPS), top=3)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "output: agrees (1 line;" in out
