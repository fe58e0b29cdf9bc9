"""Activations whose shape parameters are trained with the network: xIELU
(Apertus) and Dynamic Tanh (a normalisation-free replacement of LayerNorm).
The ``actlab.torch`` modules ``XIELU`` and ``DyT`` hold the parameters as
``nn.Parameter``; the functions here take them as numbers or arrays and
have a public partial derivative for each.
"""

from __future__ import annotations

import math

from .._activation import activation
from .._xp import exp_scaled, float32_policy, mul_exact, one_keep_nan, two_prod, with_limits, zero_keep_nan
from ..registry import Param, Properties, finite
from .double_word import DW, exp_dw, lift
from .sigmoid_like import _d_tanh

__all__ = ["xielu", "dyt"]

_f64 = float32_policy(native_float32=False, saturate=True)  # float32 (and half) via float64
_SPLIT_MAX = 1e150
_FAR = -700.0  # below, e^x is negligible beside |x| - 1 (and exp_dw's range ends)


# -- xIELU ------------------------------------------------------------------------------

def _xielu_negative(v, alpha_n, beta, eps, xp):
    """alpha_n (expm1(min(x, eps)) - x) + beta x for x <= 0, rounded once:
    e^x - 1 - x and the sum in double words (both cancel: the first near 0,
    the second at the root of xIELU near x = -2.4 with the defaults)."""
    m = xp.clip(xp.minimum(v, eps + xp.zeros_like(v)), min=_FAR)
    e = exp_dw(m, xp)
    g = (e - 1.0) - DW.of(v, xp)  # e^m - 1 - x
    return (g * lift(alpha_n, xp) + DW.of(v, xp) * lift(beta, xp)).value()


def _xielu(x, alpha_p, alpha_n, beta, eps, *, xp):
    def finite_part(v):
        vp = xp.clip(v, min=0.0, max=_SPLIT_MAX)
        w = DW.of(vp, xp)
        pos = ((w * lift(alpha_p, xp) + lift(beta, xp)) * w).value()
        with xp.quiet():  # alpha_p x^2 past the largest number is +inf
            pos = xp.where(v > _SPLIT_MAX, (alpha_p * v + beta) * v, pos)
        vn = xp.clip(v, min=-_SPLIT_MAX, max=0.0)
        neg = _xielu_negative(vn, alpha_n, beta, eps, xp)
        far = (beta - alpha_n) * v - alpha_n  # e^x is nothing beside |x|
        return xp.where(v > 0, pos, xp.where(v < -_SPLIT_MAX, far, neg))

    def limit_neg():
        return xp.where(alpha_n > beta, math.inf, xp.where(alpha_n < beta, -math.inf, -alpha_n)) \
            if not isinstance(alpha_n, float) or not isinstance(beta, float) else \
            (math.inf if alpha_n > beta else -math.inf if alpha_n < beta else -alpha_n)

    pos_lim = math.inf
    return with_limits(x, finite_part, limit_neg(), pos_lim, xp=xp)


def _d_xielu(x, alpha_p, alpha_n, beta, eps, *, xp):
    """2 alpha_p x + beta for x > 0; alpha_n expm1(x) + beta for x <= eps (its
    root, e^x = 1 - beta/alpha_n, kept to its relative precision);
    beta - alpha_n between."""
    def finite_part(v):
        vp = xp.clip(v, min=0.0, max=_SPLIT_MAX)
        with xp.quiet():
            dw_pos = (DW.of(vp, xp) * lift(alpha_p, xp) * 2.0 + lift(beta, xp)).value()
            pos = xp.where(v > _SPLIT_MAX, 2.0 * alpha_p * v + beta, dw_pos)
        m = xp.clip(xp.where(v <= eps, v, -1.0), min=_FAR)
        e = exp_dw(m, xp)
        left = ((e - 1.0) * lift(alpha_n, xp) + lift(beta, xp)).value()
        left = xp.where(v < _FAR, beta - alpha_n + 0.0 * v, left)
        mid = (beta - alpha_n) + 0.0 * v
        return xp.where(v > 0, pos, xp.where(v <= eps, left, mid))

    neg_lim = beta - alpha_n
    return with_limits(x, finite_part, neg_lim, math.inf, xp=xp)


