"""Special functions the array API standard lacks (erfc, erfcx), taken from
the backend's own well-tested implementation (its declared ``erfc`` and
``erfcx`` kernels: ``torch.special`` for tensors, ``scipy.special`` for
NumPy) and, for other namespaces, SciPy's through DLPack on the host.
"""

from __future__ import annotations

from typing import Any

__all__ = ["erfc", "erfcx"]


def _on_host(fn: Any, x: Any, xp: Any) -> Any:
    return xp.from_host(fn(xp.host(x)), x)


def erfc(x: Any, xp: Any) -> Any:
    """Complementary error function 1 - erf(x), without cancellation for x > 0."""
    if xp.kernels.erfc is not None:
        return xp.kernels.erfc(x)
    import scipy.special as sc

    return _on_host(sc.erfc, x, xp)


def erfcx(x: Any, xp: Any) -> Any:
    """Scaled complementary error function exp(x^2) erfc(x): smooth, no underflow."""
    if xp.kernels.erfcx is not None:
        return xp.kernels.erfcx(x)
    import scipy.special as sc

    return _on_host(sc.erfcx, x, xp)
