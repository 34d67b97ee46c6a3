"""Value: micrograd's scalar autograd API, with the graph kept in C.

A Value is a thin handle on one node of the C arena: ``_i`` is the node's
index, and the Value owns one reference on it, dropped in ``__del__``. The
node keeps its own children alive in C; ``_kids`` keeps their Python
handles, so that ``_prev`` hands back the very objects a node was built
from. A ``None`` in ``_kids`` stands for a child that never had a handle
(a number wrapped on the fly, like micrograd's ``Value(other)``); one is
made the first time ``_prev`` is asked for.

The arithmetic is micrograd's own: ``a - b`` is ``a + (-b)``, ``a / b`` is
``a * b**-1``, and so on, so graphs, values and gradients come out as
micrograd's do.
"""
from __future__ import annotations

from typing import Any, Optional, SupportsFloat, Union

from ._core import MASK, SHIFT, child, doubles, doubles_of, lib, raise_error

Number = Union[SupportsFloat, "Value"]

_new = object.__new__
_add, _mul, _add_const, _mul_const = lib.mg_add, lib.mg_mul, lib.mg_add_const, lib.mg_mul_const
_ARITY = {lib.MG_LEAF: 0, lib.MG_ADD: 2, lib.MG_MUL: 2, lib.MG_POW: 2}  # others: 1
_OP_NAMES = {lib.MG_LEAF: "", lib.MG_ADD: "+", lib.MG_MUL: "*", lib.MG_POW: "**",
             lib.MG_RELU: "ReLU", lib.MG_TANH: "tanh", lib.MG_EXP: "exp", lib.MG_LOG: "log",
             lib.MG_SIGMOID: "sigmoid"}


def _as_float(x: Any) -> Optional[float]:
    """x as a float if it is a real number (anything with __float__), else None."""
    if type(x) is float:
        return x
    if hasattr(type(x), "__float__"):
        return float(x)
    return None


def _real(x: Any, what: str) -> float:
    """x as a float, or a TypeError naming its type."""
    f = _as_float(x)
    if f is None:
        raise TypeError(f"{what} must be a real number, not {type(x).__name__}")
    return f


def _node(i: int, kids: tuple, op: str) -> Value:
    """A Value for new node i whose _prev is kids, or the error that i encodes."""
    if i < 0:
        operands = ", ".join(repr(k.data) for k in kids if k is not None)
        raise_error(i, f"{op}({operands})")
    out = _new(Value)
    out._i = i
    out._kids = kids
    return out


def _adopt(i: int) -> Value:
    """A new handle on existing node i, taking a reference of its own."""
    lib.mg_incref(i)
    return _node(i, (None,) * _ARITY.get(lib.mg_op(i), 1), "")


