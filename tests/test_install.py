"""install_as_micrograd(): an unmodified micrograd program runs on micrograd_c."""

import math

from helpers import run_python

PROGRAM = """
import micrograd_c
micrograd_c.install_as_micrograd()
import random
import micrograd
from micrograd.engine import Value
from micrograd.nn import MLP
random.seed(1337)
model = MLP(2, [4, 1])
x = Value(-4.0)
z = 2 * x + 2 + x
y = (z * z).relu() + z.relu() + z * x
y.backward()
print(type(x).__module__, y.data, x.grad, model([1.0, -1.0]).data)
"""


def run(program: str) -> list[str]:
    """The words program prints in a fresh interpreter."""
    return run_python("-c", program, check=True).stdout.split()


def test_micrograd_program_runs_on_micrograd_c_with_the_same_numbers():
    ours = run(PROGRAM)
    theirs = run(PROGRAM.replace("micrograd_c.install_as_micrograd()", ""))
    assert ours[0] == "micrograd_c.engine" and theirs[0] == "micrograd.engine"
    assert [float(v) for v in ours[1:]] == [float(v) for v in theirs[1:]]


LECTURE = """
import micrograd_c
micrograd_c.install_as_micrograd()
import math
import random
from micrograd.engine import Value
from micrograd.nn import MLP

def tanh(self):
    x = self.data
    t = (math.exp(2*x) - 1)/(math.exp(2*x) + 1)
    out = Value(t, (self, ), 'tanh')
    def _backward():
        self.grad += (1 - t**2) * out.grad
    out._backward = _backward
    return out

def exp(self):
    out = Value(math.exp(self.data), (self, ), 'exp')
    def _backward():
        self.grad += out.data * out.grad
    out._backward = _backward
    return out

Value.tanh, Value.exp = tanh, exp  # the lecture's own, replacing any built in
random.seed(1337)
model = MLP(3, [4, 4, 1])
xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
for k in range(20):
    ypred = [model(x).tanh() for x in xs]
    loss = sum((yout - ygt)**2 for ygt, yout in zip(ys, ypred))
    for p in model.parameters():
        p.grad = 0.0
    loss.backward()
    for p in model.parameters():
        p.data += -0.05 * p.grad
print(type(loss).__module__, loss.data, *(p.data for p in model.parameters()))
"""


def test_the_lectures_training_loop_with_its_own_tanh_prints_micrograds_numbers():
    """Equal up to the order grads are summed in (each engine's topological order differs)."""
    ours = run(LECTURE)
    theirs = run(LECTURE.replace("micrograd_c.install_as_micrograd()", ""))
    assert ours[0] == "micrograd_c.engine" and theirs[0] == "micrograd.engine"
    assert len(ours) == len(theirs) == 2 + 41
    for a, b in zip(ours[1:], theirs[1:]):
        assert math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15), (a, b)
