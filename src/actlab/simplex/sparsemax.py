r"""Sparsemax (Martins & Astudillo 2016): the Euclidean projection onto the
probability simplex,

.. math:: \operatorname{sparsemax}(z) = \arg\min_{p \in \Delta} \lVert p - z\rVert^2,
   \qquad p_i = [z_i - \tau(z)]_+ ,

exact: the threshold search (:mod:`actlab.simplex.threshold`) finds the
support :math:`S`, then :math:`\tau = (\sum_S z_j - 1)/|S|`. The Jacobian is
:math:`\operatorname{diag}(s) - s s^\top/|S|` with :math:`s` the indicator of
:math:`S`, so the VJP :math:`s \odot (g - \sum_S g_j/|S|)` needs only the output.
In two dimensions sparsemax([t, 0])_1 = clip((t+1)/2, 0, 1), a hard sigmoid.
"""

from __future__ import annotations

from typing import Any

from .._simplex import simplex_map
from ..registry import Properties
from . import sparse_forward
from .entmax import entmax_vjp_math, threshold_front

__all__ = ["sparsemax", "sparsemax_threshold"]


def _vjp(x: Any, y: Any, g: Any, *, xp: Any) -> Any:
    return entmax_vjp_math(y, g, 1.0, xp)


@simplex_map(
    family="sparse",
    latex=r"\operatorname{sparsemax}(z)_i=\left[z_i-\tau(z)\right]_+",
    dlatex=r"\operatorname{diag}(s)-\frac{ss^\top}{|S(z)|}",
    vjp=_vjp,
    shift_invariant=True,
    reference="Martins & Astudillo 2016, From Softmax to Sparsemax (ICML).",
    properties=Properties((0, 1), monotone=True, smooth=False, zero_centred=False, bounded=True),
    notes="Piecewise linear; exact zeros; the 2-class case is the hard sigmoid clip((t+1)/2, 0, 1).",
)
def sparsemax(x: Any, *, xp: Any) -> Any:
    r"""Sparsemax: :math:`p_i = [z_i - \tau]_+` with :math:`\sum_i p_i = 1`, the
    Euclidean projection of ``x`` onto the simplex; exact.

    Non-finite entries follow the limits: -inf gets 0, +inf entries share
    the mass equally (with the limit gradient, the support Jacobian on them,
    as every map), a NaN makes its row NaN, an all -inf row gives zeros
    (and zero gradients).

    Args:
        x: scores; axis: the map's axis; temperature: divides ``x`` first.

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> actlab.sparsemax([-2.0, 0.0, 0.5]).tolist()
        [0.0, 0.25, 0.75]

    Reference: Martins & Astudillo 2016, Algorithm 1 and Proposition 2.
    """
    return sparse_forward.forward(x, 1.0, 0, xp)


def sparsemax_threshold(x: Any, /, *, axis: int = -1, temperature: float = 1.0):
    r"""The threshold :math:`\tau` and support size of :func:`sparsemax`:
    ``sparsemax(x) = max(x/T - tau, 0)`` along ``axis``.

    Returns ``(tau, support)``, both with ``axis`` kept (size 1), so
    ``x - tau`` broadcasts. Rows whose maximum is not finite get their
    maximum as tau. Not differentiable.

    Example:
        >>> import actlab
        >>> tau, k = actlab.sparsemax_threshold([-2.0, 0.0, 0.5])
        >>> float(tau[0]), int(k[0])
        (-0.25, 2)
    """
    return threshold_front(x, 1.0, 0, axis, temperature, "sparsemax_threshold")
