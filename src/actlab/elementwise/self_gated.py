"""Self-gated activations x * g(x): GELU, Swish/SiLU, Mish, Hard-swish."""

from __future__ import annotations

import math

from .._activation import activation
from .._xp import float32_policy, safe_scale, with_limits
from ..registry import Param, Properties, finite
from . import logistic_gates as lg
from .normal_tail import gelu64, gelu_derivative64, gelu_derivative_plain, gelu_plain
from .sigmoid_like import sigmoid_math, sigmoid_plain

__all__ = ["gelu", "swish", "silu", "mish", "hardswish"]

_TANH_C = math.sqrt(2.0 / math.pi)
_TANH_K = 0.044715

# Each smooth function has a float64 kernel accurate to a few ULPs (see
# logistic_gates and normal_tail) and a plain formula; float32 input runs the
# plain formula in float64 (accurate to ~1e-13 there) and rounds once.


def _clamp(x, c, xp):
    return xp.clip(x, min=-c, max=c)


def gelu_tanh_plain(x, *, xp):
    """gelu's tanh form as x sigma(2c(x + k x^3)); in float64 for float32 results."""
    v = _clamp(x, 1e4, xp)
    return xp.clip(x, min=-1e4) * sigmoid_plain(2.0 * _TANH_C * (v + _TANH_K * v * v * v), xp=xp)


def d_gelu_tanh_plain(x, *, xp):
    """Its derivative sigma(u)(1 + x u' sigma(-u)); in float64 for float32 results."""
    v = _clamp(x, 1e4, xp)
    z2 = 2.0 * _TANH_C * (v + _TANH_K * v * v * v)
    s, sm = sigmoid_plain(z2, xp=xp), sigmoid_plain(-z2, xp=xp)
    return s * (1.0 + v * (2.0 * _TANH_C * (1.0 + 3.0 * _TANH_K * v * v)) * sm)


def _gate_limits(kernel):
    """``kernel`` with gelu's limits at +-inf (0 and inf)."""

    def limited(x, *, xp):
        return with_limits(x, lambda v: kernel(v, xp=xp), -0.0, math.inf, xp=xp)

    return limited


_gelu_exact = float32_policy(native_float32=False, plain=gelu_plain)(gelu64)
_gelu_tanh = float32_policy(native_float32=False, plain=gelu_tanh_plain)(_gate_limits(lg.gelu_tanh64))
_d_gelu_exact = float32_policy(native_float32=False, plain=gelu_derivative_plain)(gelu_derivative64)
_d_gelu_tanh = float32_policy(native_float32=False, plain=d_gelu_tanh_plain)(lg.gelu_tanh_derivative64)


def _d_gelu(x, approximate, *, xp):
    return _d_gelu_exact(x, xp=xp) if approximate == "none" else _d_gelu_tanh(x, xp=xp)


@activation(
    family="self-gated",
    latex=r"x\,\Phi(x)=\tfrac{x}{2}\operatorname{erfc}(-x/\sqrt2)",
    dlatex=r"\Phi(x)+x\,\varphi(x)",
    derivative=_d_gelu,
    params=(Param("approximate", "none", choices=("none", "tanh")),),
    properties=Properties((-0.17, math.inf), monotone=False, smooth=True, zero_centred=False, bounded=False),
    reference="Hendrycks & Gimpel 2016 (GELU).",
    xlim=(-4, 3),
)
def gelu(x, approximate, *, xp):
    r"""Gaussian error linear unit, :math:`x\Phi(x)`.

    ``approximate="none"`` is exact, :math:`x\Phi(x)`; ``approximate="tanh"``
    is :math:`\frac x2(1+\tanh(\sqrt{2/\pi}(x+0.044715x^3)))`, evaluated as
    :math:`x\,\sigma(2\sqrt{2/\pi}(x+0.044715x^3))`. Both are within a few
    ULPs over the whole range, derivatives included (``docs/accuracy.md``):
    in float64 the exact form uses :math:`Q(t) = e^{-t^2/2} W(t)` with
    :math:`t^2` formed exactly and W a fitted polynomial (``normal_tail``),
    never ``1 + erf``; the tanh form carries its argument in double-word
    arithmetic (``logistic_gates``); the derivatives keep their relative
    precision through their root near -0.75. float32 input is computed in
    float64 (with erfc) and rounded once.

    Args:
        x: input.
        approximate: "none" (default) or "tanh".

    Returns:
        ``gelu(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-0.17, inf].

    Example:
        >>> import actlab
        >>> float(actlab.gelu(-10.0))
        -7.619853024160526e-23
    """
    return (_gelu_exact if approximate == "none" else _gelu_tanh)(x, xp=xp)


