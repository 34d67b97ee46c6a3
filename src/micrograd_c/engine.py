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
handle. Once found, the children (a ``_Kids`` tuple) replace the operands in
``_a``, published with no call between test and store, so racing threads get
the same answer. A fused kernel's outputs hold the pool itself in ``_a``. The
pool holds only weak references to the handles it makes, so no handle is
ever part of a reference cycle: graphs go when their last handle does, with
the cyclic GC off.

Ops written in Python. A Value built by hand, ``Value(x, (a, b), 'op')``, is
a C node too (MG_HAND, its children linked in C so that backward reaches
them in order), and keeps its children and op in ``_label`` for ``_prev``
and ``_op``. Assigning ``_backward`` on any Value stores the callable in the
Value's ``__dict__``, files the Value in ``_rules`` by node index, and tells
C that the node's rule is Python's. A backward over such a graph is walked
in steps (``_walk``): C applies its rules in order up to the next Python
rule, which runs here, with no lock held, then C goes on. Graphs without
Python rules still take one C call.

Handing a reference over. Python can raise between any two bytecodes (Ctrl-C,
a trace function, a failed allocation), so every call that makes a node runs
in a ``try`` whose handler passes what it knows to ``_reclaim``: the index,
if it was stored, and the handle, if made. The handle's ``_i`` is always
stored last, and a handle that has it owns the reference; otherwise C's
per-thread record of the last reference handed out (csrc/mg_handoff.c) says
which node an exception may have lost. One place is left: the first bytecode
of ``__del__``, before its ``try``, where only a trace function can raise.

