r"""The forward of alpha-entmax for other alphas (not 1, 1.5 or 2) on short
float32 rows (numba, the optional ``actlab[fast]`` extra): the bracketed
Newton search of :func:`actlab.backends.numba_sparse_f32._general_sigma` on
the row's *candidates* only, the entries within ``1/beta`` of the maximum
(no other entry can be in the support: the largest output is at most 1).

Whole-row passes cost one ``exp`` and one ``log`` per entry and step, most
of them on entries far outside the support (an attention row of 128 standard
normal scores has about 16 candidates and 5 support entries at alpha =
1.75). Here, per row:

1. the maximum and NaN test from the float32 bits
   (:func:`~actlab.backends.numba_sparse_f32._max_nan`);
2. one branch-free pass gathers the candidates ``d = x - m > -1/beta``
   (float64, exact) and their columns;
3. Newton on ``F^beta - 1`` from sigma = 0 over the candidates, each
   step's densities vectorised (:mod:`actlab.backends.numba_vecmath`),
   dropping the candidates at or below ``lo - 1/beta`` whenever the lower
   bound ``lo`` rises (Newton from the left on the convex ``F`` only rises,
   so they stay out);
4. zeros, then the candidates' outputs scattered to their columns, divided
   by their sum (the sum of what is written, as the other kernels).

:func:`forward_any` picks the kernel for an array: the whole-row kernels of
:mod:`actlab.backends.numba_sparse_f32` where they take it, this one for
other alphas, the screening kernel :mod:`actlab.backends.numba_sparse` for
the rest (float64, long rows).

Same iterates and stopping rule as the whole-row kernel (the terms it adds
for entries outside the candidates are exact zeros), so the same values;
``tests/test_sparse_f32_kernels.py`` checks it against the screening kernel.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .numba_sparse import newton_step
from .numba_sparse_f32 import GENERAL, _kind, _max_nan, _special_row, _sum2, takes
from .numba_sparse_f32 import forward_rows as whole_rows
from .numba_vecmath import integer_power, vexp_estrin, vlog_estrin

__all__ = ["forward_rows", "forward_any", "takes_candidates", "CANDIDATE_MAX"]

CANDIDATE_MAX = 1024
"""Longest rows of the candidate kernel (longer ones: the screening kernel,
whose group maxima cut the gathering pass; 1.7-2x faster here up to 1000
columns, measured)."""

_LANES = 8
"""Candidate lists are padded to a multiple of this: two halves of whole
4-double vectors (no scalar remainder loop)."""


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _gather(x, m, cut, buf, idx):
    """The entries with ``x - m > cut`` (shifted) and their columns, into
    ``buf`` and ``idx``; returns their count (branch-free stores)."""
    n = 0
    for j in range(x.shape[0]):
        v = np.float64(x[j]) - m
        buf[n] = v
        idx[n] = j
        n += v > cut
    return n


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _drop_below(buf, idx, n, cut):
    """Keep the first ``n`` candidates above ``cut`` (in order); returns their count."""
    k = 0
    for i in range(n):
        v = buf[i]
        buf[k] = v
        idx[k] = idx[i]
        k += v > cut
    return k


@nb.njit(inline="always", error_model="numpy")
def _density(v, s, beta, e):
    """``(p, w)``: ``p = [1 + beta (v - s)]_+^(1/beta)`` and ``w = p / (1 + beta
    (v - s))``, as ``exp(e log a)``, ``e = 1/beta - 1``."""
    a = 1.0 + beta * (v - s)
    pos = a > 0.0
    a = a if pos else 1.0
    w = vexp_estrin(vlog_estrin(a) * e)
    return (w * a if pos else 0.0), (w if pos else 0.0)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _densities(buf, n_pad, s, beta, pbuf, wbuf):
    """p and w at sigma ``s`` of ``buf[:n_pad]`` into ``pbuf`` and ``wbuf``,
    the two halves in one loop (two independent chains per step; compiled
    without ``reassoc``, so exp's argument reduction stays as written)."""
    e = 1.0 / beta - 1.0
    h = n_pad // 2
    for j in range(h):
        pbuf[j], wbuf[j] = _density(buf[j], s, beta, e)
        pbuf[j + h], wbuf[j + h] = _density(buf[j + h], s, beta, e)


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _pad(buf, n):
    """``buf[n:]`` up to a multiple of :data:`_LANES` filled with -inf (no
    density): the vectorised loops then never run a scalar remainder.
    Returns the padded length."""
    n_pad = (n + _LANES - 1) // _LANES * _LANES
    for i in range(n, n_pad):
        buf[i] = -np.inf
    return n_pad


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _sigma(buf, idx, n, hi, beta, n_iter, pbuf, wbuf):
    """Bracketed Newton over the candidates ``buf[:n]`` on ``[0, hi]``:
    ``(sigma, n)`` with ``n`` the candidates left (those above the last lower
    bound's cut).

    Stops when a step is below 4e-16 relative, or earlier when two Newton
    steps in a row show quadratic convergence (``e' ~ C e^2``) and the
    error left after the last one, ``d_k^3 / d_(k-1)^2``, is below 1e-17
    relative: that saves the step that would only confirm it."""
    binv = 1.0 / beta
    lo = 0.0
    s = lo
    prev = 0.0  # the last Newton step from the left (0: none)
    for _ in range(max(n_iter, 1)):
        n_pad = _pad(buf, n)
        _densities(buf, n_pad, s, beta, pbuf, wbuf)
        F, G = _sum2(pbuf[:n_pad], wbuf[:n_pad])
        if F >= 1.0:
            lo = s
            n = _drop_below(buf, idx, n, lo - binv)
        else:
            hi = s
        new = newton_step(F, G, s, lo, hi, beta)
        step = abs(new - s)
        scale = 1.0 + abs(s)
        done = step <= 4e-16 * scale or step * step * step <= 1e-17 * scale * prev * prev
        prev = step if F >= 1.0 and lo < new < hi else 0.0
        s = new
        if done:
            break
    return s, n


@nb.njit(nogil=True, cache=True, error_model="numpy")
def _forward(x2, bits2, y2, m_out, s_out, beta, n_iter):
    N, K = x2.shape
    size = K + _LANES
    buf = np.empty(size, np.float64)
    idx = np.empty(size, np.int64)
    pbuf = np.empty(size, np.float64)
    wbuf = np.empty(size, np.float64)
    cut = -1.0 / beta
    hi = -math.expm1(-beta * math.log(max(K, 1))) / beta  # sigma of K equal entries
    for r in range(N):
        m, nan = _max_nan(bits2[r])
        y = y2[r]
        if nan or not (m - m == 0.0):
            _special_row(x2[r], y, nan)
            m_out[r] = np.nan if nan else m
            s_out[r] = np.nan
            continue
        n = _gather(x2[r], m, cut, buf, idx)
        s, n = _sigma(buf, idx, n, hi, beta, n_iter, pbuf, wbuf)
        n_pad = _pad(buf, n)
        _densities(buf, n_pad, s, beta, pbuf, wbuf)
        inv = 1.0 / _sum2(pbuf[:n_pad], wbuf[:n_pad])[0]  # normalised by the sum of what is written
        for j in range(K):
            y[j] = 0.0
        for i in range(n):
            y[idx[i]] = pbuf[i] * inv
        m_out[r] = m
        s_out[r] = s


def forward_rows(x: np.ndarray, beta: float, n_iter: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, m, s)`` as :func:`actlab.backends.numba_sparse.forward_rows`,
    for a float32 array and ``beta`` not 1 or 0.5."""
    from .numba_sparse import rows, run_rows

    x2 = rows(x)
    y2 = np.empty_like(x2) if out is None else out.reshape(x2.shape)  # out: C-contiguous, x's shape and dtype
    m = np.empty(x2.shape[0], np.float64)
    s = np.empty(x2.shape[0], np.float64)
    run_rows(_forward, (x2, x2.view(np.int32), y2, m, s), float(beta), int(n_iter))
    lead = x.shape[:-1] + (1,)
    return y2.reshape(x.shape), m.reshape(lead), s.reshape(lead)


def takes_candidates(x: np.ndarray, beta: float) -> bool:
    """Whether :func:`forward_rows` takes ``x`` in :func:`forward_any`:
    float32 rows up to :data:`CANDIDATE_MAX` of alpha-entmax with ``1/beta``
    not an integer of 3 or 4 (the power sums of the whole-row kernel)."""
    return (x.dtype == np.float32 and 0 < x.shape[-1] <= CANDIDATE_MAX and _kind(beta) == GENERAL
            and integer_power(beta) not in (3, 4))


def forward_any(x: np.ndarray, beta: float, n_iter: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, m, s)`` by the fastest kernel that takes ``x``: the whole-row
    float32 kernel (:func:`actlab.backends.numba_sparse_f32.takes`), the
    candidate kernel (:func:`takes_candidates`), else the screening kernel
    :func:`actlab.backends.numba_sparse.forward_rows`; ``y`` is written into
    ``out`` when given (C-contiguous, ``x``'s shape and dtype)."""
    if takes(x, beta):
        return whole_rows(x, beta, n_iter, out)
    if takes_candidates(x, beta):
        return forward_rows(x, beta, n_iter, out)
    from .numba_sparse import forward_rows as screening

    return screening(x, beta, n_iter, out)
