r"""logsumexp with SciPy's and jax.nn's extras: scale factors ``b``, the sign
of a signed sum (``return_sign``), ``axis=None`` or a tuple of axes, and
``where=`` masks.

.. math:: \operatorname{LSE}(z; b) = \log\Bigl\lvert\sum_j b_j e^{z_j}\Bigr\rvert,
   \qquad s = \operatorname{sign}\sum_j b_j e^{z_j}.

With ``b >= 0`` (or no ``b``) this is the accurate logsumexp of
:mod:`actlab.simplex.logsumexp` applied to ``z + log b`` (entries with
``b = 0`` or masked out are dropped, so ``b = 0`` at ``z = inf`` gives no
NaN), a few ULPs. With negative ``b`` entries, or a ``b`` that records a
gradient, the sum is formed as ``m + log|sum_j b_j e^{z_j - m}|``, ``m`` the
largest live ``z``: accurate except where the signed sum cancels (an
ill-conditioned sum); its gradient is ``b_j e^{z_j - LSE} s`` in ``z`` and
``e^{z_j - LSE} s`` in ``b``. A sum of exactly 0 gives ``(-inf, 0)``, a
negative sum without ``return_sign`` gives NaN (SciPy's rules).

References: ``scipy.special.logsumexp``; ``jax.nn.logsumexp``; Blanchard,
Higham & Higham, IMA J. Numer. Anal. 41 (2021).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend, _xp
from .._masking import as_mask
from .logsumexp_math import logsumexp_math
from .shifted_exp import quiet
from .threshold import shift

__all__ = ["logsumexp_general", "reduced_last"]


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, int) or not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"logsumexp(): axis {axis!r} is out of range for x with {ndim} axes")
        out.append(a % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"logsumexp(): axis {axis!r} names an axis twice")
    return tuple(sorted(out))


def reduced_last(x: Any, axes: tuple[int, ...], xp: Any) -> Any:
    """``x`` with ``axes`` moved to the end and merged into one."""
    rest = [d for d in range(x.ndim) if d not in axes]
    order = (*rest, *axes)
    if order != tuple(range(x.ndim)):
        x = xp.permute_dims(x, order)
    n = 1
    for d in axes:
        n *= x.shape[len(rest) + axes.index(d)]
    return xp.reshape(x, (*x.shape[: len(rest)], n))


def _plain(x: Any, b: Any, live: Any, xp: Any) -> tuple[Any, Any]:
    """``(m + log|s|, sign s)`` with ``s = sum_j b_j e^{x_j - m}`` over the live entries."""
    m = xp.detach(xp.max(xp.where(live, x, -math.inf), axis=-1, keepdims=True))
    m = xp.where(xp.isfinite(m), m, 0.0)  # an all-dead row, or an infinite max: no shift
    xs = xp.where(live, x, m)
    with quiet(xp):  # a difference beyond the float range is -inf (its exp 0), as it should be
        s = xp.sum(xp.where(live, b * xp.exp(shift(xs, m, xp)), 0.0), axis=-1, keepdims=True)
    sign = xp.sign(xp.detach(s))
    mag = xp.where(sign == 0, 1.0, s * sign)
    out = xp.where(sign == 0, -math.inf, m + xp.log(mag))
    return out, sign


def logsumexp_general(x: Any, axis: Any, keepdims: bool, b: Any, return_sign: bool, where: Any) -> Any:
    """:func:`actlab.logsumexp` with ``b``, ``return_sign``, ``where`` or a
    non-integer ``axis``; see the module docstring."""
    xp, x = _xp.as_float_array(x)
    if b is not None:
        if isinstance(b, (str, bytes, bool)):
            raise TypeError(f"logsumexp(): b must be an array or a number, got {b!r}")
        b = b if _backend.backend_of(b) is xp else xp.asarray_like(b, x)
        if not xp.isdtype(b.dtype, "real floating"):
            b = xp.astype(b, x.dtype)
        try:
            shape = np.broadcast_shapes(tuple(x.shape), tuple(b.shape))
        except ValueError as exc:
            raise ValueError(f"logsumexp(): b of shape {tuple(b.shape)} does not broadcast with x's "
                             f"shape {tuple(x.shape)}") from exc
        x = xp.broadcast_to(x, shape)
        b = xp.broadcast_to(b if b.dtype == x.dtype else xp.astype(b, x.dtype), shape)
    live = None if where is None else as_mask(where, x, xp, "logsumexp")
    if x.ndim == 0:
        x = xp.reshape(x, (1,))
        b = None if b is None else xp.reshape(b, (1,))
        live = None if live is None else xp.reshape(live, (1,))
        axes: tuple[int, ...] = (0,)
        scalar = True
    else:
        axes, scalar = _axes(axis, x.ndim), False
    keep_shape = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    xl = reduced_last(x, axes, xp)
    bl = None if b is None else reduced_last(b, axes, xp)
    ll = None if live is None else reduced_last(live, axes, xp)
    xw, out_dtype = _xp.to_working(xp, xl)
    if bl is not None:
        bl = bl if bl.dtype == xw.dtype else xp.astype(bl, xw.dtype)
        nonzero = bl != 0
        ll = nonzero if ll is None else ll & nonzero
    signed = bl is not None and (xp.records_grad(bl) or not xp.may_branch(bl) or bool(xp.any(bl < 0)))
    if signed:
        y, sign = _plain(xw, bl, ll, xp)
    else:
        z = xw
        if bl is not None:
            z = z + xp.log(xp.where(ll, bl, 1.0))
        if ll is not None:
            z = xp.where(ll, z, -math.inf)
        y = xp.apply_logsumexp(z, logsumexp_math)
        sign = xp.where(y == -math.inf, 0.0, xp.ones_like(y))
    sign = xp.where(xp.isnan(y), math.nan, sign)
    if not return_sign:
        y = xp.where(sign < 0, math.nan, y)
    y = y if y.dtype == out_dtype else xp.astype(y, out_dtype)
    sign = sign if sign.dtype == out_dtype else xp.astype(sign, out_dtype)
    shape = () if scalar else keep_shape if keepdims else tuple(n for d, n in enumerate(x.shape) if d not in axes)
    y, sign = xp.reshape(y, shape), xp.reshape(xp.detach(sign), shape)
    return (y, sign) if return_sign else y
