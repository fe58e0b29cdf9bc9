"""Array-namespace plumbing shared by every function: input coercion, working
precision, and branch-safe ``where``.

Everything here is backend-neutral; it relies on ``array_api_compat`` and
never imports torch or JAX itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import array_api_compat as aac
import numpy as np

Array = Any

__all__ = [
    "as_float_array",
    "namespace",
    "lazy_where",
    "is_torch",
    "to_working",
    "finfo",
    "with_limits",
    "indicator",
    "zero_keep_nan",
    "safe_scale",
    "split",
    "square_exact",
    "exp_neg_half_square",
]


def is_torch(x: object) -> bool:
    """True for a ``torch.Tensor`` (checked without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def torch_namespace():
    """The namespace our math uses for tensors (traceable by torch.compile)."""
    from .torch import _namespace

    return _namespace


def namespace(*arrays: Array):
    """The array namespace shared by ``arrays`` (Python scalars are ignored)."""
    arrs = [a for a in arrays if not isinstance(a, (int, float, bool))]
    return aac.array_namespace(*arrs) if arrs else aac.array_namespace(np.empty(0))


def as_float_array(x: Array, name: str = "x"):
    """Coerce ``x`` to a real floating array and return ``(xp, x)``.

    Python scalars, lists and tuples become NumPy arrays; integer and boolean
    arrays are promoted to the namespace's default real floating dtype;
    complex input is a ``TypeError`` naming the argument.
    """
    if is_torch(x):
        if x.is_complex():
            raise TypeError(f"{name} must be real, got complex dtype {x.dtype}")
        if not x.is_floating_point():
            import torch

            x = x.to(torch.get_default_dtype())
        return torch_namespace(), x
    if isinstance(x, (bool, int, float, complex, list, tuple)) or isinstance(x, np.generic):
        x = np.asarray(x)
    try:
        xp = aac.array_namespace(x)
    except TypeError as exc:
        raise TypeError(f"{name} must be an array or a number, got {type(x).__name__}") from exc
    dt = x.dtype
    if xp.isdtype(dt, "complex floating"):
        raise TypeError(f"{name} must be real, got complex dtype {dt}")
    if not xp.isdtype(dt, "real floating"):
        if not (xp.isdtype(dt, "integral") or xp.isdtype(dt, "bool")):
            raise TypeError(f"{name} must be a real number array, got dtype {dt}")
        default = xp.__array_namespace_info__().default_dtypes(device=aac.device(x))
        x = xp.astype(x, default["real floating"])
    return xp, x


def _is_low_precision(xp, dtype) -> bool:
    return dtype == getattr(xp, "float16", None) or str(dtype).endswith("bfloat16")


def to_working(xp, x: Array, promote32: bool = False):
    """Return ``(x_work, out_dtype)``: half precision (float16, bfloat16) is
    computed in float32, and float32 in float64 when ``promote32`` is set, so
    the result is rounded once to ``out_dtype`` at the end."""
    dt = x.dtype
    if _is_low_precision(xp, dt):
        return xp.astype(x, xp.float32), dt
    if promote32 and dt == xp.float32:
        return xp.astype(x, xp.float64), dt
    return x, dt


def as_ndarray(y: Array) -> Array:
    """NumPy ufuncs return scalars for 0-d input; keep 0-d arrays instead."""
    return np.asarray(y) if isinstance(y, np.generic) else y


def finfo(xp, dtype):
    return xp.finfo(dtype)


def lazy_where(
    cond: Array,
    x: Array,
    then: Callable[[Array], Array],
    otherwise: Callable[[Array], Array],
    *,
    xp,
    fill_then: float = 0.0,
    fill_otherwise: float = 0.0,
) -> Array:
    """``where(cond, then(x), otherwise(x))`` evaluating each branch only on the
    entries where it applies.

    The entries a branch does not own are replaced by a harmless fill value
    before the branch runs, so a branch that would overflow (or produce NaN,
    or a NaN gradient) where it is not taken never sees those entries. This
    keeps shapes static, which ``torch.compile`` and ``vmap`` need.
    """
    a = then(xp.where(cond, x, fill_then))
    b = otherwise(xp.where(cond, fill_otherwise, x))
    return xp.where(cond, a, b)


def with_limits(x: Array, fn: Callable[[Array], Array], neg: Any, pos: Any, *, xp) -> Array:
    """``fn(x)`` on finite entries, ``neg`` at -inf and ``pos`` at +inf; NaN stays NaN.

    For products such as ``x * sigmoid(x)`` whose limit at an infinity is an
    ``inf * 0`` form: ``fn`` never sees an infinity.
    """
    fin = xp.isfinite(x)
    y = fn(xp.where(fin, x, 0.0))
    return xp.where(fin, y, xp.where(x > 0, pos, xp.where(x < 0, neg, x)))


def indicator(cond: Array, x: Array, *, xp) -> Array:
    """1.0 where ``cond``, 0.0 elsewhere, NaN where ``x`` is NaN: the derivative
    of a piecewise-linear function (whose kinks follow from ``cond``)."""
    return xp.where(xp.isnan(x), x, xp.astype(cond, x.dtype))


def zero_keep_nan(x: Array, *, xp) -> Array:
    """Zeros shaped like ``x``, but NaN where ``x`` is NaN."""
    return xp.where(xp.isnan(x), x, 0.0)


def safe_scale(beta: Any, x: Array, *, xp) -> Array:
    """``beta * x`` saturating at a quarter of the dtype's largest value
    instead of overflowing. For arguments of saturating functions (sigmoid,
    exp(-|.|)), where anything that large gives the same result."""
    if isinstance(beta, float) and abs(beta) <= 1.0:
        return beta * x
    big = float(xp.finfo(x.dtype).max) / 4
    if isinstance(beta, float):
        lim = big / abs(beta)
        return beta * xp.clip(x, -lim, lim)
    lim = big / xp.where(xp.abs(beta) > 1.0, xp.abs(beta), 1.0)
    return beta * xp.where(x > lim, lim, xp.where(x < -lim, -lim, x))


def split(x: Array, *, xp) -> tuple[Array, Array]:
    """Veltkamp split: ``x = hi + lo`` with ``hi`` holding the upper half of the
    significand, so products of halves are exact (Dekker's two-product).
    Valid for |x| well below the dtype's largest value / 2**27."""
    c = 134217729.0 if x.dtype == xp.float64 else 4097.0
    t = c * x
    hi = t - (t - x)
    return hi, x - hi


def square_exact(x: Array, *, xp) -> tuple[Array, Array]:
    """``x*x = p + e`` exactly (Dekker), for |x| below ~1e150 (float64)."""
    p = x * x
    hi, lo = split(x, xp=xp)
    e = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo
    return p, e


def exp_neg_half_square(x: Array, *, xp) -> Array:
    """``exp(-x**2/2)`` with x**2 formed exactly, so the result keeps full
    relative precision where x**2/2 is large (error ~ ulp, not x**2 ulp).
    Expects |x| <= 40 (beyond, the true value underflows in float64)."""
    p, e = square_exact(x, xp=xp)
    return xp.exp(-0.5 * p) * (1.0 - 0.5 * e)
