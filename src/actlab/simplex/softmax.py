"""softmax, softmin and log_softmax, accurate to a few ULPs.

All three share :func:`~actlab.simplex.shifted_exp.shifted_exp` and apply the
temperature inside the math (``exact_temperature``), so ``softmax(x,
temperature=T)`` is the correctly rounded softmax of the exact ``x / T``,
not of a rounded ``x / T``.
"""

from __future__ import annotations

import math
from typing import Any

from .._simplex import simplex_map
from .._xp import to_working
from ..registry import Properties
from .shifted_exp import by_rows, fix_rows, put_last, quiet, shifted_exp, unshifted_ok, unshifted_sum

__all__ = [
    "softmax", "softmin", "log_softmax", "softmax_rows", "log_softmax_rows", "softmax_shifted",
    "softmax_unshifted", "log_softmax_shifted",
]

_SWEEP = (0.1, 0.5, 1.0, 2.0, 10.0)
_REF = (
    "Bridle 1990 (softmax). Accurate evaluation: Blanchard, Higham & Higham, "
    "'Accurately computing the log-sum-exp and softmax functions', IMA J. Numer. Anal. 41 (2021)."
)
_PROB = Properties((0, 1), monotone=True, smooth=True, zero_centred=False, bounded=True)
_FAMILY: dict[str, Any] = {"family": "softmax", "exact_temperature": True, "temperature_sweep": _SWEEP}


def _uniform(x, log, xp):
    """beta = 0: the uniform distribution (NaN on rows with a non-finite entry: 0 * inf)."""
    k = x.shape[-1]
    bad = xp.any(~xp.isfinite(x), axis=-1, keepdims=True)
    value = -math.log(k) if log else 1.0 / k
    return xp.where(bad, math.nan, xp.zeros_like(x) + value)


def softmax_rows(x, num, den, xp):
    """softmax of ``x * num / den`` along the last axis, in float64 (no
    blocking; the caller rounds to x's dtype)."""
    if x.shape[-1] == 0:
        return x
    if num == 0.0:
        return _uniform(x, False, xp)
    if num == 1.0 and den == 1.0 and x.dtype != xp.float64 and unshifted_ok(x, xp):
        return softmax_unshifted(x, xp)
    return softmax_shifted(x, num, den, xp)


def softmax_unshifted(x, xp):
    """``exp(x) / sum exp(x)`` in float64 (only where :func:`unshifted_ok`).
    Used for float32 input, where it is exact far below a float32 ULP; for
    float64 the rounding error of exp(top) in the sum costs up to ~4.2 ULP
    (measured), so float64 takes the exact shift."""
    _, e, s, _, _ = unshifted_sum(x, xp, exclude_top=False)
    return e / s if x.dtype == xp.float64 else e * (1.0 / s)


def softmax_shifted(x, num, den, xp):
    """The exact-shift softmax: any input, any temperature."""
    sh = shifted_exp(x, num, den, xp)
    total = 1.0 + sh.s
    inv = 1.0 / total
    # float64: a true division (one rounding); float32 (computed in float64):
    # the reciprocal's extra rounding is far below a float32 ULP.
    y = sh.e / total if x.dtype == xp.float64 else sh.e * inv
    y = put_last(y, sh.idx, inv, xp)
    return fix_rows(y, sh, xp)


def log_softmax_rows(x, num, den, xp):
    """log_softmax of ``x * num / den`` along the last axis: ``(z - t) - log1p(s)``.

    Always the exact shift: ``z - t`` is needed for the output anyway, so the
    unshifted path would save nothing (float32 input: the shift is one mixed
    float32 - float64 subtraction)."""
    if x.shape[-1] == 0:
        return x
    if num == 0.0:
        return _uniform(x, True, xp)
    return log_softmax_shifted(x, num, den, xp)


def log_softmax_shifted(x, num, den, xp):
    """The exact-shift log_softmax: any input, any temperature."""
    sh = shifted_exp(x, num, den, xp)
    lse = xp.log1p(sh.s)
    dz = sh.zh
    if sh.floor is not None:
        # Entries clipped at the floor (far below the top, or -inf) get their
        # unclipped difference; its rounding error is below one ULP of the result.
        dz = xp.where(sh.x < sh.floor, sh.x - sh.top, dz)
    y = dz - lse if sh.zl is None else dz + (sh.zl - lse)
    return fix_rows(y, sh, xp, log=True)


