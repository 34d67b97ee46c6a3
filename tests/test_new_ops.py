"""Operations beyond micrograd: tanh, exp, log, sigmoid, Value ** Value, number ** Value."""

import math

import pytest
from helpers import assert_results_close, close, finite_difference, run, run_torch

from micrograd_c import Value

EXPRESSIONS = [
    (lambda x: x.tanh(), [0.7]),
    (lambda x: x.exp(), [1.3]),
    (lambda x: x.log(), [2.5]),
    (lambda x: x.sigmoid(), [-0.4]),
    (lambda x, y: x**y, [1.7, 2.3]),
    (lambda x, y: x**y, [-2.0, 3.0]),
    (lambda y: 2.0**y, [0.8]),
    (lambda x, y: (x * y).tanh() + (x - y).exp() * y.sigmoid() - (x * x + 1).log(), [0.3, -1.2]),
    (lambda x: (x.exp() + 1).log() - x.sigmoid() ** 2, [0.9]),
]


@pytest.mark.parametrize("fn,inputs", EXPRESSIONS)
def test_gradients_match_finite_differences(fn, inputs):
    _, grads = run(Value, fn, inputs)
    for k, g in enumerate(grads):
        if math.isnan(g):  # d(x ** y)/dy for x < 0: no real derivative (see test_value_power_edges)
            continue
        assert g == pytest.approx(finite_difference(fn, inputs, k), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("fn,inputs", EXPRESSIONS)
def test_new_ops_match_torch(fn, inputs):
    assert_results_close(run(Value, fn, inputs), run_torch(fn, inputs), rel=1e-12)


def test_closed_forms():
    x = Value(0.5)
    t = x.tanh()
    t.backward()
    assert t.data == math.tanh(0.5) and x.grad == 1 - math.tanh(0.5) ** 2
    y = Value(3.0)
    e = y.exp()
    e.backward()
    assert e.data == math.exp(3.0) and y.grad == e.data
    z = Value(4.0)
    lg = z.log()
    lg.backward()
    assert lg.data == math.log(4.0) and z.grad == 0.25
    s = Value(0.0).sigmoid()
    assert s.data == 0.5


@pytest.mark.parametrize("x", [1000.0, -1000.0, 710.0, -745.5])
def test_tanh_and_sigmoid_do_not_overflow(x):
    v = Value(x)
    t, s = v.tanh(), v.sigmoid()
    (t + s).backward()
    assert t.data == math.copysign(1.0, x)
    assert s.data == (1.0 if x > 0 else pytest.approx(0.0, abs=1e-300))
    assert v.grad == pytest.approx(0.0, abs=1e-300) and math.isfinite(v.grad)


def test_value_power_edges():
    # 0 ** b: exponent gradient is 0 (the limit), base gradient b * 0 ** (b-1)
    a, b = Value(0.0), Value(2.0)
    (a**b).backward()
    assert (a.grad, b.grad) == (0.0, 0.0)
    # negative base, integer exponent: value and base gradient defined, exponent's is not
    a, b = Value(-2.0), Value(3.0)
    p = a**b
    p.backward()
    assert p.data == -8.0 and a.grad == 12.0 and math.isnan(b.grad)
    # number ** Value
    y = Value(3.0)
    q = 2**y
    q.backward()
    assert q.data == 8.0 and close(y.grad, 8.0 * math.log(2.0))
    assert q._op == "**" and len(q._prev) == 2