class Value:
    """Stores a single scalar value and its gradient."""

    __slots__ = ("_i", "_kids", "_label")
    __array_ufunc__ = None  # numpy scalars then defer to our reflected operators

    def __init__(self, data: SupportsFloat, _children: tuple = (), _op: str = ""):
        i = lib.mg_leaf(_real(data, "Value data"))
        if i < 0:
            raise_error(i, "Value")
        self._i = i
        self._kids = tuple(_children)
        if _op:
            self._label = _op

    def __del__(self, _decref=lib.mg_decref):
        try:
            _decref(self._i)
        except AttributeError:  # __init__ failed before a node was made
            pass

    @property
    def data(self) -> float:
        """The value."""
        i = self._i
        try:
            return doubles[i >> SHIFT][(i & MASK) * 5]
        except IndexError:
            return doubles_of(i)[(i & MASK) * 5]

    @data.setter
    def data(self, value: SupportsFloat) -> None:
        i = self._i
        doubles_of(i)[(i & MASK) * 5] = _real(value, "data")

    @property
    def grad(self) -> float:
        """The gradient accumulated by backward()."""
        i = self._i
        try:
            return doubles[i >> SHIFT][(i & MASK) * 5 + 1]
        except IndexError:
            return doubles_of(i)[(i & MASK) * 5 + 1]

    @grad.setter
    def grad(self, value: SupportsFloat) -> None:
        i = self._i
        doubles_of(i)[(i & MASK) * 5 + 1] = _real(value, "grad")

    @property
    def _prev(self) -> set:
        """The Values this one was computed from, as micrograd's set."""
        if None in self._kids:
            self._kids = tuple(_adopt(child(self._i, k)) if v is None else v
                               for k, v in enumerate(self._kids))
        return set(self._kids)

    @property
    def _op(self) -> str:
        """The operation that produced this Value, spelled as micrograd does."""
        try:
            return self._label
        except AttributeError:
            pass
        op = lib.mg_op(self._i)
        if op in (lib.MG_POWI, lib.MG_POWF):
            k = doubles_of(child(self._i, 1))[(child(self._i, 1) & MASK) * 5]
            return f"**{int(k) if op == lib.MG_POWI else k}"
        return _OP_NAMES[op]

    def __add__(self, other: Number) -> Value:
        if isinstance(other, Value):
            return _node(_add(self._i, other._i), (self, other), "+")
        x = _as_float(other)
        if x is None:
            return NotImplemented
        return _node(_add_const(self._i, x), (self, None), "+")

    def __mul__(self, other: Number) -> Value:
        if isinstance(other, Value):
            return _node(_mul(self._i, other._i), (self, other), "*")
        x = _as_float(other)
        if x is None:
            return NotImplemented
        return _node(_mul_const(self._i, x), (self, None), "*")

    def __pow__(self, other: Number) -> Value:
        if isinstance(other, Value):
            return _node(lib.mg_pow(self._i, other._i), (self, other), "**")
        x = _as_float(other)
        if x is None:
            return NotImplemented
        is_int = hasattr(type(other), "__index__")
        return _node(lib.mg_pow_const(self._i, x, is_int), (self,), f"**{other}")

    def __rpow__(self, other: SupportsFloat) -> Value:  # other ** self
        if _as_float(other) is None:
            return NotImplemented
        return Value(other) ** self

    def _unary(self, op: int, name: str) -> Value:
        """A Value for C unary operation op applied to this one."""
        return _node(lib.mg_unary(self._i, op), (self,), name)

    def relu(self) -> Value:
        """max(0, self), as micrograd's ReLU."""
        return self._unary(lib.MG_RELU, "relu")

    def tanh(self) -> Value:
        """The hyperbolic tangent."""
        return self._unary(lib.MG_TANH, "tanh")

    def exp(self) -> Value:
        """e ** self; OverflowError where math.exp would raise it."""
        return self._unary(lib.MG_EXP, "exp")

    def log(self) -> Value:
        """The natural logarithm; ValueError for self <= 0, as math.log."""
        return self._unary(lib.MG_LOG, "log")

    def sigmoid(self) -> Value:
        """1 / (1 + e ** -self), computed without overflow."""
        return self._unary(lib.MG_SIGMOID, "sigmoid")

    def backward(self) -> None:
        """Set this grad to 1 and add every node's gradient below it, in one C call."""
        err = lib.mg_backward(self._i)
        if err:
            raise_error(err, "backward")

    def _backward(self) -> None:
        """Apply this node's local chain rule once, as micrograd's closure does."""
        err = lib.mg_node_backward(self._i)
        if err:
            raise_error(err, "_backward")

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self) -> Value:  # -self
        return self * -1

    def __sub__(self, other: Number) -> Value:  # self - other
        return self + (-other)

    def __rsub__(self, other: Number) -> Value:  # other - self
        return other + (-self)

    def __truediv__(self, other: Number) -> Value:  # self / other
        return self * other**-1

    def __rtruediv__(self, other: Number) -> Value:  # other / self
        return other * self**-1

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"
