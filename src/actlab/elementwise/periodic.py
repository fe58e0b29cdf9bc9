"""Periodic activations: SIREN's sine, and Snake (x + sin^2(a x)/a) with its
two-parameter form Snake-beta (BigVGAN).

The argument ``w x`` of each sine is carried as a double word ``hi + lo``
(Dekker's product) and the sine of the sum taken with the addition formula
sin(hi)cos(lo) + cos(hi)sin(lo), so a rounding of ``w x`` (an absolute error
of up to ulp(w x)/2, which the sine turns into a relative error near its
zeros) never reaches the result. Snake's derivative 1 + sin(2 a x) is
written cos^2(2 a x)/(1 - sin(2 a x)) where the sine is negative, which keeps
its relative precision at its roots; sin^2(a x) is (1 - cos 2 a x)/2 where
that cancels less.

At +-inf a sine has no limit: sine(+-inf) and the derivatives of the snakes
there are NaN (snake itself tends to +-inf).
"""

from __future__ import annotations

import math

from .._activation import activation
from .._xp import float32_policy, mul_exact, two_prod, with_limits
from ..registry import Param, Properties, finite, positive
from .double_word import DW, lift

__all__ = ["sine", "snake", "snake_beta"]

_f64 = float32_policy(native_float32=False, saturate=True)  # float32 (and half) via float64

_BIG = 2.0**900  # past it, snake(x) = x to the last bit
_SPLIT_MAX = 1e150


def _times(w, x, xp):
    """w * x as (hi, lo), exactly (Dekker); |x| past 1e150 is scaled by
    2^-600 for the splitting and back (both exact). Infinite where w x
    overflows."""
    big = xp.abs(x) > _SPLIT_MAX
    xs = xp.where(big, x * 2.0**-600, x)
    if isinstance(w, float):
        if math.frexp(w)[0] in (0.5, -0.5):  # a power of two: exact at any size
            with xp.quiet():
                return w * x, xp.zeros_like(x)
        hi, lo = mul_exact(w, xs, xp=xp)
    else:
        hi, lo = two_prod(xp.clip(w, min=-_SPLIT_MAX, max=_SPLIT_MAX), xs, xp=xp)
    with xp.quiet():  # an overflow of w x gives inf, then NaN (see _sin_cos)
        return xp.where(big, hi * 2.0**600, hi), xp.where(big, lo * 2.0**600, lo)


def _sin_cos(hi, lo, xp):
    """(sin(hi + lo), cos(hi + lo)) by the addition formulas; NaN where
    hi + lo overflowed (|w x| past the largest float: no value to reduce)."""
    ok = xp.isfinite(hi)
    hi = xp.where(ok, hi, 0.0)
    sh, ch, sl, cl = xp.sin(hi), xp.cos(hi), xp.sin(lo), xp.cos(lo)
    return xp.where(ok, sh * cl + ch * sl, math.nan), xp.where(ok, ch * cl - sh * sl, math.nan)


def _double_angle(hi, lo, xp):
    """(sin 2t, cos 2t) for t = hi + lo, each accurate relative to itself
    (the backend's sin and cos reduce 2 hi exactly); by the double-angle
    formulas where 2 hi would overflow."""
    big = xp.abs(hi) > 2.0**1022
    h2 = xp.where(big, 0.0, hi)
    s2, c2 = _sin_cos(2.0 * h2, 2.0 * xp.where(big, 0.0, lo), xp)
    s, c = _sin_cos(xp.where(big, hi, 0.0), xp.where(big, lo, 0.0), xp)
    return xp.where(big, 2.0 * s * c, s2), xp.where(big, (c - s) * (c + s), c2)


def _one_plus_sin2(hi, lo, xp):
    """1 + sin(2t) = cos^2(2t) / (1 - sin(2t)) where sin(2t) < 0: no
    cancellation at its roots t = -pi/4 + k pi."""
    s2, c2 = _double_angle(hi, lo, xp)
    return xp.where(s2 >= 0, 1.0 + s2, (c2 * c2) / (1.0 - xp.where(s2 >= 0, 0.0, s2)))


