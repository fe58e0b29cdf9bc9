"""Independent references for the sparse-map tests, written plainly: SPEC's
sort-based sparsemax (Martins & Astudillo 2016, Algorithm 1) and entmax by
bisection on tau in float64 (Peters et al. 2019, eq. 10), row by row."""

from __future__ import annotations

import numpy as np


def sparsemax_rows(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    for idx in np.ndindex(z.shape[:-1]):
        row = z[idx]
        zs = np.sort(row)[::-1]
        cs = np.cumsum(zs)
        k = np.arange(1, row.size + 1)
        kz = k[1 + k * zs > cs].max()
        tau = (cs[kz - 1] - 1) / kz
        out[idx] = np.maximum(row - tau, 0)
    return out


def entmax_rows(z: np.ndarray, alpha: float, iters: int = 200) -> np.ndarray:
    """p_i = [(alpha-1) z_i - tau]_+^(1/(alpha-1)) with sum 1, tau by bisection."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    b = alpha - 1.0
    for idx in np.ndindex(z.shape[:-1]):
        row = b * (z[idx] - z[idx].max())
        lo, hi = -1.0, -((1.0 / row.size) ** b)
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            if (np.maximum(row - mid, 0) ** (1 / b)).sum() >= 1:
                lo = mid
            else:
                hi = mid
        p = np.maximum(row - lo, 0) ** (1 / b)
        out[idx] = p / p.sum()
    return out


def reference(z: np.ndarray, alpha: float) -> np.ndarray:
    return sparsemax_rows(z) if alpha == 2.0 else entmax_rows(z, alpha)
