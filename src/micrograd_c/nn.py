"""micrograd's tiny neural-net library, on micrograd_c's Value, with a fused forward.

The classes, signatures, parameters() order, reprs and random draws are
micrograd's. Calling a Neuron, Layer or MLP runs one C call for the whole
forward (mg_mlp), which builds exactly the nodes micrograd's code builds,
in the same order: values, _prev, _op and backward are unchanged. Only the
nodes in between get no Python handle until _prev asks for one.

The C call needs the parameters as an index array, packed on first use and
kept while nothing it was made from changes. Each call checks, in this order:

- a global version, bumped by every write to a module's attributes: assigning
  (``neuron.nonlin = False``), deleting, or writing into its ``__dict__`` or
  ``vars()`` (a dict whose writes bump it); and
- the lists the pack was read from (the MLP's layers, each layer's neurons,
  each neuron's weights), against a copy: one C-level comparison that sees a
  change made by any means, ``list.append(neuron.w, v)`` included.

Either difference packs again, so the next call runs the model as it is now.
The list comparison costs about 1 µs a call on the moons demo's 2-16-16-1
MLP (a call takes 12). What the check leaves out, because seeing it would cost more than
the forward itself (a Python read of every parameter's node index doubles
that forward's time): writes that go around the module's own methods
(``object.__setattr__``, ``dict.__setitem__(vars(m), ...)``). ``_Snapshot``
sees those too, at that price; ``record(..., model=)`` compares one before
every replay.

A subclass of Neuron, Layer or MLP, or a layer whose neurons disagree on
nonlin, runs micrograd's own code.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, TypeAlias, TypeVar

from ._core import ffi, lib, raise_error, real
from ._handles import Pool
from .engine import Value, _new

Input = Sequence[Value | float]
Output: TypeAlias = Any
"""What calling a Layer or MLP gives: a Value for one output, a list[Value] for several.

