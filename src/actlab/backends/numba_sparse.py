r"""Compiled row kernels (numba, the optional ``actlab[fast]`` extra) for the
sparse maps on CPU arrays: the threshold search of
:mod:`actlab.simplex.threshold`, one row at a time, fused with the output
pass, and the VJP in two passes.

Per row, in float64 whatever the input precision (rounded once at the end):

1. one pass finds the maximum and keeps a superset of the candidates, the
   entries above the running maximum minus 1/beta (the largest output is at
   most 1, so nothing below the final maximum minus 1/beta is in the support;
   Condat 2016's one-pass filter);
2. the search of :mod:`~actlab.simplex.threshold` on the candidates, which
   shrink as the lower bound rises: Michelot's pivots (sparsemax), Newton
   from the left then the closed form (1.5-entmax), bracketed Newton (other
   alphas);
3. one pass writes the output.

The VJP kernel is in :mod:`actlab.backends.numba_entmax_grad`.

Without numba, or for traced code, GPU tensors and other array types, the
array-API code in :mod:`actlab.simplex.threshold` runs instead; the tests
check that both give the same values.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import numba as nb
import numpy as np

__all__ = ["forward_rows", "run_rows", "rows", "kind", "integer_power", "SPARSEMAX", "ENTMAX15", "GENERAL"]

SPARSEMAX, ENTMAX15, GENERAL = 0, 1, 2
_MAX_STEPS = 200
"""Newton steps before 1.5-entmax settles for the Newton iterate."""


@nb.njit(cache=True, nogil=True)
def _keep_above(buf, n, cut):
    """Compact ``buf[:n]`` to its entries above ``cut``; returns the new count."""
    j = 0
    for i in range(n):
        if buf[i] > cut:
            buf[j] = buf[i]
            j += 1
    return j


@nb.njit(cache=True, nogil=True)
def _neumaier(t, total, comp):
    """One step of Neumaier's compensated sum: ``(total + t, its rounding error, accumulated)``."""
    s = total + t
    if abs(total) >= abs(t):
        comp += (total - s) + t
    else:
        comp += (t - s) + total
    return s, comp


@nb.njit(cache=True, nogil=True)
def _compensated_sum(buf, n, shift, square):
    """``sum (buf[:n] - shift)`` (of the squares with ``square``), compensated
    (Neumaier 1974): the final sums of the exact cuts, so that the output
    sums to 1 within a few ulps on rows with a large support."""
    total = 0.0
    comp = 0.0
    for i in range(n):
        d = buf[i] - shift
        total, comp = _neumaier(d * d if square else d, total, comp)
    return total + comp


@nb.njit(cache=True, nogil=True)
def _select(a, n, k):
    """Quickselect: reorder ``a[:n]`` so that ``a[:k] <= a[k] <= a[k+1:n]``."""
    lo = 0
    hi = n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break


@nb.njit(cache=True, nogil=True)
def _sparsemax_cut(buf, n):
    """Michelot's pivots: each step drops at least one entry or stops."""
    while True:
        s = 0.0
        for i in range(n):
            s += buf[i]
        c = (s - 1.0) / n
        m = _keep_above(buf, n, c)
        if m == n:  # the support: its cut from a compensated sum
            return (_compensated_sum(buf, n, 0.0, False) - 1.0) / n
        n = m


@nb.njit(cache=True, nogil=True)
def _entmax15_cut(buf, n):
    c = -2.0
    for _ in range(_MAX_STEPS):
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            d = buf[i] - c
            s1 += d
            s2 += d * d
        F = 0.25 * s2  # Newton on sqrt(F) - 1: convex, nearly linear
        c = c + (F - math.sqrt(F)) / (0.25 * s1)
        m = _keep_above(buf, n, c)
        if m == n:  # support stable: try the closed form on it
            mu = 0.5 * _compensated_sum(buf, n, 0.0, False) / n
            ss = 0.25 * _compensated_sum(buf, n, 2.0 * mu, True)
            ce = 2.0 * (mu - math.sqrt(max((1.0 - ss) / n, 0.0)))
            ok = True
            for i in range(n):
                if buf[i] < ce:
                    ok = False
            if ok:
                return ce
        n = m
    return c  # Newton has converged to rounding by now


