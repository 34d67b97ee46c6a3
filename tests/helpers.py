"""What more than one test module needs, written once: the test modules import it as `helpers`
(pytest puts tests/ on sys.path). Not a test module itself: pytest collects only test_*.py."""

from __future__ import annotations

import io
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from micrograd_c import MLP, Value, nn

ROOT = Path(__file__).resolve().parents[1]  # the source checkout


def needs_checkout(*paths: Path) -> None:
    """Skip the calling test unless every path is there (the source checkout has them; an
    installed package or an sdist may not)."""
    if not all(path.exists() for path in paths):
        pytest.skip("needs the source checkout")


# ---- one expression on micrograd, on micrograd_c and on torch, and comparing numbers ----------

Result = tuple[float, list[float]]


def run(value_cls: type, fn: Callable, inputs: Sequence[float]) -> Result:
    """fn over leaves of value_cls made from inputs, after backward: (data, leaf grads)."""
    leaves = [value_cls(x) for x in inputs]
    out = fn(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def run_torch(fn: Callable, inputs: Sequence[float]) -> Result:
    """The same expression on float64 torch scalars (skips when torch is missing)."""
    torch = pytest.importorskip("torch")
    leaves = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in inputs]
    out = fn(*leaves)
    out.backward()
    return out.item(), [0.0 if leaf.grad is None else leaf.grad.item() for leaf in leaves]


def same(a: float, b: float) -> bool:
    """Equal floats, nan matching nan."""
    return a == b or (math.isnan(a) and math.isnan(b))


def same_bits(a: float, b: float) -> bool:
    """The same double, bit for bit (any nan matching any nan)."""
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


def close(a: float, b: float, rel: float = 1e-12, scale: float = 1.0) -> bool:
    """Equal within rel (relative to max(|a|, |b|, scale)), nan matching nan."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    # isclose's test, abs(a - b) <= max(rel * max(|a|, |b|), abs_tol), with abs_tol = rel * scale
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * scale)


def assert_results_close(ours: Result, theirs: Result, rel: float = 1e-12) -> None:
    """Data and every leaf grad agree within rel."""
    assert close(ours[0], theirs[0], rel), (ours, theirs)
    for g1, g2 in zip(ours[1], theirs[1]):
        assert close(g1, g2, rel), (ours, theirs)


def assert_same_numbers(ours: Sequence[Any], theirs: Sequence[Any], rel: float = 1e-12) -> None:
    """Node by node: data equal bit for bit, grads within rel of each other (or of the largest
    grad of theirs)."""
    scale = max([1.0] + [abs(t.grad) for t in theirs if math.isfinite(t.grad)])
    for o, t in zip(ours, theirs):
        assert same(o.data, t.data), (o, t)
        assert close(o.grad, t.grad, rel, scale), (o, t)


H = 1e-6  # the step of finite differences


def finite_difference(fn: Callable, inputs: Sequence[float], k: int) -> float:
    """Central difference of fn(*Values).data with respect to input k."""
    hi = list(inputs)
    lo = list(inputs)
    hi[k] += H
    lo[k] -= H
    return (fn(*map(Value, hi)).data - fn(*map(Value, lo)).data) / (2 * H)


# ---- graphs -----------------------------------------------------------------------------------


def trace(root: Any) -> tuple[set, set]:
    """Every node and edge (child, parent) under root, by identity: what micrograd's draw_dot
    and its notebooks' trace walk (iteratively here, for any depth)."""
    nodes: set = set()
    edges: set = set()
    stack = [root]
    while stack:
        v = stack.pop()
        if v not in nodes:
            nodes.add(v)
            for c in v._prev:
                edges.add((c, v))
                stack.append(c)
    return nodes, edges


def chapter() -> tuple[Value, dict[Value, str]]:
    """The tutorial's first example, z = x*y + b with x=2, y=3, b=1, and the names it gives them."""
    x, y, b = Value(2.0), Value(3.0), Value(1.0)
    z = x * y + b
    return z, {x: "x", y: "y", b: "b", z: "z"}


# Random programs over micrograd's own ops, for hypothesis: leaves, then steps each making a node
# from earlier ones (shared subexpressions), then how many of the last nodes the root sums.
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "*": lambda a, b: a * b,
    "-": lambda a, b: a - b,
    "/": lambda a, b: a / b,
}
UNARY: dict[str, Callable[[Any, float], Any]] = {
    "**2": lambda a, c: a**2,
    "**-1": lambda a, c: a**-1,
    "**3": lambda a, c: a**3,
    "relu": lambda a, c: a.relu(),
    "neg": lambda a, c: -a,
    "c+": lambda a, c: c + a,
    "c*": lambda a, c: c * a,
    "c-": lambda a, c: c - a,
    "c/": lambda a, c: c / a,
    "+c": lambda a, c: a + c,
    "/c": lambda a, c: a / c,
}

leaf = st.floats(-3, 3, allow_nan=False).filter(lambda x: abs(x) > 1e-3)
step = st.one_of(
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 10**6), leaf),
)
program = st.tuples(
    st.lists(leaf, min_size=1, max_size=5),
    st.lists(step, min_size=1, max_size=25),
    st.integers(1, 4),
)


def grow(pool: list, steps: Sequence[tuple]) -> list:
    """Append each step's result to pool (errors propagate); pool."""
    for op, i, arg in steps:
        # operands are picked from everything built so far: shared subexpressions
        if op in BINARY:
            pool.append(BINARY[op](pool[i % len(pool)], pool[arg % len(pool)]))
        else:
            pool.append(UNARY[op](pool[i % len(pool)], arg))
    return pool


# ---- models -----------------------------------------------------------------------------------