The arithmetic is micrograd's own, node for node (``a / b`` is
``a * b**-1``, ...), so graphs, values and gradients come out as micrograd's.
"""

from __future__ import annotations

import dis
import gc
import numbers
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, SupportsFloat

if TYPE_CHECKING:
    from array import array

from ._core import (
    DEAD_BATCH,
    MASK,
    SHIFT,
    child,
    dead,
    doubles,
    doubles_of,
    ffi,
    lib,
    raise_error,
    release_dead,
)

_new = object.__new__
_ARITY = {lib.MG_LEAF: 0, lib.MG_ADD: 2, lib.MG_MUL: 2, lib.MG_POW: 2}  # others: 1
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
    lib.MG_HAND: "",
}
# node index: the Value holding the node's rule written in Python (its _backward); kept
# across importlib.reload, like _core's state, for the rules assigned before it
_rules: weakref.WeakValueDictionary[int, Value] = globals().get(
    "_rules", weakref.WeakValueDictionary()
)


def _as_float(x: Any) -> float | None:
    """x as a float if it is a real number (with __float__, no imaginary part), else None."""
    if type(x) is float:
        return x
    if type(x) is int or type(x) is bool:
        return float(x)
    if hasattr(type(x), "__float__") and not (
        isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real)
    ):
        return float(x)
    return None


def _real(x: Any, what: str) -> float:
    """x as a float, or a TypeError naming its type."""
    f = _as_float(x)
    if f is None:
        raise TypeError(f"{what} must be a real number, not {type(x).__name__}")
    return f


def _reclaim(i: int | None, out: Value | None) -> None:
    """Give back the reference a node-making C call handed out, if an exception lost it.

    Every handler around such a call runs this. i is what the call returned,
    None if the exception came before it was stored; out is the handle meant
    to take it, None if not made. A handle that has its index owns it. With
    no stored i, the call may have returned and its result been dropped
    unseen: C's record of the last reference this thread was handed says
    which node that would be, and a search of the live handles (rare: only
    after an exception) says whether anything holds it.
    """
    if out is not None and hasattr(out, "_i"):
        return
    if i is None:
        i = lib.mg_handed_last()
        if i < 0 or _held(i):
            return
    if i >= 0:
        lib.mg_decref(i)


_FROZEN_BEFORE = gc.get_freeze_count()  # (3.12 counts objects of its own, frozen before any Value)


def _held(i: int) -> bool:
    """Whether a live handle, or the queue of dead ones, holds a reference on node i."""
    if i in dead or gc.get_freeze_count() > _FROZEN_BEFORE:  # frozen handles cannot be
        return True  # searched: keep it
    # (issubclass of the type: isinstance would read __class__, which some objects compute;
    # a finalized handle, kept alive after its __del__ filed its index, holds nothing)
    return any(
        issubclass(type(v), Value) and getattr(v, "_i", None) == i and not gc.is_finalized(v)
        for v in gc.get_objects()
    )


def _adopt(make: Callable[[], int], pool: _Pool, what: str) -> Value:
    """A Value on the node make() returns (a C call handing over one reference, or an error)."""
    i = out = None
    try:
        i = make()
        if i < 0:
            raise_error(i, what)
        out = _new(Value)
        out._a, out._b = pool, None
        out._i = i  # last: from here on, the handle owns the reference
    except BaseException:
        _reclaim(i, out)
        raise
    return out


def _operator(
    name: str,
    spelling: str,
    both: Callable[[int, int], int] | None,
    number: Callable[[int, float], int],
    number_int: Callable[[int, float], int] | None = None,
    general: Callable[[Value, Any], Value] | None = None,
) -> Callable[[Value, Any], Value]:
    """Method name of a binary operator, spelled as in "{0} - {1}" (0: self, 1: other).

    It calls C both(self, other) for a Value other (None: return NotImplemented),
    number(self, x) for a real number x, or number_int if x is int-like and that
    differs; general(self, other), if given, takes over for numbers that are
    neither int nor float. The first branches are the hottest path there is.
    """
    number_int = number_int or number

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
                x = _as_float(other)
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


def _unary(f: Callable[[int], int], name: str, doc: str) -> Callable[[Value], Value]:
    """The method applying C unary operation f."""

    def method(self: Value) -> Value:
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

    method.__name__, method.__qualname__, method.__doc__ = name, f"Value.{name}", doc
    return method


class Value:
    """Stores a single scalar value and its gradient."""

    __slots__ = ("_i", "_a", "_b", "_label", "__weakref__", "__dict__")
    _i: int  # the node's index: this handle owns one reference on it
    _a: Any  # an operand, the pool, or the children once _prev found them
    _b: Any  # the other operand, or None
    _label: tuple[str, tuple[Any, ...]]  # (op, children) of a Value built by hand
    __array_ufunc__ = None  # numpy scalars then defer to our reflected operators

    def __init__(self, data: SupportsFloat, _children: Iterable[Value] = (), _op: str = ""):
        x = _real(data, "Value data")
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
            if vars(self).pop("_backward", None) is not None and _rules.get(self._i) is self:
                del _rules[self._i]  # (C forgot the rule too)
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

    def __del__(
        self, _dead: array[int] = dead, _release: Callable[[], None] = release_dead
    ) -> None:
        try:
            _dead.append(self._i)  # see _core.dead
            if len(_dead) >= DEAD_BATCH:
                _release()
        except AttributeError:  # __init__ failed before a node was made
            pass
        except BaseException as exc:  # unraisable here: Python prints it and goes on
            if not _filed(exc):
                lib.mg_decref(self._i)
            raise

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
        i = self._i
        x = value if type(value) is float else _real(value, "data")
        try:
            doubles[i >> SHIFT][(i & MASK) * 4] = x
        except IndexError:
            doubles_of(i)[(i & MASK) * 4] = x

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
    def _prev(self) -> set[Value]:
        """The Values this one was computed from, as micrograd's set."""
        return set(self._children())

    def _children(self) -> list[Value]:
        """The Values this one was computed from, in order, repeats included (x*x: [x, x])."""
        label: tuple[str, tuple[Any, ...]] | None = getattr(self, "_label", None)
        if label is not None:
            return list(label[1])
        if self._a.__class__ is _Kids:  # found before
            return list(self._a)
        pool = self._a if type(self._a) is _Pool else _Pool((self._a, self._b))
        kids = []  # (a loop: a comprehension would hold self in a cell)
        for k in range(_ARITY.get(lib.mg_op(self._i), 1)):
            kids.append(pool.find(child(self._i, k)))
        found = _Kids(kids)
        # Publish, unless another thread did meanwhile: no call comes between the
        # test and the store, so no other thread runs there, and all get one answer.
        if self._a.__class__ is not _Kids:
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
            k = child(self._i, 1)
            exponent = doubles_of(k)[(k & MASK) * 4]
            return f"**{int(exponent) if op == lib.MG_POWI else exponent}"
        return _OP_NAMES[op]

    if TYPE_CHECKING:  # what the operators below take and give, for type checkers only

        def __add__(self, other: Value | SupportsFloat) -> Value: ...
        def __radd__(self, other: SupportsFloat) -> Value: ...
        def __mul__(self, other: Value | SupportsFloat) -> Value: ...
        def __rmul__(self, other: SupportsFloat) -> Value: ...
        def __sub__(self, other: Value | SupportsFloat) -> Value: ...
        def __rsub__(self, other: SupportsFloat) -> Value: ...
        def __truediv__(self, other: Value | SupportsFloat) -> Value: ...
        def __rtruediv__(self, other: SupportsFloat) -> Value: ...
        def __pow__(self, other: Value | SupportsFloat) -> Value: ...
        def relu(self) -> Value:
            """max(0, self), as micrograd's ReLU."""

        def tanh(self) -> Value:
            """The hyperbolic tangent."""

        def exp(self) -> Value:
            """e ** self; OverflowError where math.exp raises it."""

        def log(self) -> Value:
            """The natural logarithm; ValueError for self <= 0."""

        def sigmoid(self) -> Value:
            """1 / (1 + e ** -self), without overflow."""
    else:
        __add__ = _operator("__add__", "{0} + {1}", lib.mg_add, lib.mg_add_const)
        __radd__ = _operator("__radd__", "{1} + {0}", lib.mg_add, lib.mg_add_const)
        __mul__ = _operator("__mul__", "{0} * {1}", lib.mg_mul, lib.mg_mul_const)
        __rmul__ = _operator("__rmul__", "{1} * {0}", lib.mg_mul, lib.mg_mul_const)
        # self - other is self + (-other); other - self is other + (-self)
        __sub__ = _operator("__sub__", "{0} - {1}", lib.mg_sub, lib.mg_sub_const)
        __rsub__ = _operator("__rsub__", "{1} - {0}", None, lib.mg_rsub)
        # self / other is self * other**-1 (exact for a Fraction); other / self, other * self**-1
        __truediv__ = _operator(
            "__truediv__",
            "{0} / {1}",
            lib.mg_div,
            lib.mg_div_const,
            general=lambda self, other: self * other**-1,
        )
        __rtruediv__ = _operator("__rtruediv__", "{1} / {0}", None, lib.mg_rdiv)
        __pow__ = _operator("__pow__", "{0} ** {1}", lib.mg_pow, lib.mg_powf, lib.mg_powi)
        relu = _unary(lib.mg_relu, "relu", "max(0, self), as micrograd's ReLU.")
        tanh = _unary(lib.mg_tanh, "tanh", "The hyperbolic tangent.")
        exp = _unary(lib.mg_exp, "exp", "e ** self; OverflowError where math.exp raises it.")
        log = _unary(lib.mg_log, "log", "The natural logarithm; ValueError for self <= 0.")
        sigmoid = _unary(lib.mg_sigmoid, "sigmoid", "1 / (1 + e ** -self), without overflow.")

    def __rpow__(self, other: SupportsFloat) -> Value:  # other ** self
        if _as_float(other) is None:
            return NotImplemented
        return Value(other) ** self

    def backward(self) -> None:
        """Set this grad to 1 and add every node's gradient below it, in one C call."""
        release_dead()  # so nodes dropped since the last batch are not kept waiting
        err = lib.mg_backward(self._i)
        if err:
            if err != lib.MG_IN_PYTHON:
                raise_error(err, "backward")
            _walk(self._i)

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
        holder = _rules.get(self._i)  # another handle on the same node got one
        if holder is not None and holder is not self:
            return holder._backward
        return _nothing if hasattr(self, "_label") else self._apply_rule  # built by hand, or C's

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        if not callable(fn):
            raise TypeError(f"_backward must be callable, not {type(fn).__name__}")
        vars(self)["_backward"] = fn
        _rules[self._i] = self
        release_dead()  # parents already dropped would make C count this node stale
        err = lib.mg_set_python(self._i)
        if err:
            raise_error(err, "_backward")

    def __neg__(self) -> Value:  # -self
        return self * -1

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


