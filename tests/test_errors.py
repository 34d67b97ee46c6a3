"""Errors follow Python floats and the math module; nothing crashes the process."""

import math
import subprocess
import sys
import textwrap

import pytest
from helpers import same
from micrograd.engine import Value as MicroValue

from micrograd_c import Value, record


def same_outcome(fn, *inputs):
    """fn raises the same exception type on both engines, or gives the same data."""
    outcomes = []
    for V in (MicroValue, Value):
        try:
            outcomes.append(("ok", fn(*map(V, inputs)).data))
        except (ArithmeticError, ValueError) as exc:
            outcomes.append(("raise", type(exc)))
    ours, theirs = outcomes[1], outcomes[0]
    if ours[0] == "ok" and theirs[0] == "ok" and isinstance(theirs[1], float):
        assert same(ours[1], theirs[1])
    else:
        assert ours == theirs
    return ours


@pytest.mark.parametrize(
    "fn,inputs,expected",
    [
        (lambda x: x / 0, [1.0], ZeroDivisionError),
        (lambda x, y: x / y, [1.0, 0.0], ZeroDivisionError),
        (lambda x: x**-1, [0.0], ZeroDivisionError),
        (lambda x: 1 / x, [0.0], ZeroDivisionError),
        (lambda x: x**2, [1e200], OverflowError),
        (lambda x: x**0.5, [-4.0], None),  # micrograd: a complex number; we raise ValueError
    ],
)
def test_errors_match_micrograd(fn, inputs, expected):
    if expected is None:
        with pytest.raises(ValueError, match="fractional"):
            fn(*map(Value, inputs))
    else:
        assert same_outcome(fn, *inputs) == ("raise", expected)


@pytest.mark.parametrize(
    "fn,inputs",
    [
        (lambda x, y: x * y, [1e308, 10.0]),  # inf, as floats give
        (lambda x, y: x + y, [1e308, 1e308]),
        (lambda x, y: x * y - x * y, [1e308, 10.0]),  # inf - inf = nan
        (lambda x: x.relu(), [float("nan")]),
        (lambda x: x**2, [float("inf")]),
        (lambda x: x**-1, [float("inf")]),
        (lambda x: x**0, [float("nan")]),
    ],
)
def test_inf_and_nan_where_floats_give_them(fn, inputs):
    assert same_outcome(fn, *inputs)[0] == "ok"


@pytest.mark.parametrize(
    "op,x,exc",
    [
        ("log", 0.0, ValueError),
        ("log", -1.0, ValueError),
        ("exp", 1000.0, OverflowError),
    ],
)
def test_math_module_errors(op, x, exc):
    with pytest.raises(exc) as info:
        getattr(math, op)(x)
    with pytest.raises(exc, match="math"):
        getattr(Value(x), op)()
    assert "math" in str(info.value)


def test_math_module_infinities():
    assert Value(float("inf")).exp().data == math.inf
    assert Value(float("-inf")).exp().data == 0.0
    assert Value(float("inf")).log().data == math.inf
    assert math.isnan(Value(float("nan")).log().data)


def test_backward_error_changes_no_gradient():
    """micrograd raises in backward for 0 ** -0.5; we raise the same, before touching grads."""
    x = Value(0.0)
    y = x**0.5 + x * 3
    with pytest.raises(ZeroDivisionError):
        y.backward()
    assert x.grad == 0.0 and y.grad == 0.0
    mx = MicroValue(0.0)
    with pytest.raises(ZeroDivisionError):
        (mx**0.5).backward()


def test_a_data_write_before_a_reload_keeps_powers_checked():
    """Whether a power may fail is the graph's to say, not a count of writes a reload resets."""
    script = textwrap.dedent("""
        import importlib
        from micrograd_c import _core, engine, Value
        x = Value(1.0)
        root = x**-0.5
        x.data = 0.0  # now d(x ** -0.5)/dx divides by zero
        importlib.reload(_core)
        importlib.reload(engine)
        try:
            root.backward()
        except ZeroDivisionError:
            print("raised", x.grad)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["raised", "0.0"]


def test_memory_error_leaves_graphs_intact():
    from micrograd_c import stats
    from micrograd_c._core import lib

    a = Value(2.0)
    b = a * 3
    lib.mg_set_node_limit(stats().live)
    try:
        for op in (
            lambda: a + b,
            lambda: a * 2,
            lambda: Value(1.0),
            lambda: a.tanh(),
            lambda: a**2,
            lambda: a - b,
        ):
            with pytest.raises(MemoryError):
                op()
    finally:
        lib.mg_set_node_limit(-1)
    b.backward()
    assert (a.data, b.data, a.grad) == (2.0, 6.0, 3.0)
    assert (a + b).data == 8.0


def test_data_write_then_unrelated_backward_still_checks_powers():
    """Found by the state machine: a .data write must keep powers checked past other backwards."""
    x = Value(2.0)
    inverse = x**-1
    x.data = 0.0  # now d(x**-1)/dx divides by zero
    (Value(1.0) * 2).backward()  # an unrelated backward consumes the "data written" signal
    with pytest.raises(ZeroDivisionError):
        inverse.backward()
    assert x.grad == 0.0 and inverse.grad == 0.0


def test_log_of_a_leaf_written_to_zero_raises_in_backward_as_python_would():
    """Found by the state machine: log's slope 1 / x divides by zero once x.data is 0.0."""
    x = Value(2.0)
    y = x.log() * 3 + x
    x.data = 0.0
    with pytest.raises(ZeroDivisionError, match=r"1 / 0\.0"):
        y.backward()
    assert x.grad == 0.0 and y.grad == 0.0
    recording = record(y)  # the same check before a replayed backward
    with pytest.raises(ZeroDivisionError):
        recording.backward()
    x.data = 1e-310  # subnormal: 1 / x overflows to inf, as Python's (1 / x) * g does
    y.backward()
    assert x.grad == math.inf
