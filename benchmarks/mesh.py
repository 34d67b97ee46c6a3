"""The expression mesh the engine workloads run on, and the kinds of value it runs on.

A mesh applies, step after step, one of a few templates (``+ * ** / - relu``) to operands
drawn from shared leaves or from the last results: straight-line Python, written once into
the run's directory as a module, so that every contender's process imports the same code and
compiles it only once (Python caches the bytecode beside it).
"""

from __future__ import annotations

import importlib.util
import py_compile
import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import micrograd.engine

import micrograd_c

# Each step draws its operands from LEAVES shared leaves (a LEAF_SHARE of the time) or from
# the last WINDOW results.
LEAVES, WINDOW, LEAF_SHARE, SEED = 64, 2_000, 0.3, 20240611
MESH_KINDS = {  # name: (template, operators applied); values stay within [-1, 1]
    "mul": ("{a} * {b}", 1),
    "mean": ("({a} + {b}) * 0.5", 2),
    "halfdiff": ("({a} - {b}) * 0.5", 2),
    "bump": ("1 - {a} ** 2", 2),
    "squash": ("{a} / (1 + {b} ** 2)", 3),
    "relu": ("relu({a})", 1),
}
FACADE_KINDS = {  # one node per operator in both engines, and a facade on every node
    "mul": ("{a} * {b}", 1),
    "add": ("{a} + {b}", 1),
    "relu": ("relu({a})", 1),
}


def write_mesh(directory: str, ops: int, kinds: str = "MESH_KINDS", leaves: int = LEAVES) -> str:
    """Write a random mesh of at least ops operators as a module in directory; its path."""
    rng = random.Random(SEED)
    templates = globals()[kinds]
    names = sorted(templates)
    leaf_names = [f"l{i}" for i in range(leaves)]

    def pick(k: int) -> str:
        """An operand for step k: a shared leaf or one of the last WINDOW results."""
        if k == 0 or rng.random() < LEAF_SHARE:
            return rng.choice(leaf_names)
        return f"r{rng.randrange(max(0, k - WINDOW), k)}"

    lines, used, n_ops, k = [], set(), 0, 0
    while n_ops < ops:
        template, cost = templates[rng.choice(names)]
        a, b = pick(k), pick(k)
        used.update([a, b] if "{b}" in template else [a])
        lines.append(f"    r{k} = {template.format(a=a, b=b)}")
        n_ops, k = n_ops + cost, k + 1
    sinks = [v for v in leaf_names + [f"r{i}" for i in range(k)] if v not in used]
    path = Path(directory) / f"mesh_{kinds.lower()}_{ops}_{leaves}.py"
    path.write_text(
        "\n".join(
            [
                f"OPS, STEPS, LEAVES, SINKS = {n_ops}, {k}, {leaves}, {len(sinks)}\n",
                f"def build(leaves, relu):\n    {', '.join(leaf_names)}, = leaves",
                *lines,
                f"    return [{', '.join(sinks)}]\n",
            ]
        )
    )
    py_compile.compile(str(path), doraise=True)  # once, here: the contenders load the bytecode
    return str(path)