def _swish_limits(beta, xp):
    if isinstance(beta, float):
        return (-0.0 if beta > 0 else -math.inf), (0.0 if beta < 0 else math.inf)
    return xp.where(beta > 0, -0.0, -math.inf), xp.where(beta < 0, 0.0, math.inf)


def _swish_plain(x, beta, *, xp):
    native = xp.kernels.silu
    if native is not None and isinstance(beta, float) and beta == 1.0:
        return native(xp.clip(x, min=-800.0))  # silu(-800) is 0 in float32
    neg, pos = _swish_limits(beta, xp)
    return with_limits(x, lambda v: v * sigmoid_plain(safe_scale(beta, v, xp=xp), xp=xp), neg, pos, xp=xp)


def _d_swish_plain(x, beta, *, xp):
    native = xp.kernels.silu_derivative
    if native is not None and isinstance(beta, float) and beta == 1.0:
        return native(_clamp(x, 800.0, xp))
    u = _clamp(safe_scale(beta, x, xp=xp), 1e4, xp)
    return sigmoid_plain(u, xp=xp) * (1.0 + u * sigmoid_plain(-u, xp=xp))


def _swish64(x, beta, *, xp):
    neg, pos = _swish_limits(beta, xp)
    return with_limits(x, lambda v: lg.swish64(v, beta, xp=xp), neg, pos, xp=xp)


swish_math = float32_policy(native_float32=False, plain=_swish_plain)(_swish64)
_d_swish = float32_policy(native_float32=False, plain=_d_swish_plain)(lg.swish_derivative64)


def _d_swish_beta_plain(x, beta, *, xp):
    xc = _clamp(x, 1e150, xp)  # x^2 stays finite (float64)
    u = safe_scale(beta, xc, xp=xp)
    return xc * (xc * (sigmoid_plain(u, xp=xp) * sigmoid_plain(-u, xp=xp)))


_d_swish_beta = float32_policy(native_float32=False, plain=_d_swish_beta_plain)(lg.swish_beta_derivative64)


_SWISH_PROPS = Properties((-0.2785, math.inf), monotone=False, smooth=True, zero_centred=False, bounded=False)


@activation(
    family="self-gated",
    latex=r"x\,\sigma(\beta x)",
    dlatex=r"\sigma(\beta x)\,(1+\beta x\,\sigma(-\beta x))",
    derivative=_d_swish,
    param_derivatives={"beta": _d_swish_beta},
    params=(Param("beta", 1.0, "finite", finite, array=True, sweep=(0.1, 1.0, 10.0)),),
    properties=_SWISH_PROPS,
    reference="Ramachandran et al. 2017 (Swish).",
    xlim=(-5, 3),
    ylim=(-2, 3),
)
def swish(x, beta, *, xp):
    r"""Swish, :math:`x\,\sigma(\beta x)`; ``beta`` fixed or learned (an array).
    beta = 1 is SiLU; beta -> inf tends to ReLU, beta = 0 is x/2.

    ``swish.derivative(x, beta, wrt="beta")`` is :math:`x^2\sigma(\beta x)\sigma(-\beta x)`.

    Returns:
        ``swish(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-0.2785, inf].

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
    properties=_SWISH_PROPS,
    reference="Elfwing et al. 2018 (SiLU); Hendrycks & Gimpel 2016.",
    xlim=(-5, 3),
    ylim=(-2, 3),
)
def silu(x, *, xp):
    r"""Sigmoid linear unit, :math:`x\,\sigma(x)` (Swish with beta = 1).

    Returns:
        ``silu(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-0.2785, inf].

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


