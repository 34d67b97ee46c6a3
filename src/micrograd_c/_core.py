"""The compiled core: loading it, its errors as exceptions, and its memory.

Everything that touches the C library directly, other than the Value
facade's hot paths, lives here: the import-time checks that the compiled
module matches this source, the one place where C error codes become Python
exceptions, the views through which Python reads and writes node data and
grads without a C call, and ``stats()``.
"""
from __future__ import annotations

import hashlib
import threading
from array import array
from pathlib import Path
from typing import NamedTuple, NoReturn

REBUILD = "rebuild it with `pip install -e .` (or `pip install .`) from the source checkout"

try:
    from ._cmg import ffi, lib
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(f"micrograd_c's compiled module _cmg is missing or broken ({exc}); "
                      f"{REBUILD}") from exc

ABI_VERSION = 14
NODE_BYTES = 32  # data, grad: doubles 0 and 1 of a node; children: int32s 4 and 5
if lib.MG_ABI_VERSION != ABI_VERSION or ffi.sizeof("mg_node") != NODE_BYTES:
    raise ImportError(f"micrograd_c's compiled module is stale: it does not match this "
                      f"source (C ABI {lib.MG_ABI_VERSION}, Python expects {ABI_VERSION}); {REBUILD}")


def _source_hash(root: Path) -> str:
    """The hash build_ext.py embeds: sha256 of csrc/*.[ch] and build_ext.py."""
    files = sorted((root / "csrc").glob("*.[ch]")) + [root / "build_ext.py"]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


_root = Path(__file__).resolve().parents[2]
if (_root / "build_ext.py").is_file() and (_root / "csrc").is_dir():  # a source checkout
    if ffi.string(lib.mg_build_hash()).decode() != _source_hash(_root):
        raise ImportError(f"micrograd_c's compiled module is stale: csrc/ or build_ext.py "
                          f"changed since it was built; {REBUILD}")

_ERRORS = {
    lib.MG_ENOMEM: (MemoryError, "out of memory for graph nodes"),
    lib.MG_EZERODIV: (ZeroDivisionError, "0.0 cannot be raised to a negative power"),
    lib.MG_EDOMAIN: (ValueError, "math domain error"),
    lib.MG_ERANGE: (OverflowError, "math range error (result too large)"),
    lib.MG_ECOMPLEX: (ValueError, "negative number cannot be raised to a fractional power "
                                  "(Python would give a complex number)"),
    lib.MG_EINDEX: (RuntimeError, "internal error: not a live graph node"),
}


def raise_error(code: int, where: str) -> NoReturn:
    """Raise the Python exception for C error code ``code``, met in ``where``."""
    exc, message = _ERRORS[code]
    raise exc(f"{where}: {message}")


# Dead handles. A Value's __del__ does not call C: it appends its index to
# `dead`, and once DEAD_BATCH have gathered they go back to C in one call (a
# C call costs more than everything else __del__ does). Appends are atomic
# under the GIL; one thread at a time drains the front of the array, copying
# it out first, so indices filed meanwhile by other threads, or by
# finalizers run from here, land behind the part being drained and are
# never lost or given twice.
DEAD_BATCH = 1024
dead = array("i")
_draining = threading.Lock()


def release_dead() -> None:
    """Give every filed reference back to C now, in one call."""
    if not dead:
        return
    if not _draining.acquire(blocking=False):
        return  # another thread is draining; it releases ours in its next call
    try:
        n = len(dead)
        batch = ffi.new("int[]", n)
        ffi.memmove(batch, dead, 4 * n)
        del dead[:n]
    finally:
        _draining.release()
    lib.mg_decref_many(batch, n)


# Node memory, read and written in place. Chunks never move in C, so a view
# stays valid for the life of the process. A node is 32 bytes: as doubles,
# data is at 4*k and grad at 4*k + 1; as int32, children at 8*k + 4 and + 5.
SHIFT = lib.MG_CHUNK_SHIFT
MASK = lib.MG_CHUNK_NODES - 1
doubles: list[memoryview] = []
int32s: list[memoryview] = []
_views_lock = threading.Lock()


def refresh_views() -> None:
    """Add views of the chunks the arena gained since the last call."""
    with _views_lock:
        for c in range(len(doubles), lib.mg_chunk_count()):
            raw = memoryview(ffi.buffer(lib.mg_chunk(c), lib.MG_CHUNK_NODES * NODE_BYTES))
            doubles.append(raw.cast("d"))
            int32s.append(raw.cast("i"))


def doubles_of(i: int) -> memoryview:
    """The double view of node i's chunk, refreshing the views if needed."""
    if i >> SHIFT >= len(doubles):
        refresh_views()
    return doubles[i >> SHIFT]


def child(i: int, k: int) -> int:
    """Index of child k (0 or 1) of node i, or -1."""
    if i >> SHIFT >= len(int32s):
        refresh_views()
    return int32s[i >> SHIFT][(i & MASK) * 8 + 4 + k]


class Stats(NamedTuple):
    """Arena figures for profiling."""

    live: int        # nodes in use
    capacity: int    # node slots allocated
    bytes: int       # bytes held by the arena: nodes, bitmap, region table
    chunks: int      # chunks of slots allocated (65,536 slots each)
    regions: int     # regions of 4,096 slots holding live nodes or being filled


def stats() -> Stats:
    """Live nodes, capacity and bytes in use of the C arena."""
    release_dead()
    s = ffi.new("mg_stats *")
    lib.mg_stats_get(s)
    return Stats(s.live, s.capacity, s.bytes, s.chunks, s.regions)
