"""Exponential-linear units and softplus: smooth rectifiers built on exp."""

from __future__ import annotations

import math

from .._activation import activation
from .._xp import (
    exp_scaled,
    float32_policy,
    float32_via_float64,
    lazy_where,
    mul_exact,
    product_limit,
)
from ..registry import Param, Properties, non_negative, positive
from .constants import SELU_SCALE_ALPHA

__all__ = ["elu", "selu", "celu", "softplus"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
# largest x with a finite SELU_SCALE * x, per dtype (past it the result is inf)
_SELU_LIMIT = {64: product_limit(_SELU_SCALE, 64), 32: product_limit(_SELU_SCALE, 32)}


def elu_math(x, alpha, *, xp):
    return lazy_where(x > 0, x, lambda v: v, lambda v: alpha * xp.expm1(v), xp=xp)


def _elu_negative_slope(x, alpha, *, xp):
    # exp sees min(x, 0): no overflow, and no inf in the branch not taken
    return xp.where(x > 0, 1.0, alpha * xp.exp(xp.clip(x, max=0.0)))


@float32_policy(native_float32=True)
def _d_elu(x, alpha, *, xp):
    return _elu_negative_slope(x, alpha, xp=xp)


@float32_policy(native_float32=True)
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
    reference="Clevert et al. 2016.",
    xlim=(-5, 3),
    notes="x <= 0 uses expm1 (and the derivative alpha e^x, never expm1 + 1); "
    "at 0 the derivative is alpha.",
)
@float32_policy(native_float32=True)
def elu(x, alpha, *, xp):
    r"""Exponential linear unit: x for x > 0, :math:`\alpha(e^x-1)` otherwise.

    Args:
        x: input.
        alpha: saturation value for x -> -inf is -alpha (default 1).

    Returns:
        ``elu(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-1, inf].

    Example:
        >>> import actlab
        >>> actlab.elu([-1e-20, 2.0]).tolist()
        [-1e-20, 2.0]
    """
    native = xp.kernels.elu
    return native(x, alpha) if native is not None else elu_math(x, alpha, xp=xp)


@float32_policy(native_float32=True)
def _d_selu(x, *, xp):
    return xp.where(x > 0, _SELU_SCALE, SELU_SCALE_ALPHA * xp.exp(xp.clip(x, max=0.0)))


def _selu_positive(v, xp):
    lim = _SELU_LIMIT[64 if v.dtype == xp.float64 else 32]
    return xp.where(v > lim, math.inf, _SELU_SCALE * xp.clip(v, max=lim))


