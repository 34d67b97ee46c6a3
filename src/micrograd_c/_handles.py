"""Handles: Python objects that each own one reference on a C node.

A handle's ``_i`` is its node's index. It is stored last, after everything
that can fail, so a handle that has ``_i`` owns the reference; when the
handle is freed, its C base type (csrc/py_value.c) gives the reference back,
in batches, with no Python code run. The operators make their nodes and
handles in C, where no exception can come between the two. Elsewhere Python
can raise between any two bytecodes (Ctrl-C, a trace function, a failed
allocation), so every call that makes a node runs in a ``try`` whose handler
passes what it knows to ``reclaim``: the index, if it was stored, and the
handle, if made. Where neither was, C's per-thread record of the last
reference it handed out (csrc/mg_handoff.c) says which node an exception may
have lost.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._core import CHandle, lib, raise_error

if TYPE_CHECKING:
    from .engine import Value


# importlib.reload re-runs this file in the same namespace: the classes are kept (restored at
# the end), since every Value alive, and every Value engine makes from then on, is a Handle of
# the first class, and every pool made holds Kids and is a Pool of the first ones
_KEPT: dict[str, Any] = {
    name: globals()[name] for name in ("Handle", "Kids", "Pool") if name in globals()
}


if TYPE_CHECKING:
    from ._cmg import Handle as _Base
else:
    _Base = CHandle


class Handle(_Base):
    """An object owning one reference on C node ``_i``, given back when it is freed."""

    __slots__ = ()


def reclaim(i: int | None, out: Handle | None) -> None:
    """Give back the reference a node-making C call handed out, if an exception lost it.

    i is what the call returned, None if the exception came before it was
    stored; out is the handle meant to take it, None if not made. A handle
    that has its index owns it. With no stored i, the call may have returned
    and its result been dropped unseen: C's record of the last reference
    this thread was handed says which node that would be, and a search of
    the live handles (rare: only after an exception) says whether anything
    holds it.
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
    if i in CHandle._pending() or gc.get_freeze_count() > _FROZEN_BEFORE:  # frozen handles
        return True  # cannot be searched: keep it
    # (issubclass of the type: isinstance would read __class__, which some objects compute)
    return any(
        issubclass(type(v), CHandle) and getattr(v, "_i", None) == i for v in gc.get_objects()
    )


class Kids(tuple[Any, ...]):
    """A node's children as _prev found them, kept in place of its operands."""

    __slots__ = ()


class Pool:
    """The Values a graph was built from, by node index: where _prev finds children.

    It holds the Values it was given, and only weak references to the handles
    it makes (each held by its parent, which asked _prev for it, and holding
    the pool to find its own children): so no handle and pool form a cycle,
    and a handle made once is found again while anything holds it.
    """

    __slots__ = ("groups", "_given", "_made")

    def __init__(self, *groups: Sequence[Any]):
        self.groups = groups  # sequences of Values (other items are ignored)
        self._given: dict[int, Any] | None = None  # node index: a Value given
        self._made: dict[int, Any] = {}  # node index: weakref.ref to the handle made for it

    def find(self, i: int) -> Value:
        """The Value for node i: one the graph was built from, or a new handle on it."""
        if self._given is None:
            self._given = {v._i: v for g in self.groups for v in g if isinstance(v, Handle)}
        made = self._made.get(i)
        found = self._given.get(i) or (made and made())
        if found is None:
            new = _handle(i, self)
            found = self._made.setdefault(i, weakref.ref(new))()  # a racing thread's, if first
            if found is None:  # the one there had died
                self._made[i] = weakref.ref(new)
                found = new
        return found


def _handle(i: int, pool: Pool) -> Value:
    """A new handle on live node i, taking a reference of its own."""
    from .engine import Value  # (engine imports this module, so not at the top)

    before = out = None
    try:
        before = lib.mg_handed_count()  # node i may have other handles: count, not search
        err = lib.mg_incref(i)
        if err:
            raise_error(err, "_prev")
        out = Value.__new__(Value)
        out._a, out._b = pool, None
        out._i = i  # last: from here on, the handle owns the reference
    except BaseException:
        taken = before is not None and lib.mg_handed_count() != before
        if taken and not hasattr(out, "_i"):
            lib.mg_decref(i)
        raise
    return out


def adopt(make: Callable[[], int], pool: Pool, what: str) -> Value:
    """A Value on the node make() returns (a C call handing over one reference, or an error)."""
    from .engine import Value  # (engine imports this module, so not at the top)

    i = out = None
    try:
        i = make()
        if i < 0:
            raise_error(i, what)
        out = Value.__new__(Value)
        out._a, out._b = pool, None
        out._i = i  # last: from here on, the handle owns the reference
    except BaseException:
        reclaim(i, out)
        raise
    return out


globals().update(_KEPT)  # (see _KEPT)
