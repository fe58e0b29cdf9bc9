"""logsumexp, the smooth maximum: a reduction along an axis whose gradient is
softmax."""

from __future__ import annotations

import math

from .. import _xp
from .._simplex import move_axis_back, move_axis_last
from ..registry import Entry, Properties, register
from .logsumexp_math import logsumexp_math, logsumexp_rows, logsumexp_shifted
from .logsumexp_weighted import logsumexp_general
from .softmax import softmax

__all__ = ["logsumexp", "logsumexp_rows", "logsumexp_shifted"]


def logsumexp(x, /, *, axis=-1, keepdims=False, b=None, return_sign=False, where=None):
    r"""Log-sum-exp along ``axis``: :math:`\log\sum_j e^{z_j}`, the smooth maximum;
    with ``b``, :math:`\log\lvert\sum_j b_j e^{z_j}\rvert` (SciPy's and jax.nn's).

    Computed as ``t + log1p(s)``, ``t = max z`` and ``s = sum_{j != argmax}
    e^{z_j - t}`` with the shift formed exactly, so a dominant entry keeps
    its tiny contribution (``logsumexp([0, -50]) = 1.93e-22``, not 0) and
    the result is within a few ULPs in float64 and float32 (except where
    ``t < 0`` cancels ``log1p(s)``, an ill-conditioned sum: there the error
    is a few ULPs of ``log1p(s)``). Its gradient is ``softmax(x)``; on
    tensors that is the registered backward.

    Args:
        x: array or nested list.
        axis: the axis to reduce; a tuple of axes, or None for all of them.
        keepdims: keep the reduced axes with length 1.
        b: optional scale factors broadcastable with ``x`` (``b = 0``
            drops an entry; negative entries need ``return_sign`` for a
            negative sum, else NaN).
        return_sign: return ``(log|sum|, sign)``, the sign 1, -1, or 0 for
            a sum of exactly 0 (whose log is -inf).
        where: optional boolean mask broadcastable to ``x``: only the True
            entries are summed (a row with none gives -inf, zero gradient).

    Returns:
        The reduced array, or ``(value, sign)`` with ``return_sign``.

    All -inf -> -inf; any +inf -> +inf; NaN -> NaN; K = 0 -> -inf; a 0-d
    input is one entry (its own logsumexp, as ``torch.logsumexp(t, 0)``).

    Returns:
        ``log(sum(exp(x)))`` along ``axis``: the shape of ``x`` without that axis (kept with size 1
        when ``keepdims``), its array type and floating dtype.

    Example:
        >>> import actlab
        >>> float(actlab.logsumexp([0.0, -50.0]))
        1.9287498479639178e-22
        >>> float(actlab.logsumexp([1000.0, 1000.0]))
        1000.6931471805599
        >>> value, sign = actlab.logsumexp([1.0, 1.0, 1.0], b=[1.0, -1.0, -1.0], return_sign=True)
        >>> float(value), float(sign)
        (1.0, -1.0)

    With ``b``, ``return_sign``, ``where`` or a non-integer ``axis`` the work
    is done by :func:`actlab.simplex.logsumexp_weighted.logsumexp_general`.
    """
    if b is not None or return_sign or where is not None or not isinstance(axis, int) or isinstance(axis, bool):
        return logsumexp_general(x, axis, keepdims, b, return_sign, where)
    xp, x = _xp.as_float_array(x)
    x, ax = move_axis_last(x, axis, xp, "logsumexp", scalar=True)
    xw, out_dtype = _xp.to_working(xp, x)
    y = xp.apply_logsumexp(xw, logsumexp_math)
    if y.dtype != out_dtype:
        y = xp.astype(y, out_dtype)
    if keepdims:
        return move_axis_back(y, ax, xp)
    return xp.squeeze(y, axis=-1)


logsumexp.entry = register(  # type: ignore[attr-defined]
    Entry(
        name="logsumexp",
        kind="reduction",
        family="softmax",
        function=logsumexp,
        params=(),
        latex=r"\mathrm{LSE}(z)=\log\sum_j e^{z_j}",
        dlatex=r"\frac{\partial\,\mathrm{LSE}}{\partial z_i}=\mathrm{softmax}(z)_i",
        properties=Properties((-math.inf, math.inf), monotone=True, smooth=True, zero_centred=False, bounded=False),
        reference="The smooth maximum; Blanchard, Higham & Higham, IMA J. Numer. Anal. 41 (2021).",
        derivative=softmax,
        notes="A reduction: reduces the axis; its gradient is softmax.",
    )
)