@nb.njit(cache=True, nogil=True)
def integer_power(beta):
    """``1/beta`` when it is an integer up to 64 (then powers are products), else 0."""
    binv = 1.0 / beta
    return int(round(binv)) if abs(binv - round(binv)) <= 1e-9 and binv <= 64 else 0


@nb.njit(cache=True, nogil=True)
def _power(u, beta, qi):
    """``(1 + u)^(1/beta)`` for ``u > -1``: by multiplication when 1/beta is
    the integer ``qi`` (> 0), else through ``exp(log1p(u)/beta)``."""
    if qi > 0:
        v = 1.0 + u
        p = 1.0
        while qi > 0:
            if qi & 1:
                p *= v
            v *= v
            qi >>= 1
        return p
    return math.exp(math.log1p(u) / beta)


@nb.njit(cache=True, nogil=True)
def _sums(buf, n, beta, qi, s):
    """``(F, G)``: sum of p and of p/(1 + beta u) at sigma ``s``."""
    F = 0.0
    G = 0.0
    for i in range(n):
        u = beta * (buf[i] - s)
        if u > -1.0:
            p = _power(u, beta, qi)
            F += p
            G += p / (1.0 + u)
    return F, G


@nb.njit(cache=True, nogil=True)
def _mass(buf, n, beta, qi, s):
    """The sum of p at sigma ``s``, compensated: the output's normaliser."""
    total = 0.0
    comp = 0.0
    for i in range(n):
        u = beta * (buf[i] - s)
        if u > -1.0:
            total, comp = _neumaier(_power(u, beta, qi), total, comp)
    return total + comp


@nb.njit(cache=True, nogil=True)
def newton_step(F, G, s, lo, hi, beta):
    """The next sigma of the bracketed Newton search: a Newton step on
    ``F^beta - 1`` (beta < 1) or ``F - 1`` (beta >= 1) with slope ``G``,
    bisection of ``[lo, hi]`` where that step leaves the bracket or the
    slope vanishes."""
    if G > 0.0:
        new = s + ((F - F ** (1.0 - beta)) / beta if beta < 1.0 else F - 1.0) / G
    else:
        new = 0.5 * (lo + hi)
    if not (lo <= new <= hi):
        new = 0.5 * (lo + hi)
    return new


@nb.njit(cache=True, nogil=True)
def _newton_sigma(buf, n, beta, qi, n_iter, lo, hi, tol):
    """Bracketed Newton on ``F^beta - 1`` (convex and nearly linear for
    beta < 1; on ``F - 1`` for beta >= 1) from the lower bound ``lo``,
    dropping entries below the cut as ``lo`` rises. Returns
    ``(sigma, lo, n)`` with ``lo`` the last sigma found with F >= 1."""
    binv = 1.0 / beta
    s = lo
    for _ in range(max(n_iter, 1)):
        F, G = _sums(buf, n, beta, qi, s)
        if F >= 1.0:
            lo = s
            n = _keep_above(buf, n, lo - binv)
        else:
            hi = s
        new = newton_step(F, G, s, lo, hi, beta)
        done = abs(new - s) <= tol * (1.0 + abs(s))
        s = new
        if done:
            break
    return s, lo, n


