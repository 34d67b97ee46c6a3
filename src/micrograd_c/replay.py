"""Replay: record the graph behind a loss once, then re-run it in C every step.

In a training loop the graph has the same shape at every step; only leaf
values change. ``record(loss)`` copies the graph (its nodes in topological
order) into a recording that C owns. Then ``forward()`` recomputes every node
from the leaves' current ``.data``, ``backward()`` adds the gradients into
the leaves' ``.grad`` as ``loss.backward()`` would, and the optimizers in
``micrograd_c.optim`` step the parameters, each in one C call, with results
equal to rebuilding the graph, bit for bit.

What replay cannot see: Python code that ran while the graph was built is
not run again, so a branch on a value (``if x.data > 0``) stays as it was
recorded, and a model changed afterwards is not seen: the recording goes on
computing the nodes it copied, whether a weight was replaced, a layer added,
or a neuron's ``nonlin`` switched (a parameter re-initialised in place,
``p.__init__(5.0)``, keeps its node: replay reads its new data). Pass
``model=`` and every forward() and backward() first compares the model with
a snapshot taken when recording (each module's attribute dict and each list
it holds, copied), and raises ValueError naming what changed, however it
was changed; any attribute of a subclass counts. Leaves that nobody else
could reach when recording (numbers wrapped on the fly, like the 2 in
``2 * x``) are constants. The recording keeps every other leaf alive as long
as it lives. Values computed inside the graph keep their recorded ``.data``;
read new results from ``forward()`` and ``outputs``.

``set_inputs`` reads a buffer of C-ordered native doubles (``array('d')``, a
float64 numpy array) in place. Any other buffer of real numbers (another
precision or byte order, a strided or 2-D view, numpy objects) is copied
through the buffer protocol or, item by item, float(); any other format
(complex, strings) is a TypeError. numpy itself is never imported.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from . import nn
from ._core import ffi, lib, raise_error, release_dead
from ._python_rules import rules
from .engine import Value


def _python_op(roots: list[Value]) -> str:
    """The op string of a node under roots whose op or rule is written in Python."""
    seen, todo = set(), list(roots)
    while todo:
        v = todo.pop()
        if v._i in seen:
            continue
        seen.add(v._i)
        if hasattr(v, "_label") or v._i in rules:
            return v._op
        todo.extend(v._children())
    return "?"  # (the graph changed meanwhile)


class Recording:
    """The graph under a loss Value, copied once, replayed in C."""

    def __init__(
        self,
        loss: Value,
        inputs: Iterable[Value] = (),
        outputs: Iterable[Value] = (),
        model: Any = None,
    ):
        inputs, outputs = list(inputs), list(outputs)
        for v in [loss, *inputs, *outputs]:
            if not isinstance(v, Value):
                raise TypeError(f"record() takes Values, not {type(v).__name__}")
        for v in inputs:
            if lib.mg_op(v._i) != lib.MG_LEAF:
                raise ValueError(
                    f"inputs must be leaf Values, made with Value(x): {v!r} is computed"
                )
        release_dead()  # exact reference counts tell constants from variables
        tape = ffi.new("mg_tape **")
        err = lib.mg_record(
            loss._i,
            [v._i for v in outputs],
            len(outputs),
            [v._i for v in inputs],
            len(inputs),
            tape,
        )
        if err == lib.MG_EPYTHON:
            op = _python_op([loss, *outputs])
            raise TypeError(
                f"record() cannot replay the op {op!r}: it is written in Python "
                f"(built by hand or given a _backward), and C cannot re-run its "
                f"forward; build it from Value operations, or train without record()"
            )
        if err:
            raise_error(err, "record")
        self._tape = ffi.gc(tape[0], lib.mg_tape_free)
        self._values = ffi.new("double[]", [loss.data, *(v.data for v in outputs)])
        self.inputs: list[Value] = inputs
        self._model = None if model is None else nn._Snapshot(model)

    def _tape_checked(self) -> Any:
        """The C recording, after checking it is open and the model unchanged."""
        if self._tape is None:
            raise ValueError("this recording is closed")
        change = None if self._model is None else self._model.change()
        if change is not None:
            raise ValueError(
                f"the model changed since the graph was recorded: {change}; record the graph again"
            )
        return self._tape

    def close(self) -> None:
        """Free the recording and let go of its leaves (later calls raise ValueError)."""
        self._tape = None  # freed by its ffi.gc destructor once no call (on any thread) uses it

    def __reduce__(self) -> Any:
        """Refuse pickling and copying: a recording names live nodes of this process."""
        raise TypeError(
            "a Recording cannot be pickled or copied: pickle the model (or the leaf "
            "Values) and record the graph again"
        )

    def __len__(self) -> int:
        """The number of nodes recorded."""
        return lib.mg_tape_nodes(self._tape_checked())

    def __repr__(self) -> str:
        nodes = "closed" if self._tape is None else lib.mg_tape_nodes(self._tape)
        return f"Recording(nodes={nodes}, inputs={len(self.inputs)}, value={self.value})"

    @property
    def value(self) -> float:
        """The loss as of the last forward() (or as recorded)."""
        loss: float = self._values[0]
        return loss

    @property
    def outputs(self) -> list[float]:
        """The extra outputs' values as of the last forward() (or as recorded)."""
        return list(self._values[1 : len(self._values)])

    def forward(self) -> float:
        """Recompute every node from the leaves' current data; return the loss."""
        err = lib.mg_tape_forward(self._tape_checked(), self._values)
        if err:
            raise_error(err, "forward")
        loss: float = self._values[0]
        return loss

    def backward(self) -> None:
        """Set the loss's grad to 1 and add every leaf's gradient, as loss.backward() does."""
        err = lib.mg_tape_backward(self._tape_checked())
        if err:
            raise_error(err, "backward")

    def set_inputs(self, xs: Any) -> None:
        """Write new data into the inputs, in order: real numbers, as a sequence or a buffer."""
        buffer = _doubles(xs)
        if len(buffer) != len(self.inputs):
            raise ValueError(f"set_inputs needs {len(self.inputs)} numbers, got {len(buffer)}")
        err = lib.mg_tape_set_inputs(
            self._tape_checked(), ffi.from_buffer("double[]", buffer), len(buffer)
        )
        if err:
            raise_error(err, "set_inputs")


