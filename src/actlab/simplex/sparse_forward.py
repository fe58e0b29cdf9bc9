"""The forward pass of the sparse maps (sparsemax, 1.5-entmax, alpha-entmax)
along the last axis: the non-finite-entry rules for non-finite rows, the dispatch between
the compiled kernels (the backend's declared ``sparse_rows``: numba, the
optional ``fast`` extra, on CPU arrays) and the array-API search
(:mod:`actlab.simplex.threshold`), and the output from the threshold."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import threshold

__all__ = ["forward", "output", "compiled", "compiled_vjp", "USE_COMPILED"]

USE_COMPILED = True
"""Use the backend's compiled row kernels (numba, on CPU arrays) when it
has them (set False to force the array-API code)."""


def output(x: Any, m: Any, s: Any, beta: Any, xp: Any) -> Any:
    """The map's values from the solution ``s`` (cut or sigma) and maxima ``m``."""
    if threshold.is_exact(beta):
        if xp.kernels.sparse_exact_output is not None and xp.may_branch(x):
            return xp.kernels.sparse_exact_output(x, m, s, beta)
        d = xp.clip(threshold.shift(x, m, xp) - s, min=0.0)
        return d if beta == 1.0 else 0.25 * (d * d)
    p, _ = threshold.density(threshold.shift(x, m, xp) - s, beta, xp)
    return p / xp.sum(p, axis=-1, keepdims=True)


def compiled(x: Any, xp: Any) -> Any:
    """The compiled row kernels (numba) when the backend has them and they
    can take ``x`` (float32/float64 on the CPU, outside tracing), else None."""
    if not USE_COMPILED or xp.kernels.sparse_rows is None:
        return None
    return xp.kernels.sparse_rows(x)


def compiled_vjp(y: Any, g: Any, beta: Any, xp: Any) -> Any:
    """The compiled VJP, or None where it does not apply (double backward,
    GPU, tracing, an array beta, no numba)."""
    if not isinstance(beta, float) or g.dtype != y.dtype or xp.records_grad():
        return None
    module = compiled(y, xp)
    if module is None or compiled(g, xp) is None:
        return None
    return xp.from_host(module.vjp_rows(xp.host(y), xp.host(g), beta), g)


def _forward_compiled(module: Any, x: Any, beta: float, n_iter: int, xp: Any, with_threshold: bool) -> Any:
    y, m, s = module.forward_rows(xp.host(x), beta, n_iter)
    y = xp.from_host(y, x)
    if not with_threshold:
        return y
    sigma = s + 1.0 / beta if threshold.is_exact(beta) else s
    tau = xp.from_host(np.where(np.isfinite(m), beta * (m + sigma) - 1.0, m), x)
    return y, xp.astype(tau, y.dtype)


def _bad_rows(m: Any, xp: Any):
    return xp.isnan(m), m == math.inf, m == -math.inf


def forward(x: Any, beta: Any, n_iter: int, xp: Any, *, with_threshold: bool = False) -> Any:
    """The map along the last axis of ``x`` (working precision), with the
    rules for non-finite entries: -inf gets 0, +inf entries share the mass,
    a NaN makes its row NaN, an all -inf row gives zeros.

    With ``with_threshold``: ``(y, tau)``, tau in the units of Peters et al. 2019
    (``y = [beta x - tau]_+^(1/beta)``), with the row maximum for rows whose
    maximum is not finite (+inf, -inf or NaN)."""
    if x.shape[-1] == 0:
        y = x + 0.0
        return (y, xp.sum(y, axis=-1, keepdims=True)) if with_threshold else y
    module = compiled(x, xp) if isinstance(beta, float) else None
    if module is not None:
        return _forward_compiled(module, x, beta, n_iter, xp, with_threshold)
    static = threshold.static_required(x, xp)
    m, bmax = threshold.maxima(x, static, xp)
    m0 = m
    bad = static or not bool(xp.all(xp.isfinite(m)))
    if bad:  # +inf rows keep their +inf entries (as 0) and drop the rest
        nan_row, pinf_row, ninf_row = _bad_rows(m0, xp)
        x = xp.where(pinf_row, xp.where(x == math.inf, 0.0, -math.inf), x)
        x = xp.where(nan_row | ninf_row, 0.0, x)
        m, bmax = threshold.maxima(x, static, xp)
    s = threshold.solve(x, m, bmax, beta, n_iter, static, xp)
    y = output(x, m, s, beta, xp)
    if bad:
        y = xp.where(ninf_row, 0.0, y)
        y = xp.where(nan_row, math.nan, y)
    if not with_threshold:
        return y
    sigma = s + 1.0 / beta if threshold.is_exact(beta) else s
    tau = beta * (m + sigma) - 1.0
    return y, (xp.where(xp.isfinite(m0), tau, m0) if bad else tau)
