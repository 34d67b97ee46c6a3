"""install_as_micrograd(): an unmodified micrograd program runs on micrograd_c."""
import subprocess
import sys

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


def run(program: str) -> str:
    """What program prints in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=True).stdout.split()


def test_micrograd_program_runs_on_micrograd_c_with_the_same_numbers():
    ours = run(PROGRAM)
    theirs = run(PROGRAM.replace("micrograd_c.install_as_micrograd()", ""))
    assert ours[0] == "micrograd_c.engine" and theirs[0] == "micrograd.engine"
    assert [float(v) for v in ours[1:]] == [float(v) for v in theirs[1:]]