_REAL = set("bBhHiIlLqQnNefd?O")  # buffer formats of real numbers (O: objects, each converted)
_ORDER = {"<": "little", ">": "big", "!": "big"}  # a format's byte order, if not native


def _doubles(xs: Any) -> Sequence[float]:
    """xs as a flat, C-contiguous buffer of doubles: xs itself if it is one, else a copy."""
    try:
        view = memoryview(xs)
    except (TypeError, ValueError, BufferError):  # not a buffer Python can read
        return _floats(xs, 1)
    code = view.format.lstrip("@=<>!")
    if code not in _REAL:
        raise TypeError(f"set_inputs takes real numbers, not a buffer of format {view.format!r}")
    if view.format == "d" and view.c_contiguous:
        return view.cast("B").cast("d")
    if code in ("d", "f"):  # another byte order or layout: copied in C order
        out = array(code, view.tobytes())
        if _ORDER.get(view.format[0], sys.byteorder) != sys.byteorder:
            out.byteswap()
        return out if code == "d" else array("d", out)
    try:
        return _floats(xs, view.ndim)
    except NotImplementedError:  # a memoryview whose items Python cannot unpack
        raise TypeError(f"set_inputs cannot read a buffer of format {view.format!r}") from None


def _floats(xs: Any, ndim: int) -> array[float]:
    """The numbers in xs, nested ndim deep, as doubles (each converted as float() would)."""
    for _ in range(ndim - 1):
        xs = [x for row in xs for x in row]
    try:
        return array("d", xs)
    except TypeError as exc:
        raise TypeError(f"set_inputs takes real numbers: {exc}") from None


def record(
    loss: Value, inputs: Iterable[Value] = (), outputs: Iterable[Value] = (), model: Any = None
) -> Recording:
    """Record the graph under loss (and outputs) for replay: inputs are what set_inputs writes."""
    return Recording(loss, inputs, outputs, model)
