"""S-shaped functions: sigmoid, log-sigmoid, tanh and their cheap relatives."""

from __future__ import annotations

import math
from fractions import Fraction

from .._activation import activation
from .._xp import (
    exp_scaled,
    fast_two_sum,
    float32_policy,
    indicator,
    lazy_where,
    one_plus_square,
    square_exact,
    two_prod,
    two_sum,
    with_limits,
)
from ..registry import Param, Properties, finite

__all__ = [
    "sigmoid", "log_sigmoid", "tanh", "softsign", "hardsigmoid", "hardtanh", "tanhshrink",
]


def _exp_neg_abs(x, xp):
    return xp.exp(-xp.abs(x))


def sigmoid_math(x, *, xp):
    e = _exp_neg_abs(x, xp)
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logistic_density(e, *, xp):
    """``e / (1 + e)**2`` for ``0 <= e <= 1`` (``sigma(x) sigma(-x)`` with
    ``e = exp(-|x|)``), the square formed exactly: about 1 ULP plus exp's error."""
    return e / one_plus_square(e, xp=xp)


# Float32 input runs these shorter "plain" formulas in float64 (accurate to
# ~1e-15 there, with the backend's fused kernel where it has one) and rounds once.

def sigmoid_plain(x, *, xp):
    native = xp.kernels.sigmoid
    return native(x) if native is not None else sigmoid_math(x, xp=xp)


def _d_sigmoid_plain(x, *, xp):
    return sigmoid_plain(x, xp=xp) * sigmoid_plain(-x, xp=xp)


@float32_policy(native_float32=False, plain=_d_sigmoid_plain)
def _d_sigmoid(x, *, xp):
    return logistic_density(_exp_neg_abs(x, xp), xp=xp)


@activation(
    family="sigmoid",
    latex=r"\sigma(x)=\frac{1}{1+e^{-x}}",
    dlatex=r"\sigma(x)\,\sigma(-x)",
    derivative=_d_sigmoid,
    properties=Properties((0, 1), monotone=True, smooth=True, zero_centred=False, bounded=True),
    reference="Logistic function. Stable form split on the sign of x.",
    xlim=(-8, 8),
)
@float32_policy(native_float32=False, plain=sigmoid_plain)
def sigmoid(x, *, xp):
    r"""Logistic sigmoid, :math:`\sigma(x) = 1/(1+e^{-x})`.

    Evaluated as ``1/(1+e^{-|x|})`` for x >= 0 and ``e^{-|x|}/(1+e^{-|x|})``
    for x < 0, so no exponential overflows and tiny outputs (down to
    subnormals) keep full relative precision. Derivative
    :math:`\sigma(x)\sigma(-x)`, never ``s(1-s)``.

    Args:
        x: array (NumPy, PyTorch, any array-API namespace) or Python number.

    Returns:
        ``sigmoid(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [0, 1].

    Example:
        >>> import actlab
        >>> float(actlab.sigmoid(0.0)), float(actlab.sigmoid(-800.0))
        (0.5, 0.0)
        >>> float(actlab.sigmoid(-700.0))
        9.85967654375977e-305
    """
    return sigmoid_math(x, xp=xp)


def log_sigmoid_math(x, *, xp):
    return xp.where(x < 0, x, 0.0) - xp.log1p(_exp_neg_abs(x, xp))


@float32_policy(native_float32=False, plain=lambda x, *, xp: sigmoid_plain(-x, xp=xp))
def _d_log_sigmoid(x, *, xp):
    return sigmoid_math(-x, xp=xp)


