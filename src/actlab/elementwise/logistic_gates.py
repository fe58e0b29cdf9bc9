"""Float64 kernels of the functions x * (logistic gate): swish/silu
x sigma(beta x), gelu's tanh form x sigma(2 sqrt(2/pi)(x + 0.044715 x^3)),
and mish x tanh(softplus(x)), accurate to a few ULPs over the whole range.

Three devices (each removes an error of hundreds of ULPs or more):

* the gate's argument is carried as a double word p + e (Dekker products),
  since exp(u) turns an absolute error of u into a relative one: at
  |u| ~ 700, one rounding of u is ~350 ULPs of the result;
* where e^u is subnormal but x e^u is not, e^u is formed scaled by 2^64
  (``exp_scaled``) and the product is rounded once at the end;
* the derivatives vanish at an interior root (swish: u0 = -1.2785, mish:
  x0 = -1.1924, gelu-tanh: x0 = -0.7525), where the textbook formulas
  cancel to nothing. Each is rewritten with t = x - x0 (exact near x0, x0
  a double-double constant) as a sum of terms that share the sign of t, so
  it keeps its relative precision: for swish
  1 + u + e^u = t + e^{u0} expm1(t), for gelu-tanh
  1 + e^u + x u' = e^{u0} expm1(u - u0) + 2c t (1 + 3k S), u - u0 = 2c t (1 + k S),
  S = x^2 + x x0 + x0^2, and for mish the expansion written out below.

The roots and e^{root} come from ``scripts/fit_constants.py`` (mpmath).
"""

from __future__ import annotations

from .._xp import exp_scaled, mul_exact, square_exact, two_prod, two_sum
from .constants import (
    GELU_TANH_C,
    GELU_TANH_EXP_ROOT,
    GELU_TANH_K,
    GELU_TANH_ROOT,
    MISH_EXP_ROOT,
    MISH_ROOT,
    SILU_EXP_ROOT,
    SILU_ROOT,
)
from .double_word import DW

__all__ = [
    "swish64", "swish_derivative64", "swish_beta_derivative64", "mish64", "mish_derivative64", "gelu_tanh64",
    "gelu_tanh_derivative64",
]

_HUGE = 2.0**600  # past it, products are not split (Dekker's split would overflow)
_U_MAX = 1e4  # |u| past which every gate has saturated


def _gate(p, e, xp):
    """``(E, Eu, scale)``: E = e^{-|u|} / scale as a double word (normal
    where e^{-|u|} is subnormal), Eu = e^{-|u|} itself, u = p + e."""
    es, es_lo, scale = exp_scaled(-xp.abs(p), xp.where(p >= 0, -e, e), xp=xp)
    big = DW(es, es_lo, xp)
    return big, big.scale(scale), scale


def _minus_root(hi, lo, root, xp) -> DW:
    """(hi + lo) - root as a double word, exact to ~2^-106 relative even where
    the difference is tiny (root: a triple-double constant)."""
    d, de = two_sum(hi, -root[0])  # de = 0 near the root (Sterbenz)
    s, se = two_sum(lo, xp.zeros_like(lo) - root[1])
    th, tl = two_sum(d, s)
    return DW(th, tl + ((se + de) - root[2]), xp)


def _expm1(t: DW, xp) -> DW:
    """expm1(t.hi + t.lo) to first order in t.lo; t.hi is clipped to 2
    (callers use it where it is below 1.3)."""
    em = xp.expm1(xp.clip(t.hi, max=2.0))
    return DW(em, (1.0 + em) * t.lo, xp)


def _times_sigmoid(x, p, e, xp):
    """x sigmoid(p + e), rounded about once."""
    big, eu, scale = _gate(p, e, xp)
    den = eu + 1.0
    xc = DW.of(xp.clip(x, min=-_HUGE, max=_HUGE), xp)
    neg = xp.copysign((xc * big / den).value() * scale, x)  # (keeps -0.0 when it underflows)
    pos = (xc / den).value()
    accurate = xp.where(p < 0, neg, pos)
    plain = x * xp.where(p < 0, eu.hi, 1.0) / den.hi
    return xp.where(xp.abs(x) > _HUGE, plain, accurate)


# -- swish / silu -------------------------------------------------------------

def swish_argument(x, beta, xp):
    """beta * x as a double word (p, e); |x| clipped where nothing changes."""
    if isinstance(beta, float):
        lim = min(_U_MAX / abs(beta), 1e290) if beta else 1e290
        return mul_exact(beta, xp.clip(x, min=-lim, max=lim), xp=xp)
    lim = 2.0**460  # Dekker's splitting needs headroom; sigma has long saturated
    return two_prod(xp.clip(beta, min=-lim, max=lim), xp.clip(x, min=-lim, max=lim), xp=xp)


def swish64(x, beta, *, xp):
    p, e = swish_argument(x, beta, xp)
    return _times_sigmoid(x, p, e, xp)


def swish_beta_derivative64(x, beta, *, xp):
    """d/dbeta of x sigma(beta x): x^2 sigma(u) sigma(-u) = x^2 E/(1+E)^2, E = e^{-|u|}."""
    p, e = swish_argument(x, beta, xp)
    big, eu, scale = _gate(xp.clip(p, min=-_U_MAX, max=_U_MAX), e, xp)
    xc = DW.of(xp.clip(x, min=-(2.0**500), max=2.0**500), xp)  # x^2 finite; E = 0 long before
    return (xc * xc * big / ((eu + 1.0) * (eu + 1.0))).value() * scale


