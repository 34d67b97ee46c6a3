"""Value's C base (csrc/py_value.c): operators made in C, references given back with no __del__."""

from __future__ import annotations

import gc
import sys
import threading
from fractions import Fraction

import pytest
from helpers import run_python

from micrograd_c import Value, stats
from micrograd_c._core import CHandle, release_dead


def live() -> int:
    """Live nodes once every freed handle's reference is back in C."""
    release_dead()
    return stats().live


def test_a_value_has_no_python_finalizer_and_frees_its_node_with_the_gc_off():
    assert all("__del__" not in vars(k) for k in type(Value(1.0)).__mro__)
    gc.disable()
    try:
        base = live()
        x = Value(2.0)
        graphs = [(x * k + 1).relu() ** 2 for k in range(3000)]  # more than one batch
        assert live() > base
        del graphs, x
        assert live() == base
    finally:
        gc.enable()


def test_freed_handles_wait_in_c_until_a_batch_fills_or_release_dead():
    gc.disable()
    try:
        release_dead()
        base = stats().live
        x = Value(1.0)
        node = x._i
        del x
        assert CHandle._pending() == [node]  # (stats() would give it back)
        release_dead()
        assert CHandle._pending() == [] and stats().live == base
    finally:
        gc.enable()


def test_what_c_makes_is_what_python_made():
    a, b = Value(1.5), Value(-2.0)
    for out, operands, op in [
        (a + b, [a, b], "+"),
        (a * 2, [a], "*"),
        (3 - a, [], "+"),  # (a * -1) + 3
        (a / b, [a], "*"),  # a * b**-1
        (a**2, [a], "**2"),
        (a**0.5, [a], "**0.5"),
        (-a, [a], "*"),
        (a.relu(), [a], "ReLU"),
        (a.softplus(), [a], "softplus"),
    ]:
        assert type(out) is Value and out._op == op
        assert set(operands) <= out._prev
    assert (a + b)._children() == [a, b] and (a * b).data == -3.0


def test_a_handle_without_a_node_or_with_junk_raises_and_crashes_nothing():
    empty = Value.__new__(Value)  # no node: _i was never set
    with pytest.raises(AttributeError):
        empty + 1.0
    with pytest.raises(AttributeError):
        empty.relu()
    for junk in ("3", 2**40, -5, 10**30, None):
        v = Value(1.0)
        v._i = junk  # (its node is lost to it: what is asked is that nothing crashes)
        with pytest.raises((TypeError, RuntimeError, OverflowError, ValueError)):
            v * 2.0
        with pytest.raises((TypeError, RuntimeError, OverflowError, ValueError)):
            v.tanh()
    assert (Value(1.0) * 2.0).data == 2.0


def test_value_init_in_c_and_in_python_agree():
    class Labelled(Value):
        def __init__(self, x: float, label: str) -> None:
            super().__init__(x)
            self.label = label

    for v in (Value(2.5), Value(3), Value(Fraction(5, 2)), Labelled(2.5, "x")):
        assert type(v._i) is int and v._a is None and v._b is None and v._prev == set()
        assert v._op == "" and v.data == float(v.data) and v.grad == 0.0
    assert Labelled(1.0, "w").label == "w"
    v = Value(2.0) * 3
    v.__init__(4.0)  # run again: the same node becomes a leaf
    assert (v.data, v._op) == (4.0, "")
    with pytest.raises(TypeError, match="real number, not str"):
        Value("2")
    with pytest.raises(TypeError):
        Value(1.0, bad_keyword=1)


def test_other_numbers_subclasses_and_errors_take_the_python_path():
    class Sub(Value):
        pass

    a = Value(3.0)
    assert (a + True).data == 4.0 and (a * Fraction(1, 3)).data == 1.0
    assert type(Sub(2.0) + a) is Value and type(-Sub(2.0)) is Value
    with pytest.raises(ZeroDivisionError, match=r"Value\(data=0.0, grad=0.0\) \*\* -1"):
        Value(0.0) ** -1
    with pytest.raises(ZeroDivisionError, match=r"1 / Value\(data=0.0"):
        1 / Value(0.0)
    with pytest.raises(ValueError, match="log of Value"):
        Value(0.0).log()
    with pytest.raises(TypeError):
        pow(a, 2, 5)
    assert a.__add__("x") is NotImplemented


