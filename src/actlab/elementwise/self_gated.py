"""Self-gated activations x * g(x): GELU, Swish/SiLU, Mish, Hard-swish."""

from __future__ import annotations

import math

from .. import _special
from .._activation import activation
from .._xp import exp_neg_half_square, lazy_where, safe_scale, with_limits
from ..registry import Param, Properties, finite
from .sigmoid_like import sigmoid_math

__all__ = ["gelu", "swish", "silu", "mish", "hardswish"]

_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_TANH_C = math.sqrt(2.0 / math.pi)
_TANH_K = 0.044715
_CLAMP = 40.0  # |x| beyond which exp(-x^2/2) underflows (float64)


def _clamp(x, c, xp):
    return xp.where(x > c, c, xp.where(x < -c, -c, x))


def _gelu_exact(x, xp):
    # x < 0: 0.5 x erfc(-x/sqrt2) = 0.5 x erfcx(-x/sqrt2) exp(-x^2/2), the
    # exponential formed from an exact x^2, so the left tail has no x^2 ulp loss.
    def left(v):
        v = _clamp(v, _CLAMP, xp)
        return 0.5 * v * _special.erfcx(-_SQRT1_2 * v, xp) * exp_neg_half_square(v, xp=xp)

    def right(v):
        return v * (1.0 - 0.5 * _special.erfc(_SQRT1_2 * v, xp))

    return lazy_where(x < 0, x, left, right, xp=xp, fill_then=-1.0, fill_otherwise=1.0)


def _d_gelu_exact(x, xp):
    def left(v):
        v = _clamp(v, _CLAMP, xp)
        return exp_neg_half_square(v, xp=xp) * (
            0.5 * _special.erfcx(-_SQRT1_2 * v, xp) + _INV_SQRT_2PI * v
        )

    def right(v):
        vc = _clamp(v, _CLAMP, xp)
        return (1.0 - 0.5 * _special.erfc(_SQRT1_2 * v, xp)) + _INV_SQRT_2PI * vc * exp_neg_half_square(vc, xp=xp)

    return lazy_where(x < 0, x, left, right, xp=xp, fill_then=-1.0, fill_otherwise=1.0)


def _tanh_arg(v, xp):
    v = _clamp(v, 1e4, xp)
    return 2.0 * _TANH_C * (v + _TANH_K * v * v * v)


def _gelu_tanh(x, xp):
    return with_limits(x, lambda v: v * sigmoid_math(_tanh_arg(v, xp), xp=xp), -0.0, math.inf, xp=xp)


def _d_gelu_tanh(x, xp):
    v = _clamp(x, 1e4, xp)
    z2 = _tanh_arg(v, xp)
    s, sm = sigmoid_math(z2, xp=xp), sigmoid_math(-z2, xp=xp)
    dz2 = 2.0 * _TANH_C * (1.0 + 3.0 * _TANH_K * v * v)
    return s * (1.0 + v * dz2 * sm)


def _d_gelu(x, approximate, *, xp):
    return _d_gelu_exact(x, xp) if approximate == "none" else _d_gelu_tanh(x, xp)


@activation(
    family="self-gated",
    latex=r"x\,\Phi(x)=\tfrac{x}{2}\operatorname{erfc}(-x/\sqrt2)",
    dlatex=r"\Phi(x)+x\,\varphi(x)",
    derivative=_d_gelu,
    params=(Param("approximate", "none", choices=("none", "tanh")),),
    promote32=("forward", "derivative"),
    properties=Properties((-0.17, math.inf), monotone=False, smooth=True, zero_centred=False, bounded=False),
    reference="Hendrycks & Gimpel 2016 (GELU); seed 004.",
    xlim=(-4, 3),
)
def gelu(x, approximate, *, xp):
    r"""Gaussian error linear unit, :math:`x\Phi(x)`.

    ``approximate="none"`` is exact: :math:`\frac x2\operatorname{erfc}(-x/\sqrt2)`
    (never ``1 + erf``), with the left tail as
    :math:`\frac x2\operatorname{erfcx}(-x/\sqrt2)\,e^{-x^2/2}` and :math:`x^2`
    formed exactly. ``approximate="tanh"`` is
    :math:`\frac x2(1+\tanh(\sqrt{2/\pi}(x+0.044715x^3)))`, evaluated as
    :math:`x\,\sigma(2\sqrt{2/\pi}(x+0.044715x^3))`.

    Args:
        x: input.
        approximate: "none" (default) or "tanh".

    Example:
        >>> import actlab
        >>> print(f"{float(actlab.gelu(-10.0)):.12e}")
        -7.619853024161e-23
    """
    return _gelu_exact(x, xp) if approximate == "none" else _gelu_tanh(x, xp)


def swish_math(x, beta, *, xp):
    if isinstance(beta, float):
        neg = -0.0 if beta > 0 else -math.inf
        pos = 0.0 if beta < 0 else math.inf
    else:
        neg = xp.where(beta > 0, -0.0, -math.inf)
        pos = xp.where(beta < 0, 0.0, math.inf)
    return with_limits(x, lambda v: v * sigmoid_math(safe_scale(beta, v, xp=xp), xp=xp), neg, pos, xp=xp)


def _d_swish(x, beta, *, xp):
    u = _clamp(safe_scale(beta, x, xp=xp), 1e4, xp)
    return sigmoid_math(u, xp=xp) * (1.0 + u * sigmoid_math(-u, xp=xp))


def _d_swish_beta(x, beta, *, xp):
    xc = _clamp(x, 1e150, xp)
    u = safe_scale(beta, xc, xp=xp)
    return xc * (xc * (sigmoid_math(u, xp=xp) * sigmoid_math(-u, xp=xp)))


