r"""Fused row kernels (numba, the optional ``actlab[fast]`` extra) of the
softmax family for float32 rows: softmax, log-softmax, logsumexp and the
softmax cross-entropy's forward and backward, each in one or two passes over
a row held in cache.

They evaluate exactly the formulas of :mod:`actlab.simplex.shifted_exp`
(Blanchard, Higham & Higham 2021) in float64 and round once: with the row
maximum ``t`` (found on the float32 bits as integers, which vectorises) and ``s =
sum_{j != i*} exp(x_j - t)``, softmax is ``exp(x - t) / (1 + s)``,
log-softmax ``(x - t) - log1p(s)`` and logsumexp ``t + log1p(s)``. For
float32 input the float64 difference ``x - t`` is exact, so no double-double
shift is needed.

The exponential is :func:`~actlab.backends.numba_vecmath.vexp32`, a
vectorisable float64 ``exp`` for arguments ``d <= 0`` (relative error below
1e-11, 1/6000 of a float32 ULP). Arguments below -708 are clamped there
(their exponential, ~1e-308, rounds to 0 in float32 and cannot move a sum
that contains 1). NaN passes through.

The sum is accumulated over the whole row (the top term is exactly 1) and
``s = sum - 1``; where ``s < 2^-20`` its absolute rounding error would be a
visible relative error of ``log1p(s)``, and the row is summed again with the
top term left out. Rows whose maximum is not finite, or whose sum is NaN,
are reported to the caller, which computes them by the general path (the non-finite-row rules
of :mod:`actlab.simplex.shifted_exp` for +inf, all -inf and NaN rows).

Speed (the arithmetic is the same): the kernels vectorise for 512-bit
registers where the CPU has AVX-512 (:mod:`~actlab.backends.numba_width`),
and softmax and log-softmax run a software pipeline of three rows in one
loop: the exponentials of row i (in cache) while row i + 1 is read from
memory for its maximum and row i - 1 is written out, so that the arithmetic
overlaps the memory traffic (their time is then close to torch's float32
kernels', which are bound by that traffic). Outputs are allocated 2 KiB from
the input modulo 4 KiB (:func:`~actlab.backends.numba_width.empty_apart`).

Example:
    >>> import numpy as np
    >>> from actlab.backends.numba_softmax import lse_rows
    >>> x = np.array([[0.0, -50.0]], np.float32)
    >>> t, l1p, ok = lse_rows(x)
    >>> print(f"{float(l1p[0]):.10e}")  # log1p(exp(-50)) = 1.9287498479639178e-22
    1.9287498480e-22
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .numba_sparse import run_rows
from .numba_vecmath import vexp32 as _exp
from .numba_width import empty_apart, wide

__all__ = ["lse_rows", "softmax_rows", "log_softmax_rows", "log_softmax_rows_min", "ce_forward_rows", "ce_grad_rows"]

_SMALL = 2.0**-20
_FAST = {"contract", "reassoc"}  # FMA contraction and a reassociated (vectorised) sum; no finite-math flags


@nb.njit(nogil=True, cache=True)
def _row_max(bits):
    """The maximum of a float32 row given as its int32 bits, through the
    order-preserving integer key (vectorises without finite-math flags). A
    NaN entry gives NaN or another entry: its row's sum is NaN either way.
    A function of its own (not inlined by numba) so that its loop vectorises
    apart from the exponentials; called per row, so that the row is in cache
    for the passes that follow."""
    wide()
    m = np.int32(-2147483648)
    for j in range(bits.shape[0]):
        b = bits[j]
        key = b ^ ((b >> 31) & 0x7FFFFFFF)
        m = key if key > m else m
    return np.float64(np.int32(m ^ ((m >> 31) & 0x7FFFFFFF)).view(np.float32))


@nb.njit(nogil=True, cache=True)
def _row_range(bits):
    """``(max, min)`` of a float32 row given as its int32 bits (as :func:`_row_max`)."""
    wide()
    hi = np.int32(-2147483648)
    lo = np.int32(2147483647)
    for j in range(bits.shape[0]):
        b = bits[j]
        key = b ^ ((b >> 31) & 0x7FFFFFFF)
        hi = key if key > hi else hi
        lo = key if key < lo else lo
    return (np.float64(np.int32(hi ^ ((hi >> 31) & 0x7FFFFFFF)).view(np.float32)),
            np.float64(np.int32(lo ^ ((lo >> 31) & 0x7FFFFFFF)).view(np.float32)))


@nb.njit(inline="always", fastmath=_FAST)
def _finish_sum(xi, m, total):
    """``(s, ok)`` from the sum ``total`` of ``exp(x_j - m)`` over the whole
    row: ``s = total - 1``, summed again without the top term where it is
    below ``_SMALL``; ``ok`` False for a NaN sum or a non-finite maximum."""
    s = total - 1.0
    if not (s >= _SMALL):
        if s != s or not (m - m == 0.0):  # NaN sum or non-finite maximum: the caller's general path
            return s, False
        s = 0.0
        top = -1
        for j in range(xi.shape[0]):
            if top < 0 and np.float64(xi[j]) == m:
                top = j
            else:
                s += _exp(np.float64(xi[j]) - m)
    return s, True


@nb.njit(inline="always", fastmath=_FAST)
def _row_sum(xi, m, out, store):
    """``(s, ok)``: the sum of ``exp(x_j - m)`` without the top term, with the
    exponentials written to ``out`` when ``store``."""
    k = xi.shape[0]
    total = 0.0
    if store:
        for j in range(k):
            e = _exp(np.float64(xi[j]) - m)
            out[j] = e
            total += e
    else:
        for j in range(k):
            total += _exp(np.float64(xi[j]) - m)
    return _finish_sum(xi, m, total)


@nb.njit(nogil=True, cache=True, fastmath=_FAST)
def _lse(x, bits, m, out, ok):
    wide()
    for i in range(x.shape[0]):
        m[i] = _row_max(bits[i])
        s, good = _row_sum(x[i], m[i], x[i], False)
        out[i] = np.log1p(s) if good else 0.0
        ok[i] = good


@nb.njit(nogil=True, cache=True, fastmath=_FAST)
def _softmax(x, bits, y, ok):
    """Three rows at a time in one loop (a software pipeline): the
    exponentials of row i (in cache) are computed while row i + 1 is read
    from memory for its maximum and row i - 1 is written out, so that the
    arithmetic overlaps the memory traffic instead of following it."""
    wide()
    n, k = x.shape
    if n == 0:
        return
    buf = np.empty((2, k))
    m_next = _row_max(bits[0])
    inv_prev = 0.0
    for i in range(n):
        mi = m_next
        xi = x[i]
        cur = buf[i & 1]
        prev = buf[(i + 1) & 1]
        total = 0.0
        if i + 1 < n and i > 0:
            bn = bits[i + 1]
            yp = y[i - 1]
            hi = np.int32(-2147483648)
            for j in range(k):
                e = _exp(np.float64(xi[j]) - mi)
                cur[j] = e
                total += e
                b = bn[j]
                key = b ^ ((b >> 31) & 0x7FFFFFFF)
                hi = key if key > hi else hi
                yp[j] = prev[j] * inv_prev
            m_next = np.float64(np.int32(hi ^ ((hi >> 31) & 0x7FFFFFFF)).view(np.float32))
        else:
            for j in range(k):
                e = _exp(np.float64(xi[j]) - mi)
                cur[j] = e
                total += e
            if i > 0:
                yp = y[i - 1]
                for j in range(k):
                    yp[j] = prev[j] * inv_prev
            if i + 1 < n:
                m_next = _row_max(bits[i + 1])
        s, good = _finish_sum(xi, mi, total)
        ok[i] = good
        inv_prev = 1.0 / (1.0 + s)
    last = buf[(n - 1) & 1]
    yl = y[n - 1]
    for j in range(k):
        yl[j] = last[j] * inv_prev


@nb.njit(inline="always")
def _key_value(key):
    """The float32 value (as float64) of an order-preserving integer key."""
    return np.float64(np.int32(key ^ ((key >> 31) & 0x7FFFFFFF)).view(np.float32))


@nb.njit(nogil=True, cache=True, fastmath=_FAST)
def _log_softmax(x, bits, y, ok, lo):
    """``lo``: the row minima are written there unless it is empty. A
    pipeline of three rows as in :func:`_softmax`: the sum of row i, the
    range of row i + 1 and the output of row i - 1 in one loop."""
    wide()
    n, k = x.shape
    if n == 0:
        return
    want_lo = lo.shape[0] > 0
    m_next, lo_next = _row_range(bits[0])
    m_prev = lse_prev = 0.0
    for i in range(n):
        mi = m_next
        if want_lo:
            lo[i] = lo_next
        xi = x[i]
        total = 0.0
        if i + 1 < n and i > 0:
            bn = bits[i + 1]
            xp = x[i - 1]
            yp = y[i - 1]
            hi = np.int32(-2147483648)
            lk = np.int32(2147483647)
            for j in range(k):
                total += _exp(np.float64(xi[j]) - mi)
                b = bn[j]
                key = b ^ ((b >> 31) & 0x7FFFFFFF)
                hi = key if key > hi else hi
                lk = key if key < lk else lk
                yp[j] = (np.float64(xp[j]) - m_prev) - lse_prev
            m_next, lo_next = _key_value(hi), _key_value(lk)
        else:
            for j in range(k):
                total += _exp(np.float64(xi[j]) - mi)
            if i > 0:
                xp = x[i - 1]
                yp = y[i - 1]
                for j in range(k):
                    yp[j] = (np.float64(xp[j]) - m_prev) - lse_prev
            if i + 1 < n:
                m_next, lo_next = _row_range(bits[i + 1])
        s, good = _finish_sum(xi, mi, total)
        ok[i] = good
        m_prev, lse_prev = mi, np.log1p(s)
    xl = x[n - 1]
    yl = y[n - 1]
    for j in range(k):
        yl[j] = (np.float64(xl[j]) - m_prev) - lse_prev


@nb.njit(nogil=True, cache=True, fastmath=_FAST)
def _ce_forward(x, bits, m, target, nll, smooth, inv, ok, w, want_smooth):
    """Per row: ``nll = (t - x_k) + log1p(s)``, ``smooth = sum_c w_c (t +
    log1p(s) - x_c)`` (w = 1 when ``w`` is empty) and ``1 / (1 + s)``."""
    k = x.shape[1]
    weighted = w.shape[0] > 0
    wide()
    for i in range(x.shape[0]):
        mi = m[i] = _row_max(bits[i])
        xi = x[i]
        s, good = _row_sum(xi, mi, xi, False)
        ok[i] = good
        lse = np.log1p(s)
        inv[i] = 1.0 / (1.0 + s)
        nll[i] = (mi - np.float64(xi[target[i]])) + lse
        if want_smooth:
            acc = 0.0
            if weighted:
                wsum = 0.0
                for j in range(k):
                    acc += w[j] * (np.float64(xi[j]) - mi)
                    wsum += w[j]
                smooth[i] = wsum * lse - acc
            else:
                for j in range(k):
                    acc += np.float64(xi[j]) - mi
                smooth[i] = k * lse - acc


@nb.njit(nogil=True, cache=True, fastmath=_FAST)
def _ce_grad(x, m, inv, a, b, c, target, out, w):
    """``out = a p - c w - b onehot(target)`` per row, ``p = exp(x - t) / (1 + s)``."""
    n, k = x.shape
    weighted = w.shape[0] > 0
    wide()
    for i in range(n):
        mi = np.float64(m[i])
        ai = a[i] * inv[i]
        ci = c[i]
        xi = x[i]
        oi = out[i]
        if weighted:
            for j in range(k):
                oi[j] = ai * _exp(np.float64(xi[j]) - mi) - ci * w[j]
        else:
            for j in range(k):
                oi[j] = ai * _exp(np.float64(xi[j]) - mi) - ci
        t = target[i]
        oi[t] = (ai * _exp(np.float64(xi[t]) - mi) - (ci * w[t] if weighted else ci)) - b[i]


def _check(x: np.ndarray) -> np.ndarray:
    """The int32 bits of a C-contiguous float32 (N, K) array."""
    assert x.dtype == np.float32 and x.ndim == 2 and x.flags.c_contiguous
    return x.view(np.int32)


def lse_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, log1p(s), ok)`` per row of the float32 (N, K) array ``x``: the
    row maxima and ``log1p(s)`` in float64; ``ok`` False where the general
    path must run."""
    bits = _check(x)
    n = x.shape[0]
    m, out, ok = np.empty(n), np.empty(n), np.empty(n, np.bool_)
    run_rows(_lse, (x, bits, m, out, ok))
    return m, out, ok


