"""micrograd_c: micrograd's API with the graph and backward pass in C."""
from ._core import Stats, stats
from .engine import Value
from .nn import MLP

__all__ = ["MLP", "Stats", "Value", "stats"]
__version__ = "0.1.0"