@activation(
    family="sigmoid",
    latex=r"\log\sigma(x)=-\log(1+e^{-x})",
    dlatex=r"\sigma(-x)",
    derivative=_d_log_sigmoid,
    properties=Properties((-math.inf, 0), monotone=True, smooth=True, zero_centred=False, bounded=False),
    reference="-softplus(-x); PyTorch LogSigmoid.",
    xlim=(-6, 6),
)
@float32_policy(native_float32=True)
def log_sigmoid(x, *, xp):
    r"""Log of the sigmoid, :math:`\log\sigma(x) = \min(x,0) - \log(1+e^{-|x|})`.

    Returns:
        ``log_sigmoid(x)`` element-wise: an array of the shape, array type and floating dtype of
        ``x`` (integers and Python numbers: the default float), values in [-inf, 0].

    Example:
        >>> import actlab
        >>> float(actlab.log_sigmoid(-1000.0)), float(actlab.log_sigmoid(40.0))
        (-1000.0, -4.248354255291589e-18)
    """
    native = xp.kernels.log_sigmoid  # torch's: within 2 ULPs, float32 and float64
    return native(x) if native is not None else log_sigmoid_math(x, xp=xp)


def _d_tanh_plain(x, *, xp):
    r = 1.0 / xp.cosh(xp.clip(x, min=-400.0, max=400.0))  # sech^2(400) is 0 in float32
    return r * r


@float32_policy(native_float32=False, plain=_d_tanh_plain)
def _d_tanh(x, *, xp):
    # 4e/(1+e)^2, e = exp(-2|x|) (2|x| exact; e^-2e4 is 0 in every dtype),
    # with e scaled up where it is subnormal so that 4e rounds only once.
    a = -2.0 * xp.clip(xp.abs(x), max=1e4)
    es, es_lo, scale = exp_scaled(a, xp.zeros_like(a), xp=xp)
    es = es + es_lo
    return (4.0 * es / one_plus_square(es * scale, xp=xp)) * scale


@activation(
    family="sigmoid",
    latex=r"\tanh(x)=\frac{e^{x}-e^{-x}}{e^{x}+e^{-x}}",
    dlatex=r"\operatorname{sech}^2(x)=\frac{4e^{-2|x|}}{(1+e^{-2|x|})^2}",
    derivative=_d_tanh,
    properties=Properties((-1, 1), monotone=True, smooth=True, zero_centred=True, bounded=True),
    reference="Hyperbolic tangent; tanh(x) = 2 sigmoid(2x) - 1.",
    xlim=(-4, 4),
)
@float32_policy(native_float32=True)
def tanh(x, *, xp):
    r"""Hyperbolic tangent. Derivative :math:`\operatorname{sech}^2 x` from
    :math:`e^{-2|x|}`, never :math:`1-\tanh^2 x`, so it keeps its relative
    precision in the tails (it is a subnormal near |x| = 370).

    Returns:
        ``tanh(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-1, 1].

    Example:
        >>> import actlab
        >>> float(actlab.tanh.derivative(20.0))
        1.6993417021166355e-17
    """
    return xp.tanh(x)


def _d_softsign(x, *, xp):
    # 1/(1+|x|)^2 with 1+|x| = t + tl and t^2 = s + se exact: one rounding
    # before the division. Past 2^511 (float32: 2^63) t^2 would overflow and
    # the result is subnormal, where (1/t)^2 is as good.
    a = xp.abs(x)
    big = 2.0**511 if x.dtype == xp.float64 else 2.0**63
    ac = xp.clip(a, max=big)
    t, tl = fast_two_sum(xp.clip(ac, min=1.0), xp.clip(ac, max=1.0))
    s, se = square_exact(t, xp=xp)
    r = 1.0 / (1.0 + a)
    return xp.where(a > big, r * r, 1.0 / (s + (se + 2.0 * t * tl)))


