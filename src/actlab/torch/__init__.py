"""PyTorch front-end: ``torch.nn`` modules, and the autograd registration of
every actlab derivative (imported here so that ``torch.compile`` finds the
autograd Functions already built).

Example:
    >>> import torch, actlab.torch as at
    >>> at.GELU()(torch.tensor([1.0], dtype=torch.float64)).tolist()
    [0.8413447460685429]
"""

from . import _autograd, _simplex_autograd  # noqa: F401
from .activations import *  # noqa: F403
from .activations import __all__ as _activations_all

__all__ = [*_activations_all]
