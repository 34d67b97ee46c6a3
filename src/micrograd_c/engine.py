"""Value: micrograd's scalar autograd API, with the graph kept in C.

A Value is a thin handle on one node of the C arena: ``_i`` is the node's
index, and the Value owns one reference on it, given back by ``__del__`` (in
batches: see ``_core.dead``). The node keeps its own children alive in C.

``_a`` and ``_b`` hold the Values an operation was applied to (None for a
plain number). They keep those handles alive, so that ``_prev`` can hand
back the very objects the node was built from: it looks the node's C
children up among them by index (in a ``_Pool``), and makes a new handle
only for a child that never had one (a number wrapped on the fly, as
micrograd's ``Value(other)``, the inner node of ``a - b``, which is
``a + (b * -1)``, or a node made inside a fused nn kernel). A new handle
shares the pool, so the search goes on below it and each node gets one
handle. Once found, the children replace the operands in ``_a`` and ``_b``.
A fused kernel's outputs hold the pool itself in ``_a``.
A Value built by hand, ``Value(x, (a, b), 'op')``, keeps its children and op
in ``_label`` and is a leaf for backward.

The arithmetic is micrograd's own, node for node (``a / b`` is
``a * b**-1``, ...), so graphs, values and gradients come out as micrograd's.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, SupportsFloat

from ._core import DEAD_BATCH, MASK, SHIFT, child, dead, doubles, doubles_of, lib, raise_error, release_dead


_new = object.__new__
_ARITY = {lib.MG_LEAF: 0, lib.MG_ADD: 2, lib.MG_MUL: 2, lib.MG_POW: 2}  # others: 1
_OP_NAMES = {lib.MG_LEAF: "", lib.MG_ADD: "+", lib.MG_MUL: "*", lib.MG_POW: "**",
             lib.MG_RELU: "ReLU", lib.MG_TANH: "tanh", lib.MG_EXP: "exp", lib.MG_LOG: "log",
             lib.MG_SIGMOID: "sigmoid"}
# data writes so far, and as of the last backward: C checks the powers'
# derivatives before a backward only if data changed since the last one
_data_writes = _data_writes_seen = 0


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


def _wrap(i: int, a: Any, b: Optional[Value], op: str) -> Value:
    """A Value for new node i made from operands a and b, or the error that i encodes."""
    if i < 0:
        raise_error(i, f"{op} of {', '.join(repr(v) for v in (a, b) if isinstance(v, Value))}")
    out = _new(Value)
    out._i, out._a, out._b = i, a, b
    return out


def _operator(name: str, spelling: str, both: Optional[Callable[[int, int], int]],
              number: Callable[[int, float], int],
              number_int: Optional[Callable[[int, float], int]] = None,
              general: Optional[Callable[[Value, Any], Value]] = None
              ) -> Callable[[Value, Any], Value]:
    """Method name of a binary operator, spelled as in "{0} - {1}" (0: self, 1: other).

    It calls C both(self, other) for a Value other (None: return NotImplemented),
    number(self, x) for a real number x, or number_int if x is int-like and that
    differs; general(self, other), if given, takes over for numbers that are
    neither int nor float. The first branches are the hottest path there is.
    """
    number_int = number_int or number

    def method(self: Value, other: Any) -> Value:
        t = type(other)
        b = None  # the Value operand, kept for _prev
        if t is float:
            i = number(self._i, other)
        elif t is int:
            i = number_int(self._i, other)
        elif t is Value or isinstance(other, Value):
            if both is None:
                return NotImplemented
            i = both(self._i, other._i)
            b = other
        else:
            x = _as_float(other)
            if x is None:
                return NotImplemented
            if general is not None:
                return general(self, other)
            i = (number_int if hasattr(t, "__index__") else number)(self._i, x)
        if i < 0:
            raise_error(i, spelling.format(repr(self), repr(other)))
        out = _new(Value)
        out._i, out._a, out._b = i, self, b
        return out
    method.__name__, method.__qualname__ = name, f"Value.{name}"
    return method


def _unary(f: Callable[[int], int], name: str, doc: str) -> Callable[[Value], Value]:
    """The method applying C unary operation f."""
    def method(self: Value) -> Value:
        i = f(self._i)
        if i < 0:
            raise_error(i, f"{name} of {self!r}")
        out = _new(Value)
        out._i, out._a, out._b = i, self, None
        return out
    method.__name__, method.__qualname__, method.__doc__ = name, f"Value.{name}", doc
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
            _dead.append(self._i)  # see _core.dead
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
        x = value if type(value) is float else _real(value, "data")
        try:
            doubles[i >> SHIFT][(i & MASK) * 4] = x
        except IndexError:
            doubles_of(i)[(i & MASK) * 4] = x
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
        x = value if type(value) is float else _real(value, "grad")
        try:
            doubles[i >> SHIFT][(i & MASK) * 4 + 1] = x
        except IndexError:
            doubles_of(i)[(i & MASK) * 4 + 1] = x

    @property
    def _prev(self) -> set:
        """The Values this one was computed from, as micrograd's set."""
        return set(self._children())

    def _children(self) -> list:
        """The Values this one was computed from, in order, repeats included (x*x: [x, x])."""
        try:
            return list(self._label[1])
        except AttributeError:
            pass
        pool = self._a if type(self._a) is _Pool else _Pool((self._a, self._b))
        kids = [pool.find(child(self._i, k)) for k in range(_ARITY.get(lib.mg_op(self._i), 1))]
        self._a, self._b = (kids + [None, None])[:2]
        return kids

    @property
    def _op(self) -> str:
        """The operation that produced this Value, spelled as micrograd does."""
        try:
            return self._label[0]
        except AttributeError:
            pass
        op = lib.mg_op(self._i)
        if op in (lib.MG_POWI, lib.MG_POWF):
            k = child(self._i, 1)
            exponent = doubles_of(k)[(k & MASK) * 4]
            return f"**{int(exponent) if op == lib.MG_POWI else exponent}"
        return _OP_NAMES[op]

    __add__ = _operator("__add__", "{0} + {1}", lib.mg_add, lib.mg_add_const)
    __radd__ = _operator("__radd__", "{1} + {0}", lib.mg_add, lib.mg_add_const)
    __mul__ = _operator("__mul__", "{0} * {1}", lib.mg_mul, lib.mg_mul_const)
    __rmul__ = _operator("__rmul__", "{1} * {0}", lib.mg_mul, lib.mg_mul_const)
    __sub__ = _operator("__sub__", "{0} - {1}", lib.mg_sub, lib.mg_sub_const)  # self + (-other)
    __rsub__ = _operator("__rsub__", "{1} - {0}", None, lib.mg_rsub)  # other + (-self)
    __truediv__ = _operator("__truediv__", "{0} / {1}", lib.mg_div,  # self * other**-1
                            lib.mg_div_const,
                            general=lambda self, other: self * other**-1)  # exact for Fraction
    __rtruediv__ = _operator("__rtruediv__", "{1} / {0}", None, lib.mg_rdiv)  # other * self**-1
    __pow__ = _operator("__pow__", "{0} ** {1}", lib.mg_pow, lib.mg_powf, lib.mg_powi)

    def __rpow__(self, other: SupportsFloat) -> Value:  # other ** self
        if _as_float(other) is None:
            return NotImplemented
        return Value(other) ** self

    relu = _unary(lib.mg_relu, "relu", "max(0, self), as micrograd's ReLU.")
    tanh = _unary(lib.mg_tanh, "tanh", "The hyperbolic tangent.")
    exp = _unary(lib.mg_exp, "exp", "e ** self; OverflowError where math.exp raises it.")
    log = _unary(lib.mg_log, "log", "The natural logarithm; ValueError for self <= 0.")
    sigmoid = _unary(lib.mg_sigmoid, "sigmoid", "1 / (1 + e ** -self), without overflow.")

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

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def __reduce__(self) -> tuple:
        """Pickle and copy a leaf as its data and grad; a computed Value cannot be."""
        if lib.mg_op(self._i) != lib.MG_LEAF or hasattr(self, "_label"):
            raise TypeError("only leaf Values can be pickled or copied (its graph lives in C): "
                            "pickle the leaves, such as model.parameters(), or the .data")
        return _leaf, (self.data, self.grad)


def _leaf(data: float, grad: float) -> Value:
    """A new leaf with this data and grad (unpickling)."""
    v = Value(data)
    v.grad = grad
    return v


class _Pool:
    """The Values a graph was built from, by node index: where _prev finds children."""

    __slots__ = ("groups", "_by_index")

    def __init__(self, *groups: Sequence[Any]):
        self.groups = groups  # sequences of Values (other items are ignored)
        self._by_index: Optional[dict] = None

    def find(self, i: int) -> Value:
        """The Value for node i: one the graph was built from, or a new handle on it."""
        if self._by_index is None:
            self._by_index = {v._i: v for g in self.groups for v in g if isinstance(v, Value)}
        found = self._by_index.get(i)
        if found is None:
            lib.mg_incref(i)
            found = self._by_index[i] = _wrap(i, self, None, "")
        return found
