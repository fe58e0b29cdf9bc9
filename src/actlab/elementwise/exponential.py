"""Exponential-linear units and softplus: smooth rectifiers built on exp."""

from __future__ import annotations

import math

from .._activation import activation
from .._xp import lazy_where
from ..registry import Param, Properties, non_negative, positive

__all__ = ["elu", "selu", "celu", "softplus"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def elu_math(x, alpha, *, xp):
    return lazy_where(x > 0, x, lambda v: v, lambda v: alpha * xp.expm1(v), xp=xp)


def _elu_negative_slope(x, alpha, *, xp):
    return lazy_where(x > 0, x, lambda v: xp.ones_like(v), lambda v: alpha * xp.exp(v), xp=xp)


def _d_elu(x, alpha, *, xp):
    return _elu_negative_slope(x, alpha, xp=xp)


def _d_elu_alpha(x, alpha, *, xp):
    return lazy_where(x > 0, x, lambda v: xp.zeros_like(v), xp.expm1, xp=xp)


_ELU_PROPS = Properties((-1, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False)


@activation(
    family="elu",
    latex=r"\begin{cases}x & x>0\\ \alpha(e^{x}-1) & x\le0\end{cases}",
    dlatex=r"\begin{cases}1 & x>0\\ \alpha e^{x} & x\le0\end{cases}",
    derivative=_d_elu,
    param_derivatives={"alpha": _d_elu_alpha},
    params=(Param("alpha", 1.0, "finite and >= 0", non_negative, sweep=(0.5, 1.0, 2.0)),),
    properties=_ELU_PROPS,
    reference="Clevert et al. 2016; seed 004.",
    xlim=(-5, 3),
    notes="x <= 0 uses expm1 (and the derivative alpha e^x, never expm1 + 1); "
    "at 0 the derivative is alpha.",
)
def elu(x, alpha, *, xp):
    r"""Exponential linear unit: x for x > 0, :math:`\alpha(e^x-1)` otherwise.

    Args:
        x: input.
        alpha: saturation value for x -> -inf is -alpha (default 1).

    Example:
        >>> import actlab
        >>> actlab.elu([-1e-20, 2.0]).tolist()
        [-1e-20, 2.0]
    """
    return elu_math(x, alpha, xp=xp)


def _d_selu(x, *, xp):
    return _SELU_SCALE * _elu_negative_slope(x, _SELU_ALPHA, xp=xp)


@activation(
    family="elu",
    latex=r"\lambda\begin{cases}x & x>0\\ \alpha(e^{x}-1) & x\le0\end{cases}",
    dlatex=r"\lambda\begin{cases}1 & x>0\\ \alpha e^{x} & x\le0\end{cases}",
    derivative=_d_selu,
    properties=Properties((-_SELU_SCALE * _SELU_ALPHA, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    reference="Klambauer et al. 2017 (self-normalising networks); seed 004.",
    xlim=(-5, 3),
)
def selu(x, *, xp):
    r"""Scaled ELU, :math:`\lambda\,\mathrm{elu}(x, \alpha)` with
    alpha = 1.6732632423543772, lambda = 1.0507009873554805 (Klambauer et al.).

    Example:
        >>> import actlab
        >>> round(float(actlab.selu(1.0)), 6)
        1.050701
    """
    big = float(xp.finfo(x.dtype).max) / _SELU_SCALE  # beyond it the true value overflows to inf

    def positive(v):
        return xp.where(v > big, math.inf, _SELU_SCALE * xp.where(v > big, 0.0, v))

    return lazy_where(x > 0, x, positive, lambda v: (_SELU_SCALE * _SELU_ALPHA) * xp.expm1(v), xp=xp)


def _d_celu(x, alpha, *, xp):
    return lazy_where(x > 0, x, lambda v: xp.ones_like(v), lambda v: xp.exp(v / alpha), xp=xp)


@activation(
    family="elu",
    latex=r"\max(0,x)+\min(0,\alpha(e^{x/\alpha}-1))",
    dlatex=r"\begin{cases}1 & x>0\\ e^{x/\alpha} & x\le0\end{cases}",
    derivative=_d_celu,
    params=(Param("alpha", 1.0, "> 0", positive, sweep=(0.5, 1.0, 2.0)),),
    properties=_ELU_PROPS,
    reference="Barron 2017, Continuously Differentiable Exponential Linear Units.",
    xlim=(-5, 3),
)
def celu(x, alpha, *, xp):
    r"""Continuously differentiable ELU, :math:`\max(0,x)+\min(0,\alpha(e^{x/\alpha}-1))`.

    Example:
        >>> import actlab
        >>> float(actlab.celu(-2.0, 2.0))
        -1.2642411176571153
    """
    return lazy_where(x > 0, x, lambda v: v, lambda v: alpha * xp.expm1(v / alpha), xp=xp)


def softplus_math(x, beta, *, xp):
    bx = beta * x
    tail = xp.log1p(xp.exp(-xp.abs(bx)))
    return xp.where(bx > 0, x, 0.0) + tail / beta


def _d_softplus(x, beta, *, xp):
    from .sigmoid_like import sigmoid_math

    return sigmoid_math(beta * x, xp=xp)


def _d_softplus_beta(x, beta, *, xp):
    from .sigmoid_like import sigmoid_math

    return (x * sigmoid_math(beta * x, xp=xp) - softplus_math(x, beta, xp=xp)) / beta


@activation(
    family="softplus",
    latex=r"\frac{1}{\beta}\log(1+e^{\beta x})",
    dlatex=r"\sigma(\beta x)",
    derivative=_d_softplus,
    param_derivatives={"beta": _d_softplus_beta},
    params=(Param("beta", 1.0, "> 0", positive, sweep=(0.5, 1.0, 2.0, 5.0)),),
    properties=Properties((0, math.inf), monotone=True, smooth=True, zero_centred=False, bounded=False),
    reference="Dugas et al. 2001; seed 004.",
    xlim=(-5, 5),
    notes="No threshold: max(x,0) + log1p(e^-|x|) is exact at both ends.",
)
def softplus(x, beta, *, xp):
    r"""Softplus, :math:`\frac1\beta\log(1+e^{\beta x})`, as
    :math:`\max(x,0)+\frac1\beta\log1p(e^{-|\beta x|})`: no overflow, no
    threshold that returns x early, tiny outputs keep full precision.

    Args:
        x: input.
        beta: sharpness, > 0 (default 1).

    Example:
        >>> import actlab
        >>> float(actlab.softplus(1000.0)), float(actlab.softplus(-700.0))
        (1000.0, 9.85967654375977e-305)
    """
    return softplus_math(x, beta, xp=xp)