def load_mesh(path: str) -> ModuleType:
    """The mesh module written by write_mesh: OPS, STEPS, LEAVES, SINKS and build(leaves, relu)."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Kind:
    """A kind of value the mesh runs on: how to make a leaf, and its relu."""

    leaf: Callable[[float], Any]
    relu: Callable[[Any], Any]


class Bare:
    """The least a Value facade can do per operator: make one slotted object holding its operands.

    No C call, no arithmetic, no reclamation. W1 on it bounds what any facade can reach whose
    operators are Python methods returning a new object that holds its operands (so the
    cyclic GC tracks it), as micrograd_c's must.
    """

    __slots__ = ("_a", "_b")

    def __init__(self, data: float) -> None:
        self._a = self._b = None

    def _apply(self, other: Any = None) -> Bare:
        """A new Bare over self and other."""
        out = object.__new__(Bare)
        out._a, out._b = self, other
        return out

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _apply
    __truediv__ = __rtruediv__ = __pow__ = relu = _apply


def kind(name: str) -> Kind:
    """The kind of value of that name: micrograd, micrograd_c, torch, bare or floats."""
    if name == "torch":
        import torch

        return Kind(torch_leaf, torch.relu)
    return {
        "micrograd": Kind(micrograd.engine.Value, micrograd.engine.Value.relu),
        "micrograd_c": Kind(micrograd_c.Value, micrograd_c.Value.relu),
        "bare": Kind(Bare, Bare.relu),
        "floats": Kind(float, lambda x: x if x > 0.0 else 0.0),
    }[name]


def torch_leaf(x: float) -> Any:
    """A 0-d float64 tensor that requires grad: a parameter, or a leaf of a graph."""
    import torch

    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


def make_leaves(of: Kind, n: int = LEAVES, seed: int = SEED) -> list[Any]:
    """n leaves of a kind, uniform in [-1, 1]."""
    rng = random.Random(seed)
    return [of.leaf(rng.uniform(-1.0, 1.0)) for _ in range(n)]


def tree_sum(values: list[Any]) -> Any:
    """The sum of values as a balanced tree of +, so its depth is only log2(len)."""
    while len(values) > 1:
        values = [
            values[i] + values[i + 1] if i + 1 < len(values) else values[i]
            for i in range(0, len(values), 2)
        ]
    return values[0]


def build_graph(of: Kind, mesh: ModuleType, copies: int = 1) -> tuple[Any, list[Any]]:
    """Root and leaves of copies meshes over separate leaves, all their sinks summed."""
    leaves: list[Any] = []
    sinks: list[Any] = []
    for c in range(copies):
        pool = make_leaves(of, mesh.LEAVES, SEED + c)
        leaves += pool
        sinks += mesh.build(pool, of.relu)
    return tree_sum(sinks), leaves


def graph_shape(root: Any) -> tuple[int, int]:
    """Nodes reachable from a root through _prev, and the longest path in nodes."""
    seen: set[int] = set()
    depth: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        v, expanded = stack.pop()
        if expanded:
            depth[id(v)] = 1 + max((depth[id(c)] for c in v._prev), default=0)
        elif id(v) not in seen:
            seen.add(id(v))
            stack.append((v, True))
            stack.extend((c, False) for c in v._prev if id(c) not in seen)
    return len(depth), depth[id(root)]


def torch_nodes(root: Any) -> int:
    """Nodes of torch's backward graph from a root tensor: its grad_fn and all it reaches."""
    seen, stack = {root.grad_fn}, [root.grad_fn]
    while stack:
        for fn, _ in stack.pop().next_functions:
            if fn is not None and fn not in seen:
                seen.add(fn)
                stack.append(fn)
    return len(seen)


def c_nodes(build: Callable[[], Any]) -> int:
    """Nodes alive in micrograd_c's arena (stats().live delta) while build()'s result is kept."""
    before = micrograd_c.stats().live
    result = build()
    nodes = micrograd_c.stats().live - before
    del result
    return nodes


TAPE_OPS = {"": 0, "+": 1, "*": 2, "ReLU": 4}  # floor_tape.c's op codes; 3 is "**k"


def tape_input(root: Any, repeats: int) -> tuple[bytes, list[Any]]:
    """floor_tape.c's stdin for the graph below a Value (see its header), and its Values.

    Read through micrograd's own attributes, _op, _prev and data; a power by a constant k
    (op "**k") gets a leaf holding k, placed after the Values, as its child b.
    """
    values, slot = [root], {id(root): 0}
    ops, a, b, data = array("i"), [], [], array("d")
    exponents: list[float] = []
    for v in values:  # values grows as children are found: every reachable one once, in order
        for c in v._prev:
            if id(c) not in slot:
                slot[id(c)] = len(values)
                values.append(c)
        children = [slot[id(c)] for c in v._prev]
        if v._op in ("+", "*") and len(children) == 1:  # x + x: _prev is a set
            children *= 2
        if v._op.startswith("**"):
            ops.append(3)
            children.append(len(exponents))  # the exponent's leaf: n + this, once n is known
            exponents.append(float(v._op[2:]))
        else:
            ops.append(TAPE_OPS[v._op])  # KeyError: an op the floor does not have
        children += [-1] * (2 - len(children))
        a.append(children[0])
        b.append(children[1])
        data.append(v.data)
    n = len(values)
    b = [n + x if op == 3 else x for op, x in zip(ops, b)]
    ops.extend([0] * len(exponents))
    a += [-1] * len(exponents)
    b += [-1] * len(exponents)
    data.extend(exponents)
    head = array("i", [n + len(exponents), 0, repeats])  # the root is slot 0
    kids = (array("i", a), array("i", b))
    return b"".join(x.tobytes() for x in (head, ops, *kids, data)), values
