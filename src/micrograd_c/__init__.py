"""micrograd_c: micrograd's API with the graph and backward pass in C."""

from ._core import Stats, stats
from .engine import Value
from .losses import logsumexp, softmax
from .nn import MLP
from .replay import Recording, record
from .viz import draw_dot, grad_table, leaf_gradients, to_mermaid
from .watch import backprop_html, backprop_steps

__all__ = [
    "MLP",
    "Recording",
    "Stats",
    "Value",
    "backprop_html",
    "backprop_steps",
    "draw_dot",
    "grad_table",
    "install_as_micrograd",
    "leaf_gradients",
    "logsumexp",
    "record",
    "softmax",
    "stats",
    "to_mermaid",
]
__version__ = "0.1.0"


def install_as_micrograd() -> None:
    """Make `import micrograd`, `micrograd.engine` and `micrograd.nn` give micrograd_c."""
    import sys

    from . import engine, nn

    sys.modules.update(
        {"micrograd": sys.modules[__name__], "micrograd.engine": engine, "micrograd.nn": nn}
    )
