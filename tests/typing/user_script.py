"""A micrograd user's script, checked by `mypy --strict` (see .ci/run) and run by the tests.

It uses the public API as the README does; every `reveal_type`-worthy result is annotated, so
a change to the package's types that breaks such a script fails the check.
"""

from __future__ import annotations

import contextlib
import random

from micrograd_c import (
    MLP,
    Recording,
    Value,
    draw_dot,
    grad_table,
    losses,
    optim,
    record,
    to_mermaid,
)
from micrograd_c.nn import Layer, Neuron


def expression() -> Value:
    """Value arithmetic, with numbers on either side, and the extra ops."""
    a, b = Value(-4.0), Value(2)
    c: Value = a + b
    d: Value = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e: Value = c - d
    f: Value = e**2
    g: Value = f / 2.0
    g += 10.0 / f
    g += (a.tanh() + a.exp() + b.log() + a.sigmoid()) * 0.5 + 2**b + b**a
    g.backward()
    grads: tuple[float, float] = (a.grad, b.grad)
    assert all(isinstance(x, float) for x in grads)
    a.data -= 0.1 * a.grad
    a.grad = 0
    return g


def train(steps: int) -> list[float]:
    """The README's training loop: an MLP, a loss from the losses module, an optimizer."""
    random.seed(1337)
    xs: list[tuple[float, float]] = [
        (random.uniform(-1, 1), random.uniform(-1, 1)) for _ in range(8)
    ]
    ys: list[int] = [1 if x0 * x1 > 0 else -1 for x0, x1 in xs]
    model = MLP(2, [8, 1])
    params: list[Value] = model.parameters()
    opt = optim.SGD(params, lr=0.1, schedule=lambda k: 1.0 - 0.5 * k / steps)

    def loss() -> Value:
        scores: list[Value] = [model([Value(x0), Value(x1)]) for x0, x1 in xs]
        return losses.svm(scores, ys) + 1e-4 * losses.l2(model.parameters())

    history: list[float] = optim.train(loss, opt, max_steps=steps, grad_tol=1e-9)
    return history


def other_losses() -> float:
    """Targets as numbers or as Values; Neuron and Layer calls."""
    neuron = Neuron(3)
    out: Value = neuron([1.0, Value(2.0), 3])
    layer = Layer(3, 2)
    outs: list[Value] = layer([0.5, 0.5, 0.5])
    targets: list[Value | float] = [Value(1.0), 0.0]
    total = (
        losses.mse(outs, targets)
        + losses.binary_cross_entropy(outs, [1, 0])
        + losses.softmax_cross_entropy([out, *outs], 0)
    )
    adam = optim.Adam(layer.parameters(), lr=0.01)
    adam.zero_grad()
    total.backward()
    adam.step()
    norm: float = adam.grad_norm()
    return norm


def replayed() -> float:
    """record() a graph once and replay it."""
    x = Value(0.5)
    w = Value(-1.5)
    loss = (w * x + 1).relu() ** 2
    rec: Recording = record(loss, inputs=[x])
    rec.set_inputs([0.25])
    value: float = rec.forward()
    rec.backward()
    rec.close()
    return value


def explained() -> str:
    """The chapter's pictures: mermaid text, the gradient table, graphviz (when installed)."""
    x, y = Value(2.0), Value(-3.0)
    z = x * y + 1
    z.backward()
    names = {x: "x", y: "y", z: "z"}
    text: str = to_mermaid(z, names) + "\n" + grad_table(z, names, markdown=True)
    with contextlib.suppress(ImportError):
        draw_dot(z, labels=names)
    return text


if __name__ == "__main__":
    expression()
    print(
        f"trained: loss {train(5)[-1]:.4f}; grad norm {other_losses():.4f}; "
        f"replayed {replayed():.4f}"
    )
    print(explained())
