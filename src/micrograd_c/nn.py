"""micrograd's tiny neural-net library, on micrograd_c's Value, with a fused forward.

The classes, signatures, parameters() order, reprs and random draws are
micrograd's. Calling a Neuron, Layer or MLP runs one C call for the whole
forward (mg_mlp), which builds exactly the nodes micrograd's code builds,
in the same order: values, _prev, _op and backward are unchanged. Only the
nodes in between get no Python handle until _prev asks for one.

The C call needs the parameters as an index array, packed on first use.
Any change to the structure (assigning an attribute of a Module, or
changing a list held by one, such as ``neuron.w[k] = Value(...)``) bumps a
global version and the pack is redone. A subclass of Neuron, Layer or MLP,
or a layer whose neurons disagree on nonlin, runs micrograd's own code.
"""
from __future__ import annotations

import random
from typing import Any, List, NamedTuple, Optional, Sequence, Union

from ._core import ffi, lib, raise_error
from .engine import Value, _new, _Pool, _real

Input = Sequence[Union[Value, float]]
_version = 0  # bumped by every change to any Module's attributes or lists


def _bump() -> None:
    """Invalidate every packed forward."""
    global _version
    _version += 1


class _TrackedList(list):
    """A list that invalidates packed forwards when it changes."""

    def _changed(name: str):  # noqa: N805 - builds the mutating methods below
        method = getattr(list, name)

        def wrapper(self, *args):
            _bump()
            return method(self, *args)
        wrapper.__name__ = name
        return wrapper

    for _name in ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend",
                  "insert", "pop", "remove", "clear", "sort", "reverse"):
        locals()[_name] = _changed(_name)
    del _name, _changed


class _Pack(NamedTuple):
    """An MLP's structure as C arrays for mg_mlp."""

    values: tuple   # the parameters, in micrograd's order
    params: Any     # int[]: their node indices
    sizes: Any      # int[]: layer widths, inputs first
    nonlin: Any     # int[]: ReLU per layer
    nlayers: int
    nin: int
    nout: int
    widest: int


def _pack(layers: Sequence[Sequence[Any]]) -> Optional[_Pack]:
    """C arrays for layers of neurons, or None when micrograd's own code must run."""
    if not layers or not all(layers) or any(type(n) is not Neuron for ly in layers for n in ly):
        return None
    sizes = [len(layers[0][0].w)]
    for layer in layers:
        if any(len(n.w) != sizes[-1] or n.nonlin != layer[0].nonlin for n in layer):
            return None
        sizes.append(len(layer))
    values = tuple(p for layer in layers for n in layer for p in n.parameters())
    if not all(isinstance(p, Value) for p in values):
        return None
    return _Pack(values, ffi.new("int[]", [p._i for p in values]), ffi.new("int[]", sizes),
                 ffi.new("int[]", [bool(ly[0].nonlin) for ly in layers]), len(layers),
                 sizes[0], sizes[-1], max(sizes[1:]))


def _forward(pack: _Pack, x: Input) -> List[Value]:
    """The outputs of one fused forward over inputs x."""
    x = list(x)  # C trusts no length it did not count
    if len(x) != pack.nin:
        raise ValueError(f"expected {pack.nin} inputs, got {len(x)}")
    nodes = [v._i if isinstance(v, Value) else -1 for v in x]
    numbers = [0.0 if isinstance(v, Value) else _real(v, "input") for v in x]
    out = ffi.new("int[]", [-1] * pack.nout)  # -1 until C hands a reference over
    handles = [_new(Value) for _ in range(pack.nout)]
    try:
        err = lib.mg_mlp(pack.params, pack.sizes, pack.nonlin, pack.nlayers, nodes, numbers,
                         ffi.new("int[]", 2 * pack.widest), out)
        if err:
            raise_error(err, "nn forward")
        pool = _Pool(pack.values, x)
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

    def parameters(self) -> List[Value]:
        """The trainable Values, in micrograd's order."""
        return []

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_"):
            _bump()
            if type(value) is list:
                value = _TrackedList(value)
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict:
        """What pickle and deepcopy keep: everything but the C pack, redone on first use."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_pack")}

    def _layers(self) -> Sequence[Sequence[Any]]:
        """The neurons, layer by layer, that one fused forward computes."""
        raise NotImplementedError

    def _packed(self) -> Optional[_Pack]:
        """This module's pack, redone if anything changed since it was made."""
        if getattr(self, "_pack_version", None) != _version:
            self._pack = _pack(self._layers())
            self._pack_version = _version
        return self._pack


class Neuron(Module):
    """Weighted sum of the inputs plus a bias, optionally through ReLU."""

    def __init__(self, nin: int, nonlin: bool = True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x: Input) -> Value:
        pack = self._packed() if type(self) is Neuron else None
        if pack is not None:
            return _forward(pack, x)[0]
        if len(x) != len(self.w):
            raise ValueError(f"expected {len(self.w)} inputs, got {len(x)}")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def _layers(self) -> Sequence[Sequence[Any]]:
        return [[self]]

    def parameters(self) -> List[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """nout neurons over the same inputs; a single output is not wrapped in a list."""

    def __init__(self, nin: int, nout: int, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        pack = self._packed() if type(self) is Layer else None
        out = _forward(pack, x) if pack is not None else [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def _layers(self) -> Sequence[Sequence[Any]]:
        return [self.neurons]

    def parameters(self) -> List[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ReLU layers and a linear last layer."""

    def __init__(self, nin: int, nouts: List[int]):
        sizes = [nin] + nouts
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def __call__(self, x: Input) -> Union[Value, List[Value]]:
        pack = self._packed() if type(self) is MLP else None
        if pack is None:
            for layer in self.layers:
                x = layer(x)
            return x
        out = _forward(pack, x)
        return out[0] if len(out) == 1 else out

    def _layers(self) -> Sequence[Sequence[Any]]:
        if any(type(layer) is not Layer for layer in self.layers):
            return []
        return [layer.neurons for layer in self.layers]

    def parameters(self) -> List[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
