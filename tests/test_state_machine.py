"""Differential fuzzing: random programs that build, mutate (.data writes), backpropagate, zero
and drop graphs, on micrograd_c and on a pure-Python reference, with the same errors and numbers."""

import gc
import math

from helpers import close, same
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from micrograd_c import Value, stats

ERRORS = (ArithmeticError, ValueError)


class Ref:
    """A scalar autograd node in plain Python floats: the reference semantics."""

    def __init__(self, data, children=(), rule=None):
        self.data, self.grad, self.children, self.rule = float(data), 0.0, children, rule

    def apply(self):
        """Add this node's grad times each local derivative into its children."""
        for child, local in zip(self.children, self.rule(self) if self.rule else ()):
            child.grad += local * self.grad


def ref_op(name, a, b=None):
    """The reference's version of an operation (raising as Python floats and math do)."""
    if name == "+":
        return Ref(a.data + b.data, (a, b), lambda n: (1.0, 1.0))
    if name == "*":
        return Ref(a.data * b.data, (a, b), lambda n: (b.data, a.data))
    if name == "**2":
        return Ref(a.data**2, (a,), lambda n: (2 * a.data**1,))
    if name == "**-1":
        return Ref(a.data**-1, (a,), lambda n: (-1 * a.data**-2,))
    if name == "relu":
        return Ref(0.0 if a.data < 0 else a.data, (a,), lambda n: (1.0 if n.data > 0 else 0.0,))
    if name == "tanh":
        return Ref(math.tanh(a.data), (a,), lambda n: (1 - n.data * n.data,))
    if name == "exp":
        return Ref(math.exp(a.data), (a,), lambda n: (n.data,))
    if name == "log":
        return Ref(math.log(a.data), (a,), lambda n: (1 / a.data,))
    raise AssertionError(name)


def ours_op(name, a, b=None):
    """micrograd_c's version of an operation."""
    return {
        "+": lambda: a + b,
        "*": lambda: a * b,
        "**2": lambda: a**2,
        "**-1": lambda: a**-1,
        "relu": a.relu,
        "tanh": a.tanh,
        "exp": a.exp,
        "log": a.log,
    }[name]()


def ref_backward(root):
    """root.grad = 1, then every rule, children after parents; all checked before any applies."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
        elif id(v) not in seen:
            seen.add(id(v))
            stack.append((v, True))
            stack += [(c, False) for c in v.children]
    for v in order:  # a rule that would raise must raise before any gradient changes
        if v.rule:
            v.rule(v)
    root.grad = 1.0
    for v in reversed(order):
        v.apply()


class Programs(RuleBasedStateMachine):
    """Pairs (ours, reference) built by the same random program."""

    def __init__(self):
        super().__init__()
        self.pairs = []
        gc.collect()  # earlier tests' cyclic garbage, which a collection mid-run would free
        self.base = stats().live

    @rule(x=st.floats(-4, 4, allow_nan=False))
    def leaf(self, x):
        self.pairs.append((Value(x), Ref(x)))

    @precondition(lambda self: self.pairs)
    @rule(name=st.sampled_from(["+", "*"]), i=st.integers(0, 99), j=st.integers(0, 99))
    def binary(self, name, i, j):
        (a, ra), (b, rb) = self.pairs[i % len(self.pairs)], self.pairs[j % len(self.pairs)]
        self.record(lambda: ours_op(name, a, b), lambda: ref_op(name, ra, rb))

    @precondition(lambda self: self.pairs)
    @rule(name=st.sampled_from(["**2", "**-1", "relu", "tanh", "exp", "log"]), i=st.integers(0, 99))
    def unary(self, name, i):
        a, ra = self.pairs[i % len(self.pairs)]
        self.record(lambda: ours_op(name, a), lambda: ref_op(name, ra))

    def record(self, ours, ref):
        """Run both; the same exception type, or a new pair."""
        results = []
        for f in (ours, ref):
            try:
                results.append(f())
            except ERRORS as exc:
                results.append(type(exc))
        if isinstance(results[1], type):
            assert results[0] is results[1], results
        else:
            assert not isinstance(results[0], type), results
            self.pairs.append(tuple(results))

    @precondition(lambda self: self.pairs)
    @rule(i=st.integers(0, 99), x=st.floats(-4, 4, allow_nan=False))
    def write_data(self, i, x):
        v, r = self.pairs[i % len(self.pairs)]
        v.data = x
        r.data = x

    @precondition(lambda self: self.pairs)
    @rule(i=st.integers(0, 99))
    def backward(self, i):
        v, r = self.pairs[i % len(self.pairs)]
        errors = []
        for f in (v.backward, lambda: ref_backward(r)):
            try:
                f()
                errors.append(None)
            except ERRORS as exc:
                errors.append(type(exc))
        assert errors[0] is errors[1]

    @rule()
    def zero_grads(self):
        for v, r in self.pairs:
            v.grad = 0
            r.grad = 0.0

    @precondition(lambda self: self.pairs)
    @rule(i=st.integers(0, 99))
    def drop(self, i):
        del self.pairs[i % len(self.pairs)]

    @invariant()
    def same_numbers(self):
        scale = max([1.0] + [abs(r.grad) for _, r in self.pairs if math.isfinite(r.grad)])
        for v, r in self.pairs:
            assert same(v.data, r.data), (v, r.data)
            assert close(v.grad, r.grad, 1e-12, scale), (v, r.grad)

    def teardown(self):
        self.pairs.clear()
        assert stats().live == self.base  # dropping everything frees every node


TestPrograms = Programs.TestCase
TestPrograms.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