def _mish_plain(x, *, xp):
    v = xp.clip(x, min=-800.0)  # mish(-800) is 0 in float32
    native = xp.kernels.mish
    return native(v) if native is not None else v * _mish_tanh_sp(v, xp)[0]


def _d_mish_plain(x, *, xp):
    native = xp.kernels.mish_derivative
    if native is not None:
        return native(_clamp(x, 800.0, xp))
    v = _clamp(x, 1e4, xp)
    t, omt = _mish_tanh_sp(v, xp)
    return t + v * sigmoid_math(v, xp=xp) * omt * (1.0 + t)


_mish = float32_policy(native_float32=False, plain=_mish_plain)(lg.mish64)
_d_mish = float32_policy(native_float32=False, plain=_d_mish_plain)(lg.mish_derivative64)


@activation(
    family="self-gated",
    latex=r"x\tanh(\operatorname{softplus}(x))",
    dlatex=r"\tanh(\operatorname{sp}(x))+x\,\sigma(x)\operatorname{sech}^2(\operatorname{sp}(x))",
    derivative=_d_mish,
    properties=Properties((-0.30885, math.inf), monotone=False, smooth=True, zero_centred=False, bounded=False),
    reference="Misra 2019 (Mish).",
    xlim=(-5, 3),
    ylim=(-1, 3),
)
def mish(x, *, xp):
    r"""Mish, :math:`x\tanh(\log(1+e^x))`, with :math:`\tanh(\mathrm{sp}(x))`
    written as :math:`e(e+2)/(e(e+2)+2)`, :math:`e=e^x`, for x < 0 (and the
    mirrored form for x >= 0): no overflow, 0 (not NaN) at -inf.

    Returns:
        ``mish(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-0.30885, inf].

    Example:
        >>> import actlab
        >>> float(actlab.mish(-1000.0)), float(actlab.mish(1000.0))
        (-0.0, 1000.0)
    """
    return _mish(x, xp=xp)


def _d_hardswish(x, *, xp):
    v = xp.clip(x, min=-3.0, max=3.0)
    d = xp.where(x <= -3.0, 0.0, xp.where(x > 3.0, 1.0, (2.0 * v + 3.0) / 6.0))
    return xp.where(xp.isnan(x), x, d)


@activation(
    family="self-gated",
    latex=r"x\,\frac{\mathrm{relu6}(x+3)}{6}",
    dlatex=r"\begin{cases}0 & x\le-3\\ \frac{2x+3}{6} & -3<x\le3\\ 1 & x>3\end{cases}",
    derivative=_d_hardswish,
    properties=Properties((-0.375, math.inf), monotone=False, smooth=False, zero_centred=False, bounded=False),
    reference="Howard et al. 2019 (MobileNetV3).",
    xlim=(-5, 5),
    notes="At the kinks -3 and 3 the derivative is 0 and 1.5 (PyTorch: -0.5 and 1.5; "
    "0 keeps hardswish'(x) = 0 on the whole flat piece x <= -3).",
)
def hardswish(x, *, xp):
    r"""Hard swish, :math:`x\,\mathrm{relu6}(x+3)/6`.

    Returns:
        ``hardswish(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-0.375, inf].

    Example:
        >>> import actlab
        >>> actlab.hardswish([-1.0, 1.0, 4.0]).tolist()
        [-0.3333333333333333, 0.6666666666666666, 4.0]
    """
    v = xp.clip(x, min=-3.0, max=3.0)
    return xp.where(x <= -3.0, 0.0, xp.where(x >= 3.0, x, v * (v + 3.0) / 6.0))
