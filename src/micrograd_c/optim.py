"""Optimizers (docs/tutorial.md, section 3): each step and zero_grad is one C call.

opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
history = train(lambda: loss_of(model), opt, max_steps=100, grad_tol=1e-6)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ._core import ffi, lib, raise_error
from .engine import Value


class Optimizer:
    """Parameters packed as a C index array; zero_grad and grad_norm in one call.

    ``params`` is a plain list: a parameter appended, removed or replaced is
    seen at the next call, which repacks (per-parameter state, such as
    momentum, follows its parameter; a new one starts at 0). C is only ever
    given the length of the array it reads.
    """

    _arrays = 0  # per-parameter double arrays of state (momentum...), in self._state

    def __init__(self, params: Iterable[Value]):
        self.params = list(params)
        self.steps = 0
        self._packed: list[Value] = []
        self._state: list[Any] = [ffi.new("double[]", 0) for _ in range(self._arrays)]
        self._c_idx: Any = None
        self._idx()

    def _idx(self) -> Any:
        """The parameters' node indices as a C array, repacked if the list changed."""
        if type(self.params) is list and self.params == self._packed:  # by identity, fast
            return self._c_idx
        params = list(self.params)
        if not all(isinstance(p, Value) for p in params):
            raise TypeError("an optimizer's parameters must all be Values")
        where = {id(p): k for k, p in enumerate(self._packed)}
        for j, old in enumerate(self._state):
            self._state[j] = new = ffi.new("double[]", len(params))
            for k, p in enumerate(params):
                if id(p) in where:
                    new[k] = old[where[id(p)]]
        self._packed = params
        self._c_idx = ffi.new("int[]", [p._i for p in params])
        return self._c_idx

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0."""
        idx = self._idx()
        err = lib.mg_zero_grad(idx, len(idx))
        if err:
            raise_error(err, "zero_grad")

    def grad_norm(self) -> float:
        """The Euclidean norm of the parameters' gradient."""
        idx = self._idx()
        return lib.mg_grad_norm(idx, len(idx))

    def step(self) -> None:
        """Update every parameter from its grad."""
        idx = self._idx()
        err = self._update(idx, len(idx))  # C marks powers for checking: data changed
        if err:
            raise_error(err, type(self).__name__)
        self.steps += 1

    def _update(self, idx: Any, n: int) -> int:
        raise NotImplementedError


class SGD(Optimizer):
    """p.data -= lr * p.grad (micrograd's update), with optional momentum and schedule."""

    _arrays = 1  # the velocity

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 0.01,
        momentum: float = 0.0,
        schedule: Callable[[int], float] | None = None,
    ):
        super().__init__(params)
        self.lr, self.momentum, self.schedule = lr, momentum, schedule

    def _update(self, idx: Any, n: int) -> int:
        lr = self.schedule(self.steps) if self.schedule else self.lr
        return lib.mg_sgd(idx, n, lr, self.momentum, self._state[0])


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015)."""

    _arrays = 2  # the first and second moments

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(params)
        self.lr, self.betas, self.eps = lr, betas, eps

    def _update(self, idx: Any, n: int) -> int:
        return lib.mg_adam(
            idx,
            n,
            self.lr,
            self.betas[0],
            self.betas[1],
            self.eps,
            self.steps + 1,
            self._state[0],
            self._state[1],
        )


def train(
    loss: Callable[[], Value],
    optimizer: Optimizer,
    max_steps: int,
    grad_tol: float | None = None,
    report: Callable[[int, float, float], None] | None = None,
) -> list[float]:
    """Gradient descent until max_steps, or until the gradient norm falls below grad_tol.

    Each step: loss(), zero_grad, backward, and (unless stopping) an optimizer
    step. report(step, loss, grad_norm) is called every step. Returns the losses.
    """
    history: list[float] = []
    for k in range(max_steps):
        value = loss()
        optimizer.zero_grad()
        value.backward()
        norm = optimizer.grad_norm()
        history.append(value.data)
        if report:
            report(k, value.data, norm)
        if grad_tol is not None and norm < grad_tol:
            break
        if math.isnan(norm):
            raise FloatingPointError(f"the gradient became nan at step {k}")
        optimizer.step()
    return history