@activation(
    family="elu",
    latex=r"\lambda\begin{cases}x & x>0\\ \alpha(e^{x}-1) & x\le0\end{cases}",
    dlatex=r"\lambda\begin{cases}1 & x>0\\ \alpha e^{x} & x\le0\end{cases}",
    derivative=_d_selu,
    properties=Properties((-_SELU_SCALE * _SELU_ALPHA, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    reference="Klambauer et al. 2017 (self-normalising networks).",
    xlim=(-5, 3),
)
@float32_policy(native_float32=True, saturate=True)
def selu(x, *, xp):
    r"""Scaled ELU, :math:`\lambda\,\mathrm{elu}(x, \alpha)` with
    alpha = 1.6732632423543772, lambda = 1.0507009873554805 (Klambauer et al.).

    Returns:
        ``selu(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-1.7581, inf].

    Example:
        >>> import actlab
        >>> round(float(actlab.selu(1.0)), 6)
        1.050701
    """
    native = xp.kernels.selu
    if native is not None:
        return native(x)
    return lazy_where(
        x > 0, x, lambda v: _selu_positive(v, xp), lambda v: SELU_SCALE_ALPHA * xp.expm1(v), xp=xp
    )


def _celu_quotient(v, alpha, xp):
    """``(q, r)`` with ``v/alpha = q + r/alpha`` (``r`` the exact remainder of
    the rounded quotient), for v <= 0; exp(v/alpha) amplifies the rounding
    error of the quotient by |v/alpha| (hundreds of ULPs near underflow)."""
    v = xp.clip(v, min=-1000.0 * alpha)  # exp(-1000) is 0 in every dtype
    q = v / alpha
    p, pe = mul_exact(alpha, q, xp=xp)
    return q, (v - p) - pe


def _d_celu_plain(x, alpha, *, xp):  # float64 for float32 results
    return xp.where(x > 0, 1.0, xp.exp(xp.clip(x, max=0.0) / alpha))


@float32_policy(native_float32=False, plain=_d_celu_plain)
def _d_celu(x, alpha, *, xp):
    def neg(v):
        q, r = _celu_quotient(v, alpha, xp)
        e = xp.exp(q)
        return e + e * (r / alpha)

    return lazy_where(x > 0, x, lambda v: xp.ones_like(v), neg, xp=xp)


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
@float32_policy(native_float32=True)
def celu(x, alpha, *, xp):
    r"""Continuously differentiable ELU, :math:`\max(0,x)+\min(0,\alpha(e^{x/\alpha}-1))`.

    Returns:
        ``celu(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [-1, inf].

    Example:
        >>> import actlab
        >>> float(actlab.celu(-2.0, 2.0))
        -1.2642411176571153
    """
    def neg(v):
        q, r = _celu_quotient(v, alpha, xp)
        em = xp.expm1(q)
        return alpha * em + (em + 1.0) * r  # alpha expm1(q + r/alpha), to first order in r

    native = xp.kernels.celu
    if native is not None:
        return native(x, alpha)
    return lazy_where(x > 0, x, lambda v: v, neg, xp=xp)


def _plain_softplus(x, beta, *, xp):
    native = xp.kernels.softplus  # the backend's, evaluated in float64 for float32 results
    if native is not None:
        return native(x, beta)
    bx = beta * x
    with xp.quiet():  # (a subnormal beta: the quotient may pass the float range)
        tail = xp.log1p(xp.exp(-xp.abs(bx))) / beta
    return xp.where(bx > 0, x, 0.0) + tail


def scaled_argument(beta, x, xp):
    """``(p, e, a, a_lo)``: ``p + e = beta*x`` (``p`` rounded, ``e`` its
    error) and ``a + a_lo = -|beta*x|``, for a Python float beta. |beta x| is
    kept below 1e4 (past it every function of it here has saturated) so the
    splitting of x cannot overflow."""
    lim = min(1e4 / abs(beta), 1e290) if beta else 1e290
    if beta and 1e4 / abs(beta) > 1e290 and x.dtype == xp.float64:
        # a tiny beta: |x| past 1e290 still matters; it is split after an exact
        # rescaling by 2**-64 (beta by 2**64), the product unchanged
        xc = xp.clip(x, min=-1e4 / abs(beta), max=1e4 / abs(beta))
        big = xp.abs(xc) > 1e290
        p1, e1 = mul_exact(beta, xp.where(big, 0.0, xc), xp=xp)
        p2, e2 = mul_exact(beta * 2.0**64, xp.where(big, xc * 2.0**-64, 0.0), xp=xp)
        p, e = xp.where(big, p2, p1), xp.where(big, e2, e1)
    else:
        p, e = mul_exact(beta, xp.clip(x, min=-lim, max=lim), xp=xp)
    return p, e, -xp.abs(p), xp.where(p >= 0, -e, e)


def softplus_math(x, beta, *, xp):
    """softplus in float64 (float32 through float64) with beta*x carried as
    p + e: exp(-|beta x|) would amplify the rounding error of beta*x by
    |beta x| (up to ~700 ULPs)."""
    if x.dtype == xp.float32:
        if xp.accurate_float32 and xp.kernels.softplus is not None and beta == 1.0:  # torch's: within 2 ULPs
            return _plain_softplus(x, beta, xp=xp)
        return float32_via_float64(_plain_softplus, x, beta, xp=xp, saturate=True)
    _, _, a, a_lo = scaled_argument(beta, x, xp)
    es, es_lo, scale = exp_scaled(a, a_lo, xp=xp)
    es = es + es_lo
    # log1p(E) is E itself where E is tiny (scaled, so that E/beta rounds once);
    # for a subnormal beta the quotient may pass the float range: inf, quietly
    with xp.quiet():
        tail = xp.where(scale < 1.0, es, xp.log1p(es * scale)) / beta
    return xp.where(x > 0, x, 0.0) + tail * scale


def logistic_split(p, e, xp):
    """``(sigma(p + e), sigma(-(p + e)))`` from one exponential."""
    a = -xp.abs(p)
    big = xp.exp(a)
    big = big + big * xp.where(p >= 0, -e, e)
    r = 1.0 / (1.0 + big)
    s = big / (1.0 + big)
    return xp.where(p >= 0, r, s), xp.where(p >= 0, s, r)


def _d_softplus(x, beta, *, xp):
    from .sigmoid_like import sigmoid_plain

    if x.dtype == xp.float32:
        return float32_via_float64(lambda v, b, xp: sigmoid_plain(b * v, xp=xp), x, beta, xp=xp)
    p, e, _, _ = scaled_argument(beta, x, xp)
    return logistic_split(p, e, xp)[0]


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
    reference="Dugas et al. 2001.",
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

    Returns:
        ``softplus(x)`` element-wise: an array of the shape, array type and floating dtype of ``x``
        (integers and Python numbers: the default float), values in [0, inf].

    Example:
        >>> import actlab
        >>> float(actlab.softplus(1000.0)), float(actlab.softplus(-700.0))
        (1000.0, 9.85967654375977e-305)
    """
    return softplus_math(x, beta, xp=xp)
