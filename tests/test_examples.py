"""micrograd's own test expressions and the course chapter's worked example."""

from helpers import assert_results_close, run, run_torch
from micrograd.engine import Value as MicroValue

from micrograd_c import Value


def sanity_check(x):
    """micrograd's test_sanity_check expression."""
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    return h + q + q * x


def more_ops(a, b):
    """micrograd's test_more_ops expression (also its README example)."""
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return g


def test_sanity_check_is_exact():
    data, (grad,) = run(Value, sanity_check, [-4.0])
    assert data == -20.0 and grad == 46.0
    assert run(MicroValue, sanity_check, [-4.0]) == (data, [grad])


def test_more_ops_matches_micrograd():
    ours = run(Value, more_ops, [-4.0, 2.0])
    assert_results_close(ours, run(MicroValue, more_ops, [-4.0, 2.0]))
    assert abs(ours[0] - 24.70408163265306) < 1e-12
    assert abs(ours[1][0] - 138.83381924198252) < 1e-10
    assert abs(ours[1][1] - 645.5772594752186) < 1e-10


def test_examples_match_torch():
    assert_results_close(run(Value, more_ops, [-4.0, 2.0]), run_torch(more_ops, [-4.0, 2.0]))
    assert_results_close(run(Value, sanity_check, [-4.0]), run_torch(sanity_check, [-4.0]))


def test_chapter_worked_example():
    """The tutorial's first example: x=2, y=3, b=1, z = x*y + b gives 7 and grads 3, 2, 1."""
    x, y, b = Value(2.0), Value(3.0), Value(1.0)
    z = x * y + b
    z.backward()
    assert z.data == 7.0
    assert (x.grad, y.grad, b.grad) == (3.0, 2.0, 1.0)
