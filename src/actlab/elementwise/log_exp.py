"""Exponential and logarithmic shapes: the identity and the exponential
(Keras' ``linear`` and ``exponential``), log1mexp, SciPy's logit, the square
root of softplus (DeepSeek's router score) and the Gompertz linear unit.

Two of them have a restricted domain: ``log1mexp`` is real for x <= 0 and
``logit`` on [0, 1]; outside, they return NaN (without a floating-point
warning), and their registry entries carry the domain.
"""

from __future__ import annotations

import math

from .._activation import activation
from .._xp import exp_scaled, float32_policy, one_keep_nan, with_limits
from ..registry import Properties
from .constants import GOLU_EXP_ROOT, GOLU_ROOT
from .double_word import DW, exp_dw
from .exponential import softplus_math
from .logistic_gates import _expm1, _minus_root
from .sigmoid_like import sigmoid_math

__all__ = ["identity", "exponential", "log1mexp", "logit", "sqrt_softplus", "golu"]

_f64 = float32_policy(native_float32=False, saturate=True)  # float32 (and half) via float64
_LN2 = 0.6931471805599453


def _on_domain(x, inside, y, edges, xp):
    """``y`` where ``inside`` (the open domain), the given value at each
    ``(point, value)`` of ``edges``, and NaN elsewhere: outside the domain
    and at a NaN input (no floating-point warning, ``y`` having been computed
    on a safe stand-in there)."""
    out = xp.zeros_like(x) + math.nan
    for point, value in edges:
        out = xp.where(x == point, value, out)
    return xp.where(inside, y, out)


# -- identity and exponential ------------------------------------------------------

def _d_identity(x, *, xp):
    return one_keep_nan(x, xp=xp)


@activation(
    family="linear",
    latex=r"x",
    dlatex=r"1",
    derivative=_d_identity,
    properties=Properties((-math.inf, math.inf), monotone=True, smooth=True, zero_centred=True, bounded=False),
    reference="The linear activation (Keras ``linear``, transformers ``linear``, timm ``identity``).",
)
def identity(x, *, xp):
    """The identity, x (a copy of x, -0.0 kept).

    Example:
        >>> import actlab
        >>> actlab.identity([-0.0, 2.0]).tolist()
        [-0.0, 2.0]
    """
    return x * 1.0


def _exp(x, *, xp):
    with xp.quiet():  # exp(x) past log(max) is +inf, the right answer
        return xp.exp(x)


@activation(
    family="linear",
    latex=r"e^{x}",
    dlatex=r"e^{x}",
    derivative=_f64(_exp),
    properties=Properties((0, math.inf), monotone=True, smooth=True, zero_centred=False, bounded=False),
    reference="Keras' ``exponential`` activation.",
    xlim=(-4, 2),
)
@_f64
def exponential(x, *, xp):
    """The exponential, e^x (Keras' ``exponential``): +inf past log(max), no warning.

    Example:
        >>> import actlab
        >>> float(actlab.exponential(0.0)), float(actlab.exponential(1000.0))
        (1.0, inf)
    """
    return _exp(x, xp=xp)


# -- log1mexp and logit: real on part of the line ---------------------------------------

def _log1mexp(x, *, xp):
    v = xp.where(x < 0, x, -1.0)  # the formulas run on x < 0 only
    near = xp.where(v > -_LN2, v, -0.5)
    far = xp.where(v > -_LN2, -1.0, v)
    y = xp.where(v > -_LN2, xp.log(-xp.expm1(near)), xp.log1p(-xp.exp(far)))
    return _on_domain(x, x < 0, y, ((0.0, -math.inf),), xp)


def _d_log1mexp(x, *, xp):
    """-e^x/(1 - e^x) = -1/expm1(-x); -e^x (to the last bit) for x < -40."""
    v = xp.where(x < 0, x, -1.0)
    near = xp.where(v >= -40.0, v, -1.0)
    with xp.quiet():  # -1/expm1(-x) overflows for a subnormal x: -inf is right
        y = xp.where(v >= -40.0, -1.0 / xp.expm1(-near), -xp.exp(v))
    return _on_domain(x, x < 0, y, ((0.0, -math.inf),), xp)


@activation(
    family="logarithmic",
    latex=r"\log(1-e^{x}),\ x\le0",
    dlatex=r"-\frac{1}{e^{-x}-1}",
    derivative=_f64(_d_log1mexp),
    properties=Properties((-math.inf, 0), monotone=False, smooth=True, zero_centred=False, bounded=False),
    reference="Maechler 2012, Accurately Computing log(1 - exp(-|a|)) (the Rmpfr vignette).",
    xlim=(-5, -0.01),
    notes="Real for x <= 0 (NaN beyond); log1mexp(0) = -inf.",
    domain=(-math.inf, 0.0),
)
@_f64
def log1mexp(x, *, xp):
    r"""log(1 - e^x) for x <= 0, as Maechler writes it: log(-expm1(x)) for
    x > -ln 2 and log1p(-e^x) below, each accurate where the other cancels
    (PyMC's and PyTensor's ``log1mexp``; TensorFlow Probability's takes -|x|).

    Example:
        >>> import actlab
        >>> float(actlab.log1mexp(-1e-20)), float(actlab.log1mexp(-50.0))
        (-46.051701859880914, -1.9287498479639178e-22)
    """
    return _log1mexp(x, xp=xp)