def _sin_squared(hi, lo, xp) -> DW:
    """sin^2(t) as a double word: s*s where sin^2 < 1/2, (1 - cos 2t)/2 above
    (which cancels less there: snake's x + sin^2(a x)/a cancels near a x = -1.2)."""
    s = _sin_cos(hi, lo, xp)[0]
    sv = DW.of(s, xp)
    c2 = _double_angle(hi, lo, xp)[1]
    half = (1.0 - DW.of(xp.where(c2 < 0, c2, 0.0), xp)).scale(0.5)
    sq = sv * sv
    return DW(xp.where(c2 < 0, half.hi, sq.hi), xp.where(c2 < 0, half.lo, sq.lo), xp)


def _nan_at_inf(x, y, xp):
    return xp.where(xp.isfinite(x), y, math.nan)


# -- sine ------------------------------------------------------------------------------

def _sin_cos_of(w0, x, xp):
    """(sin(w0 x), cos(w0 x)), NaN at +-inf (no limit there)."""
    v = xp.where(xp.isfinite(x), x, 0.0)
    hi, lo = _times(w0, v, xp)
    s, c = _sin_cos(hi, lo, xp)
    return _nan_at_inf(x, s, xp), _nan_at_inf(x, c, xp)


def _sine(x, w0, *, xp):
    return _sin_cos_of(w0, x, xp)[0]


def _d_sine(x, w0, *, xp):
    return w0 * _sin_cos_of(w0, x, xp)[1]


def _d_sine_w0(x, w0, *, xp):
    return x * _sin_cos_of(w0, x, xp)[1]


@activation(
    family="periodic",
    latex=r"\sin(\omega_0 x)",
    dlatex=r"\omega_0\cos(\omega_0 x)",
    derivative=_f64(_d_sine),
    param_derivatives={"w0": _f64(_d_sine_w0)},
    params=(Param("w0", 1.0, "finite", finite, array=True, sweep=(1.0, 3.0, 30.0)),),
    properties=Properties((-1, 1), monotone=False, smooth=True, zero_centred=True, bounded=True),
    reference="Sitzmann et al. 2020, Implicit Neural Representations with Periodic Activation Functions "
    "(SIREN, arXiv 2006.09661).",
    xlim=(-6.5, 6.5),
    notes="No limit at +-inf: the value and the derivative are NaN there.",
    undefined_at_inf=("value", "derivative"),
)
@_f64
def sine(x, w0, *, xp):
    r"""SIREN's sine activation, :math:`\sin(\omega_0 x)` (SIREN uses
    :math:`\omega_0 = 30` in its first layer; the default here is 1).
    :math:`\omega_0 x` is formed exactly, so the result keeps its relative
    precision at every zero of the sine. Where :math:`|\omega_0 x|` exceeds
    the largest float (|x| > 6e306 for w0 = 30) the result is NaN.

    Args:
        x: input.
        w0: frequency (default 1).

    Example:
        >>> import actlab
        >>> float(actlab.sine(0.5, 2.0)) == float(actlab.sine(1.0))
        True
    """
    return _sine(x, w0, xp=xp)


# -- snake and snake-beta ---------------------------------------------------------------

def _snake_value(x, alpha, beta, xp):
    def finite_part(v):
        hi, lo = _times(alpha, xp.where(xp.abs(v) > _BIG, 0.0, v), xp)
        y = (DW.of(v, xp) + _sin_squared(hi, lo, xp) / lift(beta, xp)).value()
        return xp.where(xp.abs(v) > _BIG, v, y)

    return with_limits(x, finite_part, -math.inf, math.inf, xp=xp)


def _snake_slope(x, alpha, beta, xp):
    """1 + (alpha/beta) sin(2 alpha x) = (1 - r) + r (1 + sin(2 alpha x)), r = alpha/beta."""
    hi, lo = _times(alpha, x, xp)
    sq = _one_plus_sin2(hi, lo, xp)
    if isinstance(alpha, float) and isinstance(beta, float) and alpha == beta:
        return sq
    r = alpha / beta
    return (1.0 - r) + r * sq


def _d_snake(x, alpha, *, xp):
    return _nan_at_inf(x, _snake_slope(xp.where(xp.isfinite(x), x, 0.0), alpha, alpha, xp), xp)


