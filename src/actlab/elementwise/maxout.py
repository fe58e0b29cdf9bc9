"""Maxout (Goodfellow et al. 2013): the maximum over groups of ``pieces``
consecutive channels. As a layer (``actlab.torch.Maxout``) the channels are
``pieces`` linear maps of the input; as a function they are given.
"""

from __future__ import annotations

import operator
from typing import Any

from .._xp import as_float_array
from ..registry import Entry, Param, Properties, register
from .gated_linear import check_axis

__all__ = ["maxout"]


def _grouped(x: Any, pieces: Any, axis: int):
    xp, x = as_float_array(x)
    try:
        if isinstance(pieces, bool):
            raise TypeError
        pieces = operator.index(pieces)  # NumPy integers accepted
    except TypeError:
        raise TypeError(f"maxout(): pieces must be a positive integer, got {pieces!r}") from None
    if pieces < 1:
        raise ValueError(f"maxout(): pieces must be a positive integer, got {pieces!r}")
    if x.ndim == 0:
        raise ValueError("maxout(): x must have at least one axis, got a 0-d array")
    axis = check_axis(axis, x.ndim, "maxout")
    axis = axis % x.ndim
    n = x.shape[axis]
    if n % pieces:
        raise ValueError(f"maxout(): pieces={pieces} does not divide the size {n} of axis {axis}")
    shape = tuple(x.shape)
    grouped = xp.reshape(x, shape[:axis] + (n // pieces, pieces) + shape[axis + 1 :])
    return xp, grouped, axis + 1, shape


def maxout(x: Any, /, pieces: int, axis: int = -1) -> Any:
    r"""Maxout: :math:`y_g = \max_{i<k} x_{gk+i}` over groups of ``pieces`` (k)
    consecutive entries of ``axis``; the output's axis is k times shorter.

    The (sub)gradient goes to the first maximal entry of each group; NaN in a
    group gives NaN.

    Args:
        x: input.
        pieces: k, the group size; it must divide the size of ``axis``.
        axis: the channel axis (default -1).

    Returns:
        The maximum over each group of ``pieces`` consecutive entries along ``axis``: the shape of
        ``x`` with that axis divided by ``pieces``, its array type and floating dtype.

    Example:
        >>> import actlab
        >>> actlab.maxout([[1.0, 5.0, 3.0, 2.0]], pieces=2).tolist()
        [[5.0, 3.0]]
    """
    xp, g, ax, _ = _grouped(x, pieces, axis)
    idx = xp.argmax(g, axis=ax, keepdims=True)
    return xp.squeeze(xp.take_along_axis(g, idx, axis=ax), axis=ax)


def _maxout_vjp(x: Any, grad: Any, /, pieces: int, axis: int = -1) -> Any:
    """Gradient of ``sum(grad * maxout(x))``: ``grad`` routed to each group's first maximum."""
    xp, g, ax, shape = _grouped(x, pieces, axis)
    idx = xp.argmax(g, axis=ax, keepdims=True)
    k_shape = [1] * g.ndim
    k_shape[ax] = pieces
    hot = xp.reshape(xp.arange(pieces), tuple(k_shape)) == idx
    out = xp.where(hot, xp.expand_dims(xp.asarray(grad, dtype=g.dtype), axis=ax), 0.0)
    return xp.reshape(out, shape)


maxout.vjp = _maxout_vjp  # type: ignore[attr-defined]
maxout.entry = register(  # type: ignore[attr-defined]
    Entry(
        name="maxout",
        kind="grouped",
        family="maxout",
        function=maxout,
        params=(Param("pieces", 2, "a positive divisor of the axis size"), Param("axis", -1, "an axis of x")),
        latex=r"\max_{i<k}\,(W_i x+b_i)",
        dlatex=r"[i = \arg\max_j (W_j x+b_j)]",
        properties=Properties((-float("inf"), float("inf")), monotone=True, smooth=False, zero_centred=False, bounded=False),
        reference="Goodfellow et al. 2013, Maxout Networks.",
        derivative=_maxout_vjp,
        notes="Drawn as max(-x - 1, x/4, x - 1) (three pieces). Ties: the first maximum gets the gradient.",
        extra={"pieces": ((-1.0, -1.0), (0.25, 0.0), (1.0, -1.0))},
    )
)