def _d_xielu_alpha_p(x, alpha_p, alpha_n, beta, eps, *, xp):
    with xp.quiet():
        return xp.where(x > 0, x * x, zero_keep_nan(x, xp=xp))


def _d_xielu_alpha_n(x, alpha_p, alpha_n, beta, eps, *, xp):
    def finite_part(v):
        vn = xp.clip(v, min=-_SPLIT_MAX, max=0.0)
        m = xp.clip(xp.minimum(vn, eps + xp.zeros_like(vn)), min=_FAR)
        g = ((exp_dw(m, xp) - 1.0) - DW.of(vn, xp)).value()
        return xp.where(v > 0, 0.0, xp.where(v < -_SPLIT_MAX, -1.0 - v, g))

    return with_limits(x, finite_part, math.inf, 0.0, xp=xp)


def _d_xielu_beta(x, alpha_p, alpha_n, beta, eps, *, xp):
    return x * 1.0


_XIELU_PARAMS = (
    Param("alpha_p", 0.8, "finite", finite, array=True, sweep=(0.4, 0.8, 1.6), doc="slope of the positive branch"),
    Param("alpha_n", 0.8, "finite", finite, array=True, sweep=(0.4, 0.8, 1.6), doc="slope of the negative branch"),
    Param("beta", 0.5, "finite", finite, array=True, doc="linear term"),
    Param("eps", -1e-6, "<= 0", lambda v: -math.inf < v <= 0, doc="where the negative branch stops"),
)


@activation(
    family="elu",
    latex=r"\begin{cases}\alpha_p x^2+\beta x & x>0\\ \alpha_n\left(e^{\min(x,\epsilon)}-1-x\right)+\beta x & x\le0\end{cases}",
    dlatex=r"\begin{cases}2\alpha_p x+\beta & x>0\\ \alpha_n(e^{x}-1)+\beta & x\le\epsilon\\ \beta-\alpha_n & "
    r"\epsilon<x\le0\end{cases}",
    derivative=_f64(_d_xielu),
    param_derivatives={"alpha_p": _f64(_d_xielu_alpha_p), "alpha_n": _f64(_d_xielu_alpha_n),
                       "beta": _f64(_d_xielu_beta)},
    params=_XIELU_PARAMS,
    properties=Properties((-0.3, math.inf), monotone=False, smooth=False, zero_centred=False, bounded=False),
    reference="Huang & Schlag 2024, Deriving Activation Functions Using Integration (xIELU, arXiv 2411.13010); "
    "used in Apertus (Swiss AI 2025).",
    xlim=(-6, 2),
)
@_f64
def xielu(x, alpha_p, alpha_n, beta, eps, *, xp):
    r"""xIELU, the expanded integral of the ELU: :math:`\alpha_p x^2+\beta x`
    for x > 0 and :math:`\alpha_n(\mathrm{expm1}(\min(x,\epsilon)) - x)+\beta x`
    for x <= 0, as transformers' ``XIELUActivation`` computes it. Here
    ``alpha_p`` and ``alpha_n`` are the effective coefficients; the module
    (``actlab.torch.XIELU``) learns them as transformers does, alpha_p =
    softplus(a_p) and alpha_n = beta + softplus(a_n).

    e^x - 1 - x and the final sum are formed in double words (both cancel);
    half precision is computed in float32, where transformers' bfloat16
    ``expm1(min(x, eps))`` rounds eps = -1e-6 and the sum to 8 bits.

    Example:
        >>> import actlab
        >>> float(actlab.xielu(1.0)), float(actlab.xielu(-1.0))
        (1.3, -0.20569644706284612)
    """
    return _xielu(x, alpha_p, alpha_n, beta, eps, xp=xp)


# -- Dynamic Tanh ----------------------------------------------------------------------------

def _scaled_argument(alpha, x, xp):
    """alpha x as (hi, lo), exact where it matters (|alpha x| < 1e4: sech^2 is 0 beyond)."""
    if isinstance(alpha, float):
        lim = min(1e4 / abs(alpha), _SPLIT_MAX) if alpha else _SPLIT_MAX
        return mul_exact(alpha, xp.clip(x, min=-lim, max=lim), xp=xp)
    a = xp.clip(alpha, min=-1e100, max=1e100)
    return two_prod(a, xp.clip(x, min=-1e100, max=1e100), xp=xp)


def _tanh_dw(hi, lo, xp):
    """tanh(hi + lo) to first order in lo."""
    return xp.tanh(hi) + _d_tanh(hi, xp=xp) * lo