def _d_snake_alpha(x, alpha, *, xp):
    """d/da (x + sin^2(a x)/a) = x sin(2 a x)/a - sin^2(a x)/a^2."""
    v = xp.where(xp.isfinite(x), x, 0.0)
    hi, lo = _times(alpha, v, xp)
    s, c = _sin_cos(hi, lo, xp)
    return _nan_at_inf(x, v * (2.0 * s * c) / alpha - (s * s) / (alpha * alpha), xp)


_SNAKE_REF = "Ziyin, Hartwig & Ueda 2020, Neural Networks Fail to Learn Periodic Functions and How to Fix It " \
    "(arXiv 2006.08195)."


@activation(
    family="periodic",
    latex=r"x+\frac{\sin^2(\alpha x)}{\alpha}",
    dlatex=r"1+\sin(2\alpha x)",
    derivative=_f64(_d_snake),
    param_derivatives={"alpha": _f64(_d_snake_alpha)},
    params=(Param("alpha", 1.0, "> 0", positive, array=True, sweep=(0.5, 1.0, 3.0)),),
    properties=Properties((-math.inf, math.inf), monotone=True, smooth=True, zero_centred=True, bounded=False),
    reference=_SNAKE_REF,
    xlim=(-6, 6),
    notes="The derivative has no limit at +-inf (NaN there); snake(+-inf) = +-inf.",
    undefined_at_inf=("derivative",),
)
@_f64
def snake(x, alpha, *, xp):
    r"""Snake, :math:`x + \sin^2(\alpha x)/\alpha`: monotone, periodic
    around the identity; alpha is learned per channel in practice
    (``actlab.torch.Snake``).

    Args:
        x: input.
        alpha: frequency, > 0 (default 1).

    Example:
        >>> import actlab
        >>> actlab.snake([0.0, -2.0]).tolist()
        [0.0, -1.173178189568194]
    """
    return _snake_value(x, alpha, alpha, xp)


def _d_snake_beta(x, alpha, beta, *, xp):
    return _nan_at_inf(x, _snake_slope(xp.where(xp.isfinite(x), x, 0.0), alpha, beta, xp), xp)


def _d_snake_beta_alpha(x, alpha, beta, *, xp):
    v = xp.where(xp.isfinite(x), x, 0.0)
    hi, lo = _times(alpha, v, xp)
    s, c = _sin_cos(hi, lo, xp)
    return _nan_at_inf(x, v * (2.0 * s * c) / beta, xp)


def _d_snake_beta_beta(x, alpha, beta, *, xp):
    v = xp.where(xp.isfinite(x), x, 0.0)
    hi, lo = _times(alpha, v, xp)
    s = _sin_cos(hi, lo, xp)[0]
    return _nan_at_inf(x, -(s * s) / (beta * beta), xp)


@activation(
    family="periodic",
    latex=r"x+\frac{\sin^2(\alpha x)}{\beta}",
    dlatex=r"1+\frac{\alpha}{\beta}\sin(2\alpha x)",
    derivative=_f64(_d_snake_beta),
    param_derivatives={"alpha": _f64(_d_snake_beta_alpha), "beta": _f64(_d_snake_beta_beta)},
    params=(
        Param("alpha", 1.0, "> 0", positive, array=True, sweep=(0.5, 1.0, 3.0)),
        Param("beta", 1.0, "> 0", positive, array=True),
    ),
    properties=Properties((-math.inf, math.inf), monotone=False, smooth=True, zero_centred=True, bounded=False),
    reference="Lee et al. 2023, BigVGAN (arXiv 2206.04658), after " + _SNAKE_REF,
    xlim=(-6, 6),
    notes="The derivative has no limit at +-inf (NaN there). Monotone only for beta >= alpha.",
    undefined_at_inf=("derivative",),
)
@_f64
def snake_beta(x, alpha, beta, *, xp):
    r"""Snake-beta, :math:`x + \sin^2(\alpha x)/\beta`: Snake with the
    frequency and the magnitude learned apart (BigVGAN's ``SnakeBeta``, which
    adds 1e-9 to beta; here beta must be > 0).

    Example:
        >>> import actlab
        >>> float(actlab.snake_beta(0.0, 2.0, 3.0))
        0.0
    """
    return _snake_value(x, alpha, beta, xp)