def _logit(x, *, xp):
    inside = (x > 0) & (x < 1)
    p = xp.where(inside, x, 0.5)
    lo = xp.where(p <= 1 / 3, p, 0.25)
    hi = 1.0 - xp.where(p >= 0.75, p, 0.75)  # exact (Sterbenz)
    mid = xp.where((p > 1 / 3) & (p < 0.75), p, 0.5)
    y = xp.where(
        p <= 1 / 3, xp.log(lo) - xp.log1p(-lo),
        xp.where(p >= 0.75, xp.log1p(-hi) - xp.log(hi), xp.log1p((2.0 * mid - 1.0) / (1.0 - mid))),
    )
    return _on_domain(x, inside, y, ((0.0, -math.inf), (1.0, math.inf)), xp)


def _d_logit(x, *, xp):
    inside = (x > 0) & (x < 1)
    p = xp.where(inside, x, 0.5)
    with xp.quiet():  # 1/p overflows for a subnormal p: +inf is right
        y = (1.0 / p) / (1.0 - p)
    return _on_domain(x, inside, y, ((0.0, math.inf), (1.0, math.inf)), xp)


@activation(
    family="logarithmic",
    latex=r"\log\frac{p}{1-p},\ 0\le p\le1",
    dlatex=r"\frac{1}{p(1-p)}",
    derivative=_f64(_d_logit),
    properties=Properties((-math.inf, math.inf), monotone=True, smooth=True, zero_centred=False, bounded=False),
    reference="The logit, the inverse of the logistic sigmoid (scipy.special.logit).",
    xlim=(0.005, 0.995),
    notes="Real on [0, 1] (NaN outside): logit(0) = -inf, logit(1) = inf.",
    domain=(0.0, 1.0),
)
@_f64
def logit(x, *, xp):
    r"""The logit, :math:`\log(p/(1-p))` (scipy.special.logit), the inverse
    of :func:`sigmoid`: :math:`\log p - \mathrm{log1p}(-p)` for p <= 1/3,
    :math:`\mathrm{log1p}((2p-1)/(1-p))` in the middle (no cancellation at
    1/2) and the mirror image above 3/4, where 1 - p is exact.

    Example:
        >>> import actlab
        >>> float(actlab.logit(0.5)), float(actlab.logit(1.0)), float(actlab.logit(0.25))
        (0.0, inf, -1.0986122886681096)
    """
    return _logit(x, xp=xp)


# -- sqrt(softplus) -----------------------------------------------------------------------

_TAIL = -40.0  # below, softplus(x) = e^x and sigma(x) = e^x to the last bit


def _softplus_and_sigmoid(x, xp):
    """(softplus(x), sigmoid(x)); for |x| <= 1 by the formulas without |x|
    (whose autograd derivative at 0 would be abs'(0) = 0: the second
    derivative through the torch backward would be wrong there)."""
    near = xp.clip(x, min=-1.0, max=1.0)
    e = xp.exp(near)
    sp = xp.where(xp.abs(x) <= 1.0, xp.log1p(e), softplus_math(x, 1.0, xp=xp))
    sg = xp.where(xp.abs(x) <= 1.0, e / (1.0 + e), sigmoid_math(x, xp=xp))
    return sp, sg


def _sqrt_softplus(x, *, xp):
    v = xp.where(x < _TAIL, 0.0, x)
    return xp.where(x < _TAIL, xp.exp(0.5 * xp.clip(x, max=0.0)), xp.sqrt(_softplus_and_sigmoid(v, xp)[0]))


def _d_sqrt_softplus(x, *, xp):
    v = xp.where(x < _TAIL, 0.0, x)
    sp, sg = _softplus_and_sigmoid(v, xp)
    return xp.where(x < _TAIL, 0.5 * xp.exp(0.5 * xp.clip(x, max=0.0)), sg / (2.0 * xp.sqrt(sp)))


