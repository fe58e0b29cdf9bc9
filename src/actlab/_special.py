"""Special functions the array API standard lacks (erfc, erfcx), taken from
the backend's own well-tested implementation: ``torch.special`` for tensors,
``scipy.special`` for NumPy and, through DLPack, any other CPU namespace.
"""

from __future__ import annotations

from typing import Any

from . import _xp

__all__ = ["erfc", "erfcx"]


def _call(name: str, x: Any, xp: Any) -> Any:
    if _xp.is_torch(x):
        import torch

        return getattr(torch.special, name)(x)
    import scipy.special as sc

    if xp.__name__.startswith(("numpy", "array_api_compat.numpy")):
        return getattr(sc, name)(x)
    import numpy as np

    return xp.asarray(getattr(sc, name)(np.from_dlpack(x)))


def erfc(x: Any, xp: Any) -> Any:
    """Complementary error function 1 - erf(x), without cancellation for x > 0."""
    return _call("erfc", x, xp)


def erfcx(x: Any, xp: Any) -> Any:
    """Scaled complementary error function exp(x^2) erfc(x): smooth, no underflow."""
    return _call("erfcx", x, xp)
