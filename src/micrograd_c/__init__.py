"""micrograd_c: micrograd's API with the graph and backward pass in C."""
from ._core import Stats, stats
from .engine import Value
from .nn import MLP
from .viz import draw_dot, grad_table, leaf_gradients, to_mermaid

__all__ = ["MLP", "Stats", "Value", "draw_dot", "grad_table", "leaf_gradients", "stats", "to_mermaid"]
__version__ = "0.1.0"