@activation(
    family="softplus",
    latex=r"\sqrt{\log(1+e^{x})}",
    dlatex=r"\frac{\sigma(x)}{2\sqrt{\log(1+e^{x})}}",
    derivative=_f64(_d_sqrt_softplus),
    properties=Properties((0, math.inf), monotone=True, smooth=True, zero_centred=False, bounded=False),
    reference="DeepSeek-AI 2025 (DeepSeek-V4's expert-score function; transformers' ``sqrtsoftplus``).",
    xlim=(-5, 5),
)
@_f64
def sqrt_softplus(x, *, xp):
    r"""The square root of softplus, :math:`\sqrt{\log(1+e^x)}`; e^{x/2}
    in the far left tail, where softplus itself would underflow first.

    Example:
        >>> import actlab
        >>> float(actlab.sqrt_softplus(-1000.0))
        7.124576406741286e-218
    """
    return _sqrt_softplus(x, xp=xp)


# -- GoLU, the Gompertz linear unit ---------------------------------------------------------

_GOLU_LEFT = -7.0  # e^{-e^{7}} = e^{-1096} is 0 even scaled by 2^64


def _golu_gate(x, xp):
    """(g, g_lo, scale, e): exp(-e^{-x}) = (g + g_lo) scale for x < 0, with
    e = e^{-x} a double word (exp would amplify its rounding by e)."""
    v = xp.clip(x, min=_GOLU_LEFT, max=0.0)
    e = exp_dw(-v, xp)
    g, g_lo, scale = exp_scaled(-e.hi, -e.lo, xp=xp)
    return g, g_lo, scale, e


def _golu(x, *, xp):
    def finite_part(v):
        g, g_lo, scale, _ = _golu_gate(v, xp)
        neg = xp.copysign((DW(g, g_lo, xp) * DW.of(xp.clip(v, min=_GOLU_LEFT, max=0.0), xp)).value() * scale, v)
        e = xp.exp(-xp.clip(v, min=0.0))
        pos = v * xp.exp(-e)
        return xp.where(v < _GOLU_LEFT, -0.0, xp.where(v < 0, neg, pos))

    return with_limits(x, finite_part, -0.0, math.inf, xp=xp)


_WINDOW = (-1.5, 0.0)  # around the root x0 = -W(1) of 1 + x e^{-x}


def _one_plus_x_exp(x, e, xp) -> DW:
    """1 + x e^{-x} (e = e^{-x}, a double word) for x <= 0. Near its root x0,
    with t = x - x0 (exact) and x0 e^{-x0} = -1, it is
    -expm1(-t) + t e^{-x0} e^{-t}: two terms of the sign of t, no cancellation."""
    plain = e * DW.of(x, xp) + 1.0
    t = _minus_root(xp.clip(x, min=_WINDOW[0], max=_WINDOW[1]), xp.zeros_like(x), GOLU_ROOT, xp)
    m = _expm1(-t, xp)  # e^{-t} - 1
    near = -m + t * GOLU_EXP_ROOT * (m + 1.0)
    inside = (x > _WINDOW[0]) & (x < _WINDOW[1])
    return DW(xp.where(inside, near.hi, plain.hi), xp.where(inside, near.lo, plain.lo), xp)


def _d_golu(x, *, xp):
    """exp(-e^{-x}) (1 + x e^{-x}), the second factor kept to its relative
    precision through its root -W(1) = -0.5671 (see ``_one_plus_x_exp``)."""
    def finite_part(v):
        g, g_lo, scale, e = _golu_gate(v, xp)
        vc = xp.clip(v, min=_GOLU_LEFT, max=0.0)
        neg = (DW(g, g_lo, xp) * _one_plus_x_exp(vc, e, xp)).value() * scale
        pc = xp.clip(v, min=0.0)
        ep = xp.exp(-pc)
        pos = xp.exp(-ep) * (1.0 + pc * ep)
        return xp.where(v < _GOLU_LEFT, 0.0, xp.where(v < 0, neg, pos))

    return with_limits(x, finite_part, 0.0, 1.0, xp=xp)


@activation(
    family="self-gated",
    latex=r"x\,e^{-e^{-x}}",
    dlatex=r"e^{-e^{-x}}\left(1+x\,e^{-x}\right)",
    derivative=_f64(_d_golu),
    properties=Properties((-0.2, math.inf), monotone=False, smooth=True, zero_centred=False, bounded=False),
    reference="Das et al. 2025, Gompertz Linear Units (arXiv 2502.03654).",
    xlim=(-4, 3),
)
@_f64
def golu(x, *, xp):
    r"""GoLU, :math:`x\,e^{-e^{-x}}`: x gated by the Gompertz function (the
    CDF of the standard Gumbel law, which is asymmetric where GELU's and
    SiLU's gates are not). For x < 0, :math:`e^{-x}` is formed to ~2^-100
    (its 0.5-ULP rounding would be multiplied by up to e^7 = 1097) and its
    root :math:`-W(1) = -0.5671` keeps the derivative's relative precision.

    Example:
        >>> import actlab
        >>> float(actlab.golu(1.0)), float(actlab.golu(-7.5))
        (0.6922006275553464, -0.0)
    """
    return _golu(x, xp=xp)