def swish_derivative64(x, beta, *, xp):
    """sigma(u) (1 + u sigma(-u)), u = beta x: (1 + E (1 + u))/(1+E)^2 for
    u >= 0 (E = e^-u) and E g/(1+E)^2 for u < 0 (E = e^u), where
    g = 1 + u + E = t + e^{u0} expm1(t), t = u - u0, keeps its relative
    precision through the root u0."""
    p, e = swish_argument(x, beta, xp)
    p = xp.clip(p, min=-_U_MAX, max=_U_MAX)
    big, eu, scale = _gate(p, e, xp)
    den2 = (eu + 1.0) * (eu + 1.0)
    u = DW(p, e, xp)
    pos = ((eu * (u + 1.0) + 1.0) / den2).value()
    t = _minus_root(p, e, SILU_ROOT, xp)
    g = t + _expm1(t, xp) * SILU_EXP_ROOT
    neg = (big * g / den2).value() * scale
    return xp.where(p >= 0, pos, neg)


# -- mish ---------------------------------------------------------------------
# x < 0, E = e^x, n = E(E+2): tanh(softplus x) = n/(n+2) and
# mish'(x) = E g(x) / (n+2)^2, g = E^3 + 4E^2 + 6E + 4 + 4x + 4xE. With
# E = E0 e^t, x = x0 + t and g(x0) = 0:
# g = E0^3 expm1(3t) + 4E0^2 expm1(2t) + (6 + 4x0) E0 expm1(t) + 4t(1 + E),
# every term of the sign of t (6 + 4x0 > 0); expm1(2t) = m(m+2) and
# expm1(3t) = m(m^2 + 3m + 3) with m = expm1(t).
_M0 = MISH_EXP_ROOT[0]
_MISH_K = (_M0**3, 4.0 * _M0**2, (6.0 + 4.0 * MISH_ROOT[0]) * _M0)


def mish64(x, *, xp):
    xc = xp.clip(x, min=-_HUGE, max=_HUGE)
    big, eu, scale = _gate(xp.clip(xc, min=-_U_MAX, max=_U_MAX), xp.zeros_like(x), xp)
    v = DW.of(xc, xp)
    neg = xp.copysign((v * big * (eu + 2.0) / (eu * (eu + 2.0) + 2.0)).value() * scale, x)
    a = eu * 2.0 + 1.0
    pos = (v * a / (eu * (eu + 1.0) * 2.0 + 1.0)).value()
    return xp.where(x < 0, neg, xp.where(x > _HUGE, x, pos))


def mish_derivative64(x, *, xp):
    x = xp.clip(x, min=-_U_MAX, max=_U_MAX)  # mish' is 0 and 1 (rounded) beyond
    big, eu, scale = _gate(x, xp.zeros_like(x), xp)
    t = _minus_root(x, xp.zeros_like(x), MISH_ROOT, xp)
    m = _expm1(t, xp)
    k3, k2, k1 = _MISH_K
    g = m * ((m * (m + 3.0) + 3.0) * k3 + (m + 2.0) * k2 + k1) + t * (eu + 1.0) * 4.0
    w = eu * (eu + 2.0) + 2.0
    neg = (big * g / (w * w)).value() * scale
    # x >= 0, E = e^-x: A = 1+2E, B = 1+2E+2E^2, mish' = (AB + 4x E^2 (1+E)) / B^2
    a = eu * 2.0 + 1.0
    b = eu * (eu + 1.0) * 2.0 + 1.0
    pos = ((a * b + eu * eu * (eu + 1.0) * DW.of(x, xp) * 4.0) / (b * b)).value()
    return xp.where(x < 0, neg, pos)


# -- gelu, tanh approximation ---------------------------------------------------

def gelu_tanh_argument(x, xp):
    """u = 2 sqrt(2/pi) (x + 0.044715 x^3) as a double word (constants too)."""
    x = xp.clip(x, min=-1e3, max=1e3)
    p, pe = square_exact(x, xp=xp)
    q, qe = mul_exact(GELU_TANH_K[0], p, xp=xp)
    w, we = two_sum(1.0, q)
    w_lo = we + (qe + GELU_TANH_K[0] * pe + GELU_TANH_K[1] * p)
    r, re = two_prod(x, w, xp=xp)
    r_lo = re + x * w_lo
    u, ue = mul_exact(GELU_TANH_C[0], r, xp=xp)
    return u, ue + (GELU_TANH_C[0] * r_lo + GELU_TANH_C[1] * r)


def gelu_tanh64(x, *, xp):
    u, u_lo = gelu_tanh_argument(x, xp)
    return _times_sigmoid(x, u, u_lo, xp)


def gelu_tanh_derivative64(x, *, xp):
    """sigma(u) + x u' sigma(u) sigma(-u) = E G / (1+E)^2, G = 1 + E + x u',
    for x < 0 (E = e^u); (1 + E + x u' E)/(1+E)^2 for x >= 0 (E = e^-u)."""
    c, k, x0 = GELU_TANH_C, GELU_TANH_K, GELU_TANH_ROOT
    u, u_lo = gelu_tanh_argument(x, xp)
    big, eu, scale = _gate(u, u_lo, xp)
    den2 = (eu + 1.0) * (eu + 1.0)
    xc = xp.clip(x, min=-1e3, max=1e3)
    v = DW.of(xc, xp)
    t = _minus_root(xc, xp.zeros_like(xc), x0, xp)
    s = v * v + v * x0[0] + x0[0] * x0[0]
    du = t * (s * k + 1.0) * c
    g = _expm1(du, xp) * GELU_TANH_EXP_ROOT + t * (s * k * 3.0 + 1.0) * c
    neg = (big * g / den2).value() * scale
    uprime = (v * v * k * 3.0 + 1.0) * c
    pos = ((eu * v * uprime + eu + 1.0) / den2).value()
    return xp.where(u >= 0, pos, neg)