_SWISH_PROPS = Properties((-0.2785, math.inf), monotone=False, smooth=True, zero_centred=False, bounded=False)


@activation(
    family="self-gated",
    latex=r"x\,\sigma(\beta x)",
    dlatex=r"\sigma(\beta x)\,(1+\beta x\,\sigma(-\beta x))",
    derivative=_d_swish,
    param_derivatives={"beta": _d_swish_beta},
    params=(Param("beta", 1.0, "finite", finite, array=True, sweep=(0.1, 1.0, 10.0)),),
    promote32=("derivative",),
    properties=_SWISH_PROPS,
    reference="Ramachandran et al. 2017 (Swish); seed 004.",
    xlim=(-5, 3),
    ylim=(-2, 3),
)
def swish(x, beta, *, xp):
    r"""Swish, :math:`x\,\sigma(\beta x)`; ``beta`` fixed or learned (an array).
    beta = 1 is SiLU; beta -> inf tends to ReLU, beta = 0 is x/2.

    ``swish.derivative(x, beta, wrt="beta")`` is :math:`x^2\sigma(\beta x)\sigma(-\beta x)`.

    Example:
        >>> import actlab
        >>> round(float(actlab.swish(1.0, 10.0)), 6)
        0.999955
    """
    return swish_math(x, beta, xp=xp)


def _d_silu(x, *, xp):
    return _d_swish(x, 1.0, xp=xp)


@activation(
    family="self-gated",
    latex=r"x\,\sigma(x)",
    dlatex=r"\sigma(x)\,(1+x\,\sigma(-x))",
    derivative=_d_silu,
    promote32=("derivative",),
    properties=_SWISH_PROPS,
    reference="Elfwing et al. 2018 (SiLU); Hendrycks & Gimpel 2016.",
    xlim=(-5, 3),
    ylim=(-2, 3),
)
def silu(x, *, xp):
    r"""Sigmoid linear unit, :math:`x\,\sigma(x)` (Swish with beta = 1).

    Example:
        >>> import actlab
        >>> float(actlab.silu(-800.0)), float(actlab.silu(float("-inf")))
        (-0.0, -0.0)
    """
    return swish_math(x, 1.0, xp=xp)


def _mish_tanh_sp(v, xp):
    """tanh(softplus(v)) and 1 - tanh(softplus(v)), both without cancellation."""
    e = xp.exp(-xp.abs(v))
    n = e * (e + 2.0)  # for v < 0: (1+e^v)^2 - 1
    den_neg = n + 2.0
    den_pos = 1.0 + 2.0 * e + 2.0 * e * e
    neg = v < 0
    t = xp.where(neg, n / den_neg, (1.0 + 2.0 * e) / den_pos)
    one_minus_t = xp.where(neg, 2.0 / den_neg, 2.0 * e * e / den_pos)
    return t, one_minus_t


def _d_mish(x, *, xp):
    v = _clamp(x, 1e4, xp)
    t, omt = _mish_tanh_sp(v, xp)
    return t + v * sigmoid_math(v, xp=xp) * omt * (1.0 + t)


@activation(
    family="self-gated",
    latex=r"x\tanh(\operatorname{softplus}(x))",
    dlatex=r"\tanh(\operatorname{sp}(x))+x\,\sigma(x)\operatorname{sech}^2(\operatorname{sp}(x))",
    derivative=_d_mish,
    promote32=("derivative",),
    properties=Properties((-0.30885, math.inf), monotone=False, smooth=True, zero_centred=False, bounded=False),
    reference="Misra 2019 (Mish); seed 004.",
    xlim=(-5, 3),
    ylim=(-1, 3),
)
def mish(x, *, xp):
    r"""Mish, :math:`x\tanh(\log(1+e^x))`, with :math:`\tanh(\mathrm{sp}(x))`
    written as :math:`e(e+2)/(e(e+2)+2)`, :math:`e=e^x`, for x < 0 (and the
    mirrored form for x >= 0): no overflow, 0 (not NaN) at -inf.

    Example:
        >>> import actlab
        >>> float(actlab.mish(-1000.0)), float(actlab.mish(1000.0))
        (-0.0, 1000.0)
    """
    return with_limits(x, lambda v: v * _mish_tanh_sp(v, xp)[0], -0.0, math.inf, xp=xp)


def _d_hardswish(x, *, xp):
    d = xp.where(x < -3.0, 0.0, xp.where(x > 3.0, 1.0, x / 3.0 + 0.5))
    return xp.where(xp.isnan(x), x, d)


@activation(
    family="self-gated",
    latex=r"x\,\frac{\mathrm{relu6}(x+3)}{6}",
    dlatex=r"\begin{cases}0 & x<-3\\ \frac{2x+3}{6} & -3\le x\le3\\ 1 & x>3\end{cases}",
    derivative=_d_hardswish,
    properties=Properties((-0.375, math.inf), monotone=False, smooth=False, zero_centred=False, bounded=False),
    reference="Howard et al. 2019 (MobileNetV3).",
    xlim=(-5, 5),
    notes="At the kinks -3 and 3 the derivative is PyTorch's: -0.5 and 1.5.",
)
def hardswish(x, *, xp):
    r"""Hard swish, :math:`x\,\mathrm{relu6}(x+3)/6`.

    Example:
        >>> import actlab
        >>> actlab.hardswish([-4.0, 1.0, 4.0]).tolist()
        [0.0, 0.6666666666666666, 4.0]
    """
    middle = lazy_where((x > -3.0) & (x < 3.0), x, lambda v: v * (v + 3.0) / 6.0, lambda v: v, xp=xp)
    return xp.where(x <= -3.0, 0.0, middle)
