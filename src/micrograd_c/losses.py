"""Loss functions over Values: those of docs/tutorial.md, micrograd's demo losses, and softmax.

Each is built from Value operations (the fused ones build the very nodes the
plain Python expression would), so gradients come from the engine.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import SupportsFloat, cast

from ._core import ffi, lib, real
from ._handles import Pool, adopt
from .engine import Value


def _mean(terms: Sequence[Value]) -> Value:
    """sum(terms) * (1.0 / len(terms)), as micrograd's demo averages."""
    if not terms:
        raise ValueError("a loss needs at least one term")
    return cast(Value, sum(terms)) * (1.0 / len(terms))


def mse(predictions: Sequence[Value], targets: Sequence[Value | SupportsFloat]) -> Value:
    """Mean squared error: (1/n) * sum((p - t)**2)."""
    return _mean([(p - t) ** 2 for p, t in zip(predictions, targets, strict=True)])


def svm(scores: Sequence[Value], labels: Sequence[Value | float]) -> Value:
    """micrograd's demo max-margin loss: the mean of relu(1 - y * score), labels ±1.

    One C call building the nodes of sum((1 + -y*s).relu() ...) * (1.0 / n); with a label
    that is a Value, that expression itself, so the label gets a gradient too.
    """
    scores, labels = list(scores), list(labels)  # C trusts no length it did not count
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    if (
        not scores
        or not all(isinstance(s, Value) for s in scores)
        or any(isinstance(y, Value) for y in labels)
    ):
        return _mean([(1 + -y * s).relu() for s, y in zip(scores, labels)])
    idx = ffi.new("int[]", [s._i for s in scores])
    ys = ffi.new("double[]", [real(y, "label") for y in labels])
    return adopt(lambda: lib.mg_svm(idx, ys, len(scores)), Pool(scores), "svm")


def binary_cross_entropy(logits: Sequence[Value], labels: Sequence[Value | float]) -> Value:
    """Mean of -(y log σ(z) + (1-y) log(1-σ(z))), labels 0/1, stable for any logit z.

    Computed as softplus(z) - z*y, so no exp overflows.
    """
    return _mean([z.softplus() - z * y for z, y in zip(logits, labels, strict=True)])


def logsumexp(values: Iterable[Value]) -> Value:
    """log(sum(e ** v for v in values)), without overflow: logaddexp, pair by pair."""
    values = list(values)  # (any iterable, read once)
    if not values:
        raise ValueError("logsumexp needs at least one value")
    return functools.reduce(Value.logaddexp, values)


def softmax(values: Iterable[Value]) -> list[Value]:
    """e ** v / sum(e ** u for u in values), for each v: e ** (v - logsumexp), never overflowing."""
    values = list(values)  # (read twice: a generator would be empty the second time)
    shift = -logsumexp(values)
    return [(v + shift).exp() for v in values]


def softmax_cross_entropy(logits: Sequence[Value], target: int) -> Value:
    """-log softmax(logits)[target]: logsumexp(logits) - logits[target]."""
    if not 0 <= target < len(logits):
        raise ValueError(f"target {target} is not a class index for {len(logits)} logits")
    return logsumexp(logits) - logits[target]


def l2(params: Sequence[Value]) -> Value:
    """sum(p * p for p in params), in one C call, building the nodes Python's sum() would."""
    params = list(params)
    if not params or not all(isinstance(p, Value) for p in params):
        return cast(Value, sum(p * p for p in params))
    idx = ffi.new("int[]", [p._i for p in params])
    return adopt(lambda: lib.mg_dot(idx, idx, len(params)), Pool(params), "l2")