def _forward(rows, native_name, x, num, den, xp):
    if xp.kernels.softmax_forward is not None:
        y = xp.kernels.softmax_forward(native_name, x, num, den, xp)
        if y is not None:
            return y
    xw, dtype = to_working(xp, x)  # (half precision the backend keeps, where its kernel declines)
    with quiet(xp):
        y = by_rows(lambda b: rows(b, num, den, xp), xw, xp)
    return y if y.dtype == dtype else xp.astype(y, dtype)


def _working(xp, *arrays):
    """Half-precision arrays (which a backend may keep, see
    ``Backend.native_low_precision``) in float32 for the general formulas."""
    return tuple(to_working(xp, a)[0] for a in arrays)


def _softmax_vjp(x, y, g, num, den, *, xp):
    """``f * y * (g - <g, y>)``, f = num/den."""
    f = num / den
    if xp.kernels.softmax_backward is not None:
        out = xp.kernels.softmax_backward(y, g, xp)
        if out is not None:
            return out if f == 1.0 else out * f
    dtype = y.dtype
    y, g = _working(xp, y, g)
    gy = g * y
    out = gy - y * xp.sum(gy, axis=-1, keepdims=True)
    out = out if f == 1.0 else out * f
    return out if out.dtype == dtype else xp.astype(out, dtype)


def _masked(num):
    """The value of x that masks an entry (-inf; +inf for a negative temperature)."""
    return math.inf if num < 0 else -math.inf


def _log_softmax_vjp(x, y, g, num, den, *, xp):
    """``f * (g' - p sum(g'))``, p = exp(y), g' = g with masked entries (x =
    -inf, constant) dropped. An output that is -inf only because it lies
    beyond the float range below the top keeps its gradient ``g_j``."""
    f = num / den
    if xp.kernels.log_softmax_backward is not None:
        out = xp.kernels.log_softmax_backward(x, y, g, _masked(num), xp)
        if out is not None:
            return out if f == 1.0 else out * f
    dtype = y.dtype
    y, g = _working(xp, y, g)
    gm = xp.where(x == _masked(num), 0.0, g)
    out = gm - xp.exp(y) * xp.sum(gm, axis=-1, keepdims=True)
    out = out if f == 1.0 else out * f
    return out if out.dtype == dtype else xp.astype(out, dtype)


def _log_softmax_jvp(x, y, v, num, den, *, xp):
    """``f * (v - <p, v>)`` on entries not masked, 0 on masked ones."""
    f = num / den
    dtype = y.dtype
    y, v = _working(xp, y, v)
    p = xp.exp(y)
    out = xp.where(x == _masked(num), 0.0, v - xp.sum(p * v, axis=-1, keepdims=True))
    out = out if f == 1.0 else out * f
    return out if out.dtype == dtype else xp.astype(out, dtype)


def _softmin_vjp(x, y, g, num, den, *, xp):
    return _softmax_vjp(x, y, g, -num, den, xp=xp)


