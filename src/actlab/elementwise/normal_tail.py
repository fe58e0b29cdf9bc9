"""The standard normal distribution for GELU, accurate to a few ULPs in
float64 on every namespace (scipy's erfc is 100+ ULPs off in its tail and
underflows early; erfcx is up to 7 ULPs off near 0).

* ``upper_tail(t)``: Q(t) = P(N > t) = exp(-t^2/2) F / (1 + a t) for
  0 <= t <= 40, F = 1/2 + sigma H(1 - sigma), sigma = kappa t/(L + t) (an
  affine map of Weideman's variable Y = (L - t)/(L + t)) and H a polynomial
  fitted once by ``scripts/fit_constants.py`` (mpmath); t^2 is formed
  exactly, and exp(-t^2/2) is scaled where it would be subnormal.
* ``gelu64`` and ``gelu_derivative64``: x Phi(x) and Phi(x) + x phi(x); the
  derivative near its root x0 = -0.7518 is exp(-x^2/2) (x - x0) R(x), with
  x - x0 exact and R fitted by the same script, so it keeps its relative
  precision where Phi(x) and x phi(x) cancel.
* ``gelu_plain``: x Phi(x) with the backend's erfc, for float32 input
  evaluated in float64 (accurate enough there).

Reference: J. A. C. Weideman, Computation of the complex error function,
SIAM J. Numer. Anal. 31 (1994) 1497-1518 (the variable Y).
"""

from __future__ import annotations

from .. import _special
from .._xp import exp_scaled, mul_exact, square_exact, two_prod, two_sum
from .constants import (
    GELU_DERIV_POLY,
    GELU_DERIV_WINDOW,
    GELU_ROOT,
    INV_SQRT_2PI,
    NORMAL_TAIL_A,
    NORMAL_TAIL_KAPPA,
    NORMAL_TAIL_L,
    NORMAL_TAIL_POLY,
)

__all__ = ["upper_tail", "gelu64", "gelu_derivative64", "gelu_plain", "gelu_derivative_plain"]

SQRT1_2 = 0.7071067811865476
_TOP = 40.0  # Q(40) ~ 4e-350: zero in float64 even scaled

# Values below are double words (hi, lo): hi + lo carries about twice the
# working precision, so that each result is rounded about once at the end.


def _horner(coeffs, s):
    acc = coeffs[0]
    for c in coeffs[1:]:
        acc = acc * s + c
    return acc


def _mul(a, b, xp):
    """(a_hi + a_lo) (b_hi + b_lo) as a double word."""
    m, me = two_prod(a[0], b[0], xp=xp)
    return m, me + (a[0] * b[1] + a[1] * b[0])


def _add(a, b):
    s, se = two_sum(a[0], b[0])
    return s, se + (a[1] + b[1])


def gaussian_factor(t, *, xp):
    """``(es, es_lo, scale)``: exp(-t^2/2) = (es + es_lo) * scale, t^2 exact,
    es normal (see ``exp_scaled``)."""
    p, pe = square_exact(t, xp=xp)
    return exp_scaled(-0.5 * p, -0.5 * pe, xp=xp)


def tail_ratio(t, *, xp):
    """W(t) = Q(t) exp(t^2/2) for 0 <= t <= 40 as a double word
    (W(0) = 1/2, W(t) ~ phi(0)/t): W = F / (1 + a t),
    F = 1/2 + sigma H(1 - sigma), sigma = kappa t/(L + t)."""
    sigma = NORMAL_TAIL_KAPPA * t / (NORMAL_TAIL_L + t)
    f = two_sum(0.5, sigma * _horner(NORMAL_TAIL_POLY, 1.0 - sigma))
    at, ate = mul_exact(NORMAL_TAIL_A[0], t, xp=xp)
    d, de = two_sum(1.0, at)
    d_lo = de + (ate + NORMAL_TAIL_A[1] * t)
    w = f[0] / d
    r, re = two_prod(w, d, xp=xp)
    return w, (((f[0] - r) - re) + f[1] - w * d_lo) / d


