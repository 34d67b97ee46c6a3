"""The Value contract with micrograd users, checked against micrograd."""

import decimal
import fractions

import numpy as np
import pytest
from helpers import trace
from micrograd.engine import Value as MicroValue

from micrograd_c import Value


def build(V):
    """One expression using every micrograd operator and reflected form."""
    a, b = V(3.0), V(-2.0)
    nodes = [
        a + b,
        a * b,
        a**2,
        a**-1,
        a**0.5,
        b.relu(),
        a.relu(),
        -a,
        a - b,
        a / b,
        2 + a,
        2 * a,
        1 - a,
        1 / a,
        a + 1,
        a * 2,
        a - 1,
        a / 2,
    ]
    return a, b, nodes


def test_ops_match_micrograd_values_grads_and_op_strings():
    a, b, ours = build(Value)
    ma, mb, theirs = build(MicroValue)
    for o, t in zip(ours, theirs):
        assert o.data == t.data
        assert o._op == t._op
        assert len(o._prev) == len(t._prev)
        assert sorted(c.data for c in o._prev) == sorted(c.data for c in t._prev)
        o.backward()
        t.backward()
    assert (a.grad, b.grad) == (
        pytest.approx(ma.grad, rel=1e-12),
        pytest.approx(mb.grad, rel=1e-12),
    )


def test_repr_and_float_deviation():
    assert repr(Value(3)) == "Value(data=3.0, grad=0.0)"
    assert repr(Value(-1.5)) == "Value(data=-1.5, grad=0.0)"
    assert Value(0)._op == ""


@pytest.mark.parametrize(
    "x",
    [
        3,
        2.5,
        True,
        np.float64(1.5),
        np.float32(0.5),
        np.int64(7),
        fractions.Fraction(1, 4),
        decimal.Decimal("0.25"),
    ],
)
def test_accepts_real_numbers(x):
    v = Value(x)
    assert v.data == float(x) and type(v.data) is float
    assert (v + x).data == float(x) + float(x)


# numbers that micrograd combines with a float in float arithmetic (others, such as
# np.float32 or Decimal, it computes in their own type: README, deviations)
NUMBERS = [3, -2, 2.5, True, np.float64(1.5), fractions.Fraction(1, 49)]
OPERATORS = {
    "+": lambda a, x: a + x,
    "-": lambda a, x: a - x,
    "*": lambda a, x: a * x,
    "/": lambda a, x: a / x,
    "r+": lambda a, x: x + a,
    "r-": lambda a, x: x - a,
    "r*": lambda a, x: x * a,
    "r/": lambda a, x: x / a,
}


@pytest.mark.parametrize("x", NUMBERS, ids=repr)
@pytest.mark.parametrize("op", OPERATORS)
def test_number_operands_build_micrograds_nodes(op, x):
    """Every operator with a number of every kind: micrograd's value, _op and grad, bit for bit.

    micrograd computes x ** -1 for a / x in x's own type: exactly 49 for Fraction(1, 49),
    where 1 / float(x) would give 49.00000000000001.
    """
    ours, theirs = OPERATORS[op](Value(0.7), x), OPERATORS[op](MicroValue(0.7), x)
    assert ours.data == float(theirs.data)
    assert ours._op == theirs._op
    assert sorted(c.data for c in ours._prev) == sorted(float(c.data) for c in theirs._prev)
    a, ma = Value(0.7), MicroValue(0.7)
    OPERATORS[op](a, x).backward()
    OPERATORS[op](ma, x).backward()
    assert a.grad == float(ma.grad)


@pytest.mark.parametrize("k", [2, -1, 3, 0.5, -1.5, np.float64(2.0)], ids=repr)
def test_number_exponents_build_micrograds_nodes(k):
    a, ma = Value(0.7), MicroValue(0.7)
    ours, theirs = a**k, ma**k
    assert (ours.data, ours._op) == (theirs.data, theirs._op)
    ours.backward()
    theirs.backward()
    assert a.grad == ma.grad


