"""actlab: activation functions and probability maps with exact derivatives.

Every function takes NumPy arrays, PyTorch tensors or any array-API array
(Python numbers and lists come back as NumPy), and has a public derivative:
``actlab.sigmoid.derivative(x)`` or ``actlab.derivative("sigmoid")(x)``.
On tensors the same derivative is the registered backward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _backend
from ._attention import attention
from .elementwise import *  # noqa: F403
from .elementwise import __all__ as _elementwise_all
from .losses import *  # noqa: F403
from .losses import __all__ as _losses_all
from .losses.sparse import entmax_loss, sparsemax_loss
from .registry import Entry, get, registry
from .simplex import *  # noqa: F403
from .simplex import __all__ as _simplex_all
from .simplex.entmax import entmax, entmax15, entmax_threshold
from .simplex.sparse_catalogue import *  # noqa: F403
from .simplex.sparse_catalogue import __all__ as _sparse_catalogue_all
from .simplex.sparsemax import sparsemax, sparsemax_threshold

__version__ = "0.1.0"

_backend.preload()


def derivative(name: str, wrt: str = "x") -> Callable[..., Any]:
    """The derivative of the registered function ``name`` as a function.

    Example:
        >>> import actlab
        >>> float(actlab.derivative("sigmoid")(0.0))
        0.25
        >>> round(float(actlab.derivative("swish", wrt="beta")(1.0, 2.0)), 12)
        0.104993585404
    """
    entry = get(name)
    if entry.derivative is None:
        raise ValueError(f"{name} has no registered derivative")
    if wrt == "x":
        return entry.derivative

    def partial(x: Any, /, *args: Any, **kwargs: Any) -> Any:
        return entry.derivative(x, *args, wrt=wrt, **kwargs)  # type: ignore[misc]

    return partial


__all__ = [
    *_elementwise_all, *_simplex_all, *_losses_all,
    "sparsemax", "sparsemax_threshold", "entmax15", "entmax", "entmax_threshold",
    "sparsemax_loss", "entmax_loss", *_sparse_catalogue_all,
    "attention", "derivative", "registry", "get", "Entry", "__version__",
]