def _in_python(v: Value) -> bool:
    """Whether v's rule is written in Python: built by hand, or given a _backward."""
    return hasattr(v, "_label") or _rules.get(v._i) is not None


def _nothing() -> None:
    """The rule of a Value built by hand until one is assigned, as micrograd's."""


def _walk(root: int) -> None:
    """backward() over a graph with rules written in Python: C applies its own between them.

    An exception from a Python rule propagates at once: the nodes before it
    in the order (and the rule itself, up to where it raised) have added to
    their children's grads, the rest have not.
    """
    walk = ffi.gc(ffi.new("mg_walk *"), lib.mg_walk_end)  # ended, at the latest, when dropped
    try:
        err = lib.mg_walk_start(root, walk)
        if err:
            raise_error(err, "backward")
        k = lib.mg_walk_next(walk)
        while k >= 0:
            holder = _rules.get(k)
            if holder is not None:
                holder._backward()
            else:  # its handle, and the rule with it, are gone: the node's own rule (if any)
                err = lib.mg_node_backward(k)
                if err:
                    raise_error(err, "backward")
            k = lib.mg_walk_next(walk)
        if k != lib.MG_WALK_END:
            raise_error(k, "backward")
    finally:
        lib.mg_walk_end(walk)


def _call_offset(code: Any) -> int:
    """The bytecode offset of the first call in code."""
    return next(ins.offset for ins in dis.get_instructions(code) if ins.opname.startswith("CALL"))


