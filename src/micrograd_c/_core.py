"""The compiled core: loading it, its errors as exceptions, and its memory.

Everything that touches the C library directly, other than the Value
facade's hot paths, lives here: the import-time checks that the compiled
module matches this source, the one place where C error codes become Python
exceptions, the views through which Python reads and writes node data and
grads without a C call, and ``stats()``.
"""

from __future__ import annotations

import atexit
import numbers
import os
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple, NoReturn

from ._sources import source_hash

REBUILD = "rebuild it with `pip install -e .` (or `pip install .`) from the source checkout"

try:
    from . import _cmg
    from ._cmg import ffi as ffi  # (as: re-exported to the other modules)
    from ._cmg import lib as lib
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        f"micrograd_c's compiled module _cmg is missing or broken ({exc}); {REBUILD}"
    ) from exc


def as_float(x: Any) -> float | None:
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


def real(x: Any, what: str) -> float:
    """x as a float, or a TypeError naming its type."""
    f = as_float(x)
    if f is None:
        raise TypeError(f"{what} must be a real number, not {type(x).__name__}")
    return f


NODE_BYTES = 32  # data, grad: doubles 0 and 1 of a node; children: int32s 4 and 5
CHUNK_BYTES = lib.MG_CHUNK_NODES * NODE_BYTES


# A stale build (one made from other C sources than these) is found in one way: the build
# embeds a hash of the sources it was made from (build_ext.py), compared here with the
# sources beside the package. Installed from a wheel, the package has no sources beside it,
# and its binary is the one built with it.
_root = Path(__file__).resolve().parents[2]
_checkout = (_root / "build_ext.py").is_file() and (_root / "csrc").is_dir()
if _checkout and ffi.string(lib.mg_build_hash()).decode() != source_hash(_root):
    raise ImportError(
        f"micrograd_c's compiled module is stale: csrc/ or build_ext.py "
        f"changed since it was built; {REBUILD}"
    )

_ERRORS = {
    lib.MG_ENOMEM: (MemoryError, "out of memory for graph nodes"),
    lib.MG_EZERODIV: (
        ZeroDivisionError,
        "division by zero (0.0 raised to a negative power, or log's slope 1 / 0.0)",
    ),
    lib.MG_EDOMAIN: (ValueError, "math domain error"),
    lib.MG_ERANGE: (OverflowError, "math range error (result too large)"),
    lib.MG_ECOMPLEX: (
        ValueError,
        (
            "negative number cannot be raised to a fractional power "
            "(Python would give a complex number)"
        ),
    ),
    lib.MG_EINDEX: (RuntimeError, "internal error: not a live graph node"),
    lib.MG_EPYTHON: (TypeError, "the graph has an op written in Python"),
}


def raise_error(code: int, where: str) -> NoReturn:
    """Raise the Python exception for C error code ``code``, met in ``where``."""
    exc, message = _ERRORS[code]
    raise exc(f"{where}: {message}")


# Module state survives importlib.reload: a reload re-runs this file in the
# same namespace, and code bound before it still reads the old views.
_state = globals()


def _kept(name: str, make: Any) -> Any:
    """The module global `name` as before a reload, else a new make()."""
    return _state[name] if name in _state else make()


# Dead handles. A Value's node reference goes back when the Value is freed,
# with no Python code run: its C base type (csrc/py_value.c) files the index,
# and every 1,024 go back to C in one call. release_dead gives back the rest.
def _handle_type() -> type[_cmg.Handle]:
    """The C base type of Value, made on the first call in the process."""
    address = lib.mg_py_handle_type()
    if address == ffi.NULL:  # pragma: no cover - only out of memory
        raise ImportError("micrograd_c: the Value base type could not be made")
    if hasattr(_cmg, "Handle"):  # the main interpreter's module: C set it there
        return _cmg.Handle
    import ctypes  # (a legacy subinterpreter's copy of _cmg, made before it was set)

    found: type[_cmg.Handle] = ctypes.cast(
        int(ffi.cast("uintptr_t", address)), ctypes.py_object
    ).value
    return found


CHandle: type[_cmg.Handle] = _kept("CHandle", _handle_type)


def release_dead() -> None:
    """Give every filed reference back to C now, in one call."""
    CHandle._flush()


def _on_stack(code: Any) -> bool:
    """Whether this thread is inside a call of the function whose code this is."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code is not code:
        frame = frame.f_back
    return frame is not None


def _after_fork_in_child() -> None:
    """A fresh lock for the only thread a forked child has (one held at the fork stays held)."""
    global _views_lock
    _views_lock = threading.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)
# an interpreter ending (a subinterpreter too): its filed frees go to C
atexit.register(release_dead)


# Node memory, read and written in place. Chunks never move in C, so a view
# stays valid for the life of the process. A node is 32 bytes: as doubles,
# data is at 4*k and grad at 4*k + 1; as int32, children at 8*k + 4 and + 5.
# Each list holds the view of chunk c at position c; each grows on its own,
# one whole view at a time, so an exception between the two can leave one
# list shorter, never misaligned: the next refresh completes it.
SHIFT = lib.MG_CHUNK_SHIFT
MASK = lib.MG_CHUNK_NODES - 1
doubles: list[memoryview[float]] = _kept("doubles", list)
int32s: list[memoryview[int]] = _kept("int32s", list)
_views_lock = _kept("_views_lock", threading.RLock)


def refresh_views() -> None:
    """Add views of the chunks the arena gained since the last call."""
    if _views_lock._is_owned() and not _on_stack(_add_views.__code__):
        _views_lock.release()  # left held by an exception that struck before its release
    with _views_lock:  # reentrant: a finalizer run from here may need a view too
        _add_views()


def _add_views() -> None:
    """Append the missing views, each list on its own, one whole view at a time."""
    count = lib.mg_chunk_count()
    for views in (doubles, int32s):
        for c in range(len(views), count):
            raw = memoryview(ffi.buffer(lib.mg_chunk(c), CHUNK_BYTES))
            view: Any = raw.cast("d") if views is doubles else raw.cast("i")
            if len(views) == c:  # not added meanwhile by a finalizer run from here
                views.append(view)


def doubles_of(i: int) -> memoryview[float]:
    """The double view of node i's chunk, refreshing the views if needed."""
    if i >> SHIFT >= len(doubles):
        refresh_views()
    return doubles[i >> SHIFT]


def data_of(i: int) -> float:
    """Node i's data (a node with no handle, such as a constant exponent)."""
    return doubles_of(i)[(i & MASK) * 4]


def child(i: int, k: int) -> int:
    """Index of child k (0 or 1) of node i, or -1."""
    if i >> SHIFT >= len(int32s):
        refresh_views()
    return int32s[i >> SHIFT][(i & MASK) * 8 + 4 + k]


class Stats(NamedTuple):
    """Arena figures for profiling."""

    live: int  # nodes in use
    capacity: int  # node slots allocated
    bytes: int  # bytes held by the arena: nodes, bitmap, region table
    chunks: int  # chunks of slots allocated (65,536 slots each)
    regions: int  # regions of 64 slots holding live nodes or being filled


def stats() -> Stats:
    """Live nodes, capacity and bytes in use of the C arena."""
    release_dead()
    s = ffi.new("mg_stats *")
    lib.mg_stats_get(s)
    return Stats(s.live, s.capacity, s.bytes, s.chunks, s.regions)
