"""Value: micrograd's scalar autograd API, with the graph kept in C.

A Value is a thin handle on one node of the C arena: ``_i`` is the node's
index, and the Value owns one reference on it, given back by ``__del__`` (in
batches: see ``_core.dead``). The
node keeps its own children alive in C; ``_a`` and ``_b`` keep their Python
handles, so that ``_prev`` hands back the very objects a node was built
from. ``None`` there stands for a child that never had a handle (a number
wrapped on the fly, like micrograd's ``Value(other)``); one is made the
first time ``_prev`` is asked for. A Value built by hand with children,
``Value(x, (a, b), 'op')``, keeps them and its op in ``_label``.

The arithmetic is micrograd's own: ``a - b`` is ``a + (-b)``, ``a / b`` is
``a * b**-1``, and so on, so graphs, values and gradients come out as
micrograd's do.
"""
from __future__ import annotations

from typing import Any, Optional, SupportsFloat, Union

from ._core import DEAD_BATCH, MASK, SHIFT, child, dead, doubles, doubles_of, lib, raise_error, release_dead

Number = Union[SupportsFloat, "Value"]

_new = object.__new__
# data writes so far, and as of the last backward: C checks the powers'
# derivatives before a backward only if data changed since the last one
_data_writes = _data_writes_seen = 0
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


def _node(i: int, a: Optional[Value], b: Optional[Value], op: str) -> Value:
    """A Value for new node i made from a and b, or the error that i encodes."""
    if i < 0:
        operands = ", ".join(repr(k.data) for k in (a, b) if k is not None)
        raise_error(i, f"{op}({operands})")
    out = _new(Value)
    out._i = i
    out._a = a
    out._b = b
    return out


def _adopt(i: int) -> Value:
    """A new handle on existing node i, taking a reference of its own."""
    lib.mg_incref(i)
    return _node(i, None, None, "")


def _composite(r: int, a: Value, b: Value, op: str) -> Value:
    """Values for the root and inner node that mg_sub / mg_div return packed in r."""
    if r < 0:
        raise_error(r, f"{a.data} {op} {b.data}")
    return _node(r & 0xFFFFFFFF, a, _node(r >> 32, b, None, op), op)


def _arithmetic(both: Any, with_number: Any, name: str) -> Any:
    """The operator method for C operation both (Value, Value) / with_number (Value, float)."""
    def method(self: Value, other: Number) -> Value:
        if isinstance(other, Value):
            i = both(self._i, other._i)
        else:
            x = other if type(other) is float else _as_float(other)
            if x is None:
                return NotImplemented
            i = with_number(self._i, x)
            other = None
        if i < 0:
            raise_error(i, f"{self.data} {name} {other}")
        out = _new(Value)
        out._i = i
        out._a = self
        out._b = other
        return out
    return method


class Value:
    """Stores a single scalar value and its gradient."""

    __slots__ = ("_i", "_a", "_b", "_label")
    __array_ufunc__ = None  # numpy scalars then defer to our reflected operators

    def __init__(self, data: SupportsFloat, _children: tuple = (), _op: str = ""):
        i = lib.mg_leaf(_real(data, "Value data"))
        if i < 0:
            raise_error(i, "Value")
        self._i = i
        self._a = self._b = None
        if _children or _op:
            self._label = (_op, tuple(_children))

    def __del__(self, _dead=dead, _release=release_dead):
        try:
            _dead.append(self._i)  # see _core.bury
        except AttributeError:  # __init__ failed before a node was made
            return
        if len(_dead) >= DEAD_BATCH:
            _release()

    @property
    def data(self) -> float:
        """The value."""
        i = self._i
        try:
            return doubles[i >> SHIFT][(i & MASK) * 4]
        except IndexError:
            return doubles_of(i)[(i & MASK) * 4]

    @data.setter
    def data(self, value: SupportsFloat) -> None:
        global _data_writes
        i = self._i
        doubles_of(i)[(i & MASK) * 4] = _real(value, "data")
        _data_writes += 1

    @property
    def grad(self) -> float:
        """The gradient accumulated by backward()."""
        i = self._i
        try:
            return doubles[i >> SHIFT][(i & MASK) * 4 + 1]
        except IndexError:
            return doubles_of(i)[(i & MASK) * 4 + 1]

    @grad.setter
    def grad(self, value: SupportsFloat) -> None:
        i = self._i
        doubles_of(i)[(i & MASK) * 4 + 1] = _real(value, "grad")

    @property
    def _prev(self) -> set:
        """The Values this one was computed from, as micrograd's set."""
        try:
            return set(self._label[1])
        except AttributeError:
            pass
        arity = _ARITY.get(lib.mg_op(self._i), 1)
        if arity > 0 and self._a is None:
            self._a = _adopt(child(self._i, 0))
        if arity > 1 and self._b is None:
            self._b = _adopt(child(self._i, 1))
        return {self._a, self._b} - {None} if arity else set()

    @property
    def _op(self) -> str:
        """The operation that produced this Value, spelled as micrograd does."""
        try:
            return self._label[0]
        except AttributeError:
            pass
        op = lib.mg_op(self._i)
        if op in (lib.MG_POWI, lib.MG_POWF):
            k = doubles_of(child(self._i, 1))[(child(self._i, 1) & MASK) * 4]
            return f"**{int(k) if op == lib.MG_POWI else k}"
        return _OP_NAMES[op]

    __add__ = __radd__ = _arithmetic(_add, _add_const, "+")
    __mul__ = __rmul__ = _arithmetic(_mul, _mul_const, "*")

    def __pow__(self, other: Number) -> Value:
        if isinstance(other, Value):
            return _node(lib.mg_pow(self._i, other._i), self, other, "**")
        x = _as_float(other)
        if x is None:
            return NotImplemented
        is_int = hasattr(type(other), "__index__")
        return _node(lib.mg_pow_const(self._i, x, is_int), self, None, f"**{other}")

    def __rpow__(self, other: SupportsFloat) -> Value:  # other ** self
        if _as_float(other) is None:
            return NotImplemented
        return Value(other) ** self

    def _unary(self, op: int, name: str) -> Value:
        """A Value for C unary operation op applied to this one."""
        return _node(lib.mg_unary(self._i, op), self, None, name)

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
        global _data_writes_seen
        release_dead()  # so nodes dropped since the last batch are not kept waiting
        writes = _data_writes
        err = lib.mg_backward(self._i, writes != _data_writes_seen)
        _data_writes_seen = writes
        if err:
            raise_error(err, "backward")

    def _backward(self) -> None:
        """Apply this node's local chain rule once, as micrograd's closure does."""
        err = lib.mg_node_backward(self._i)
        if err:
            raise_error(err, "_backward")

    def __neg__(self) -> Value:  # -self
        return self * -1

    def __sub__(self, other: Number) -> Value:  # self - other, as self + (-other)
        if isinstance(other, Value):
            return _composite(lib.mg_sub(self._i, other._i), self, other, "-")
        return self + (-other)

    def __rsub__(self, other: Number) -> Value:  # other - self
        return other + (-self)

    def __truediv__(self, other: Number) -> Value:  # self / other, as self * other**-1
        if isinstance(other, Value):
            return _composite(lib.mg_div(self._i, other._i), self, other, "/")
        return self * other**-1

    def __rtruediv__(self, other: Number) -> Value:  # other / self
        return other * self**-1

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"