def softmax_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(softmax(x), ok)`` along the rows of float32 ``x``."""
    bits = _check(x)
    y = empty_apart(x)
    ok = np.empty(x.shape[0], np.bool_)
    run_rows(_softmax, (x, bits, y, ok))
    return y, ok


def log_softmax_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(log_softmax(x), ok)`` along the rows of float32 ``x``."""
    bits = _check(x)
    y = empty_apart(x)
    ok = np.empty(x.shape[0], np.bool_)
    run_rows(_log_softmax, (x, bits, y, ok, np.empty(0)))
    return y, ok


def log_softmax_rows_min(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(log_softmax(x), ok, minima)`` along the rows of float32 ``x``: also
    the row minima (float64; NaN or another entry on a row with a NaN), which
    tell a caller whether any entry is -inf without a pass of its own."""
    bits = _check(x)
    y = empty_apart(x)
    ok = np.empty(x.shape[0], np.bool_)
    lo = np.empty(x.shape[0])
    run_rows(_log_softmax, (x, bits, y, ok, lo))
    return y, ok, lo


def ce_forward_rows(x: np.ndarray, target: np.ndarray, w: np.ndarray, want_smooth: bool):
    """``(t, nll, smooth, inv, ok)`` per row (float64) of the cross-entropy of
    float32 logits ``x`` (N, C) against class indices ``target`` (N,), int64
    and in range; ``w`` the float64 class weights or an empty array; ``t``
    the row maxima and ``inv = 1 / (1 + s)``."""
    bits = _check(x)
    n = x.shape[0]
    m, nll, smooth, inv = np.empty(n), np.empty(n), np.zeros(n), np.empty(n)
    ok = np.empty(n, np.bool_)
    run_rows(_ce_forward, (x, bits, m, target, nll, smooth, inv, ok), w, bool(want_smooth))
    return m, nll, smooth, inv, ok


def ce_grad_rows(x: np.ndarray, m: np.ndarray, inv: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
                 target: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The float32 gradient ``a p - c w - b onehot(target)`` per row (``a``,
    ``b``, ``c``, ``m`` float64 per row; ``p = exp(x - m) inv``; w = 1 when empty)."""
    _check(x)
    out = np.empty_like(x)
    run_rows(_ce_grad, (x, m, inv, a, b, c, target, out), w)
    return out
