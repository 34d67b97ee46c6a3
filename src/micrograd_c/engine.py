"""Value: micrograd's scalar autograd API, with the graph kept in C.

The idea is micrograd's: each operation makes a node that remembers its
children, and backward() walks the nodes in reverse topological order,
adding each node's grad, times its local derivative, into its children's
grads. Here the nodes live in C, so the idea is in two short C files:
csrc/mg_ops.c computes each op's value (``a * b`` is ``mg_mul``), and
csrc/mg_rules.h holds each op's local chain rule, the statements micrograd's
``_backward`` closures run (``case MG_MUL: a->grad += b->data * g; ...``).
Nodes sit in creation order, so backward needs no sort: csrc/mg_backward.c
sweeps them newest first, in one C call.

This file is the Python side: a Value is a handle on one C node (``_i``, its
index; see _handles.py for how it owns a reference). Its operators and unary
methods are its C base type's (csrc/py_value.c), which calls the core and
builds the result with no Python code run, for a Value and an exact float,
int or Value; everything else comes back here, to ``_slow_op``.
``.data`` and ``.grad`` are the C base's too: read in place, a grad written
there, data through ``mg_set_data``, which then knows to check the may-fail
rules before the next backward; other numbers come back here, to
``_slow_set``. docs/design.md tells the whole story.

What a Value holds besides ``_i``, for ``_prev`` to hand back the very
objects a node was built from:

======================  =======================================================
``_a`` holds            when
======================  =======================================================
an operand Value        made by an operator (``_b``: the other operand, or None)
a ``Pool``             made by a fused kernel (nn, losses), or by ``_prev``
a ``Kids`` tuple       once ``_prev`` has found the children
None                    a leaf, or a Value built by hand
======================  =======================================================

A Value built by hand, ``Value(x, (a, b), 'op')``, is a C node too (its
children linked in C, so backward reaches them in order); its op and
children are kept in ``_label``. Assigning ``_backward`` on any Value files
it in ``_rules`` and tells C that the node's rule is Python's: backward over
such a graph is walked in steps (``_walk``), C applying its rules up to each
Python rule, which runs here with no lock held.

The arithmetic is micrograd's own, node for node (``a - b`` is
``a + (b * -1)``, ``a / b`` is ``a * b**-1``), so graphs, values and
gradients come out as micrograd's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, SupportsFloat

from ._core import (
    MASK,
    as_float,
    child,
    data_of,
    doubles_of,
    lib,
    raise_error,
    real,
    release_dead,
)
from ._handles import Handle, Kids, Pool
from ._handles import reclaim as _reclaim
from ._python_rules import nothing, rules, walk

_new = object.__new__
_ARITY = {lib.MG_LEAF: 0, lib.MG_ADD: 2, lib.MG_MUL: 2, lib.MG_POW: 2, lib.MG_LOGADDEXP: 2}  # or 1
_OP_NAMES = {
    lib.MG_LEAF: "",
    lib.MG_ADD: "+",
    lib.MG_MUL: "*",
    lib.MG_POW: "**",
    lib.MG_RELU: "ReLU",
    lib.MG_TANH: "tanh",
    lib.MG_EXP: "exp",
    lib.MG_LOG: "log",
    lib.MG_SIGMOID: "sigmoid",
    lib.MG_SOFTPLUS: "softplus",
    lib.MG_LOGADDEXP: "logaddexp",
    lib.MG_HAND: "",
}


# How each operator is spelled in its errors' messages ({0}: the Value, {1}: the other)
_SPELLING = {
    "__add__": "{0} + {1}",
    "__radd__": "{1} + {0}",
    "__mul__": "{0} * {1}",
    "__rmul__": "{1} * {0}",
    "__sub__": "{0} - {1}",
    "__rsub__": "{1} - {0}",
    "__truediv__": "{0} / {1}",
    "__rtruediv__": "{1} / {0}",
    "__pow__": "{0} ** {1}",
    "logaddexp": "logaddexp({0}, {1})",
}  # and "relu of {0}" and so on


def _set_data(self: Value, value: SupportsFloat) -> None:
    """Set the data through C, which then checks the powers before the next backward."""
    err = lib.mg_set_data(self._i, value if type(value) is float else real(value, "data"))
    if err:
        raise_error(err, "data")


def _set_grad(self: Value, value: SupportsFloat) -> None:
    """Set the grad, in place."""
    i = self._i
    doubles_of(i)[(i & MASK) * 4 + 1] = value if type(value) is float else real(value, "grad")


def _operator(
    name: str,
    both: Callable[[int, int], int] | None,
    number: Callable[[int, float], int],
    number_int: Callable[[int, float], int] | None = None,
    general: Callable[[Value, Any], Value] | None = None,
) -> Callable[[Value, Any], Value]:
    """Method `name` of a binary operator, done in Python (spelled in errors as _SPELLING says).

    Its C calls: both(self, other) for a Value other (None: NotImplemented),
    number(self, x) for a real number x, number_int(self, x) for an int-like
    x, and general(self, other) for any other real number. The table _SLOW
    says which operators use the last two.
    """
    number_int = number_int or number
    spelling = _SPELLING[name]

    def method(self: Value, other: Any) -> Any:  # a Value, or NotImplemented
        t = type(other)
        b = i = out = None  # b: the Value operand, kept for _prev
        try:
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
                x = as_float(other)
                if x is None:
                    return NotImplemented
                if general is not None:
                    return general(self, other)
                i = (number_int if hasattr(t, "__index__") else number)(self._i, x)
            if i < 0:
                raise_error(i, spelling.format(repr(self), repr(other)))
            out = _new(Value)
            out._a, out._b = self, b
            out._i = i  # last: from here on, the handle owns the reference
        except BaseException:
            _reclaim(i, out)
            raise
        return out

    method.__name__, method.__qualname__ = name, f"Value.{name}"
    return method


def _unary(f: Callable[[int], int], name: str) -> Callable[[Value, Any], Value]:
    """Unary operation f done in Python, for Value._slow_op (the second argument is unused)."""

    def method(self: Value, _: Any = None) -> Value:
        i = out = None
        try:
            i = f(self._i)
            if i < 0:
                raise_error(i, f"{name} of {self!r}")
            out = _new(Value)
            out._a = self
            out._b = None
            out._i = i  # last: from here on, the handle owns the reference
        except BaseException:
            _reclaim(i, out)
            raise
        return out

    method.__name__, method.__qualname__ = name, f"Value.{name}"
    return method


class Value(Handle):
    """Stores a single scalar value and its gradient."""

    __slots__ = ("_label", "__weakref__", "__dict__")
    _a: Any  # an operand, the pool, or the children once _prev found them
    _b: Any  # the other operand, or None
    _label: tuple[str, tuple[Any, ...]]  # (op, children) of a Value built by hand
    __array_ufunc__ = None  # numpy scalars then defer to our reflected operators

    if TYPE_CHECKING:  # (C's __init__ makes a new leaf of a float or int; the rest is _init's)

        def __init__(
            self, data: SupportsFloat, _children: Iterable[Value] = (), _op: str = ""
        ) -> None: ...

    def _init(self, data: SupportsFloat, _children: Iterable[Value] = (), _op: str = "") -> None:
        """Value(data, _children, _op) where C's __init__ does not apply, run again included."""
        x = real(data, "Value data")
        kids = tuple(_children) if _children else ()  # (a leaf, the common case: no copy)
        for k in kids:
            if not isinstance(k, Value):
                raise TypeError(f"a Value's children must be Values, not {type(k).__name__}")
        if hasattr(self, "_i"):  # __init__ run again: the same node becomes this leaf
            if kids:
                raise TypeError(
                    "Value.__init__ cannot be run again with children: make a new Value"
                )
            err = lib.mg_reset(self._i, x)
            if err:
                raise_error(err, "Value")
            if vars(self).pop("_backward", None) is not None and rules.get(self._i) is self:
                del rules[self._i]  # (C forgot the rule too)
        else:
            i = None
            try:
                if kids:
                    # repeats once, as micrograd's set
                    ids = list(dict.fromkeys(k._i for k in kids))
                    i = lib.mg_hand(x, ids, len(ids))
                else:
                    i = lib.mg_leaf(x)
                if i < 0:
                    raise_error(i, "Value")
                self._i = i  # from here on, the handle owns the reference
            except BaseException:
                _reclaim(i, self)
                raise
        self._a = self._b = None
        if kids or _op:
            self._label = (_op, kids)
        elif hasattr(self, "_label"):
            del self._label

    @property
    def _prev(self) -> set[Value]:
        """The Values this one was computed from, as micrograd's set."""
        return set(self._children())

    def _children(self) -> list[Value]:
        """The Values this one was computed from, in order, repeats included (x*x: [x, x])."""
        label: tuple[str, tuple[Any, ...]] | None = getattr(self, "_label", None)
        if label is not None:
            return list(label[1])
        if self._a.__class__ is Kids:  # found before
            return list(self._a)
        pool = self._a if type(self._a) is Pool else Pool((self._a, self._b))
        kids = []  # (a loop: a comprehension would hold self in a cell)
        for k in range(_ARITY.get(lib.mg_op(self._i), 1)):
            kids.append(pool.find(child(self._i, k)))
        found = Kids(kids)
        # Publish, unless another thread did meanwhile: no call comes between the
        # test and the store, so no other thread runs there, and all get one answer.
        if self._a.__class__ is not Kids:
            self._a = found
        self._b = None
        return list(self._a)

    @property
    def _op(self) -> str:
        """The operation that produced this Value, spelled as micrograd does."""
        label: tuple[str, tuple[Any, ...]] | None = getattr(self, "_label", None)
        if label is not None:
            return label[0]
        op = lib.mg_op(self._i)
        if op in (lib.MG_POWI, lib.MG_POWF):
            exponent = data_of(child(self._i, 1))
            return f"**{int(exponent) if op == lib.MG_POWI else exponent}"
        return _OP_NAMES[op]

    if TYPE_CHECKING:  # what the C base type's properties, operators and methods take and give

        @property
        def data(self) -> float: ...
        @data.setter
        def data(self, value: SupportsFloat) -> None: ...
        @property
        def grad(self) -> float: ...
        @grad.setter
        def grad(self, value: SupportsFloat) -> None: ...
        def __add__(self, other: Value | SupportsFloat) -> Value: ...
        def __radd__(self, other: SupportsFloat) -> Value: ...
        def __mul__(self, other: Value | SupportsFloat) -> Value: ...
        def __rmul__(self, other: SupportsFloat) -> Value: ...
        def __sub__(self, other: Value | SupportsFloat) -> Value: ...
        def __rsub__(self, other: SupportsFloat) -> Value: ...
        def __truediv__(self, other: Value | SupportsFloat) -> Value: ...
        def __rtruediv__(self, other: SupportsFloat) -> Value: ...
        def __pow__(self, other: Value | SupportsFloat) -> Value: ...
        def __rpow__(self, other: SupportsFloat) -> Value: ...
        def __neg__(self) -> Value: ...
        def relu(self) -> Value: ...
        def tanh(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def softplus(self) -> Value: ...
        def logaddexp(self, other: Value | SupportsFloat) -> Value: ...

    def _slow_get(self, offset: int) -> float:
        """.data (offset 0) or .grad (1) where C's getter does not apply (no node: it raises)."""
        i = self._i
        return doubles_of(i)[(i & MASK) * 4 + offset]

    def _slow_set(self, offset: int, value: Any) -> None:
        """Set .data (offset 0) or .grad (1) where C's setter does not apply (other numbers)."""
        (_set_grad if offset else _set_data)(self, value)

    def _slow_op(self, name: str, other: Any, err: int = 0) -> Any:
        """Operator or unary method `name` in Python, where C's fast path does not apply.

        err: an error C's fast path met (it made nothing), raised here with the message
        the Python path would give.
        """
        if err:
            raise_error(err, _SPELLING.get(name, name + " of {0}").format(repr(self), repr(other)))
        return _SLOW[name](self, other)

    def backward(self) -> None:
        """Set this grad to 1 and add every node's gradient below it, in one C call."""
        release_dead()  # so nodes dropped since the last batch are not kept waiting
        err = lib.mg_backward(self._i)
        if err:
            if err != lib.MG_IN_PYTHON:
                raise_error(err, "backward")
            walk(self._i)

    def _apply_rule(self) -> None:
        """Apply this node's local chain rule once, as micrograd's closure does."""
        err = lib.mg_node_backward(self._i)
        if err:
            raise_error(err, "_backward")

    @property
    def _backward(self) -> Callable[[], None]:
        """This node's local chain rule, applied once when called; assign one as in micrograd."""
        fn: Callable[[], None] | None = vars(self).get("_backward")
        if fn is not None:
            return fn
        holder = rules.get(self._i)  # another handle on the same node got one
        if holder is not None and holder is not self:
            return holder._backward
        return nothing if hasattr(self, "_label") else self._apply_rule  # built by hand, or C's

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        if not callable(fn):
            raise TypeError(f"_backward must be callable, not {type(fn).__name__}")
        vars(self)["_backward"] = fn
        rules[self._i] = self
        release_dead()  # parents already dropped would make C count this node stale
        err = lib.mg_set_python(self._i)
        if err:
            raise_error(err, "_backward")

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy a leaf as its data, grad and attributes; a computed Value cannot be."""
        if lib.mg_op(self._i) != lib.MG_LEAF or hasattr(self, "_label"):
            raise TypeError(
                "only leaf Values can be pickled or copied (its graph lives in C): "
                "pickle the leaves, such as model.parameters(), or the .data"
            )
        return _leaf, (self.data, self.grad), vars(self) or None

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Set the attributes a pickled or copied Value had (a _backward as if assigned)."""
        for name, value in state.items():
            setattr(self, name, value)


def _rpow(self: Value, other: Any) -> Any:  # a Value, or NotImplemented
    """other ** self, as micrograd's Value(other) ** self."""
    if as_float(other) is None:
        return NotImplemented
    return Value(other) ** self


# The operators and unary methods are C's (csrc/py_value.c) for a Value and an exact float,
# int or Value; for anything else, and to raise the errors C reports, they call these. Each
# operator: its C calls for a Value, and for a number. Two have more: ** by an int is its own
# op (micrograd's _op says '**2', not '**2.0'), and / by a number other than int or float (a
# Fraction) is micrograd's self * other**-1, exactly.
_SLOW: dict[str, Callable[[Value, Any], Any]] = {
    "__add__": _operator("__add__", lib.mg_add, lib.mg_add_const),
    "__radd__": _operator("__radd__", lib.mg_add, lib.mg_add_const),
    "__mul__": _operator("__mul__", lib.mg_mul, lib.mg_mul_const),
    "__rmul__": _operator("__rmul__", lib.mg_mul, lib.mg_mul_const),
    # self - other is self + (-other); other - self is other + (-self)
    "__sub__": _operator("__sub__", lib.mg_sub, lib.mg_sub_const),
    "__rsub__": _operator("__rsub__", None, lib.mg_rsub),
    # self / other is self * other**-1 (exact for a Fraction); other / self, other * self**-1
    "__truediv__": _operator(
        "__truediv__",
        lib.mg_div,
        lib.mg_div_const,
        general=lambda self, other: self * other**-1,
    ),
    "__rtruediv__": _operator("__rtruediv__", None, lib.mg_rdiv),
    "__pow__": _operator("__pow__", lib.mg_pow, lib.mg_powf, lib.mg_powi),
    "__rpow__": _rpow,
    "relu": _unary(lib.mg_relu, "relu"),
    "tanh": _unary(lib.mg_tanh, "tanh"),
    "exp": _unary(lib.mg_exp, "exp"),
    "log": _unary(lib.mg_log, "log"),
    "sigmoid": _unary(lib.mg_sigmoid, "sigmoid"),
    "softplus": _unary(lib.mg_softplus, "softplus"),
    "logaddexp": _operator("logaddexp", lib.mg_logaddexp, lib.mg_logaddexp_const),
}
Handle._install(Value)


def _leaf(data: float, grad: float) -> Value:
    """A new leaf with this data and grad (unpickling)."""
    v = Value(data)
    v.grad = grad
    return v
