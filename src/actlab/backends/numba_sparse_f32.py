r"""Vectorised row kernels (numba, the optional ``actlab[fast]`` extra) of
the sparse maps for float32 rows of moderate length (attention rows, class
scores): the forward of sparsemax, 1.5-entmax and alpha-entmax, and their
VJP, every pass over the row branch-free so that it runs on SIMD lanes.

They compute what :mod:`actlab.backends.numba_sparse` computes (the same
searches of :mod:`actlab.simplex.threshold`, float64 inside, rounded once),
reorganised for rows that fit in cache, where that kernel's compaction of
candidates and its scalar loops cost more than whole-row SIMD passes:

1. the row maximum from the float32 bits as order-preserving integers, with
   NaN detection (both signs of NaN sort outside the infinities);
2. the shifted row ``x - m`` into a float64 buffer (exact for float32 input);
3. the search on the whole row, each step one SIMD reduction: Michelot's
   pivots from the cut -1 (sparsemax; finite and exact); Newton on
   ``sqrt(F) - 1`` from the cut -2 with the closed form on the candidate
   set, accepted when it lies between the current cut and the smallest
   candidate, which makes it the exact root (1.5-entmax); bracketed Newton on
   ``F^beta - 1`` from ``sigma = 0`` (other alphas, with products for an
   integer ``1/beta`` and :mod:`actlab.backends.numba_vecmath` otherwise);
4. one pass writes the output.

The VJP kernel is in :mod:`actlab.backends.numba_sparse_f32_grad`; other
alphas on short rows go to the candidate kernel of
:mod:`actlab.backends.numba_sparse_f32_general`, which also picks the
kernel for an array (``forward_any``).

Reductions are compiled with ``reassoc`` (a reassociated, vectorised sum);
each summed term is one subtraction from the buffer, so no rewrite can change
how the shift is rounded. Output passes are compiled without it. Rows whose
maximum is not finite or that hold a NaN follow the non-finite-entry rules, as in
:mod:`actlab.backends.numba_sparse`. ``tests/test_sparse_fastpath.py``
checks both kernels against each other and the array-API search.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .numba_sparse import newton_step
from .numba_vecmath import integer_power, vexp, vlog

__all__ = ["forward_rows", "takes", "SHORT_MAX", "EXACT_MAX", "SPARSEMAX", "ENTMAX15", "GENERAL"]

SPARSEMAX, ENTMAX15, GENERAL = 0, 1, 2
SHORT_MAX = 4096
"""Longest rows these kernels take (longer ones: the screening kernel)."""
EXACT_MAX = 2048
"""Longest rows of sparsemax and 1.5-entmax taken by the forward kernel (at
4096 the screening kernel's compaction is already 1.2-1.3x faster)."""
_RED = {"reassoc", "contract"}
_MAX_STEPS = 200
_NEG_INF_KEY = np.int32(-2139095041)  # key of the bits of -inf
_POS_INF_KEY = np.int32(2139095040)  # key of the bits of +inf


@nb.njit(inline="always", error_model="numpy")
def _key(b):
    return b ^ ((b >> 31) & 0x7FFFFFFF)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _max_nan(bits):
    """``(max, has NaN)`` of a float32 row given as int32 bits."""
    hi = np.int32(-2147483648)
    lo = np.int32(2147483647)
    for j in range(bits.shape[0]):
        k = _key(bits[j])
        hi = k if k > hi else hi
        lo = k if k < lo else lo
    nan = hi > _POS_INF_KEY or lo < _NEG_INF_KEY
    return np.float64(np.int32(_key(hi)).view(np.float32)), nan


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _shift(x, m, buf):
    for j in range(x.shape[0]):
        buf[j] = np.float64(x[j]) - m


@nb.njit(nogil=True, cache=True, fastmath=_RED, error_model="numpy")
def _pivot_sums(buf, c):
    """Sum and count of the entries above ``c``."""
    s = 0.0
    k = 0
    for j in range(buf.shape[0]):
        v = buf[j]
        t = v > c
        s += v if t else 0.0
        k += t
    return s, k


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _sparsemax_cut(buf):
    """Michelot's pivots from the cut -1 (the largest output is at most 1)."""
    c = -1.0
    prev = -1
    while True:
        s, k = _pivot_sums(buf, c)
        c = (s - 1.0) / k
        if k == prev:
            return c
        prev = k


@nb.njit(nogil=True, cache=True, fastmath=_RED, error_model="numpy")
def _entmax15_sums(buf, c):
    """Over the entries above ``c``: sums of ``d = v - c`` and ``d^2``, count,
    sums of ``y = v/2`` and ``y^2``, and the smallest entry."""
    s1 = 0.0
    s2 = 0.0
    t1 = 0.0
    t2 = 0.0
    k = 0
    low = np.uint64(0)
    for j in range(buf.shape[0]):
        v = buf[j]
        d = v - c
        t = d > 0.0
        d = d if t else 0.0
        y = 0.5 * v if t else 0.0
        s1 += d
        s2 += d * d
        t1 += y
        t2 += y * y
        k += t
        # the smallest y <= 0 has the largest bits as an unsigned integer (a
        # float minimum would not vectorise)
        b = np.float64(y).view(np.uint64)
        low = b if b > low else low
    return s1, s2, k, t1, t2, 2.0 * np.uint64(low).view(np.float64)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _entmax15_cut(buf):
    """Newton on ``sqrt(F) - 1`` from the left (cut -2), until the closed form
    on the candidates ``{v > c}`` lies in ``[c, min candidate]``: then those
    are the support and the closed form is exact."""
    c = -2.0
    for _ in range(_MAX_STEPS):
        s1, s2, k, t1, t2, low = _entmax15_sums(buf, c)
        mu = t1 / k
        ss = t2 - k * mu * mu
        ce = 2.0 * (mu - math.sqrt(max((1.0 - ss) / k, 0.0)))
        if c <= ce <= low:
            return ce
        F = 0.25 * s2
        new = c + (F - math.sqrt(F)) / (0.25 * s1)
        if not new > c:  # Newton has converged to rounding
            return c
        c = new
    return c


@nb.njit(inline="always", error_model="numpy")
def _density(v, s, beta, qi, binv):
    """``(p, w)``: ``p = [1 + beta (v - s)]_+^(1/beta)`` and ``w = p / (1 + beta (v - s))``."""
    a = 1.0 + beta * (v - s)
    pos = a > 0.0
    a = a if pos else 1.0
    if qi == 4:  # alpha = 1.25
        w = a * a * a
    elif qi == 3:  # alpha = 4/3
        w = a * a
    elif qi == 2:
        w = a
    else:
        w = vexp(vlog(a) * (binv - 1.0))
    p = w * a
    return (p if pos else 0.0), (w if pos else 0.0)


@nb.njit(nogil=True, cache=True, fastmath=_RED, error_model="numpy")
def _moments(buf, s, beta):
    """Over the entries with ``a = 1 + beta (v - s) > 0``: the sums of
    ``a^k``, k = 0..4, and the smallest ``a`` (1 if none)."""
    P0 = 0.0
    P1 = 0.0
    P2 = 0.0
    P3 = 0.0
    P4 = 0.0
    low = np.float64(1.0).view(np.uint64)
    for j in range(buf.shape[0]):
        a = 1.0 + beta * (buf[j] - s)
        pos = a > 0.0
        a = a if pos else 0.0
        a2 = a * a
        P0 += 1.0 if pos else 0.0
        P1 += a
        P2 += a2
        P3 += a2 * a
        P4 += a2 * a2
        # positive floats order as their bits (a float minimum would not vectorise)
        b = np.float64(a if pos else 1.0).view(np.uint64)
        low = b if b < low else low
    return P0, P1, P2, P3, P4, np.uint64(low).view(np.float64)


@nb.njit(inline="always", error_model="numpy")
def _power_sum(qi, P0, P1, P2, P3, P4, t):
    """``(f, d)``: ``f = sum (a_i - t)^qi`` and ``d = -df/dt`` from the power sums."""
    if qi == 4:
        f = P4 - t * (4.0 * P3 - t * (6.0 * P2 - t * (4.0 * P1 - t * P0)))
        d = 4.0 * (P3 - t * (3.0 * P2 - t * (3.0 * P1 - t * P0)))
    else:
        f = P3 - t * (3.0 * P2 - t * (3.0 * P1 - t * P0))
        d = 3.0 * (P2 - t * (2.0 * P1 - t * P0))
    return f, d


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _polynomial_root(qi, P0, P1, P2, P3, P4, low):
    """The root ``t`` in ``[0, low]`` of ``sum (a_i - t)^qi = 1`` (qi = 3 or
    4) from the power sums of the ``a_i``; -1 if it lies beyond ``low`` (then
    ``f(low) > 1``: one evaluation says so). Newton from 0 on ``f^(1/k) - 1``
    (k = 4 for qi = 4, the 4-norm of ``a - t``; k = 2 for qi = 3): convex and
    decreasing on ``[0, low]``, so the iterates rise to the root, and nearly
    linear, so few steps (Newton on ``f - 1`` itself crawls from afar, by a
    factor ``1 - 1/qi`` a step). Returns ``(t, sum at t)``."""
    f, d = _power_sum(qi, P0, P1, P2, P3, P4, low)
    if f > 1.0:
        return -1.0, f
    k = 4.0 if qi == 4 else 2.0
    t = 0.0
    for _ in range(60):
        f, d = _power_sum(qi, P0, P1, P2, P3, P4, t)
        if not d > 0.0:
            return -1.0, f
        r = math.sqrt(f)
        step = k * (f - (r * math.sqrt(r) if qi == 4 else r)) / d  # k (f - f^(1 - 1/k)) / d
        t += step
        if t > low:
            return -1.0, f
        if not step > 1e-17 * t:
            break
    return t, f


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _densities(buf, s, beta, pbuf, wbuf):
    """p and w at sigma ``s`` through exp and log, into ``pbuf`` and ``wbuf``
    (compiled without ``reassoc``: the argument reduction of exp stays as written)."""
    binv = 1.0 / beta
    for j in range(buf.shape[0]):
        pbuf[j], wbuf[j] = _density(buf[j], s, beta, 0, binv)


@nb.njit(nogil=True, cache=True, fastmath=_RED, error_model="numpy")
def _sum2(a, b):
    sa = 0.0
    sb = 0.0
    for j in range(a.shape[0]):
        sa += a[j]
        sb += b[j]
    return sa, sb


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _general_sums(buf, s, beta, qi, pbuf, wbuf):
    """``(F, G)``: sums of p and w at sigma ``s`` through exp and log."""
    _densities(buf, s, beta, pbuf, wbuf)
    return _sum2(pbuf, wbuf)


@nb.njit(inline="always", error_model="numpy")
def _step(F, G, s, lo, hi, beta, qi):
    """:func:`actlab.backends.numba_sparse.newton_step`, with ``F^(1 - beta)``
    by square roots (qi = 4) or a cube root (qi = 3) instead of a power."""
    if G > 0.0 and (qi == 4 or qi == 3):
        r = math.sqrt(F) if qi == 4 else np.cbrt(F)
        new = s + (F - (r * math.sqrt(r) if qi == 4 else r * r)) / beta / G
        return new if lo <= new <= hi else 0.5 * (lo + hi)
    return newton_step(F, G, s, lo, hi, beta)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _general_sigma(buf, beta, qi, n_iter, pbuf, wbuf, hi):
    """Bracketed Newton on ``F^beta - 1`` (``F - 1`` for beta >= 1) from
    sigma = 0 up to ``hi``, as :func:`actlab.backends.numba_sparse._newton_sigma`:
    ``(sigma, sum of p at sigma)``."""
    lo = 0.0
    s = lo
    F = 1.0
    for _ in range(max(n_iter, 1)):
        if qi == 3 or qi == 4:
            # sum p and its slope from the power sums, and the closed form on
            # the candidates {a > 0}: exact once they are the support
            P0, P1, P2, P3, P4, low = _moments(buf, s, beta)
            F, G = (P4, P3) if qi == 4 else (P3, P2)
            if F >= 1.0:
                t, Ft = _polynomial_root(qi, P0, P1, P2, P3, P4, low)
                if t >= 0.0:
                    return s + t / beta, Ft
        else:
            F, G = _general_sums(buf, s, beta, qi, pbuf, wbuf)
        if F >= 1.0:
            lo = s
        else:
            hi = s
        new = _step(F, G, s, lo, hi, beta, qi)
        done = abs(new - s) <= 4e-16 * (1.0 + abs(s))
        s = new
        if done:
            break
    # F is the sum of p at s itself (the output is p / F), not Newton's first-order estimate, which is
    # far off where sigma cannot be resolved (near-ties with a large alpha) or when n_iter stopped the search
    if qi == 3 or qi == 4:
        P0, P1, P2, P3, P4, low = _moments(buf, s, beta)
        F = P4 if qi == 4 else P3
    else:
        F = _general_sums(buf, s, beta, qi, pbuf, wbuf)[0]
    return s, F


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _write(buf, y, kind, s, beta, qi, z):
    if kind == SPARSEMAX:
        for j in range(buf.shape[0]):
            d = buf[j] - s
            y[j] = d if d > 0.0 else 0.0
    elif kind == ENTMAX15:
        for j in range(buf.shape[0]):
            d = buf[j] - s
            y[j] = 0.25 * d * d if d > 0.0 else 0.0
    else:
        binv = 1.0 / beta
        inv = 1.0 / z
        for j in range(buf.shape[0]):
            p, _ = _density(buf[j], s, beta, qi, binv)
            y[j] = p * inv


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _special_row(x, y, nan):
    """A row with a NaN (all NaN) or a non-finite maximum (+inf entries share
    the mass; all -inf: zeros)."""
    cnt = 0
    for j in range(x.shape[0]):
        cnt += x[j] == np.inf
    for j in range(x.shape[0]):
        y[j] = np.nan if nan else (1.0 / cnt if x[j] == np.inf else 0.0)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _forward(x2, bits2, y2, m_out, s_out, kind, beta, n_iter):
    N, K = x2.shape
    buf = np.empty(K, np.float64)
    pbuf = np.empty(K, np.float64)
    wbuf = np.empty(K, np.float64)
    qi = integer_power(beta)
    hi = -math.expm1(-beta * math.log(max(K, 1))) / beta  # sigma of K equal entries
    for r in range(N):
        m, nan = _max_nan(bits2[r])
        if nan or not (m - m == 0.0):
            _special_row(x2[r], y2[r], nan)
            m_out[r] = np.nan if nan else m
            s_out[r] = np.nan
            continue
        _shift(x2[r], m, buf)
        z = 1.0
        if kind == SPARSEMAX:
            s = _sparsemax_cut(buf)
        elif kind == ENTMAX15:
            s = _entmax15_cut(buf)
        else:
            s, z = _general_sigma(buf, beta, qi, n_iter, pbuf, wbuf, hi)
        _write(buf, y2[r], kind, s, beta, qi, z)
        m_out[r] = m
        s_out[r] = s


def _kind(beta: float) -> int:
    return SPARSEMAX if beta == 1.0 else ENTMAX15 if beta == 0.5 else GENERAL


def takes(x: np.ndarray, beta: float) -> bool:
    """Whether the forward kernel takes ``x``: float32, and sparsemax or
    1.5-entmax with rows up to :data:`EXACT_MAX`, or an integer ``1/beta``
    of 3 or 4 with rows up to :data:`SHORT_MAX` (elsewhere its exp/log passes
    over the whole row cost more than the screening kernel's compaction)."""
    if x.dtype != np.float32 or not 0 < x.shape[-1] <= SHORT_MAX:
        return False
    if _kind(beta) != GENERAL:
        return x.shape[-1] <= EXACT_MAX
    return integer_power(beta) in (3, 4)


def forward_rows(x: np.ndarray, beta: float, n_iter: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, m, s)`` as :func:`actlab.backends.numba_sparse.forward_rows`, for
    a float32 array whose rows :func:`takes` accepts."""
    from .numba_sparse import rows, run_rows

    x2 = rows(x)
    y2 = np.empty_like(x2) if out is None else out.reshape(x2.shape)  # out: C-contiguous, x's shape and dtype
    m = np.empty(x2.shape[0], np.float64)
    s = np.empty(x2.shape[0], np.float64)
    run_rows(_forward, (x2, x2.view(np.int32), y2, m, s), _kind(beta), float(beta), int(n_iter))
    lead = x.shape[:-1] + (1,)
    return y2.reshape(x.shape), m.reshape(lead), s.reshape(lead)