@activation(
    family="sigmoid",
    latex=r"\frac{x}{1+|x|}",
    dlatex=r"\frac{1}{(1+|x|)^2}",
    derivative=_d_softsign,
    properties=Properties((-1, 1), monotone=True, smooth=False, zero_centred=True, bounded=True),
    reference="Bergstra et al. 2009; PyTorch Softsign.",
    xlim=(-10, 10),
)
def softsign(x, *, xp):
    r"""Softsign, :math:`x/(1+|x|)`; +-1 at +-inf.

    Returns:
        ``softsign(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-1, 1].

    Example:
        >>> import actlab
        >>> actlab.softsign([1.0, float("inf")]).tolist()
        [0.5, 1.0]
    """
    native = xp.kernels.softsign  # torch's: within 1.4 ULPs
    if native is not None:  # (it gives NaN at +-inf: 2^100 / (1 + 2^100) is already +-1)
        return native(xp.clip(x, min=-(2.0**100), max=2.0**100))
    return with_limits(x, lambda v: v / (1.0 + xp.abs(v)), -1.0, 1.0, xp=xp)


def _d_hardsigmoid(x, *, xp):
    return indicator((x > -3.0) & (x < 3.0), x, xp=xp) / 6.0


@activation(
    family="sigmoid",
    latex=r"\min(\max(\tfrac{x+3}{6},0),1)",
    dlatex=r"\tfrac16\,[-3<x<3]",
    derivative=_d_hardsigmoid,
    properties=Properties((0, 1), monotone=True, smooth=False, zero_centred=False, bounded=True),
    reference="Courbariaux et al. 2015; PyTorch Hardsigmoid (relu6(x+3)/6).",
    xlim=(-5, 5),
    notes="At the kinks x = -3 and x = 3 the derivative is 0.",
)
def hardsigmoid(x, *, xp):
    r"""Piecewise-linear sigmoid, :math:`\mathrm{relu6}(x+3)/6`.

    Returns:
        ``hardsigmoid(x)`` element-wise: an array of the shape, array type and floating dtype of
        ``x`` (integers and Python numbers: the default float), values in [0, 1].

    Example:
        >>> import actlab
        >>> actlab.hardsigmoid([-4.0, 0.0, 1.5]).tolist()
        [0.0, 0.5, 0.75]
    """
    return xp.where(x <= -3.0, 0.0, xp.where(x >= 3.0, 1.0, (x + 3.0) / 6.0))


def _d_hardtanh(x, min_val, max_val, *, xp):
    return indicator((x > min_val) & (x < max_val), x, xp=xp)


def _check_hardtanh(x, min_val, max_val, *, xp):
    if isinstance(min_val, float) and isinstance(max_val, float) and not min_val < max_val:
        raise ValueError(f"hardtanh(): min_val must be < max_val, got min_val={min_val}, max_val={max_val}")
    return min_val, max_val


@activation(
    family="sigmoid",
    latex=r"\min(\max(x, a), b)",
    dlatex=r"[a<x<b]",
    derivative=_d_hardtanh,
    params=(
        Param("min_val", -1.0, "finite", finite, sweep=(-1.0, -0.5)),
        Param("max_val", 1.0, "finite", finite, sweep=(1.0, 2.0)),
    ),
    prepare=_check_hardtanh,
    properties=Properties((-1, 1), monotone=True, smooth=False, zero_centred=True, bounded=True),
    reference="PyTorch Hardtanh.",
    xlim=(-3, 3),
    notes="At the kinks x = min_val and x = max_val the derivative is 0.",
)
def hardtanh(x, min_val, max_val, *, xp):
    r"""Clamp to [min_val, max_val] (default [-1, 1]).

    Args:
        x: input.
        min_val, max_val: the clamp bounds, ``min_val < max_val``.

    Returns:
        ``hardtanh(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-1, 1].

    Example:
        >>> import actlab
        >>> actlab.hardtanh([-2.0, 0.5, 3.0]).tolist()
        [-1.0, 0.5, 1.0]
    """
    return xp.where(x <= min_val, min_val, xp.where(x >= max_val, max_val, x))