@nb.njit(cache=True, nogil=True)
def _general_sigma(buf, n, beta, qi, n_iter, K):
    """Sigma for other alphas; returns ``(sigma, sum of p at sigma)``.

    While the candidates are many, the solution on the ``t`` largest of them
    (found by partial selection, ``t`` growing) is a cheap lower bound: a
    subset's solution never exceeds the whole's."""
    binv = 1.0 / beta
    hi = -math.expm1(-beta * math.log(max(K, 1))) / beta
    lo = 0.0
    t = 64
    while n > 16 * t:
        _select(buf, n, n - t)
        lo = _newton_sigma(buf[n - t : n].copy(), t, beta, qi, 4, lo, hi, 1e-3)[1]
        n = _keep_above(buf, n, lo - binv)
        t *= 4
    s, lo, n = _newton_sigma(buf, n, beta, qi, n_iter, lo, hi, 4e-16)
    # The output is p / F, F the sum of the p written at s (Newton's first-order estimate of it is far off
    # where sigma cannot be resolved: near-ties with a large alpha, whose p jumps between adjacent floats)
    F = _mass(buf, n, beta, qi, s)
    return s, F, lo


@nb.njit(cache=True, nogil=True)
def _group_maxima(x, gm):
    """Maxima of the strided groups ``{j, j+G, j+2G, ...}`` (NaN ignored) and
    whether ``x`` holds a NaN; branch-free, so it vectorises."""
    G = gm.shape[0]
    K = x.shape[0]
    acc = np.full(G, -np.inf, dtype=x.dtype)  # in x's dtype, one lane per group
    nan = np.zeros(G, dtype=np.int32)
    full = K // G * G
    for i in range(0, full, G):
        for j in range(G):
            v = x[i + j]
            g = acc[j]
            acc[j] = v if v > g else g
            nan[j] |= v != v
    for i in range(full, K):
        v = x[i]
        nan[0] |= v != v
        if v > acc[i - full]:
            acc[i - full] = v
    for j in range(G):
        gm[j] = acc[j]
    return nan.sum() != 0


@nb.njit(cache=True, nogil=True)
def _cut(buf, n, kind, beta, qi, n_iter, K):
    """The solution on ``buf[:n]`` (shifted, maximum 0), a cut below which
    nothing is support (from a verified lower bound), and the sum of p:
    ``(solution, cut, sum)``."""
    if kind == SPARSEMAX:
        c = _sparsemax_cut(buf, n)
        return c, c, 1.0
    if kind == ENTMAX15:
        c = _entmax15_cut(buf, n)
        return c, c, 1.0
    s, z, lo = _general_sigma(buf, n, beta, qi, n_iter, K)
    return s, lo - 1.0 / beta, z


@nb.njit(cache=True, nogil=True)
def _collect(x, m, cut, gm, G, buf):
    """The entries with ``x - m > cut`` into ``buf``; when few groups (maxima
    ``gm``, ``G`` of them, 0 if none) can hold one, only those are read."""
    K = x.shape[0]
    n = 0
    hot = 0
    for j in range(G):
        hot += gm[j] - m > cut
    if G == 0 or 4 * hot > G:
        for i in range(K):
            v = np.float64(x[i]) - m
            if v > cut:
                buf[n] = v
                n += 1
        return n
    full = K // G * G
    for j in range(G):
        if gm[j] - m > cut:
            for i in range(j, full, G):
                v = np.float64(x[i]) - m
                if v > cut:
                    buf[n] = v
                    n += 1
    for i in range(full, K):
        v = np.float64(x[i]) - m
        if v > cut:
            buf[n] = v
            n += 1
    return n


