"""Piecewise-linear rectifiers: the ReLU family and the shrink/threshold maps.

At a kink the derivative takes the value PyTorch's backward gives there
(relu'(0) = 0), so gradients match torch.
"""

from __future__ import annotations

import math
from typing import Any

from .._activation import activation
from .._xp import as_float_array, indicator, zero_keep_nan
from ..registry import REQUIRED, Entry, Param, Properties, finite, non_negative, register

__all__ = [
    "relu", "relu6", "leaky_relu", "prelu", "rrelu", "threshold", "softshrink", "hardshrink",
]

_KINK = "At a kink the derivative takes PyTorch's value (relu'(0) = 0)."


def _d_relu(x, *, xp):
    return indicator(x > 0, x, xp=xp)


@activation(
    family="relu",
    latex=r"\max(x,0)",
    dlatex=r"[x>0]",
    derivative=_d_relu,
    properties=Properties((0, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    reference="Nair & Hinton 2010.",
    notes=_KINK,
)
def relu(x, *, xp):
    r"""Rectified linear unit, :math:`\max(x, 0)`; NaN stays NaN.

    Returns:
        ``relu(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [0, inf].

    Example:
        >>> import actlab
        >>> actlab.relu([-1.0, 0.0, 2.0]).tolist(), float(actlab.relu.derivative(0.0))
        ([0.0, 0.0, 2.0], 0.0)
    """
    return xp.where(x <= 0, 0.0, x)


def _d_relu6(x, *, xp):
    return indicator((x > 0) & (x < 6.0), x, xp=xp)


@activation(
    family="relu",
    latex=r"\min(\max(x,0),6)",
    dlatex=r"[0<x<6]",
    derivative=_d_relu6,
    properties=Properties((0, 6), monotone=True, smooth=False, zero_centred=False, bounded=True),
    reference="Krizhevsky 2010; MobileNet (Howard et al. 2017).",
    xlim=(-3, 9),
    notes=_KINK,
)
def relu6(x, *, xp):
    r""":math:`\min(\max(x, 0), 6)`.

    Returns:
        ``relu6(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [0, 6].

    Example:
        >>> import actlab
        >>> actlab.relu6([-1.0, 3.0, 7.0]).tolist()
        [0.0, 3.0, 6.0]
    """
    return xp.where(x <= 0, 0.0, xp.where(x >= 6.0, 6.0, x))


def leaky_math(x, slope, *, xp):
    return xp.where(x >= 0, x, slope * x)


def _d_leaky(x, slope, *, xp):
    d = xp.where(x > 0, 1.0, xp.zeros_like(x) + slope)
    return xp.where(xp.isnan(x), x, d)


def _d_leaky_slope(x, slope, *, xp):
    return xp.where(x > 0, 0.0, x)


_SLOPE: dict[str, Any] = dict(
    family="relu",
    latex=r"\begin{cases}x & x\ge0\\ a x & x<0\end{cases}",
    dlatex=r"\begin{cases}1 & x>0\\ a & x\le0\end{cases}",
    derivative=_d_leaky,
    param_derivatives={},
    properties=Properties((-math.inf, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    notes=_KINK,
)


@activation(
    **{**_SLOPE, "param_derivatives": {"negative_slope": _d_leaky_slope}},
    params=(Param("negative_slope", 0.01, "finite", finite, array=True, sweep=(0.01, 0.1, 0.3)),),
    reference="Maas et al. 2013.",
)
def leaky_relu(x, negative_slope, *, xp):
    r"""Leaky ReLU: x for x >= 0, ``negative_slope * x`` below.

    Args:
        x: input.
        negative_slope: slope a for x < 0 (default 0.01); a number, or an array
            broadcasting against x (as RReLU's random slopes are).

    Returns:
        ``leaky_relu(x)`` element-wise: an array of the shape, array type and floating dtype of
        ``x`` (integers and Python numbers: the default float), values in [-inf, inf].

    Example:
        >>> import actlab
        >>> actlab.leaky_relu([-2.0, 3.0], 0.1).tolist()
        [-0.2, 3.0]
    """
    return leaky_math(x, negative_slope, xp=xp)


def _prelu_channels(x, weight, *, xp):
    """Per-channel slopes live on axis 1 (``(N, C, ...)``, as in torch.nn.PReLU)."""
    if isinstance(weight, float) or weight.ndim == 0:
        return (weight,)
    if weight.ndim != 1:
        raise ValueError(f"prelu(): weight must be 0-d or 1-d, got shape {tuple(weight.shape)}")
    n = weight.shape[0]
    if n == 1:
        return (xp.reshape(weight, ()),)
    if x.ndim < 2 or x.shape[1] != n:
        raise ValueError(
            f"prelu(): weight has {n} entries but x of shape {tuple(x.shape)} has "
            f"{x.shape[1] if x.ndim >= 2 else 'no'} channels on axis 1"
        )
    return (xp.reshape(weight, (n,) + (1,) * (x.ndim - 2)),)


@activation(
    **{**_SLOPE, "param_derivatives": {"weight": _d_leaky_slope}},
    params=(Param("weight", REQUIRED, "any array", None, array=True, sweep=(0.25,)),),
    prepare=_prelu_channels,
    reference="He et al. 2015 (PReLU).",
)
def prelu(x, weight, *, xp):
    r"""Parametric ReLU: leaky ReLU whose slope ``weight`` is learned, one
    shared value or one per channel (axis 1), as ``torch.nn.functional.prelu``.

    ``prelu.derivative(x, weight, wrt="weight")`` is :math:`\min(x, 0)`.

    Returns:
        ``prelu(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-inf, inf].

    Example:
        >>> import actlab
        >>> actlab.prelu([[-2.0, -2.0]], [0.25, 0.5]).tolist()
        [[-0.5, -1.0]]
    """
    return leaky_math(x, weight, xp=xp)


def _d_threshold(x, threshold, value, *, xp):
    return indicator(x > threshold, x, xp=xp)


@activation(
    family="relu",
    latex=r"\begin{cases}x & x>\theta\\ v & x\le\theta\end{cases}",
    dlatex=r"[x>\theta]",
    derivative=_d_threshold,
    params=(
        Param("threshold", REQUIRED, "finite", finite, sweep=(0.0, 1.0)),
        Param("value", REQUIRED, "finite", finite, sweep=(0.0,)),
    ),
    properties=Properties((-math.inf, math.inf), monotone=False, smooth=False, zero_centred=False, bounded=False),
    reference="PyTorch Threshold.",
    notes=_KINK,
)
def threshold(x, threshold, value, *, xp):
    r"""x where ``x > threshold``, else ``value`` (``torch.nn.functional.threshold``).

    Returns:
        ``threshold(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-inf, inf].

    Example:
        >>> import actlab
        >>> actlab.threshold([0.5, 2.0], 1.0, -1.0).tolist()
        [-1.0, 2.0]
    """
    return xp.where(x > threshold, x, xp.where(xp.isnan(x), x, value))


def _d_shrink(x, lambd, *, xp):
    return indicator(xp.abs(x) > lambd, x, xp=xp)


_LAMBD = (Param("lambd", 0.5, ">= 0", non_negative, sweep=(0.5, 1.0)),)


@activation(
    family="shrink",
    latex=r"\operatorname{sign}(x)\max(|x|-\lambda,0)",
    dlatex=r"[|x|>\lambda]",
    derivative=_d_shrink,
    params=_LAMBD,
    properties=Properties((-math.inf, math.inf), monotone=True, smooth=False, zero_centred=True, bounded=False),
    reference="Soft thresholding (Donoho 1995); PyTorch Softshrink.",
    xlim=(-3, 3),
    notes=_KINK,
)
def softshrink(x, lambd, *, xp):
    r"""Soft thresholding: :math:`x-\lambda` above :math:`\lambda`,
    :math:`x+\lambda` below :math:`-\lambda`, 0 between.

    Returns:
        ``softshrink(x)`` element-wise: an array of the shape, array type and floating dtype of
        ``x`` (integers and Python numbers: the default float), values in [-inf, inf].

    Example:
        >>> import actlab
        >>> actlab.softshrink([-2.0, 0.2, 1.0]).tolist()
        [-1.5, 0.0, 0.5]
    """
    return xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, zero_keep_nan(x, xp=xp)))


@activation(
    family="shrink",
    latex=r"x\,[|x|>\lambda]",
    dlatex=r"[|x|>\lambda]",
    derivative=_d_shrink,
    params=_LAMBD,
    properties=Properties((-math.inf, math.inf), monotone=True, smooth=False, zero_centred=True, bounded=False),
    reference="Hard thresholding; PyTorch Hardshrink.",
    xlim=(-3, 3),
    notes=_KINK,
)
def hardshrink(x, lambd, *, xp):
    r"""Hard thresholding: x where :math:`|x| > \lambda`, else 0.

    Returns:
        ``hardshrink(x)`` element-wise: an array of the shape, array type and floating dtype of
        ``x`` (integers and Python numbers: the default float), values in [-inf, inf].

    Example:
        >>> import actlab
        >>> actlab.hardshrink([-2.0, 0.2, 1.0]).tolist()
        [-2.0, 0.0, 1.0]
    """
    return xp.where(xp.abs(x) > lambd, x, zero_keep_nan(x, xp=xp))


def rrelu(x, /, lower=1.0 / 8, upper=1.0 / 3, distribution="uniform", training=False, generator=None):
    r"""Randomised leaky ReLU (Xu et al. 2015).

    In training each negative entry gets its own slope drawn from
    ``uniform(lower, upper)`` or, with ``distribution="normal"``, from a normal
    law with mean ``(lower+upper)/2`` and standard deviation
    ``(upper-lower)/sqrt(12)`` (the uniform law's moments); in evaluation the
    slope is the fixed mean ``(lower+upper)/2``. The gradient is the slope
    that was drawn.

    Args:
        x: input.
        lower, upper: slope bounds, ``0 <= lower <= upper``.
        distribution: "uniform" or "normal".
        training: draw random slopes (True) or use the mean (False).
        generator: ``numpy.random.Generator`` (NumPy input) or
            ``torch.Generator`` (tensor input), for reproducible draws.

    Returns:
        ``rrelu(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-inf, inf].

    Example:
        >>> import actlab, numpy as np
        >>> float(actlab.rrelu(-1.0, 0.1, 0.3))
        -0.2
        >>> y = actlab.rrelu(-np.ones(3), training=True, generator=np.random.default_rng(0))
        >>> bool(np.all((y <= -1/8) & (y >= -1/3)))
        True
    """
    lo = Param("lower", 0.0, "finite and >= 0", non_negative).check(lower, "rrelu")
    hi = Param("upper", 0.0, "finite and >= 0", non_negative).check(upper, "rrelu")
    if lo > hi:
        raise ValueError(f"rrelu(): lower must be <= upper, got lower={lo}, upper={hi}")
    Param("distribution", "uniform", choices=("uniform", "normal")).check(distribution, "rrelu")
    mean = 0.5 * (lo + hi)
    if not training:
        return leaky_relu(x, mean)
    xp, x = as_float_array(x)
    slope = _random_slopes(x, xp, lo, hi, mean, distribution, generator)
    return leaky_relu(x, slope)


def _random_slopes(x, xp, lo, hi, mean, distribution, generator):
    if distribution == "uniform":
        return xp.uniform(x, lo, hi, generator, "rrelu")
    return xp.normal(x, mean, (hi - lo) / math.sqrt(12.0), generator, "rrelu")


def _rrelu_derivative(x, /, lower=1.0 / 8, upper=1.0 / 3, distribution="uniform", wrt="x"):
    """Derivative of :func:`rrelu` in evaluation mode: leaky ReLU's with slope
    (lower+upper)/2. In training the derivative is the slope drawn."""
    return leaky_relu.derivative(x, 0.5 * (lower + upper), wrt={"x": "x"}.get(wrt, "negative_slope"))


rrelu.derivative = _rrelu_derivative  # type: ignore[attr-defined]
rrelu.entry = register(  # type: ignore[attr-defined]
    Entry(
        name="rrelu",
        kind="elementwise",
        family="relu",
        function=rrelu,
        derivative=_rrelu_derivative,
        params=(
            Param("lower", 1.0 / 8, ">= 0, <= upper", non_negative),
            Param("upper", 1.0 / 3, ">= lower", non_negative),
            Param("distribution", "uniform", choices=("uniform", "normal")),
        ),
        latex=_SLOPE["latex"] + r",\ a\sim U(l,u)",
        dlatex=_SLOPE["dlatex"],
        properties=_SLOPE["properties"],
        reference="Xu et al. 2015, Empirical Evaluation of Rectified Activations.",
        notes="Evaluation mode (slope (l+u)/2) is what is plotted and tested. " + _KINK,
    )
)
