"""Piecewise-polynomial and algebraic activations: squared ReLU, StarReLU,
squareplus, the sparse softplus and sigmoid of the 2-D sparsemax, hard
mish and PolyReLU.

Every formula here is a short polynomial or one square root, so float64
results are within a couple of ULPs with plain arithmetic, except where two
terms cancel: StarReLU's s r^2 + b near its root, PolyReLU's Horner sum and
squareplus's x + sqrt(x^2 + b) for x < 0 are carried in double words.
"""

from __future__ import annotations

import math

from .._activation import activation
from .._xp import float32_policy, indicator, one_keep_nan, with_limits, zero_keep_nan
from ..registry import Param, Properties, finite, positive
from .double_word import DW, lift

__all__ = ["relu2", "star_relu", "squareplus", "sparse_plus", "sparse_sigmoid", "hard_mish", "poly_relu"]

_f64 = float32_policy(native_float32=False, saturate=True)  # float32 (and half) via float64

_SPLIT_MAX = 1e150  # Dekker's products are exact below this magnitude (float64)
_SQ_MAX = 1e75  # squareplus past it: x or b/(4|x|) to the last bit (and h (h - x) stays splittable)


def _relu(x, xp):
    return xp.where(x > 0, x, zero_keep_nan(x, xp=xp))


# -- squared ReLU and StarReLU ---------------------------------------------------

def _relu2(x, *, xp):
    r = _relu(x, xp)
    with xp.quiet():  # past sqrt(max) the square is +inf, the right answer
        return r * r


def _d_relu2(x, *, xp):
    r = _relu(x, xp)
    with xp.quiet():
        return 2.0 * r


