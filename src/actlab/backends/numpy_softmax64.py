r"""Fused float64 row kernels (numba, the optional ``actlab[fast]`` extra) of
softmax and log-softmax: the formulas of :mod:`actlab.simplex.shifted_exp`
(Blanchard, Higham & Higham 2021) in one row held in cache, instead of a
dozen full passes.

With the row maximum ``t`` at ``i*``, the shift ``x_j - t = zh + zl`` is
formed exactly (TwoSum, Knuth 1969), ``e_j = exp(zh)(1 + zl)``, and ``s =
sum_{j != i*} e_j`` is summed with Neumaier's compensation (so its error is
a few ULPs whatever the row length); softmax is ``e_j / (1 + s)`` (``1/(1 +
s)`` at ``i*``), log-softmax ``zh + (zl - log1p(s))``. Entries more than
``gap = max(1100, 2^-50 |t|)`` below the top have ``exp = 0``; their
log-softmax is ``(x_j - t) - log1p(s)``. Rows whose maximum is not finite
(a +inf entry, all -inf, NaN) are reported to the caller, which computes
them by the general path.

Example:
    >>> import numpy as np
    >>> from actlab.backends.numpy_softmax64 import softmax_rows
    >>> y, ok = softmax_rows(np.array([[0.0, np.log(3.0)]]))
    >>> y.round(12).tolist(), ok.tolist()
    ([[0.25, 0.75]], [True])
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["softmax_rows", "log_softmax_rows"]

_MAX = float(np.finfo(np.float64).max)
_SPAN = 1100.0


@nb.njit(inline="always")
def _top(xi):
    """(index of the maximum, maximum), NaN if the row has one."""
    m = xi[0]
    im = 0
    for j in range(1, xi.shape[0]):
        v = xi[j]
        if v > m or v != v:
            m = v
            im = j
            if v != v:
                break
    return im, m


@nb.njit(inline="always")
def _floor(t):
    gap = max(abs(t) * 2.0**-50, _SPAN)
    return max(t, gap - _MAX) - gap


@nb.njit(inline="always")
def _shift(v, t):
    """``v - t`` as ``zh + zl`` (TwoSum)."""
    zh = v - t
    bb = zh - v
    zl = (v - (zh - bb)) + (-t - bb)
    return zh, zl


@nb.njit(inline="always")
def _sum(xi, im, t, fl, out):
    """``s = sum_{j != im} exp(x_j - t)`` (compensated); ``out`` gets the terms."""
    s = 0.0
    c = 0.0
    for j in range(xi.shape[0]):
        v = xi[j]
        e = 0.0
        if j != im and v >= fl:
            zh, zl = _shift(v, t)
            e = math.exp(zh)
            e = e + e * zl
            u = s + e
            if abs(s) >= abs(e):
                c += (s - u) + e
            else:
                c += (e - u) + s
            s = u
        out[j] = e
    return s + c


@nb.njit(nogil=True, cache=True)
def _softmax(x, y, ok):
    for i in range(x.shape[0]):
        xi, yi = x[i], y[i]
        im, t = _top(xi)
        ok[i] = math.isfinite(t)
        if not ok[i]:
            continue
        s = _sum(xi, im, t, _floor(t), yi)
        inv = 1.0 / (1.0 + s)
        for j in range(xi.shape[0]):
            yi[j] = yi[j] * inv
        yi[im] = inv


@nb.njit(nogil=True, cache=True)
def _log_softmax(x, y, ok):
    for i in range(x.shape[0]):
        xi, yi = x[i], y[i]
        im, t = _top(xi)
        ok[i] = math.isfinite(t)
        if not ok[i]:
            continue
        fl = _floor(t)
        lse = math.log1p(_sum(xi, im, t, fl, yi))
        for j in range(xi.shape[0]):
            v = xi[j]
            if v >= fl:
                zh, zl = _shift(v, t)
                yi[j] = zh + (zl - lse)
            else:
                yi[j] = (v - t) - lse
        yi[im] = -lse


def _rows(kernel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    assert x.dtype == np.float64 and x.ndim == 2 and x.flags.c_contiguous
    y = np.empty_like(x)
    ok = np.empty(x.shape[0], np.bool_)
    kernel(x, y, ok)  # (numba raises no floating-point warnings: v - t past the range is -inf)
    return y, ok


def softmax_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(softmax(x), ok)`` along the rows of the float64 (N, K) array ``x``."""
    return _rows(_softmax, x)


def log_softmax_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(log_softmax(x), ok)`` along the rows of the float64 (N, K) array ``x``."""
    return _rows(_log_softmax, x)
