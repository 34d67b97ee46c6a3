"""softplus, logaddexp, and the logsumexp and softmax built on them: values, slopes, no overflow."""

import math

import pytest
from helpers import finite_difference, run, run_torch

import micrograd_c
from micrograd_c import Value, record

EXPRESSIONS = [
    (lambda x: x.softplus(), [0.7]),
    (lambda x: x.softplus(), [-3.5]),
    (lambda x, y: x.logaddexp(y), [0.3, -1.2]),
    (lambda x, y: x.logaddexp(y) * y, [2.0, 2.0]),
    (lambda x: x.logaddexp(1.5) + x.logaddexp(2) * 3, [0.4]),
    (lambda x, y, z: micrograd_c.logsumexp([x, y, z, x]), [0.1, -2.0, 1.3]),
    (lambda x, y, z: sum(k * s for k, s in enumerate(micrograd_c.softmax([x, y, z]))), [1, -2, 3]),
]


def torch_form(fn):
    """fn over torch scalars: the methods torch spells differently patched in, per call."""
    torch = pytest.importorskip("torch")

    class T:
        """A torch scalar with micrograd_c's method names."""

        def __init__(self, t):
            self.t = t

        def softplus(self):
            return T(torch.nn.functional.softplus(self.t))

        def logaddexp(self, other):
            o = other.t if isinstance(other, T) else torch.tensor(float(other), dtype=self.t.dtype)
            return T(torch.logaddexp(self.t, o))

        def __add__(self, other):
            return T(self.t + (other.t if isinstance(other, T) else other))

        __radd__ = __add__

        def __mul__(self, other):
            return T(self.t * (other.t if isinstance(other, T) else other))

        __rmul__ = __mul__

    def over_torch(*leaves):
        if fn is EXPRESSIONS[-2][0]:
            return torch.logsumexp(torch.stack([leaves[k] for k in (0, 1, 2, 0)]), 0)
        if fn is EXPRESSIONS[-1][0]:
            s = torch.softmax(torch.stack(leaves), 0)
            return sum(k * s[k] for k in range(3))
        return fn(*[T(t) for t in leaves]).t

    return over_torch


@pytest.mark.parametrize("fn,inputs", EXPRESSIONS)
def test_gradients_match_finite_differences(fn, inputs):
    _, grads = run(Value, fn, inputs)
    for k, g in enumerate(grads):
        assert g == pytest.approx(finite_difference(fn, inputs, k), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("fn,inputs", EXPRESSIONS)
def test_match_torch(fn, inputs):
    data, grads = run(Value, fn, inputs)
    want, want_grads = run_torch(torch_form(fn), inputs)
    assert data == pytest.approx(want, rel=1e-14)
    assert grads == pytest.approx(want_grads, rel=1e-14, abs=1e-16)


@pytest.mark.parametrize("x", [1000.0, 40.0, 0.0, -40.0, -1000.0])
def test_softplus_closed_form_without_overflow(x):
    v = Value(x)
    s = v.softplus()
    s.backward()
    assert s.data == pytest.approx(max(x, 0.0) + math.log1p(math.exp(-abs(x))), rel=1e-15)
    assert v.grad == pytest.approx(1 / (1 + math.exp(-x)) if x > -700 else 0.0, rel=1e-15)
    assert s._op == "softplus" and s._prev == {v}


@pytest.mark.parametrize(
    "a,b", [(1000.0, 999.0), (-1000.0, -1001.0), (3.0, 3.0), (-math.inf, 2.0), (5.0, -800.0)]
)
def test_logaddexp_closed_form_without_overflow(a, b):
    x, y = Value(a), Value(b)
    out = x.logaddexp(y)
    out.backward()
    top, low = max(a, b), min(a, b)
    assert out.data == pytest.approx(top + math.log1p(math.exp(low - top)), rel=1e-15)
    assert x.grad + y.grad == pytest.approx(1.0, rel=1e-15)
    # the smaller slope is accurate however small: e ** (low - top) / (1 + ...)
    small = math.exp(low - top) / (1 + math.exp(low - top))
    assert min(x.grad, y.grad) == pytest.approx(small, rel=1e-15, abs=1e-300)
    assert out._op == "logaddexp" and out._children() == [x, y]


def test_softmax_of_huge_values_is_finite_and_sums_to_one():
    xs = [Value(v) for v in (8900.0, 8899.0, -5.0, 0.0)]
    s = micrograd_c.softmax(xs)
    (s[0] * 3 + s[1]).backward()
    assert sum(v.data for v in s) == pytest.approx(1.0, rel=1e-15)
    assert s[0].data == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-14)
    assert all(math.isfinite(x.grad) for x in xs)
    assert sum(x.grad for x in xs) == pytest.approx(0.0, abs=1e-14)  # softmax is shift-invariant


def test_logsumexp_of_nothing_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        micrograd_c.logsumexp([])


def test_replay_agrees_with_eager_bit_for_bit():
    xs = [Value(v) for v in (0.5, -1.0, 2.0, 30.0)]
    root = sum(k * s for k, s in enumerate(micrograd_c.softmax(xs))) + xs[0].softplus()
    rec = record(root, inputs=xs)
    for inputs in ([0.5, -1.0, 2.0, 30.0], [700.0, -3.0, 1e-3, 699.0]):
        rec.set_inputs(inputs)
        for x in xs:
            x.grad = 0.0
        replayed = rec.forward()
        rec.backward()
        replayed_grads = [x.grad for x in xs]
        for x in xs:
            x.grad = 0.0
        fresh = sum(k * s for k, s in enumerate(micrograd_c.softmax(xs))) + xs[0].softplus()
        fresh.backward()
        assert replayed == fresh.data
        assert replayed_grads == [x.grad for x in xs]


def test_softmax_and_logsumexp_take_a_generator():
    xs = [Value(1.0), Value(2.0)]
    assert [v.data for v in micrograd_c.softmax(x for x in xs)] == [
        v.data for v in micrograd_c.softmax(xs)
    ]
    assert micrograd_c.logsumexp(x for x in xs).data == micrograd_c.logsumexp(xs).data
    with pytest.raises(ValueError, match="at least one"):
        micrograd_c.logsumexp(x for x in [])
