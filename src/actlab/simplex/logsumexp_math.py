"""The rows of logsumexp in working precision: the shared kernel of
:func:`actlab.logsumexp`, its weighted and masked form and the losses."""

from __future__ import annotations

import math

from .shifted_exp import by_rows, quiet, shifted_exp, unshifted_ok, unshifted_sum

__all__ = ["logsumexp_rows", "logsumexp_shifted", "logsumexp_math"]


def logsumexp_rows(x, xp):
    """``t + log1p(s)`` along the last axis, shape (..., 1), in float64."""
    if x.shape[-1] == 0:
        return xp.sum(x, axis=-1, keepdims=True) - math.inf
    if unshifted_ok(x, xp):
        _, _, s, _, top = unshifted_sum(x, xp, exclude_top=True)
        return top + xp.log1p(s)
    return logsumexp_shifted(x, xp)


def logsumexp_shifted(x, xp):
    """The exact-shift logsumexp, (..., 1), any input."""
    sh = shifted_exp(x, 1.0, 1.0, xp)
    top = sh.top if sh.top.dtype == xp.float64 else xp.astype(sh.top, xp.float64)
    y = top + xp.log1p(sh.s)
    top_raw = xp.take_along_axis(sh.raw, sh.idx, axis=-1)
    return xp.where(sh.ok, y, xp.astype(top_raw, y.dtype))


def logsumexp_math(x, xp):
    """logsumexp along the last axis of a working-precision array, (..., 1)."""
    if xp.kernels.logsumexp_forward is not None:
        y = xp.kernels.logsumexp_forward(x, xp)
        if y is not None:
            return y
    with quiet(xp):
        return by_rows(lambda b: logsumexp_rows(b, xp), x, xp, width=1)
