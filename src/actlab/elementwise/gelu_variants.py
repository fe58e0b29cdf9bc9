"""The GELU variants that transformers names in ``ACT2FN``, and MEGA's
Laplace attention function (a Gaussian CDF).

transformers' names and what each computes (``actlab.get`` accepts them all):

=====================  ===============================================================  ======================
ACT2FN key             transformers' formula                                            actlab
=====================  ===============================================================  ======================
``gelu``               ``F.gelu``: x Phi(x), exact                                      ``gelu``
``gelu_python``        x/2 (1 + erf(x/sqrt 2)), exact (cancels for x < 0)               ``gelu``
``gelu_new``           x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))                     ``gelu(approximate="tanh")``
``gelu_pytorch_tanh``  ``F.gelu(approximate="tanh")``, the same formula                 ``gelu(approximate="tanh")``
``gelu_python_tanh``   the same formula, written out                                    ``gelu(approximate="tanh")``
``gelu_accurate``      the same formula, sqrt(2/pi) precomputed                         ``gelu(approximate="tanh")``
``gelu_fast``          x/2 (1 + tanh(0.7978845608 x (1 + 0.044715 x^2)))                 ``gelu(approximate="tanh")`` [*]_
``gelu_10``            clip(gelu(x), -10, 10)                                           ``gelu_10``
``quick_gelu``         x sigmoid(1.702 x) (a plain sigmoid)                             ``quick_gelu``
``laplace``            (1 + erf((x - mu)/(sigma sqrt 2)))/2, mu = 0.707107, sigma = 0.282095  ``laplace``
=====================  ===============================================================  ======================

.. [*] 0.7978845608 is sqrt(2/pi) = 0.79788456080286... cut to ten digits: the
   argument of tanh differs by 3.6e-12 relative, below float32's resolution.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .._activation import activation
from .._xp import float32_policy, two_sum, with_limits
from ..registry import Param, Properties, finite, positive
from .constants import INV_SQRT_2PI
from .double_word import DW
from .normal_tail import gaussian_factor, tail_ratio, upper_tail
from .self_gated import _d_gelu_exact, _d_swish, _gelu_exact, swish_math

__all__ = ["quick_gelu", "gelu_10", "laplace"]

_f64 = float32_policy(native_float32=False, saturate=True)  # float32 (and half) via float64

QUICK_GELU_ALPHA = 1.702


def _d_quick_gelu(x, *, xp):
    return _d_swish(x, QUICK_GELU_ALPHA, xp=xp)


@activation(
    family="self-gated",
    latex=r"x\,\sigma(1.702\,x)",
    dlatex=r"\sigma(u)\,(1+u\,\sigma(-u)),\ u=1.702x",
    derivative=_f64(_d_quick_gelu),
    properties=Properties((-0.2785 / QUICK_GELU_ALPHA, math.inf), monotone=False, smooth=True, zero_centred=False,
                          bounded=False),
    reference="Hendrycks & Gimpel 2016 (GELU, the sigmoid approximation); Radford et al. 2021 (CLIP).",
    xlim=(-5, 3),
)
@_f64
def quick_gelu(x, *, xp):
    r"""Quick GELU, :math:`x\,\sigma(1.702x)` (CLIP; transformers' and
    timm's ``quick_gelu``): :func:`swish` with beta = 1.702, so the sigmoid
    is the accurate one (1.702 x carried in a double word), not the plain
    ``torch.sigmoid(1.702 * x)`` of transformers.

    Example:
        >>> import actlab
        >>> float(actlab.quick_gelu(1.0))
        0.8457957659328212
    """
    return swish_math(x, QUICK_GELU_ALPHA, xp=xp)


_GELU_CLIP = 10.0  # gelu(x) > 10 exactly when x > 10 (gelu(10) = 10 - 7.6e-23)


def _d_gelu_10(x, *, xp):
    return xp.where(x > _GELU_CLIP, 0.0, _d_gelu_exact(x, xp=xp))


@activation(
    family="self-gated",
    latex=r"\min(x\,\Phi(x),\,10)",
    dlatex=r"\Phi(x)+x\,\varphi(x)\ \text{for}\ x\le10,\ 0\ \text{beyond}",
    derivative=_f64(_d_gelu_10),
    properties=Properties((-0.17, 10.0), monotone=False, smooth=False, zero_centred=False, bounded=True),
    reference="Hendrycks & Gimpel 2016 (GELU); clipped for quantisation as in Wu et al. 2020 (arXiv 2004.09602).",
    xlim=(-4, 12),
)
@_f64
def gelu_10(x, *, xp):
    r"""GELU clipped to [-10, 10] (transformers' ``gelu_10``): exact GELU
    below 10, 10 above (the lower clip never acts: gelu >= -0.17).

    Example:
        >>> import actlab
        >>> actlab.gelu_10([1.0, 50.0]).tolist()
        [0.8413447460685429, 10.0]
    """
    return xp.where(x > _GELU_CLIP, _GELU_CLIP, _gelu_exact(x, xp=xp))


# -- MEGA's Laplace function: the normal CDF of (x - mu)/sigma --------------------------

LAPLACE_MU = 0.707107  # sqrt(1/2), as transformers rounds it
LAPLACE_SIGMA = 0.282095  # sqrt(1/(4 pi)), likewise
_Z_MAX = 40.0  # Phi(-40) underflows even scaled


def _standardised(x, mu, sigma, xp) -> DW:
    """(x - mu)/sigma as a double word, x clipped where Phi has saturated."""
    span = _Z_MAX * 1.5 * sigma
    xc = xp.clip(x, min=mu - span, max=mu + span)
    d, d_lo = two_sum(xc, xp.zeros_like(xc) - mu)
    return DW(d, d_lo, xp) / sigma


def _inv_sigma_sqrt_2pi(sigma: float) -> tuple[float, float]:
    c = (Fraction(INV_SQRT_2PI[0]) + Fraction(INV_SQRT_2PI[1])) / Fraction(sigma)
    hi = float(c)
    return hi, float(c - Fraction(hi))


def _laplace(x, mu, sigma, *, xp):
    def finite_part(v):
        z = _standardised(v, mu, sigma, xp)
        t = xp.clip(xp.abs(z.hi), max=_Z_MAX)
        delta = xp.where(z.hi < 0, -z.lo, z.lo)  # Q(t + delta) = Q(t) (1 - delta phi(t)/Q(t))
        q, q_lo, scale = upper_tail(t, xp=xp)
        w, _ = tail_ratio(t, xp=xp)
        qd = DW(q, q_lo, xp) * DW.of(1.0 - delta * (INV_SQRT_2PI[0] / w), xp)
        lower = qd.value() * scale
        upper = (1.0 - qd.scale(scale)).value()
        return xp.where(z.hi < 0, lower, upper)

    return with_limits(x, finite_part, 0.0, 1.0, xp=xp)


def _laplace_density(x, mu, sigma, xp):
    """(phi(z)/sigma, z) with phi(z) = e^{-z^2/2}/sqrt(2 pi), z carried exactly."""
    z = _standardised(x, mu, sigma, xp)
    t = xp.clip(xp.abs(z.hi), max=_Z_MAX)
    delta = xp.where(z.hi < 0, -z.lo, z.lo)
    es, es_lo, scale = gaussian_factor(t, xp=xp)
    d = DW(es, es_lo, xp) * DW.of(1.0 - t * delta, xp) * _inv_sigma_sqrt_2pi(sigma)
    return d.value() * scale, z.value()


def _d_laplace(x, mu, sigma, *, xp):
    return with_limits(x, lambda v: _laplace_density(v, mu, sigma, xp)[0], 0.0, 0.0, xp=xp)


def _d_laplace_mu(x, mu, sigma, *, xp):
    return -_d_laplace(x, mu, sigma, xp=xp)


def _d_laplace_sigma(x, mu, sigma, *, xp):
    def finite_part(v):
        d, z = _laplace_density(v, mu, sigma, xp)
        return -(z * d)

    return with_limits(x, finite_part, 0.0, 0.0, xp=xp)


@activation(
    family="sigmoid",
    latex=r"\Phi\!\left(\frac{x-\mu}{\sigma}\right)=\tfrac12\operatorname{erfc}\!\left(\frac{\mu-x}{\sigma\sqrt2}\right)",
    dlatex=r"\frac{1}{\sigma}\,\varphi\!\left(\frac{x-\mu}{\sigma}\right)",
    derivative=_f64(_d_laplace),
    param_derivatives={"mu": _f64(_d_laplace_mu), "sigma": _f64(_d_laplace_sigma)},
    params=(
        Param("mu", LAPLACE_MU, "finite", finite, sweep=(0.0, LAPLACE_MU, 1.5)),
        Param("sigma", LAPLACE_SIGMA, "> 0", positive, sweep=(0.1, LAPLACE_SIGMA, 1.0)),
    ),
    properties=Properties((0, 1), monotone=True, smooth=True, zero_centred=False, bounded=True),
    reference="Ma et al. 2022, Mega: Moving Average Equipped Gated Attention (arXiv 2209.10655).",
    xlim=(-1, 2.5),
)
@_f64
def laplace(x, mu, sigma, *, xp):
    r"""MEGA's Laplace attention function, the normal CDF
    :math:`\Phi((x-\mu)/\sigma)`; with :math:`\mu=\sqrt{1/2}` and
    :math:`\sigma=\sqrt{1/(4\pi)}` it approximates :math:`\mathrm{relu}(x)^2`
    near 0 with a bounded range (transformers' ``laplace``).

    transformers computes ``0.5 * (1 + erf(z))``, which cancels to 0 for
    z < -6; here the lower tail is the Gaussian tail Q with (x - mu)/sigma
    carried in a double word, so laplace(-3) = 9.4e-39 is exact to an ULP.

    Args:
        x: input.
        mu: location (default 0.707107).
        sigma: scale, > 0 (default 0.282095).

    Example:
        >>> import actlab
        >>> float(actlab.laplace(0.707107))
        0.5
    """
    return _laplace(x, mu, sigma, xp=xp)