def test_division_by_zero_names_the_operands():
    with pytest.raises(ZeroDivisionError, match=r"Value\(data=1.0, grad=0.0\) / 0"):
        Value(1.0) / 0
    with pytest.raises(ZeroDivisionError, match=r"Value\(data=0.0, grad=0.0\) \*\* -1"):
        Value(0.0) ** -1


@pytest.mark.parametrize("x", ["3", None, 1j, [1.0], {}, object()])
def test_rejects_non_numbers_naming_the_type(x):
    with pytest.raises(TypeError, match=type(x).__name__):
        Value(x)
    v = Value(1.0)
    for op in (lambda: v + x, lambda: v**x, lambda: v - x, lambda: v / x):
        with pytest.raises(TypeError, match=type(x).__name__):
            op()
    # Python's own message where the other type has a say (str * int repeats)
    for op in (lambda: x + v, lambda: x * v, lambda: v * x, lambda: x**v):
        with pytest.raises(TypeError):
            op()
    with pytest.raises(TypeError, match=type(x).__name__):
        v.data = x


def test_reflected_forms_and_numpy_scalars_give_values():
    v = Value(4.0)
    for r in (
        2 * v,
        1 - v,
        1 / v,
        2 + v,
        np.float64(2) * v,
        np.float64(2) + v,
        np.float64(1) - v,
        np.float64(1) / v,
        v * np.float64(2),
        2**v,
    ):
        assert type(r) is Value
    assert (np.float64(2) * v).data == 8.0
    assert (1 - v).data == -3.0 and (1 / v).data == 0.25


def test_data_and_grad_are_writable_like_micrograd():
    p = Value(1.0)
    (p * 3).backward()
    assert p.grad == 3.0
    p.data -= 0.1 * p.grad
    assert p.data == pytest.approx(0.7)
    p.grad = 0
    assert p.grad == 0.0
    p.data = 5
    assert p.data == 5.0


def test_equality_and_hash_are_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b, a}) == 2


def test_prev_returns_the_same_objects_every_time():
    a, b = Value(2.0), Value(3.0)
    c = a * b + a
    (prod,) = [p for p in c._prev if p is not a]
    assert c._prev == {prod, a} and prod._prev == {a, b}
    k = (a * 5)._prev
    const = a * 5
    first = const._prev
    assert first == const._prev  # the wrapped constant is one object, every time
    assert sorted(v.data for v in k) == [2.0, 5.0]
    assert len((a + a)._prev) == 1


def test_identity_traversal_sees_no_duplicates():
    def expr(V):
        x, y = V(1.5), V(-0.5)
        s = x * y
        return (s + x) * (s - y) / (x + 2)

    ours, theirs = trace(expr(Value)), trace(expr(MicroValue))
    assert len(ours[0]) == len(theirs[0]) and len(ours[1]) == len(theirs[1])
    assert sorted(n._op for n in ours[0]) == sorted(n._op for n in theirs[0])


def test_backward_accumulates_and_never_zeroes():
    x = Value(3.0)
    y = x * x
    y.backward()
    y.backward()
    assert x.grad == 12.0  # 6 + 6, as micrograd
    assert y.grad == 1.0  # the root's grad is set, not added


def test_node_backward_by_hand_equals_backward():
    def expr():
        a, b = Value(2.0), Value(-3.0)
        e = a * b
        d = e + 10.0
        r = d.relu()
        return a, b, [r * -2.0, r, d, e]  # reverse topological order

    a, b, nodes = expr()
    nodes[0].grad = 1.0
    for node in nodes:  # by hand, node by node, as the lessons do
        node._backward()
    a2, b2, nodes2 = expr()
    nodes2[0].backward()
    assert (a.grad, b.grad) == (a2.grad, b2.grad) == (6.0, -4.0)


def test_custom_node_keeps_children_and_op_for_display():
    a, b = Value(1.0), Value(2.0)
    c = Value(3.0, (a, b), "custom")
    assert c._prev == {a, b} and c._op == "custom"
