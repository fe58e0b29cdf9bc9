"""Vectorised VJP (numba, the optional ``actlab[fast]`` extra) of the
sparse maps for float32 rows up to :data:`~actlab.backends.numba_sparse_f32.SHORT_MAX`:
``w * (g - <w, g>/sum w)`` with ``w = y^(1-beta)`` on the support, in three
branch-free passes per row (the weights into a float64 buffer, their sum
and dot product with ``g`` as one SIMD reduction, the write), float64
inside. The weights of 1.5-entmax, alpha = 1.25 and alpha = 1.75 come from
a float32 estimate of ``y^(-1/2)`` or ``y^(-1/4)`` (8 lanes, a quarter of the
cost of float64 square roots) refined by one Newton step in float64. The array-API definition is
:func:`actlab.simplex.entmax.entmax_vjp_math`; the support-only kernel of
:mod:`actlab.backends.numba_entmax_grad` serves float64 and longer rows, and
the tests compare the three."""

from __future__ import annotations

import numba as nb
import numpy as np

from .numba_sparse import rows, run_rows
from .numba_sparse_f32 import _RED, ENTMAX15, SHORT_MAX, SPARSEMAX, _kind
from .numba_vecmath import integer_power, vexp, vlog

__all__ = ["vjp_rows", "vjp_any"]


_ONE = np.float32(1.0)


@nb.njit(inline="always", error_model="numpy")
def _inverse_fourth_root(y):
    """``(v, t)``: float32 ``y`` as float64 ``v`` and ``t = v^(-1/4)`` (inf at
    0), the float32 estimate refined by one Newton step in float64 (relative
    error below 1e-13: the estimate's ~2e-7, squared)."""
    v = np.float64(y)
    t = np.float64(_ONE / np.sqrt(np.sqrt(y)))
    t2 = t * t
    return v, t * (1.25 - 0.25 * v * (t2 * t2))


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _weights(y, kind, beta, qi, wbuf):
    """``w = y^(1-beta)`` into ``wbuf`` (0 off the support, NaN where ``y`` is);
    one loop per case, so that each vectorises."""
    K = y.shape[0]
    if kind == SPARSEMAX:
        for j in range(K):
            v = np.float64(y[j])
            wbuf[j] = 1.0 if v > 0.0 else v * 0.0
    elif kind == ENTMAX15:  # v^(1/2) = v * v^(-1/2)
        for j in range(K):
            v = np.float64(y[j])
            u = np.float64(_ONE / np.sqrt(y[j]))
            u = u * (1.5 - 0.5 * v * u * u)  # Newton for v^(-1/2)
            wbuf[j] = v * u if v > 0.0 else v * 0.0
    elif qi == 4:  # alpha = 1.25: v^(3/4) = v * t, t = v^(-1/4)
        for j in range(K):
            v, t = _inverse_fourth_root(y[j])
            wbuf[j] = v * t if v > 0.0 else v * 0.0
    elif qi == 0 and beta == 0.75:  # alpha = 1.75: v^(1/4) = v * t^3
        for j in range(K):
            v, t = _inverse_fourth_root(y[j])
            wbuf[j] = v * (t * t * t) if v > 0.0 else v * 0.0
    else:
        e = 1.0 - beta
        for j in range(K):
            v = np.float64(y[j])
            pos = v > 0.0
            w = vexp(vlog(v if pos else 1.0) * e)
            wbuf[j] = w if pos else v * 0.0


@nb.njit(nogil=True, cache=True, fastmath=_RED, error_model="numpy")
def _sum_dot(w, g):
    """``(sum w, <w, g>)``."""
    s = 0.0
    t = 0.0
    for j in range(w.shape[0]):
        s += w[j]
        t += w[j] * np.float64(g[j])
    return s, t


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _vjp(y2, g2, out2, kind, beta):
    N, K = y2.shape
    qi = integer_power(beta)
    wbuf = np.empty(K, np.float64)
    for r in range(N):
        _weights(y2[r], kind, beta, qi, wbuf)
        g, out = g2[r], out2[r]
        sw, swg = _sum_dot(wbuf, g)
        if sw != sw:  # a NaN output: the row's gradient is NaN
            out[:] = np.nan
            continue
        q = swg / sw if sw > 0.0 else 0.0
        for j in range(K):
            out[j] = wbuf[j] * (np.float64(g[j]) - q)


def vjp_rows(y: np.ndarray, g: np.ndarray, beta: float, out: np.ndarray | None = None) -> np.ndarray:
    """``w * (g - <w, g>/sum w)``, ``w = y^(1-beta)``, for float32 ``y`` and ``g``."""
    y2, g2 = rows(y), rows(g)
    out = np.empty_like(y2) if out is None else out.reshape(y2.shape)  # out: C-contiguous, y's shape and dtype
    run_rows(_vjp, (y2, g2, out), _kind(beta), float(beta))
    return out.reshape(y.shape)


def vjp_any(y: np.ndarray, g: np.ndarray, beta: float, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`vjp_rows` for float32 rows up to :data:`SHORT_MAX`, else
    :func:`actlab.backends.numba_entmax_grad.vjp_rows`. The kernels read
    ``g`` row by row as ``y``'s: a ``g`` of another shape is a ValueError."""
    if g.shape != y.shape:
        raise ValueError(f"g: the cotangent has shape {tuple(g.shape)}, the map's output {tuple(y.shape)}")
    if y.dtype == g.dtype == np.float32 and 0 < y.shape[-1] <= SHORT_MAX:
        return vjp_rows(y, g, beta, out)
    from .numba_entmax_grad import vjp_rows as support_only

    return support_only(y, g, beta, out)