_DEL_APPEND = _call_offset(Value.__del__.__code__)


def _filed(exc: BaseException) -> bool:
    """Whether Value.__del__ had filed its index when exc interrupted it.

    Before the append's call, it had not. At the call, it had, unless the
    append itself failed (MemoryError); an interrupt there comes after the
    call returns.
    """
    tb = exc.__traceback__
    lasti = tb.tb_lasti if tb is not None else -1
    return lasti > _DEL_APPEND or (lasti == _DEL_APPEND and not isinstance(exc, MemoryError))


def _leaf(data: float, grad: float) -> Value:
    """A new leaf with this data and grad (unpickling)."""
    v = Value(data)
    v.grad = grad
    return v


class _Kids(tuple[Any, ...]):
    """A node's children as _prev found them, kept in place of its operands."""

    __slots__ = ()


class _Pool:
    """The Values a graph was built from, by node index: where _prev finds children.

    It holds the Values it was given, and only weak references to the handles
    it makes (each held by its parent, which asked _prev for it, and holding
    the pool to find its own children): so no handle and pool form a cycle,
    and a handle made once is found again while anything holds it.
    """

    __slots__ = ("groups", "_given", "_made")

    def __init__(self, *groups: Sequence[Any]):
        self.groups = groups  # sequences of Values (other items are ignored)
        self._given: dict[int, Value] | None = None
        self._made: dict[int, Any] = {}  # node index: weakref.ref to the handle made for it

    def find(self, i: int) -> Value:
        """The Value for node i: one the graph was built from, or a new handle on it."""
        if self._given is None:
            self._given = {v._i: v for g in self.groups for v in g if isinstance(v, Value)}
        made = self._made.get(i)
        found = self._given.get(i) or (made and made())
        if found is None:
            new = _handle(i, self)
            found = self._made.setdefault(i, weakref.ref(new))()  # a racing thread's, if first
            if found is None:  # the one there had died
                self._made[i] = weakref.ref(new)
                found = new
        return found


def _handle(i: int, pool: _Pool) -> Value:
    """A new handle on live node i, taking a reference of its own."""
    before = out = None
    try:
        before = lib.mg_handed_count()  # node i may have other handles: count, not search
        err = lib.mg_incref(i)
        if err:
            raise_error(err, "_prev")
        out = _new(Value)
        out._a, out._b = pool, None
        out._i = i  # last: from here on, the handle owns the reference
    except BaseException:
        taken = before is not None and lib.mg_handed_count() != before
        if taken and not hasattr(out, "_i"):
            lib.mg_decref(i)
        raise
    return out