That is micrograd's convention, and which one depends on the last layer's width, which a type
checker cannot see: so it is typed Any (a Neuron's call is typed Value).
"""
M = TypeVar("M", bound="Module")
_version = 0  # bumped by every write to any module's attributes


def _bump() -> None:
    """Invalidate every packed forward."""
    global _version
    _version += 1


class _TrackedDict(dict[str, Any]):
    """A module's attribute dict: every write invalidates packed forwards."""

    def _changed(name: str) -> Callable[..., Any]:  # type: ignore[misc]  # (not a method:
        # it builds the writing methods below, then is deleted)
        method = getattr(dict, name)

        def wrapper(self: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            _bump()
            return method(self, *args, **kwargs)

        wrapper.__name__ = name
        return wrapper

    for _name in (
        "__setitem__",
        "__delitem__",
        "__ior__",
        "update",
        "setdefault",
        "pop",
        "popitem",
        "clear",
    ):
        locals()[_name] = _changed(_name)
    del _name, _changed


_TrackedList = list  # what pickles made before the list comparison call a module's lists


class _Pack(NamedTuple):
    """An MLP's structure as C arrays for mg_mlp."""

    values: tuple[Value, ...]  # the parameters, in micrograd's order
    params: Any  # int[]: their node indices
    sizes: Any  # int[]: layer widths, inputs first
    nonlin: Any  # int[]: ReLU per layer
    nlayers: int
    nin: int
    nout: int
    widest: int


def _pack(layers: Sequence[Sequence[Any]]) -> _Pack | None:
    """C arrays for layers of neurons, or None when micrograd's own code must run."""
    layers = [list(layer) for layer in layers]  # C trusts no length it did not count
    if not layers or not all(layers) or any(type(n) is not Neuron for ly in layers for n in ly):
        return None
    sizes = [len(list(layers[0][0].w))]
    for layer in layers:
        if any(len(list(n.w)) != sizes[-1] or n.nonlin != layer[0].nonlin for n in layer):
            return None
        sizes.append(len(layer))
    values = tuple(p for layer in layers for n in layer for p in n.parameters())
    expected = sum(nout * (nin + 1) for nin, nout in itertools.pairwise(sizes))
    if len(values) != expected or not all(isinstance(p, Value) for p in values):
        return None
    return _Pack(
        values,
        ffi.new("int[]", [p._i for p in values]),
        ffi.new("int[]", sizes),
        ffi.new("int[]", [bool(ly[0].nonlin) for ly in layers]),
        len(layers),
        sizes[0],
        sizes[-1],
        max(sizes[1:]),
    )


def _forward(pack: _Pack, x: Input) -> list[Value]:
    """The outputs of one fused forward over inputs x."""
    x = list(x)  # C trusts no length it did not count
    if len(x) != pack.nin:
        raise ValueError(f"expected {pack.nin} inputs, got {len(x)}")
    nodes = [v._i if isinstance(v, Value) else -1 for v in x]
    numbers = [0.0 if isinstance(v, Value) else real(v, "input") for v in x]
    out = ffi.new("int[]", [-1] * pack.nout)  # -1 until C hands a reference over
    handles = [_new(Value) for _ in range(pack.nout)]
    try:
        err = lib.mg_mlp(
            pack.params,
            pack.sizes,
            pack.nonlin,
            pack.nlayers,
            nodes,
            numbers,
            ffi.new("int[]", 2 * pack.widest),
            out,
        )
        if err:
            raise_error(err, "nn forward")
        pool = Pool(pack.values, x)
        for h, i in zip(handles, out):
            h._a, h._b = pool, None
            h._i = i  # last: from here on, the handle owns the reference
    except BaseException:
        for h, i in zip(handles, out):
            if i >= 0 and not hasattr(h, "_i"):
                lib.mg_decref(i)
        raise
    return handles


class Module:
    """Something with parameters whose gradients can be reset."""

    # _pack: (version, lists read, their copies, pack), kept out of the attribute dict
    __slots__ = ("__dict__", "__weakref__", "_pack")
    _pack: tuple[int, list[list[Any]], list[list[Any]], _Pack | None]

    def __new__(cls: type[M], *args: Any, **kwargs: Any) -> M:
        self = super().__new__(cls)
        object.__setattr__(self, "__dict__", _TrackedDict())
        return self

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 (one C call for a Neuron, Layer or MLP)."""
        pack = self._packed() if type(self) in (Neuron, Layer, MLP) else None
        if pack is None:  # a subclass may have parameters of its own
            for p in self.parameters():
                p.grad = 0
        else:
            err = lib.mg_zero_grad(pack.params, len(pack.values))
            if err:
                raise_error(err, "zero_grad")

    def parameters(self) -> list[Value]:
        """The trainable Values, in micrograd's order."""
        return []

    def __setattr__(self, name: str, value: Any) -> None:
        _bump()
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        _bump()
        object.__delattr__(self, name)

    def __getstate__(self) -> dict[str, Any]:
        """What pickle and deepcopy keep: the attributes (the C pack is redone on first use)."""
        return dict(self.__dict__)

    def _layers(self) -> tuple[list[Any], list[list[Any]]]:
        """The neurons, layer by layer, that one fused forward computes; the lists read for them."""
        raise NotImplementedError

    def _packed(self) -> _Pack | None:
        """This module's pack, redone if anything it was made from changed."""
        try:
            version, lists, copies, pack = self._pack
            if version == _version and lists == copies:
                return pack
        except AttributeError:  # never packed
            pass
        layers, lists = self._layers()
        pack = _pack(layers)
        if pack is not None:
            lists = lists + [n.w for layer in layers for n in layer]
        object.__setattr__(self, "_pack", (_version, lists, [list(x) for x in lists], pack))
        return pack


class _Snapshot:
    """A model's attribute dicts and lists, copied, for change()."""

    def __init__(self, model: Any):
        self.paths: list[str] = []  # where each holder is, as Python would spell it
        self.holders: list[Any] = []  # each module's attribute dict, each list
        self.modules: list[Any] = []
        if isinstance(model, Module):
            _gather(model, "model", self, set())
        self.copies = [h.copy() for h in self.holders]
        self.types = [type(m) for m in self.modules]

    def change(self) -> str | None:
        """What changed since the snapshot, however it was made, or None."""
        if self.holders != self.copies:
            return next(
                _difference(path, now, then) + " changed"
                for path, now, then in zip(self.paths, self.holders, self.copies)
                if now != then
            )
        if list(map(type, self.modules)) != self.types:
            return "a module's class changed"
        return None


def _gather(obj: Any, path: str, snap: _Snapshot, seen: set[int]) -> None:
    """Add obj to snap if it is a module (its attribute dict) or a list, and all under it."""
    if id(obj) in seen or not isinstance(obj, (Module, list)):
        return
    seen.add(id(obj))
    if isinstance(obj, Module):
        snap.modules.append(obj)
        holder: Any = vars(obj)
        items: Iterable[tuple[Any, Any]] = vars(obj).items()
        spell = "{}.{}"
    else:
        holder, items, spell = obj, enumerate(obj), "{}[{}]"
    snap.paths.append(path)
    snap.holders.append(holder)
    for key, value in items:
        _gather(value, spell.format(path, key), snap, seen)


def _difference(path: str, now: Any, then: Any) -> str:
    """Which part of a holder at path differs from its copy."""
    if isinstance(now, list):
        return f"the items of {path}"
    missing = object()
    key = next(k for k in {**then, **now} if now.get(k, missing) != then.get(k, missing))
    return f"{path}.{key}"


class Neuron(Module):
    """Weighted sum of the inputs plus a bias, optionally through ReLU."""

    def __init__(self, nin: int, nonlin: bool = True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x: Input) -> Value:
        """The neuron's output: w · x + b, through ReLU if nonlin."""
        pack = self._packed() if type(self) is Neuron else None
        if pack is not None:
            return _forward(pack, x)[0]
        if len(x) != len(self.w):
            raise ValueError(f"expected {len(self.w)} inputs, got {len(x)}")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def _layers(self) -> tuple[list[Any], list[list[Any]]]:
        return [[self]], []

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """nout neurons over the same inputs; a single output is not wrapped in a list."""

    def __init__(self, nin: int, nout: int, **kwargs: Any):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Input) -> Output:
        """The layer's output: a Value if it has one neuron, else a list of Values."""
        pack = self._packed() if type(self) is Layer else None
        out = _forward(pack, x) if pack is not None else [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def _layers(self) -> tuple[list[Any], list[list[Any]]]:
        return [self.neurons], [self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ReLU layers and a linear last layer."""

    def __init__(self, nin: int, nouts: list[int]):
        sizes = [nin] + nouts
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))
        ]

    def __call__(self, x: Input) -> Output:
        """The last layer's output: a Value if it has one neuron, else a list of Values."""
        pack = self._packed() if type(self) is MLP else None
        if pack is None:
            out: Any = x
            for layer in self.layers:
                out = layer(out)
            return out
        out = _forward(pack, x)
        return out[0] if len(out) == 1 else out

    def _layers(self) -> tuple[list[Any], list[list[Any]]]:
        if any(type(layer) is not Layer for layer in self.layers):
            return [], [self.layers]
        layers = [layer.neurons for layer in self.layers]
        return layers, [self.layers, *layers]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