@simplex_map(
    **_FAMILY,
    latex=r"\mathrm{softmax}(z)_i=\frac{e^{z_i/T}}{\sum_j e^{z_j/T}}",
    dlatex=r"\frac{\partial p_i}{\partial z_j}=\frac{1}{T}\,p_i(\delta_{ij}-p_j)",
    vjp=_softmax_vjp,
    properties=_PROB,
    masks=True,
    reference=_REF,
    notes="T < 0 is softmin; beta = 1/T (beta = ln b for base b); beta = 0 is uniform.",
)
def softmax(x, num, den, *, xp):
    r"""Softmax along ``axis``: :math:`p_i = e^{z_i/T} / \sum_j e^{z_j/T}`.

    Computed as ``e^{z - t}/(1 + s)`` with ``t = max z`` and ``s`` the sum of
    the other terms, the shift ``z - t`` formed exactly (TwoSum; the
    temperature by an exact remainder), so the result is within a few ULPs
    of the exact value in float64 and float32 (float32 and half precision
    are computed in float64 and rounded once).

    Args:
        x: array (NumPy, PyTorch, any array-API namespace) or nested list.
        axis: the axis to normalise (keyword).
        temperature: T, non-zero and finite; T < 0 gives softmin.
        beta: the inverse temperature instead of T (``beta = 0`` gives the
            uniform distribution). For base b, ``b^{z_i}/sum_j b^{z_j}``, pass
            ``beta=math.log(b)``.
        where: optional boolean mask broadcastable to ``x`` (keyword): masked
            entries get 0 and zero gradient, a row with none unmasked gives
            zeros (jax.nn's ``where``).

    Non-finite input: -inf entries get 0; +inf entries share the mass
    equally (the gradient there is ``y * (g - <g, y>)``, the limit as they
    tie far above the rest: the rule of every map); a row of all -inf gives
    zeros; NaN makes its row NaN. K = 1 gives 1 (0 for -inf); an empty
    input gives the empty result; a 0-d input is one class (1).

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> actlab.softmax([1.0, 2.0]).round(4).tolist()
        [0.2689, 0.7311]
        >>> actlab.softmax([10.0, 20.0]).round(5).tolist()
        [5e-05, 0.99995]
        >>> actlab.softmax([1e308, -1e308]).tolist()
        [1.0, 0.0]
        >>> actlab.softmax([0.0, 1.0], beta=math.log(2)).tolist()  # 2^z / sum 2^z
        [0.3333333333333333, 0.6666666666666666]
    """
    return _forward(softmax_rows, "softmax", x, num, den, xp)


@simplex_map(
    **_FAMILY,
    latex=r"\mathrm{softmin}(z)_i=\frac{e^{-z_i/T}}{\sum_j e^{-z_j/T}}",
    dlatex=r"\frac{\partial p_i}{\partial z_j}=-\frac{1}{T}\,p_i(\delta_{ij}-p_j)",
    vjp=_softmin_vjp,
    properties=Properties((0, 1), monotone=False, smooth=True, zero_centred=False, bounded=True),
    reference="softmax(-z/T); the Boltzmann distribution of energies z.",
)
def softmin(x, num, den, *, xp):
    r"""Softmin along ``axis``: ``softmax(-x / T)``, the Boltzmann
    distribution :math:`p_i \propto e^{-z_i/T}` of energies ``z``.

    Same accuracy and non-finite rules as :func:`softmax` applied to ``-x``
    (so +inf entries of x get 0 and -inf entries share the mass).

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> actlab.softmin([1.0, 2.0]).round(4).tolist()
        [0.7311, 0.2689]
    """
    return _forward(softmax_rows, "softmax", x, -num, den, xp)


@simplex_map(
    **_FAMILY,
    latex=r"\log\mathrm{softmax}(z)_i=\frac{z_i}{T}-\log\sum_j e^{z_j/T}",
    dlatex=r"\frac{\partial \ell_i}{\partial z_j}=\frac{1}{T}(\delta_{ij}-p_j)",
    vjp=_log_softmax_vjp,
    jvp=_log_softmax_jvp,
    masks=True,
    properties=Properties((-math.inf, 0), monotone=True, smooth=True, zero_centred=False, bounded=False),
    reference=_REF,
)
def log_softmax(x, num, den, *, xp):
    r"""Log-softmax along ``axis``: :math:`z_i/T - \log\sum_j e^{z_j/T}`.

    Computed as ``(z - t) - log1p(s)`` (never ``log(softmax)``), with the
    exact shift of :func:`softmax`: within a few ULPs, including a dominant
    entry (``log_softmax([0, -50])[0] = -1.9e-22``, not 0).

    Args:
        x: array or nested list; ``axis``, ``temperature``, ``beta`` as in
            :func:`softmax`.
        where: optional boolean mask (keyword): masked entries give -inf
            with zero gradient (jax.nn's ``where``).

    -inf entries give -inf with zero gradient; a row of all -inf gives
    -inf everywhere; +inf entries share the mass (``-log m``, others -inf).

    Returns:
        The log-probabilities (``log_softmax``): the shape, array type and floating dtype of the
        input, values in [-inf, 0].

    Example:
        >>> import actlab
        >>> float(actlab.log_softmax([0.0, -50.0])[0])
        -1.9287498479639178e-22
        >>> actlab.log_softmax([1000.0, 0.0]).tolist()  # (-log1p(e^-1000) rounds to -0.0)
        [-0.0, -1000.0]
    """
    return _forward(log_softmax_rows, "log_softmax", x, num, den, xp)
