"""Rules written in Python: which nodes have one, and backward over a graph with them.

A Value given a ``_backward`` is filed in ``rules`` under its node's index,
and C is told that the node's rule is Python's. backward() over a graph
holding such a node goes in steps: csrc/mg_backward.c's stepped walk applies
the C rules in order up to the next Python rule, returns its node, and
``walk`` runs the rule here, with no lock held, before C goes on.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from ._core import ffi, lib, raise_error

if TYPE_CHECKING:
    from .engine import Value

# node index: the Value holding the node's rule written in Python (its _backward); kept
# across importlib.reload, like _core's state, for the rules assigned before it
rules: weakref.WeakValueDictionary[int, Value] = globals().get(
    "rules", weakref.WeakValueDictionary()
)


def in_python(v: Value) -> bool:
    """Whether v's rule is written in Python: built by hand, or given a _backward."""
    return hasattr(v, "_label") or rules.get(v._i) is not None


def nothing() -> None:
    """The rule of a Value built by hand until one is assigned, as micrograd's."""


def walk(root: int) -> None:
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
            holder = rules.get(k)
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