def upper_tail(t, *, xp):
    """``(q, q_lo, scale)``: Q(t) = P(N > t) = (q + q_lo) * scale for t >= 0
    (t is clipped to 40, where Q underflows in float64)."""
    t = xp.clip(t, max=_TOP)
    es, es_lo, scale = gaussian_factor(t, xp=xp)
    q, q_lo = _mul((es, es_lo), tail_ratio(t, xp=xp), xp)
    return q, q_lo, scale


def gelu64(x, *, xp):
    """x Phi(x): x Q(t) for x = -t < 0, x (1 - Q(x)) for x >= 0."""
    q, q_lo, scale = upper_tail(xp.abs(x), xp=xp)
    xc = xp.clip(x, min=-_TOP, max=2.0**600)  # Q(t) = 0 past 40; 1 - Q = 1 long before 2^600
    zero = xp.zeros_like(x)
    m, m_lo = _mul((xc, zero), (q, q_lo), xp)
    neg = xp.copysign((m + m_lo) * scale, x)  # (keeps -0.0 when it underflows)
    # x >= 0: where scale < 1, Q < 1e-300 and 1 - Q rounds to 1
    o = _add((xp.ones_like(x), zero), (-(q * scale), -(q_lo * scale)))
    pos = _mul((xc, zero), o, xp)
    return xp.where(x < 0, neg, xp.where(x > 2.0**600, x, pos[0] + pos[1]))


def gelu_derivative64(x, *, xp):
    """Phi(x) + x phi(x), three ways: around the root, exp(-x^2/2) (x - x0) R(x);
    left of it, exp(-t^2/2) (W(t) - t/sqrt(2 pi)); for x >= 0,
    1 - exp(-x^2/2) (W(x) - x/sqrt(2 pi))."""
    t = xp.clip(xp.abs(x), max=_TOP)
    es, es_lo, scale = gaussian_factor(t, xp=xp)
    zero = xp.zeros_like(t)
    # W(t) - t/sqrt(2 pi): cancels at most to 1/1.4 outside the window
    ct = mul_exact(INV_SQRT_2PI[0], t, xp=xp)
    bracket = _add(tail_ratio(t, xp=xp), (-ct[0], -(ct[1] + INV_SQRT_2PI[1] * t)))
    b = _mul((es, es_lo), bracket, xp)
    left = (b[0] + b[1]) * scale
    right = _add((xp.ones_like(t), zero), (-(b[0] * scale), -(b[1] * scale)))
    # the window around the root x0 (scale is 1 there)
    lo, hi = GELU_DERIV_WINDOW
    xw = xp.clip(x, min=lo, max=hi)
    dh, dl = two_sum(xw - GELU_ROOT[0], -GELU_ROOT[1] + zero)  # x - x0h is exact
    delta = (dh, dl - GELU_ROOT[2])
    s = (2.0 * xw - (lo + hi)) / (hi - lo)
    r = _mul((_horner(GELU_DERIV_POLY[:-1], s), zero), (s, zero), xp)
    r = _add(r, (GELU_DERIV_POLY[-1] + zero, zero))
    w = _mul((es, es_lo), _mul(delta, r, xp), xp)
    return xp.where(x < lo, left, xp.where(x < hi, w[0] + w[1], right[0] + right[1]))


def _ndtr(x, xp):
    # (torch.special.ndtr is 1 + erf: it cancels for x < 0)
    return 0.5 * _special.erfc(-SQRT1_2 * x, xp)


def gelu_plain(x, *, xp):
    """x Phi(x) = x erfc(-x/sqrt 2)/2 in float64 for float32 results: good to
    ~1e-13 (relative) where the float32 result is not 0 (x > -14.5)."""
    v = xp.clip(x, min=-40.0)  # gelu(-40) is 0 in float32; no inf * 0
    return v * _ndtr(v, xp)


def gelu_derivative_plain(x, *, xp):
    """Phi(x) + x phi(x) in float64 for float32 results (the cancellation
    near the root costs ~1e-9 relative at the float32 grid points nearest it)."""
    v = xp.clip(x, min=-40.0, max=40.0)
    return _ndtr(v, xp) + INV_SQRT_2PI[0] * v * xp.exp(-0.5 * v * v)
