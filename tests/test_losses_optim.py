"""Losses against closed forms, finite differences and torch; optimizers against their formulas."""

import math

import pytest
from helpers import assert_results_close, finite_difference, run, run_torch

from micrograd_c import Value, losses, optim

LOSSES = {
    "mse": (
        lambda a, b, c: losses.mse([a, b, c], [1.0, -2.0, 0.5]),
        lambda a, b, c: ((a - 1.0) ** 2 + (b + 2.0) ** 2 + (c - 0.5) ** 2) / 3,
    ),
    "svm": (
        lambda a, b, c: losses.svm([a, b, c], [1, -1, 1]),
        lambda a, b, c: ((1 - a).relu() + (1 + b).relu() + (1 - c).relu()) / 3,
    ),
    "bce": (
        lambda a, b, c: losses.binary_cross_entropy([a, b, c], [1, 0, 1]),
        lambda a, b, c: -((a.sigmoid()).log() + (1 - b.sigmoid()).log() + (c.sigmoid()).log()) / 3,
    ),
    "softmax": (
        lambda a, b, c: losses.softmax_cross_entropy([a, b, c], 1),
        lambda a, b, c: (a.exp() + b.exp() + c.exp()).log() - b,
    ),
}
POINT = [0.3, -0.8, 1.7]


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_match_closed_forms_and_finite_differences(name):
    fused, closed = LOSSES[name]
    data, grads = run(Value, fused, POINT)
    ref_data, ref_grads = run(Value, closed, POINT)
    assert data == pytest.approx(ref_data, rel=1e-12)
    assert grads == pytest.approx(ref_grads, rel=1e-9, abs=1e-12)
    fd_grads = [finite_difference(fused, POINT, k) for k in range(len(POINT))]
    assert grads == pytest.approx(fd_grads, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", ["mse", "bce", "softmax"])
def test_losses_match_torch(name):
    torch = pytest.importorskip("torch")
    fn = LOSSES[name][0]
    torch_fns = {
        "mse": lambda a, b, c: torch.nn.functional.mse_loss(
            torch.stack([a, b, c]), torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
        ),
        "bce": lambda a, b, c: torch.nn.functional.binary_cross_entropy_with_logits(
            torch.stack([a, b, c]), torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
        ),
        "softmax": lambda a, b, c: torch.nn.functional.cross_entropy(
            torch.stack([a, b, c]).unsqueeze(0), torch.tensor([1])
        ),
    }
    assert_results_close(run(Value, fn, POINT), run_torch(torch_fns[name], POINT), rel=1e-12)


def test_stable_at_extreme_logits():
    big = [Value(1000.0), Value(-1000.0), Value(0.0)]
    ce = losses.softmax_cross_entropy(big, 0)
    bce = losses.binary_cross_entropy(big, [1, 0, 1])
    (ce + bce).backward()
    assert math.isfinite(ce.data) and ce.data == pytest.approx(0.0, abs=1e-300)
    assert bce.data == pytest.approx(math.log(2) / 3)
    assert all(math.isfinite(v.grad) for v in big)


def test_l2_builds_pythons_sum_of_squares():
    params = [Value(0.5), Value(-2.0), Value(3.0)]
    fused = losses.l2(params)
    plain = sum(p * p for p in params)
    assert fused.data == plain.data and fused._op == plain._op == "+"
    fused.backward()
    assert [p.grad for p in params] == [1.0, -4.0, 6.0]


def test_sgd_is_micrograds_update_with_momentum_and_schedule():
    p = Value(1.0)
    p.grad = 0.5
    optim.SGD([p], lr=0.1).step()
    assert p.data == 1.0 - 0.1 * 0.5
    q = Value(0.0)
    opt = optim.SGD([q], lr=0.1, momentum=0.9, schedule=lambda k: 0.1 / (k + 1))
    for _ in range(3):
        q.grad = 1.0
        opt.step()
    v1, v2, v3 = 1.0, 1.9, 2.71
    assert q.data == pytest.approx(-(0.1 * v1 + 0.05 * v2 + 0.1 / 3 * v3))


def test_adam_first_step_moves_by_lr():
    p = Value(2.0)
    opt = optim.Adam([p], lr=0.01)
    p.grad = 123.0
    opt.step()
    assert p.data == pytest.approx(2.0 - 0.01, rel=1e-6)  # bias-corrected step is lr * sign


def test_train_stops_on_gradient_norm_or_max_steps():
    x = Value(3.0)
    opt = optim.SGD([x], lr=0.1)
    history = optim.train(lambda: (x - 1) ** 2, opt, max_steps=1000, grad_tol=1e-6)
    assert len(history) < 1000 and x.data == pytest.approx(1.0, abs=1e-6)
    assert opt.grad_norm() < 1e-6
    y = Value(3.0)
    assert len(optim.train(lambda: (y - 1) ** 2, optim.SGD([y], lr=0.01), max_steps=5)) == 5


def test_optimizer_zero_grad_and_type_checks():
    ps = [Value(1.0), Value(2.0)]
    (ps[0] * ps[1]).backward()
    opt = optim.SGD(ps)
    assert opt.grad_norm() == pytest.approx(math.sqrt(5))
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]
    with pytest.raises(TypeError):
        optim.SGD([1.0])
    with pytest.raises(ValueError):
        losses.softmax_cross_entropy(ps, 2)


def test_fused_svm_builds_the_demo_expression():
    scores = [Value(0.3), Value(-1.5), Value(2.0)]
    labels = [1, -1, -1]
    fused = losses.svm(scores, labels)
    plain = sum((1 + -y * s).relu() for y, s in zip(labels, scores)) * (1.0 / len(labels))
    assert fused.data == plain.data and fused._op == plain._op == "*"
    fused.backward()
    assert [s.grad for s in scores] == pytest.approx([-1 / 3, 0.0, 1 / 3])
    with pytest.raises(ValueError):
        losses.svm(scores, [1, 1])


def test_optimizer_step_keeps_powers_checked():
    """An optimizer writes data in C; a power whose base it moves to 0 must still raise."""
    x = Value(0.5)
    inverse = x**-1
    x.grad = 5.0
    optim.SGD([x], lr=0.1).step()  # x.data becomes 0.0: d(x**-1)/dx divides by zero
    assert x.data == 0.0
    with pytest.raises(ZeroDivisionError):
        inverse.backward()


@pytest.mark.parametrize("name", ["mse", "svm", "bce"])
def test_targets_may_be_values_and_get_gradients(name):
    """A target or label given as a Value gives the same loss as its number, and a gradient."""
    loss = {"mse": losses.mse, "svm": losses.svm, "bce": losses.binary_cross_entropy}[name]
    numbers = [1.0, -1.0, 1.0] if name != "bce" else [1.0, 0.0, 1.0]
    preds = [Value(x) for x in POINT]
    targets = [Value(t) for t in numbers]
    as_values = loss(preds, targets)
    as_numbers = loss([Value(x) for x in POINT], numbers)
    assert as_values.data == pytest.approx(as_numbers.data, rel=1e-15)
    as_values.backward()
    assert any(t.grad != 0 for t in targets)