# Taylor coefficients of x - tanh(x) = sum_k c_k x^(2k+1), k >= 1:
# c_k = -2^(2k+2) (2^(2k+2) - 1) B_(2k+2) / (2k+2)!  (B: Bernoulli numbers).
def _tanhshrink_series() -> tuple[float, ...]:
    def bernoulli(n: int) -> list[Fraction]:
        b: list[Fraction] = [Fraction(0)] * (n + 1)
        b[0] = Fraction(1)
        for m in range(1, n + 1):
            b[m] = -sum((math.comb(m + 1, k) * b[k] for k in range(m)), Fraction(0)) / (m + 1)
        return b

    b = bernoulli(80)
    out = []
    for k in range(1, 40):
        n = 2 * k + 2
        out.append(float(-Fraction(2**n * (2**n - 1)) * b[n] / math.factorial(n)))
    return tuple(out)


_TANHSHRINK_SERIES = _tanhshrink_series()
_THIRD = (1.0 / 3.0, float(Fraction(1, 3) - Fraction(1.0 / 3.0)))  # 1/3 as a double-double
_TANHSHRINK_SMALL = 0.9


def _tanhshrink_small(x, xp):
    # x^3 P(x^2): x^2, x^3, the last Horner step 1/3 + x^2 (...) and the
    # final product are carried in double-word arithmetic, so the result is
    # rounded about once.
    p, pe = square_exact(x, xp=xp)
    acc = _TANHSHRINK_SERIES[-1]
    for c in reversed(_TANHSHRINK_SERIES[1:-1]):
        acc = acc * p + c
    q, qe = two_prod(acc, p, xp=xp)
    s, se = two_sum(_THIRD[0], q)
    s_lo = se + (qe + _THIRD[1] + acc * pe)
    x3, x3e = two_prod(x, p, xp=xp)
    m, me = two_prod(s, x3, xp=xp)
    return m + (me + s * (x3e + x * pe) + s_lo * x3)


def _tanhshrink_large(x, xp):
    # |x| - tanh|x| = (|x| - 1) + 2/(1 + e^{2|x|}): |x| - 1 is exact and the
    # rounding errors of the exponential are damped, unlike those of tanh.
    a = xp.abs(x)
    r = (a - 1.0) + 2.0 / (1.0 + xp.exp(2.0 * xp.clip(a, max=50.0)))
    return xp.where(x < 0, -r, r)


def tanhshrink_plain(x, *, xp):
    # float64 for float32 results: x - tanh(x) is good to 3e-10 (relative)
    # for |x| >= 1e-3; below, two terms of the series (next one: 2e-13).
    native = xp.kernels.tanhshrink
    big = native(x) if native is not None else x - xp.tanh(x)
    x2 = x * x
    return xp.where(xp.abs(x) < 1e-3, x * x2 * (1.0 / 3.0 - x2 * (2.0 / 15.0)), big)


@float32_policy(native_float32=True)
def _d_tanhshrink(x, *, xp):
    t = xp.tanh(x)
    return t * t


@activation(
    family="sigmoid",
    latex=r"x-\tanh(x)",
    dlatex=r"\tanh^2(x)",
    derivative=_d_tanhshrink,
    properties=Properties((-math.inf, math.inf), monotone=True, smooth=True, zero_centred=True, bounded=False),
    reference="PyTorch Tanhshrink.",
    xlim=(-4, 4),
)
@float32_policy(native_float32=False, plain=tanhshrink_plain)
def tanhshrink(x, *, xp):
    r""":math:`x - \tanh x`. Near zero the difference cancels, so |x| < 0.9
    uses its Taylor series (coefficients from Bernoulli numbers, computed
    exactly at import) and keeps full relative precision (~x^3/3).

    Returns:
        ``tanhshrink(x)`` element-wise: an array of the shape, array type and floating dtype of
        ``x`` (integers and Python numbers: the default float), values in [-inf, inf].

    Example:
        >>> import actlab
        >>> float(actlab.tanhshrink(1e-6))
        3.3333333333319997e-19
    """
    return lazy_where(
        xp.abs(x) < _TANHSHRINK_SMALL, x,
        lambda v: _tanhshrink_small(v, xp), lambda v: _tanhshrink_large(v, xp), xp=xp, fill_otherwise=1.0,
    )