@nb.njit(cache=True, nogil=True)
def _row(x, y, kind, beta, qi, n_iter, buf, gm):
    """One row: writes ``y`` and returns ``(max, solution)`` (cut or sigma).

    The group maxima are a subset of the row, so their solution bounds the
    row's from below: only entries above its cut are collected."""
    K = x.shape[0]
    binv = 1.0 / beta
    G = gm.shape[0]
    m = -np.inf
    if K > 2 * G:
        nan = _group_maxima(x, gm)
        for j in range(G):
            m = max(m, gm[j])
    else:  # short rows: one plain pass
        nan = False
        for i in range(K):
            v = np.float64(x[i])
            nan |= v != v
            m = v if v > m else m
    if nan or m == np.inf or m == -np.inf:
        cnt = 0
        for i in range(K):
            if x[i] == np.inf:
                cnt += 1
        for i in range(K):
            y[i] = np.nan if nan else (1.0 / cnt if x[i] == np.inf else 0.0)
        return (np.nan if nan else m), np.nan
    cut = -binv
    if K > 2 * G:
        g = 0
        for j in range(G):
            if gm[j] - m > cut:
                buf[g] = gm[j] - m
                g += 1
        cut = _cut(buf, g, kind, beta, qi, 8, G)[1]
    n = _collect(x, m, cut, gm, G if K > 2 * G else 0, buf)
    s, _, z = _cut(buf, n, kind, beta, qi, n_iter, K)
    if kind == SPARSEMAX:  # one loop per kind, so each vectorises
        for i in range(K):
            d = (np.float64(x[i]) - m) - s
            y[i] = d if d > 0.0 else 0.0
    elif kind == ENTMAX15:
        for i in range(K):
            d = (np.float64(x[i]) - m) - s
            y[i] = 0.25 * d * d if d > 0.0 else 0.0
    else:  # (entries at or below the cut are not in z: an unconverged s, n_iter small, may lie below it)
        for i in range(K):
            d = np.float64(x[i]) - m
            u = beta * (d - s)
            y[i] = _power(u, beta, qi) / z if u > -1.0 and d > cut else 0.0
    return m, s


@nb.njit(cache=True, nogil=True)
def _forward(x2, y2, m_out, s_out, kind, beta, n_iter):
    N, K = x2.shape
    buf = np.empty(K + 1, np.float64)
    gm = np.empty(64, np.float64)
    qi = integer_power(beta)
    for r in range(N):
        m, s = _row(x2[r], y2[r], kind, beta, qi, n_iter, buf, gm)
        m_out[r] = m
        s_out[r] = s


def kind(beta: float) -> int:
    return SPARSEMAX if beta == 1.0 else ENTMAX15 if beta == 0.5 else GENERAL


def rows(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.reshape(-1, a.shape[-1]))


_POOL: list[Any] = [None, 0]
PARALLEL_MIN = 1 << 16
"""Arrays with fewer entries run on the calling thread."""


def _threads() -> int:
    torch = sys.modules.get("torch")
    return max(1, torch.get_num_threads() if torch is not None else (os.cpu_count() or 1))


def run_rows(kernel: Any, arrays: tuple[np.ndarray, ...], *args: Any) -> None:
    """``kernel(*arrays, *args)`` over row chunks, on the threads torch would
    use (the kernels release the GIL)."""
    n_rows, size = arrays[0].shape[0], arrays[0].size
    if size < PARALLEL_MIN:
        kernel(*arrays, *args)
        return
    n = min(_threads(), n_rows)
    if n <= 1:
        kernel(*arrays, *args)
        return
    if _POOL[1] != n:
        from concurrent.futures import ThreadPoolExecutor

        _POOL[0], _POOL[1] = ThreadPoolExecutor(n), n
    bounds = np.linspace(0, n_rows, n + 1).astype(int)
    jobs = [
        _POOL[0].submit(kernel, *(a[lo:hi] for a in arrays), *args)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        if hi > lo
    ]
    for job in jobs:
        job.result()


def forward_rows(x: np.ndarray, beta: float, n_iter: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, m, s)`` for a float32/float64 NumPy array along its last axis:
    the map, the row maxima and the solutions (cut for sparsemax and
    1.5-entmax, sigma otherwise), ``m`` and ``s`` with the axis kept."""
    x2 = rows(x)
    y2 = np.empty_like(x2) if out is None else out.reshape(x2.shape)  # out: C-contiguous, x's shape and dtype
    m = np.empty(x2.shape[0], np.float64)
    s = np.empty(x2.shape[0], np.float64)
    run_rows(_forward, (x2, y2, m, s), kind(beta), float(beta), int(n_iter))
    lead = x.shape[:-1] + (1,)
    return y2.reshape(x.shape), m.reshape(lead), s.reshape(lead)