@activation(
    family="relu",
    latex=r"\max(x,0)^2",
    dlatex=r"2\max(x,0)",
    derivative=_f64(_d_relu2),
    properties=Properties((0, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    reference="So et al. 2021, Primer: Searching for Efficient Transformers (arXiv 2109.08668).",
    xlim=(-2, 2),
)
@_f64
def relu2(x, *, xp):
    r"""Squared ReLU, :math:`\max(x,0)^2` (Primer; transformers' ``relu2``).

    Example:
        >>> import actlab
        >>> actlab.relu2([-1.0, 3.0]).tolist(), actlab.relu2.derivative(3.0).tolist()
        ([0.0, 9.0], 6.0)
    """
    return _relu2(x, xp=xp)


def _scaled_square_plus(x, scale, bias, xp):
    """scale * relu(x)^2 + bias, rounded once (the square and the product in
    double words, so the sum keeps its precision near its root)."""
    r = _relu(x, xp)
    rc = xp.clip(r, max=_SPLIT_MAX)
    v = DW.of(rc, xp)
    sq = v * v
    accurate = (sq * lift(scale, xp) + lift(bias, xp)).value()
    with xp.quiet():
        plain = (scale * r) * r + bias
    return xp.where(r > _SPLIT_MAX, plain, accurate)


def _d_star_relu(x, scale, bias, *, xp):
    r = _relu(x, xp)
    with xp.quiet():
        return 2.0 * (scale * r)


def _d_star_relu_scale(x, scale, bias, *, xp):
    return _relu2(x, xp=xp)


def _d_star_relu_bias(x, scale, bias, *, xp):
    return one_keep_nan(x, xp=xp)


_S_STAR = 0.8944271909999159  # 1 / sqrt(1.25)
_B_STAR = -0.4472135954999579  # -0.5 / sqrt(1.25)


@activation(
    family="relu",
    latex=r"s\,\max(x,0)^2+b",
    dlatex=r"2s\max(x,0)",
    derivative=_f64(_d_star_relu),
    param_derivatives={"scale": _f64(_d_star_relu_scale), "bias": _f64(_d_star_relu_bias)},
    params=(
        Param("scale", _S_STAR, "finite", finite, array=True, sweep=(0.5, _S_STAR, 2.0)),
        Param("bias", _B_STAR, "finite", finite, array=True),
    ),
    properties=Properties((_B_STAR, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    reference="Yu et al. 2023, MetaFormer Baselines for Vision (arXiv 2210.13452).",
    xlim=(-2, 2),
)
@_f64
def star_relu(x, scale, bias, *, xp):
    r"""StarReLU, :math:`s\,\mathrm{relu}(x)^2 + b`. The defaults
    :math:`s = 1/\sqrt{1.25}`, :math:`b = -0.5/\sqrt{1.25}` make the output
    zero-mean with unit variance for a standard normal x (the paper's
    choice; its module learns both, see ``actlab.torch.StarReLU``).

    Example:
        >>> import actlab
        >>> round(float(actlab.star_relu(1.0, 1.0, -1.0)), 12)
        0.0
    """
    return _scaled_square_plus(x, scale, bias, xp)


# -- squareplus ---------------------------------------------------------------------

def _hypot_dw(x, b, xp) -> DW:
    """sqrt(x^2 + b) as a double word (|x| <= 1e150): the square and the sum
    exact, one Newton correction of the root."""
    v = DW.of(x, xp)
    s = v * v + b
    h = xp.sqrt(s.hi)
    hv = DW.of(h, xp)
    return DW(h, ((s - hv * hv) / DW.of(2.0 * h, xp)).value(), xp)


def _squareplus_parts(x, b, xp):
    """(x >= 0 part, its root, x < 0 part, its root, |x| > 1e150): each
    branch sees only its own entries (the other's stand-in is harmless)."""
    xc = xp.clip(x, min=-_SQ_MAX, max=_SQ_MAX)
    xpos, xneg = xp.where(xc >= 0, xc, 0.0), xp.where(xc < 0, xc, -1.0)
    return xpos, _hypot_dw(xpos, b, xp), xneg, _hypot_dw(xneg, b, xp), xp.abs(x) > _SQ_MAX


def _const(c, like, xp):
    """The number c as a double word shaped like ``like`` (no ``float / DW``, which torch.compile cannot trace)."""
    return DW.of(xp.zeros_like(like) + c, xp)


def _far(v, big, xp):
    return xp.where(big, xp.abs(v), 1.0)


def _squareplus(x, b, *, xp):
    def finite_part(v):
        xpos, hp, xneg, hn, big = _squareplus_parts(v, b, xp)
        pos = (hp + DW.of(xpos, xp)).scale(0.5).value()
        neg = (_const(b, v, xp) / ((hn - DW.of(xneg, xp)).scale(2.0))).value()  # = b / (2 (h - x)): no cancellation
        small = xp.where(v >= 0, pos, neg)
        return xp.where(big, xp.where(v > 0, v, (0.25 * b) / _far(v, big, xp)), small)

    return with_limits(x, finite_part, 0.0, math.inf, xp=xp)


def _d_squareplus(x, b, *, xp):
    def finite_part(v):
        xpos, hp, xneg, hn, big = _squareplus_parts(v, b, xp)
        pos = ((hp + DW.of(xpos, xp)) / hp.scale(2.0)).value()
        neg = (_const(b, v, xp) / (hn * (hn - DW.of(xneg, xp))).scale(2.0)).value()
        small = xp.where(v >= 0, pos, neg)
        far = _far(v, big, xp)
        return xp.where(big, xp.where(v > 0, 1.0, ((0.25 * b) / far) / far), small)

    return with_limits(x, finite_part, 0.0, 1.0, xp=xp)


def _d_squareplus_b(x, b, *, xp):
    def finite_part(v):
        xpos, hp, xneg, hn, big = _squareplus_parts(v, b, xp)
        h = DW(xp.where(v >= 0, hp.hi, hn.hi), xp.where(v >= 0, hp.lo, hn.lo), xp)
        return xp.where(big, 0.25 / _far(v, big, xp), (_const(1.0, v, xp) / h).scale(0.25).value())

    return with_limits(x, finite_part, 0.0, 0.0, xp=xp)


@activation(
    family="softplus",
    latex=r"\tfrac12\left(x+\sqrt{x^2+b}\right)",
    dlatex=r"\tfrac12\left(1+\frac{x}{\sqrt{x^2+b}}\right)",
    derivative=_f64(_d_squareplus),
    param_derivatives={"b": _f64(_d_squareplus_b)},
    params=(Param("b", 4.0, "> 0", positive, sweep=(0.5, 4.0, 16.0)),),
    properties=Properties((0, math.inf), monotone=True, smooth=True, zero_centred=False, bounded=False),
    reference="Barron 2021, Squareplus: A Softplus-Like Algebraic Rectifier (arXiv 2112.11687).",
    xlim=(-5, 5),
)
@_f64
def squareplus(x, b, *, xp):
    r"""Squareplus, :math:`\frac12(x+\sqrt{x^2+b})`, a softplus made of one
    square root (jax.nn.squareplus). For x < 0 it is evaluated as
    :math:`b/(2(\sqrt{x^2+b}-x))`, which does not cancel, and the root is
    carried in a double word; squareplus(-1e308) is a subnormal, not 0.

    Args:
        x: input.
        b: curvature near 0, > 0 (default 4; b -> 0 tends to ReLU).

    Example:
        >>> import actlab
        >>> float(actlab.squareplus(0.0)), float(actlab.squareplus(-1e6))
        (1.0, 9.99999999999e-07)
    """
    return _squareplus(x, b, xp=xp)


# -- the 2-D sparsemax as a softplus and a sigmoid --------------------------------------

def _sparse_plus(x, *, xp):
    v = xp.clip(x, min=-1.0, max=1.0)
    return xp.where(x <= -1.0, 0.0, xp.where(x >= 1.0, x, (v + 1.0) * (v + 1.0) * 0.25))


def _d_sparse_plus(x, *, xp):
    v = xp.clip(x, min=-1.0, max=1.0)
    return xp.where(x <= -1.0, 0.0, xp.where(x >= 1.0, 1.0, (v + 1.0) * 0.5))


_SPARSE_REF = "Martins & Astudillo 2016 (sparsemax); Blondel, Martins & Niculae 2020 (arXiv 1901.02324), section 6."


@activation(
    family="softplus",
    latex=r"\begin{cases}0 & x\le-1\\ \tfrac14(x+1)^2 & -1<x<1\\ x & x\ge1\end{cases}",
    dlatex=r"\operatorname{clip}\!\left(\tfrac{x+1}{2},0,1\right)",
    derivative=_f64(_d_sparse_plus),
    properties=Properties((0, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    reference=_SPARSE_REF,
    xlim=(-3, 3),
)
@_f64
def sparse_plus(x, *, xp):
    r"""Sparse plus, the "hard" softplus of the 2-D sparsemax: its
    derivative is sparsemax([x, 0])_1 = clip((x+1)/2, 0, 1), as softplus's is
    softmax([x, 0])_1 (jax.nn.sparse_plus, Keras).

    Example:
        >>> import actlab
        >>> actlab.sparse_plus([-2.0, 0.0, 2.0]).tolist()
        [0.0, 0.25, 2.0]
    """
    return _sparse_plus(x, xp=xp)


def _sparse_sigmoid(x, *, xp):
    return xp.clip((xp.clip(x, min=-2.0, max=2.0) + 1.0) * 0.5, min=0.0, max=1.0)


def _d_sparse_sigmoid(x, *, xp):
    return indicator((x > -1.0) & (x < 1.0), x, xp=xp) * 0.5


@activation(
    family="sigmoid",
    latex=r"\operatorname{clip}\!\left(\tfrac{x+1}{2},0,1\right)",
    dlatex=r"\tfrac12\,[\,|x|<1\,]",
    derivative=_f64(_d_sparse_sigmoid),
    properties=Properties((0, 1), monotone=True, smooth=False, zero_centred=False, bounded=True),
    reference=_SPARSE_REF,
    xlim=(-3, 3),
    notes="At the kinks x = -1 and 1 the derivative is 0 (jax.nn's convention).",
)
@_f64
def sparse_sigmoid(x, *, xp):
    r"""Sparse sigmoid, sparsemax([x, 0])_1 = clip((x+1)/2, 0, 1): the
    derivative of :func:`sparse_plus` (jax.nn.sparse_sigmoid, Keras).

    Example:
        >>> import actlab
        >>> actlab.sparse_sigmoid([-2.0, 0.5, 2.0]).tolist()
        [0.0, 0.75, 1.0]
    """
    return _sparse_sigmoid(x, xp=xp)


# -- hard mish ----------------------------------------------------------------------------

def _hard_mish(x, *, xp):
    v = xp.clip(x, min=-2.0, max=0.0)
    return xp.where(x <= -2.0, 0.0, xp.where(x >= 0.0, x, v * (v + 2.0) * 0.5))


def _d_hard_mish(x, *, xp):
    v = xp.clip(x, min=-2.0, max=0.0)
    return xp.where(x <= -2.0, 0.0, xp.where(x >= 0.0, 1.0, v + 1.0))


@activation(
    family="self-gated",
    latex=r"\tfrac{x}{2}\operatorname{clip}(x+2,0,2)",
    dlatex=r"\begin{cases}0 & x\le-2\\ x+1 & -2<x<0\\ 1 & x\ge0\end{cases}",
    derivative=_f64(_d_hard_mish),
    properties=Properties((-0.5, math.inf), monotone=False, smooth=False, zero_centred=False, bounded=False),
    reference="timm's hard_mish (Wightman), after Misra 2019 (Mish) and Howard et al. 2019 (hard swish).",
    xlim=(-4, 3),
    notes="At the kink x = -2 the derivative is 0 (timm: -1), as for hardswish.",
)
@_f64
def hard_mish(x, *, xp):
    r"""Hard mish, :math:`\frac x2\,\mathrm{clip}(x+2, 0, 2)`: a piecewise
    quadratic mish (timm's ``hard_mish``).

    Example:
        >>> import actlab
        >>> actlab.hard_mish([-3.0, -1.0, 2.0]).tolist()
        [0.0, -0.5, 2.0]
    """
    return _hard_mish(x, xp=xp)


# -- PolyReLU ------------------------------------------------------------------------------

_POLY_MAX = 1e99  # r^3 stays below 1e300: Dekker's products of the Horner steps are exact


def _poly_relu(x, a1, a2, a3, bias, *, xp):
    r = _relu(x, xp)
    rc = xp.clip(r, max=_POLY_MAX)
    v = DW.of(rc, xp)
    c1, c2, c3, c0 = (lift(a, xp) for a in (a1, a2, a3, bias))
    accurate = (((v * c3 + c2) * v + c1) * v + c0).value()  # Horner, in double words
    with xp.quiet():
        plain = ((a3 * r + a2) * r + a1) * r + bias
    return xp.where(r > _POLY_MAX, plain, accurate)


def _d_poly_relu(x, a1, a2, a3, bias, *, xp):
    r = _relu(x, xp)
    rc = xp.clip(r, max=_POLY_MAX)
    v = DW.of(rc, xp)
    accurate = ((v * lift(3.0 * a3, xp) + lift(2.0 * a2, xp)) * v + lift(a1, xp)).value()
    with xp.quiet():
        plain = (3.0 * a3 * r + 2.0 * a2) * r + a1
    d = xp.where(r > _POLY_MAX, plain, accurate)
    return xp.where(x > 0, d, zero_keep_nan(x, xp=xp))


def _poly_power(k):
    def partial(x, a1, a2, a3, bias, *, xp):
        r = _relu(x, xp)
        with xp.quiet():
            return r if k == 1 else r * r if k == 2 else r * r * r

    return partial


def _d_poly_relu_bias(x, a1, a2, a3, bias, *, xp):
    return one_keep_nan(x, xp=xp)


_THIRD = 1.0 / 3.0


@activation(
    family="relu",
    latex=r"a_1 r+a_2 r^2+a_3 r^3+b,\ r=\max(x,0)",
    dlatex=r"(a_1+2a_2 r+3a_3 r^2)\,[x>0]",
    derivative=_f64(_d_poly_relu),
    param_derivatives={"a1": _f64(_poly_power(1)), "a2": _f64(_poly_power(2)), "a3": _f64(_poly_power(3)),
                       "bias": _f64(_d_poly_relu_bias)},
    params=(
        Param("a1", _THIRD, "finite", finite, array=True),
        Param("a2", _THIRD, "finite", finite, array=True),
        Param("a3", _THIRD, "finite", finite, array=True, sweep=(0.0, _THIRD, 1.0)),
        Param("bias", 0.0, "finite", finite, array=True),
    ),
    properties=Properties((0, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    reference="Zhuo et al. 2024, Polynomial Composition Activations (PolyCom, arXiv 2411.03884).",
    xlim=(-1.5, 1.5),
)
@_f64
def poly_relu(x, a1, a2, a3, bias, *, xp):
    r"""PolyReLU of order 3, :math:`a_1 r + a_2 r^2 + a_3 r^3 + b` with
    :math:`r = \mathrm{relu}(x)` (PolyCom; the coefficients are learned,
    initialised to 1/3 and the bias to 0: ``actlab.torch.PolyReLU``). The
    sum is evaluated by Horner's rule in double words, rounded once. (PolyCom's
    other form, PolyNorm, normalises each power over the hidden dimension, so
    it is a layer: ``actlab.torch.PolyNorm``.)

    Example:
        >>> import actlab
        >>> actlab.poly_relu([-1.0, 1.0, 2.0], 1.0, 1.0, 1.0, 0.0).tolist()
        [0.0, 3.0, 14.0]
    """
    return _poly_relu(x, a1, a2, a3, bias, xp=xp)