def test_operators_from_threads_leak_nothing():
    base = live()
    errors = []

    def work() -> None:
        try:
            x = Value(0.5)
            for _ in range(2000):
                y = (x * 1.0001 + 0.1).relu() - x / 3.0
                del y
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and live() == base


def test_a_forked_child_gives_back_what_its_parent_filed():
    out = run_python(
        "-c",
        "import gc, os\n"
        "from micrograd_c import Value, stats\n"
        "from micrograd_c._core import CHandle, release_dead\n"
        "gc.disable()\n"
        "release_dead()\n"
        "base = stats().live\n"
        "x = Value(1.0)\n"
        "del x\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    release_dead()\n"
        "    os._exit(0 if stats().live == base else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "release_dead()\n"
        "print(os.waitstatus_to_exitcode(status), stats().live - base)\n",
        check=True,
    )
    assert out.stdout.split() == ["0", "0"]


def test_values_in_cycles_are_freed_by_the_gc():
    gc.collect()
    base = live()
    for _ in range(100):
        out = Value(2.0) * 3
        out._backward = lambda out=out: None  # a cycle: out -> its dict -> the lambda -> out
        del out
    gc.collect()
    assert live() == base


class Injected(Exception):
    """The exception a trace function raises at a line."""


def drop_some(a: Value) -> None:
    """Values made and dropped line by line (the frame's own die when it unwinds)."""
    x = a * 2.0
    y = x + a
    del x
    z = (y * y).tanh()
    y = z * 0.5
    del z
    [a * k for k in range(5)]
    w = y + 1.0
    del w, y


def test_values_dropped_while_a_trace_function_raises_at_every_line():
    a = Value(0.5)
    base = live()
    gc.disable()
    try:
        k = 0
        while True:
            k += 1
            seen = 0

            def local(frame, event, arg, k=k):
                nonlocal seen
                if event == "line":
                    seen += 1
                    if seen == k:
                        raise Injected
                return local

            def tracer(frame, event, arg):
                return local if frame.f_code is drop_some.__code__ else None

            sys.settrace(tracer)
            try:
                drop_some(a)
                fired = False
            except Injected:  # the exception pending while the frame's Values died
                fired = True
            finally:
                sys.settrace(None)
            assert live() == base, f"a node leaked with the exception at line {k}"
            if not fired:
                break
        assert k > 5
    finally:
        gc.enable()


def test_values_dropped_while_every_allocation_fails():
    testcapi = pytest.importorskip("_testcapi")
    base = live()
    for n in (10, 3000):  # the second fills the buffer: a batch goes back meanwhile
        kept = [Value(float(k)) * 2.0 for k in range(n)]
        testcapi.set_nomemory(0)
        try:
            del kept  # (nothing here allocates)
        finally:
            testcapi.remove_mem_hooks()
        assert live() == base, n


def test_data_and_grad_are_read_and_written_in_c_with_python_for_the_rest():
    calls = []

    def tracer(frame, event, arg):
        if "micrograd_c" in frame.f_code.co_filename:
            calls.append(frame.f_code.co_name)

    v = Value(2.0)
    sys.settrace(tracer)
    try:
        v.data = 3.0
        v.grad = 1
        got = (v.data, v.grad)
    finally:
        sys.settrace(None)
    assert got == (3.0, 1.0) and type(got[1]) is float and calls == []
    v.data = Fraction(1, 4)  # other numbers: Python's setter, as before
    v.grad = True
    assert (v.data, v.grad) == (0.25, 1.0)
    inverse = v**-1
    v.data = 0.0  # written through C: backward knows to check the power again
    with pytest.raises(ZeroDivisionError):
        inverse.backward()
    with pytest.raises(TypeError, match="data must be a real number"):
        v.data = "1"
    with pytest.raises(AttributeError):
        del v.grad
    with pytest.raises(AttributeError):
        _ = Value.__new__(Value).data