def _scaled_sech2(hi, lo, factors, xp):
    """The product of ``factors`` (one or two numbers or arrays) and
    sech^2(hi + lo), rounded once: sech^2 y = 4e/(1 + e)^2 with e = e^{-2|y|}
    from the backend's exp (shifted out of the subnormal range, see
    ``exp_scaled``) and everything after it in double words, so only the
    exponential's rounding reaches the result (~1.5 ULPs, not 3 to 5). A
    factor beyond Dekker's range (1e150) gives the plain product instead."""
    a = -2.0 * xp.clip(xp.abs(hi), max=1e4)
    a_lo = xp.where(xp.abs(hi) <= 1e4, -2.0 * xp.where(hi < 0, -lo, lo), 0.0)  # |y| = |hi| + sign(hi) lo
    es, es_lo, scale = exp_scaled(a, a_lo, xp=xp)
    e = DW(es, es_lo, xp)  # e^{-2|y|} / scale, es_lo its first-order term in lo
    q = e.scale(scale) + 1.0
    s = (e * 4.0) / (q * q)
    plain, big = s.value(), False
    with xp.quiet():  # a product past the largest float is +-inf, the right answer
        for f in factors:
            plain = plain * f
            if isinstance(f, (int, float)):
                big = big or abs(f) > _SPLIT_MAX
                s = s * max(min(float(f), _SPLIT_MAX), -_SPLIT_MAX)
            else:
                big = big | (xp.abs(f) > _SPLIT_MAX)
                s = s * DW.of(xp.clip(f, min=-_SPLIT_MAX, max=_SPLIT_MAX), xp)
    if isinstance(big, bool):
        return (plain if big else s.value()) * scale
    return xp.where(big, plain, s.value()) * scale


def _dyt(x, alpha, weight, bias, *, xp):
    hi, lo = _scaled_argument(alpha, x, xp)
    return weight * _tanh_dw(hi, lo, xp) + bias


def _d_dyt(x, alpha, weight, bias, *, xp):
    hi, lo = _scaled_argument(alpha, x, xp)
    return _scaled_sech2(hi, lo, (weight, alpha), xp)


def _d_dyt_alpha(x, alpha, weight, bias, *, xp):
    hi, lo = _scaled_argument(alpha, x, xp)
    s2 = _scaled_sech2(hi, lo, (weight,), xp)
    return xp.where(s2 == 0, 0.0, x) * s2  # 0 (not inf * 0) where sech^2 underflows


def _d_dyt_weight(x, alpha, weight, bias, *, xp):
    hi, lo = _scaled_argument(alpha, x, xp)
    return _tanh_dw(hi, lo, xp) + 0.0 * weight


def _d_dyt_bias(x, alpha, weight, bias, *, xp):
    return one_keep_nan(x, xp=xp) + 0.0 * bias


@activation(
    family="sigmoid",
    latex=r"w\tanh(\alpha x)+b",
    dlatex=r"w\,\alpha\operatorname{sech}^2(\alpha x)",
    derivative=_f64(_d_dyt),
    param_derivatives={"alpha": _f64(_d_dyt_alpha), "weight": _f64(_d_dyt_weight), "bias": _f64(_d_dyt_bias)},
    params=(
        Param("alpha", 0.5, "finite", finite, array=True, sweep=(0.5, 1.0, 2.0)),
        Param("weight", 1.0, "finite", finite, array=True),
        Param("bias", 0.0, "finite", finite, array=True),
    ),
    properties=Properties((-1, 1), monotone=True, smooth=True, zero_centred=True, bounded=True),
    reference="Zhu, Chen, He, LeCun & Liu 2025, Transformers without Normalization (DyT, arXiv 2503.10622).",
    xlim=(-6, 6),
)
@_f64
def dyt(x, alpha, weight, bias, *, xp):
    r"""Dynamic Tanh, :math:`w\tanh(\alpha x)+b`: a learned scalar alpha
    (init 0.5) and a per-channel affine map (``actlab.torch.DyT`` holds them),
    with alpha x carried in a double word.

    Example:
        >>> import actlab
        >>> float(actlab.dyt(2.0)) == float(actlab.tanh(1.0))
        True
    """
    return _dyt(x, alpha, weight, bias, xp=xp)
