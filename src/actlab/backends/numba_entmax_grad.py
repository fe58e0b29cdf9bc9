"""Compiled (numba, the optional ``actlab[fast]`` extra) VJP of the sparse
maps on CPU arrays: ``w * (g - <w, g>/sum w)`` with ``w = y^(1-beta)`` on
the support, in two passes per row (sums over the support only, then the
write), float64 inside. The array-API definition is
:func:`actlab.simplex.entmax.entmax_vjp_math`; the tests compare the two."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .numba_sparse import ENTMAX15, SPARSEMAX, integer_power, kind, rows, run_rows

__all__ = ["vjp_rows"]


@nb.njit(cache=True, nogil=True)
def _vjp(y2, g2, out2, kind, beta):
    N, K = y2.shape
    qi = integer_power(beta)
    for r in range(N):
        y, g, out = y2[r], g2[r], out2[r]
        sw = 0.0
        swg = 0.0
        nan = False
        for i in range(K):  # the support is usually small: sum over it only
            v = np.float64(y[i])
            if v > 0.0:
                w = _weight(v, kind, beta, qi)
                sw += w
                swg += w * np.float64(g[i])
            elif v != v:
                nan = True
        if nan:
            out[:] = np.nan
            continue
        q = swg / sw if sw > 0.0 else 0.0
        if kind == SPARSEMAX:
            for i in range(K):
                out[i] = np.float64(g[i]) - q if y[i] > 0 else 0.0
        elif kind == ENTMAX15:
            for i in range(K):
                out[i] = math.sqrt(np.float64(y[i])) * (np.float64(g[i]) - q)
        else:
            for i in range(K):
                v = np.float64(y[i])
                out[i] = _weight(v, kind, beta, qi) * (np.float64(g[i]) - q) if v > 0.0 else 0.0


@nb.njit(cache=True, nogil=True)
def _weight(v, kind, beta, qi):
    """``w = v^(1 - beta)`` for ``v > 0``."""
    if kind == SPARSEMAX:
        return 1.0
    if kind == ENTMAX15:
        return math.sqrt(v)
    if qi == 4:  # alpha = 1.25: v^(3/4) by square roots
        r = math.sqrt(v)
        return r * math.sqrt(r)
    if qi == 3:  # alpha = 4/3: v^(2/3)
        r = np.cbrt(v)
        return r * r
    # v * v^(-beta) where the exponent 1 - beta would round (and v^(-beta) does not overflow)
    c = 1.0 - beta
    if c + beta == 1.0 and 1.0 - c == beta:
        return v ** c
    p = v ** (-beta)
    return v * p if p < math.inf else v ** c


def vjp_rows(y: np.ndarray, g: np.ndarray, beta: float, out: np.ndarray | None = None) -> np.ndarray:
    """``w * (g - <w, g>/sum w)``, ``w = y^(1-beta)`` on the support."""
    y2, g2 = rows(y), rows(g)
    out = np.empty_like(y2) if out is None else out.reshape(y2.shape)  # out: C-contiguous, y's shape and dtype
    run_rows(_vjp, (y2, g2, out), kind(beta), float(beta))
    return out.reshape(y.shape)
