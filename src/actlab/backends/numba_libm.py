"""Full-range, branch-free float64 ``exp``, ``expm1``, ``log``, ``log1p`` and
``tanh`` for numba loops that must vectorise (libm's scalar calls stop LLVM's
loop vectoriser; these inline into the loop body as selects and packed
arithmetic). Each is within 1 ULP of the correctly rounded value over the whole
float64 range, subnormal inputs and results included, with IEEE limits at
+-0, +-inf and NaN. No fastmath: the error-free transformations below need
IEEE rounding. Compile the calling loop with ``error_model="numpy"``: with
numba's default (Python) error model the inlined divisions of ``llog``,
``llog1p`` and ``ltanh`` get a ZeroDivisionError branch, which stops the
vectoriser.

Methods:

* ``lexp``/``lexpm1``: Cody & Waite's reduction (Cody and Waite 1980,
  *Software Manual for the Elementary Functions*) ``d = k ln 2 + r``,
  ``|r| <= ln 2 / 2``, with ln 2 in two parts and the rounding error of ``r``
  kept as a correction (as in Tang 1989, "Table-driven implementation of the
  exponential function in IEEE floating-point arithmetic", ACM TOMS 15, and
  Tang 1992, "Table-driven implementation of the expm1 function", ACM TOMS 18);
  ``e^r - 1 - r`` from its Taylor polynomial to ``r^13``; the leading sums
  ``2^k + 2^k r`` (and ``- 1``) are error-free transformations (Dekker 1971,
  Knuth's TwoSum; Muller et al., *Handbook of Floating-Point Arithmetic*,
  2018), and in ``expm1`` also ``r^2/2`` (Veltkamp's split), so only the last
  addition rounds. ``2^k`` is applied as ``2^k1 2^k2`` with two
  normal powers, so that a subnormal result is rounded once; ``expm1`` is
  ``2^k2 (2^k1 e^r - 2^-k2)``.
* ``llog``/``llog1p``: ``v = 2^k f``, f in [sqrt(1/2), sqrt(2)),
  ``s = (f - 1)/(f + 1)`` and ``log f = (f - 1) - (h - s (h + R))``,
  ``h = (f - 1)^2 / 2``, ``R`` the series of ``2 atanh(s) - 2 s`` (the form of
  Sun's fdlibm, 1993; Muller, *Elementary Functions*, 3rd ed., 2016); subnormal ``v``
  are scaled by 2^54 first. ``log1p`` is ``log(u) + c/u`` with ``u = 1 + v``
  and ``c`` its exact rounding error (TwoSum).
* ``ltanh``: ``tanh|x| = -t / (2 + t)``, ``t = expm1(-2|x|)`` kept as an
  unevaluated sum ``t_hi + t_lo``, the quotient corrected by its exact
  residual (Dekker's product), so the few roundings do not add up.

The polynomials are evaluated by Estrin's scheme (Estrin 1960): a loop of
these is bound by the latency of its dependency chain, not by its arithmetic.
Measured against mpmath (tests/test_numba_libm.py) and 80-bit long double
(2e6 random points a regime): at most 0.76 ULP for ``lexp`` (subnormal
results; 0.61 normal), 0.68 ``lexpm1``, 0.82 ``llog``, 0.80 ``llog1p``,
0.61 ``ltanh``.

Example:
    >>> import math
    >>> from actlab.backends.numba_libm import lexp, lexpm1, llog, llog1p, ltanh
    >>> lexp(-745.0) == math.exp(-745.0), lexpm1(1e-300) == 1e-300, llog(5e-324) == math.log(5e-324)
    (True, True, True)
    >>> llog1p(-1.0), ltanh(-math.inf), lexp(math.inf)
    (-inf, -1.0, inf)
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .numba_vecmath import _E, _L, _LN2_HI, _LN2_LO, _LOG2E, _log_split, _pow2

__all__ = ["lexp", "lexpm1", "llog", "llog1p", "ltanh"]

_INF = math.inf
_NAN = math.nan
_L10 = 2.0 / 21.0  # one term past vlog's series: truncation below 1e-18 relative
_TWO54 = 2.0**54
_TINY_NORMAL = 2.0**-1022
_SPLIT = 134217729.0  # 2^27 + 1: Veltkamp's splitting constant


@nb.njit(inline="always", error_model="numpy")
def _two_sum(a, b):
    """Knuth: ``a + b = s + t`` exactly."""
    s = a + b
    z = s - a
    return s, (a - (s - z)) + (b - z)


@nb.njit(inline="always", error_model="numpy")
def _fast_two_sum(a, b):
    """Dekker: ``a + b = s + t`` exactly when ``|a| >= |b|`` (or a = 0)."""
    s = a + b
    return s, b - (s - a)


@nb.njit(inline="always", error_model="numpy")
def _split(a):
    """Veltkamp: ``a = a_hi + a_lo`` with 26-bit halves (|a| < 2^995)."""
    t = _SPLIT * a
    a_hi = t - (t - a)
    return a_hi, a - a_hi


@nb.njit(inline="always", error_model="numpy")
def _exp_parts(d):
    """``(k1, k2, r, r^2, c, p)``: ``e^d = 2^k1 2^k2 e^(r + c)`` for ``d`` clamped to
    [-746, 710] (NaN passes), ``c`` the rounding error of ``r``,
    ``e^r = 1 + r + r^2/2 + r^3 p``, ``k1 = floor(k/2)`` and ``k2 = k - k1``
    (both normal powers)."""
    d = d if not (d < -746.0) else -746.0
    d = d if not (d > 710.0) else 710.0
    k = np.floor(d * _LOG2E + 0.5)
    hi = d - k * _LN2_HI  # exact: k ln2_hi has 21 trailing zero bits
    lo = k * _LN2_LO
    r = hi - lo
    c = (hi - r) - lo  # r + c = hi - lo to within 2^-100 relative
    r2 = r * r  # Estrin's scheme: a short dependency chain (the loop is latency-bound)
    r4 = r2 * r2
    p = (((_E[3] + r * _E[4]) + r2 * (_E[5] + r * _E[6]))
         + r4 * ((_E[7] + r * _E[8]) + r2 * (_E[9] + r * _E[10]))
         + (r4 * r4) * ((_E[11] + r * _E[12]) + r2 * _E[13]))
    k1 = np.floor(k * 0.5)
    return k1, k - k1, r, r2, c, p


@nb.njit(inline="always", error_model="numpy")
def lexp(d):
    """``exp(d)`` for any float64 ``d`` (NaN -> NaN, -inf -> 0, overflow -> inf)."""
    k1, k2, r, r2, c, p = _exp_parts(d)
    w = r2 * (0.5 + r * p) + (c + c * r)  # e^(r + c) - 1 - r to first order in c
    s, t = _fast_two_sum(1.0, r)
    return ((s + (t + w)) * _pow2(k1)) * _pow2(k2)


@nb.njit(inline="always", error_model="numpy")
def _expm1_pair(d):
    """``expm1(d) = hi + lo`` (``hi`` is the rounded value)."""
    k1, k2, r, r2, c, p = _exp_parts(d)
    r_hi, r_lo = _split(r)
    h_lo = 0.5 * r_lo * (r_hi + r)  # r^2/2 = h + h_lo exactly, h = r_hi^2/2
    a = _pow2(k1)
    m, m_lo = _two_sum(a, -_pow2(-k2))  # 2^k1 - 2^-k2 = m + m_lo exactly
    s, t = _fast_two_sum(m, a * r)
    s, t2 = _fast_two_sum(s, a * (0.5 * r_hi * r_hi))
    tail = (t + t2) + (m_lo + a * ((h_lo + r2 * (r * p)) + (c + c * r)))
    hi = s + tail
    scale = _pow2(k2)
    return hi * scale, ((s - hi) + tail) * scale


@nb.njit(inline="always", error_model="numpy")
def lexpm1(d):
    """``expm1(d) = e^d - 1`` for any float64 ``d`` (+-0 kept, -inf -> -1)."""
    hi, _ = _expm1_pair(d)
    return d if d == 0.0 else hi


@nb.njit(inline="always", error_model="numpy")
def _log_corrected(u, c):
    """``log(u) + c`` for ``u >= 0`` (any float64; ``c`` a tiny correction)."""
    sub = u < _TINY_NORMAL
    kf, f = _log_split(u * _TWO54 if sub else u)
    kf = kf - 54.0 if sub else kf
    g = f - 1.0  # exact (Sterbenz)
    s = g / (2.0 + g)
    z = s * s
    z2 = z * z
    z4 = z2 * z2
    q = (((_L[1] + z * _L[2]) + z2 * (_L[3] + z * _L[4]))
         + z4 * ((_L[5] + z * _L[6]) + z2 * (_L[7] + z * _L[8]))
         + (z4 * z4) * (_L[9] + z * _L10))
    h = 0.5 * g * g
    hi, lo = _fast_two_sum(kf * _LN2_HI, g)  # exact: |k ln2_hi| >= |g| unless k = 0
    res = hi + (lo - (h - (s * (h + z * q) + (kf * _LN2_LO + c))))
    res = res if not (u == 0.0) else -_INF
    res = res if not (u == _INF) else _INF
    return res if not ((u < 0.0) | (u != u)) else _NAN


@nb.njit(inline="always", error_model="numpy")
def llog(v):
    """``log(v)`` for any float64 ``v`` (+-0 -> -inf, negative -> NaN)."""
    return _log_corrected(v, 0.0)


@nb.njit(inline="always", error_model="numpy")
def llog1p(v):
    """``log(1 + v)`` for any float64 ``v`` (+-0 kept, -1 -> -inf, < -1 -> NaN)."""
    u, c = _two_sum(1.0, v)
    c = c if u < _INF else 0.0
    res = _log_corrected(u, c / u)
    return v if v == 0.0 else res


@nb.njit(inline="always", error_model="numpy")
def ltanh(x):
    """``tanh(x)`` for any float64 ``x`` (odd; tiny -> x, +-inf -> +-1)."""
    ax = abs(x)
    t, t_lo = _expm1_pair(-2.0 * ax)  # in (-1, 0]
    den, den_lo = _fast_two_sum(2.0, t)
    den_lo = den_lo + t_lo
    q = -t / den
    # residual -t - q den exactly (Dekker's product), then one Newton correction
    q_hi, q_lo = _split(q)
    d_hi, d_lo = _split(den)
    e = (((-t - q_hi * d_hi) - q_hi * d_lo) - q_lo * d_hi) - q_lo * d_lo
    q = q + ((e - t_lo) - q * den_lo) * (0.5 + 0.5 * q)  # 1/den = (1 + q)/2: no second division
    q = -q if x < 0.0 else q
    return q if ax >= 2.0**-27 else x  # tanh x = x (1 - x^2/3 ...) rounds to x; +-0 kept
