"""The non-finite-entry rules shared by the maps written directly in array-API
code (softpick, normmax, budget sparsemax, entmax with alpha < 1, sparsehourglass):
-inf entries get 0 (a masked entry), +inf entries share the mass equally
(the limit), a NaN makes its row NaN, a row of all -inf gives zeros."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["finite_rows", "restore_rows"]


def finite_rows(x: Any, xp: Any) -> tuple[Any, Any]:
    """``(x_clean, rows)``: rows holding +inf or NaN, or all -inf, replaced by
    zeros (so the solver sees finite rows with -inf masked entries only), and
    the flags ``(nan_row, pinf_row, ninf_row)`` for :func:`restore_rows`."""
    m = xp.max(x, axis=-1, keepdims=True)
    nan_row = xp.any(xp.isnan(x), axis=-1, keepdims=True)
    pinf_row = (m == math.inf) & ~nan_row
    ninf_row = m == -math.inf
    clean = xp.where(nan_row | pinf_row | ninf_row, 0.0, x)
    return clean, (nan_row, pinf_row, ninf_row, x == math.inf)


def restore_rows(y: Any, rows: tuple[Any, Any, Any, Any], xp: Any, mass: float = 1.0) -> Any:
    """Apply the rules to the output ``y`` of the cleaned rows."""
    nan_row, pinf_row, ninf_row, pinf = rows
    n_inf = xp.sum(xp.astype(pinf, y.dtype), axis=-1, keepdims=True)
    share = xp.where(pinf, mass / xp.where(n_inf > 0, n_inf, 1.0), 0.0)
    y = xp.where(pinf_row, share, y)
    y = xp.where(ninf_row, 0.0, y)
    return xp.where(nan_row, math.nan, y)