def model_and_spares() -> tuple[MLP, dict[str, Any]]:
    """MLP(2, [3, 1]) made after random.seed(0), and modules made before it for CHANGES to change
    it with (making a module must not be what repacks the model)."""
    random.seed(1)
    spares = {
        "neuron": nn.Neuron(2),
        "wide neuron": nn.Neuron(3),
        "neurons": [nn.Neuron(2) for _ in range(3)],
        "layers": [nn.Layer(2, 2), nn.Layer(2, 1)],
    }
    random.seed(0)
    return MLP(2, [3, 1]), spares


# Ways to change model_and_spares()'s model m, given its spares s; and how record(..., model=)
# names each change.
CHANGES: dict[str, tuple[Callable[[MLP, dict[str, Any]], Any], str]] = {
    "nonlin": (
        lambda m, s: setattr(m.layers[0].neurons[2], "nonlin", False),
        r"model\.layers\[0\]\.neurons\[2\]\.nonlin changed",
    ),
    "list.append": (
        lambda m, s: list.append(m.layers[1].neurons, s["wide neuron"]),
        r"the items of model\.layers\[1\]\.neurons changed",
    ),
    "list.__setitem__": (
        lambda m, s: list.__setitem__(m.layers[0].neurons, 1, s["neuron"]),
        r"the items of model\.layers\[0\]\.neurons changed",
    ),
    "list.reverse": (
        lambda m, s: list.reverse(m.layers[0].neurons),
        r"the items of model\.layers\[0\]\.neurons changed",
    ),
    "a weight, by list.__setitem__": (
        lambda m, s: list.__setitem__(m.layers[1].neurons[0].w, 1, Value(0.5)),
        r"the items of model\.layers\[1\]\.neurons\[0\]\.w changed",
    ),
    "__dict__": (
        lambda m, s: m.layers[0].neurons[1].__dict__.__setitem__("b", Value(3.0)),
        r"model\.layers\[0\]\.neurons\[1\]\.b changed",
    ),
    "vars()": (
        lambda m, s: vars(m.layers[0]).__setitem__("neurons", s["neurons"]),
        r"model\.layers\[0\]\.neurons changed",
    ),
    "vars().update": (lambda m, s: vars(m).update(layers=s["layers"]), r"model\.layers changed"),
    "object.__setattr__": (
        lambda m, s: object.__setattr__(m.layers[0].neurons[1], "b", Value(4.0)),
        r"model\.layers\[0\]\.neurons\[1\]\.b changed",
    ),
}


# ---- other interpreters -----------------------------------------------------------------------


def run_python(*args: str, **how: Any) -> subprocess.CompletedProcess[str]:
    """python with args in a fresh interpreter; stdout and stderr captured as text, the exit
    status left to the caller (any of subprocess.run's keywords in how overrides these)."""
    options: dict[str, Any] = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        "check": False,
    }
    return subprocess.run([sys.executable, *args], **{**options, **how})


def fresh(code: str) -> str:
    """Run code (dedented) in a new interpreter, an arena no other test has grown; its stdout,
    once it has exited with status 0.

    Under AddressSanitizer, freed heap memory waits in a quarantine that is counted in RSS;
    it is turned off here, so that RSS shows what the arena keeps (other runs ignore it)."""
    options = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0"]))
    out = run_python(
        "-c",
        textwrap.dedent(code),
        timeout=300,
        env={**os.environ, "ASAN_OPTIONS": options},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---- pages: the documentation's code blocks, the explain page's data --------------------------


def blocks(path: Path, lang: str) -> list[tuple[int, str]]:
    """(first line number, text) of each fenced block of language lang in path."""
    text = path.read_text(encoding="utf-8")
    fence = re.compile(rf"^```{lang}\n(.*?)^```", re.DOTALL | re.MULTILINE)
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in fence.finditer(text)]


def run_blocks(path: Path, name: str) -> dict:
    """Run path's python blocks in order in one namespace, whose __name__ is name; tracebacks
    name the page's own lines. The namespace."""
    namespace: dict = {"__name__": name}
    for line, code in blocks(path, "python"):
        # padding with newlines makes tracebacks point at the page's own line numbers
        exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)
    return namespace


def page_data(html: str) -> Any:
    """The JSON a backprop_html page carries in its mg-data script."""
    script = re.search(
        r'<script id="mg-data" type="application/json">(.*?)</script>', html, re.DOTALL
    )
    assert script, "no mg-data script in the page"
    return json.loads(script.group(1))


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


# ---- ops written in Python, as micrograd's lecture writes them, on any Value class


def tanh(self):
    """The lecture's tanh, written in Python on any Value class."""
    t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) + 1)
    out = type(self)(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


def exp(self):
    """The lecture's exp, written in Python on any Value class."""
    out = type(self)(math.exp(self.data), (self,), "exp")

    def _backward():
        self.grad += out.data * out.grad

    out._backward = _backward
    return out


def lin(V, kids, coefs):
    """A Python op over any number of children: Σ c·x + 0.5, its rule in a closure."""
    out = V(sum(c * k.data for c, k in zip(coefs, kids)) + 0.5, tuple(kids), "lin")

    def _backward():
        for c, k in zip(coefs, kids):
            k.grad += c * out.grad

    out._backward = _backward
    return out


# ---- python -m micrograd_c compare


def write(path, source: str) -> str:
    """Write a program to path; its path as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return str(path)


def cli(
    *args: str, cwd, feed: str | None = "", stderr=subprocess.PIPE, **how
) -> subprocess.CompletedProcess:
    """Run python -m micrograd_c compare with args in cwd, feed on its stdin (None: as how says)."""
    return run_python(
        "-m", "micrograd_c", "compare", *args, cwd=cwd, input=feed, stderr=stderr, **how
    )
