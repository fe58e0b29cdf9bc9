r"""Fused log-softmax row kernel (numba, the optional ``actlab[fast]`` extra)
for bfloat16 rows, in float32 arithmetic, read and written as the bfloat16
bits (a bfloat16 number is the top half of a float32 one).

The formula is :mod:`actlab.simplex.shifted_exp`'s (Blanchard, Higham &
Higham 2021): with the row maximum ``t`` and ``s = sum_{j != i*} exp(x_j -
t)``, ``log_softmax(x) = (x - t) - log1p(s)``. bfloat16 needs far less than
float32 gives, so the exponential is
:func:`~actlab.backends.numba_vecmath.vexpf` (float32, within 2 float32 ULPs,
sixteen lanes with AVX-512, see :mod:`~actlab.backends.numba_width`), the difference ``x - t`` of two
bfloat16 numbers is exact in float32 up to an exponent gap of 16 (beyond,
its rounding moves the exponential by at most 104 * 2^-24 relative), the sum
is taken in float64 (eight float64 lanes beside sixteen float32 ones with
AVX-512), and ``log1p`` in float64. Where ``s <
2^-6`` the row is summed again without its top term (so ``-log1p(s)`` at
the top keeps its relative accuracy). Each result is rounded once from
float32 to bfloat16 (to nearest, ties to even): within one bfloat16 ULP of
the exact value. Rows whose maximum is not finite, or whose sum is NaN, are
reported to the caller (the general path's rules for +inf, all -inf and NaN).

Example:
    >>> import numpy as np
    >>> from actlab.backends.numba_softmax_bf16 import log_softmax_rows_bf16
    >>> bits = (np.array([[0.0, 1.0]], np.float32).view(np.uint32) >> 16).astype(np.uint16)
    >>> y, ok = log_softmax_rows_bf16(bits)
    >>> (y.astype(np.uint32) << 16).view(np.float32).tolist(), ok.tolist()
    ([[-1.3125, -0.3125]], [True])
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .numba_sparse import run_rows
from .numba_vecmath import vexpf
from .numba_width import empty_apart, wide

__all__ = ["log_softmax_rows_bf16", "log_softmax_rows_bf16_min"]

_SMALL = 2.0**-6
_FAST = {"contract", "reassoc"}  # FMA contraction and a reassociated (vectorised) sum; no finite-math flags


@nb.njit(inline="always")
def _f32(b):
    """The float32 value of bfloat16 bits ``b`` (uint16)."""
    return np.uint32(np.uint32(b) << np.uint32(16)).view(np.float32)


@nb.njit(inline="always")
def _bf16(v):
    """float32 ``v`` rounded to bfloat16 bits (to nearest, ties to even; inf stays inf)."""
    u = np.float32(v).view(np.uint32)
    return np.uint16((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))


@nb.njit(nogil=True, cache=True)
def _row_range(bits):
    """``(max, min)`` of a bfloat16 row through the order-preserving integer
    key of its bits (a function of its own, so that its loop vectorises apart)."""
    wide()
    hi = np.int32(-2147483648)
    lo = np.int32(2147483647)
    for j in range(bits.shape[0]):
        b = np.int32(np.int16(bits[j]))
        key = b ^ ((b >> 15) & 0x7FFF)
        hi = key if key > hi else hi
        lo = key if key < lo else lo
    hi = hi ^ ((hi >> 15) & 0x7FFF)
    lo = lo ^ ((lo >> 15) & 0x7FFF)
    return _f32(np.uint16(hi & 0xFFFF)), _f32(np.uint16(lo & 0xFFFF))


@nb.njit(inline="always", fastmath=_FAST)
def _sum_exp(xi, m, k):
    """``sum_j exp(x_j - m)``, float32 exponentials added in float64."""
    total = 0.0
    for j in range(k):
        total += np.float64(vexpf(_f32(xi[j]) - m))
    return total


@nb.njit(inline="always", fastmath=_FAST)
def _finish(xi, m, total):
    """``(lse, ok)`` of a row from the sum ``total`` over the whole row (the
    row summed again without its top term where ``s < _SMALL``)."""
    s = total - 1.0
    good = s == s and m - m == np.float32(0.0)  # (NaN sum, or a non-finite maximum: the general path)
    if good and not (s >= _SMALL):
        s = 0.0
        top = -1
        for j in range(xi.shape[0]):
            v = _f32(xi[j])
            if top < 0 and v == m:
                top = j
            else:
                s += np.float64(vexpf(v - m))
    return (np.float32(np.log1p(s)) if good else np.float32(0.0)), good


@nb.njit(inline="always")
def _key_value(key):
    """The float32 value of an order-preserving integer key of bfloat16 bits."""
    return _f32(np.uint16((key ^ ((key >> 15) & 0x7FFF)) & 0xFFFF))


@nb.njit(nogil=True, cache=True, fastmath=_FAST)
def _log_softmax(x, y, ok, lo):
    """A pipeline of three rows in one loop, so that the arithmetic overlaps
    the memory traffic: the sum of row i (in cache), the range of row i + 1
    (read from memory) and the output of row i - 1 (written out)."""
    wide()
    n, k = x.shape
    if n == 0:
        return
    m_next, lo_next = _row_range(x[0])
    m_prev = lse_prev = np.float32(0.0)
    for i in range(n):
        m = m_next
        lo[i] = lo_next
        xi = x[i]
        if i + 1 < n and i > 0:
            xn = x[i + 1]
            xp = x[i - 1]
            yp = y[i - 1]
            hi = np.int32(-2147483648)
            lk = np.int32(2147483647)
            total = 0.0
            for j in range(k):
                total += np.float64(vexpf(_f32(xi[j]) - m))
                b = np.int32(np.int16(xn[j]))
                key = b ^ ((b >> 15) & 0x7FFF)
                hi = key if key > hi else hi
                lk = key if key < lk else lk
                yp[j] = _bf16((_f32(xp[j]) - m_prev) - lse_prev)
            m_next, lo_next = _key_value(hi), _key_value(lk)
        else:
            total = _sum_exp(xi, m, k)
            if i > 0:
                xp = x[i - 1]
                yp = y[i - 1]
                for j in range(k):
                    yp[j] = _bf16((_f32(xp[j]) - m_prev) - lse_prev)
            if i + 1 < n:
                m_next, lo_next = _row_range(x[i + 1])
        lse, good = _finish(xi, m, total)
        ok[i] = good
        m_prev, lse_prev = m, lse
    xl = x[n - 1]
    yl = y[n - 1]
    for j in range(k):
        yl[j] = _bf16((_f32(xl[j]) - m_prev) - lse_prev)


def log_softmax_rows_bf16(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(log_softmax bits, ok)`` along the rows of a C-contiguous (N, K)
    uint16 array of bfloat16 bits; ``ok`` False where the general path must run."""
    y, ok, _ = log_softmax_rows_bf16_min(bits)
    return y, ok


def log_softmax_rows_bf16_min(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(log_softmax bits, ok, minima)``: also the row minima (float32; NaN
    or another entry on a row with a NaN), which tell a caller whether any
    entry is -inf without a pass of its own."""
    assert bits.dtype == np.uint16 and bits.ndim == 2 and bits.flags.c_contiguous
    y = empty_apart(bits)
    ok = np.empty(bits.shape[0], np.bool_)
    lo = np.empty(bits.shape[0], np.float32)
    run_rows(_log_softmax, (bits, y, ok, lo))
    return y, ok, lo
