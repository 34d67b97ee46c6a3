"""Shared helpers: run one expression on micrograd, on micrograd_c and on torch."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence

import pytest
from micrograd.engine import Value as MicroValue

from micrograd_c import Value

Result = tuple[float, list[float]]


def run(value_cls: type, fn: Callable, inputs: Sequence[float]) -> Result:
    """fn over leaves of value_cls made from inputs, after backward: (data, leaf grads)."""
    leaves = [value_cls(x) for x in inputs]
    out = fn(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def run_torch(fn: Callable, inputs: Sequence[float]) -> Result:
    """The same expression on float64 torch scalars (skips when torch is missing)."""
    torch = pytest.importorskip("torch")
    leaves = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in inputs]
    out = fn(*leaves)
    out.backward()
    return out.item(), [0.0 if leaf.grad is None else leaf.grad.item() for leaf in leaves]


def same(a: float, b: float) -> bool:
    """Equal floats, nan matching nan."""
    return a == b or (math.isnan(a) and math.isnan(b))


def close(a: float, b: float, rel: float = 1e-12, scale: float = 1.0) -> bool:
    """Equal within rel (relative to max(|a|, |b|, scale)), nan matching nan."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), scale)


def assert_results_close(ours: Result, theirs: Result, rel: float = 1e-12) -> None:
    """Data and every leaf grad agree within rel."""
    assert close(ours[0], theirs[0], rel), (ours, theirs)
    for g1, g2 in zip(ours[1], theirs[1]):
        assert close(g1, g2, rel), (ours, theirs)


@pytest.fixture
def oracle():
    """Check an expression against micrograd (and torch when installed)."""

    def check(fn: Callable, inputs: Sequence[float], rel: float = 1e-12) -> Result:
        ours = run(Value, fn, inputs)
        assert_results_close(ours, run(MicroValue, fn, inputs), rel)
        return ours

    return check


@pytest.fixture
def keep_micrograd():
    """Put back sys.modules' micrograd entries, which install_as_micrograd() replaces."""

    def ours():
        return {
            k: v for k, v in sys.modules.items() if k == "micrograd" or k.startswith("micrograd.")
        }

    before = ours()
    yield
    for name in ours():
        if name not in before:
            del sys.modules[name]
    sys.modules.update(before)
