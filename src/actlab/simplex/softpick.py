r"""Softpick (Zuhri, Fuadi & Aji 2025, arXiv:2504.20966): a rectified,
not-sum-to-one replacement for softmax,

.. math:: \operatorname{softpick}(z)_i = \frac{\operatorname{relu}(e^{z_i} - 1)}
   {\sum_j \lvert e^{z_j} - 1\rvert + \varepsilon}.

Entries with :math:`z_i \le 0` get exactly 0 (they still count in the
denominator); the outputs sum to at most 1. Evaluated with numerator and
denominator multiplied by :math:`e^{-m}`, :math:`m = \max(\max_j z_j, 0)`,
and :math:`(e^{z} - 1)e^{-m}` formed without cancellation
(:func:`softpick_terms`), so nothing overflows and small scores keep their
digits. A -inf entry is a masked key: it gets 0 and is left out of the
denominator, as in the authors' implementation (a row of all -inf gives
zeros); +inf entries share the mass equally; NaN makes its row NaN.

The map is the single definition: the attention normaliser ``"softpick"``
(:mod:`actlab._attention`) uses :func:`softpick_terms` and :func:`softpick`.

Derivative, with :math:`e_j = e^{z_j - m}`, :math:`Z` the scaled denominator
and :math:`\langle g, p\rangle` the output's inner product with ``g``:

.. math:: (g^\top J)_j = \frac{e_j}{Z}\bigl(g_j [z_j > 0] - \operatorname{sign}(z_j)\,\langle g, p\rangle\bigr),
   \qquad (J v)_i = \frac{[z_i > 0]\, e_i v_i - p_i \sum_j \operatorname{sign}(z_j) e_j v_j}{Z}.
"""

from __future__ import annotations

import math
from typing import Any

from .._simplex import simplex_map
from ..registry import Param, Properties, positive
from .row_rules import finite_rows, restore_rows
from .shifted_exp import quiet

__all__ = ["softpick", "softpick_terms"]


def softpick_terms(s: Any, m: Any, xp: Any) -> tuple[Any, Any]:
    r"""``(d, e)`` with :math:`d = (e^{s} - 1) e^{-m}` without cancellation and
    :math:`e = e^{s - m}` (its derivative in s), for ``m >= max(s, 0)``; a
    masked score (-inf) gives ``d = 0``, so it is left out of the denominator.

    ``expm1`` near 0; for s > 1, :math:`e^{s-m}(1 - e^{-s})`, which neither
    overflows nor cancels."""
    big = s > 1.0
    sb = xp.where(big, s, 1.0)
    ss = xp.where(big | (s == -math.inf), 0.0, s)
    e = xp.exp(s - m)
    d = xp.where(big, xp.exp(sb - m) * -xp.expm1(-sb), xp.exp(-m) * xp.expm1(ss))
    return d, e


def _parts(x: Any, eps: Any, xp: Any):
    """``(d, e, Z, live, rows)`` of the cleaned rows (the scaled terms)."""
    clean, rows = finite_rows(x, xp)
    live = clean > -math.inf
    safe = xp.where(live, clean, 0.0)
    m = xp.clip(xp.max(clean, axis=-1, keepdims=True), min=0.0)
    m = xp.detach(xp.where(rows[2], 0.0, m))
    with quiet(xp):
        d, e = softpick_terms(safe, m, xp)
        d, e = xp.where(live, d, 0.0), xp.where(live, e, 0.0)
        z = xp.sum(xp.abs(d), axis=-1, keepdims=True) + eps * xp.exp(-m)
    return d, e, z, rows


def _vjp(x: Any, y: Any, g: Any, eps: Any, *, xp: Any) -> Any:
    if x.shape[-1] == 0:
        return x + 0.0
    d, e, z, rows = _parts(x, eps, xp)
    gp = xp.sum(g * y, axis=-1, keepdims=True)
    out = (e / z) * (xp.where(d > 0, g, 0.0) - xp.sign(d) * gp)
    return xp.where(rows[0], math.nan, xp.where(rows[1] | rows[2], 0.0, out))


def _jvp(x: Any, y: Any, v: Any, eps: Any, *, xp: Any) -> Any:
    if x.shape[-1] == 0:
        return x + 0.0
    d, e, z, rows = _parts(x, eps, xp)
    sv = xp.sum(xp.sign(d) * e * v, axis=-1, keepdims=True)
    out = (xp.where(d > 0, e * v, 0.0) - y * sv) / z
    return xp.where(rows[0], math.nan, xp.where(rows[1] | rows[2], 0.0, out))


@simplex_map(
    family="softmax",
    latex=r"\operatorname{softpick}(z)_i=\frac{\operatorname{relu}(e^{z_i}-1)}{\sum_j|e^{z_j}-1|+\varepsilon}",
    dlatex=r"(g^\top J)_j=\frac{e^{z_j}}{Z}\left(g_j[z_j>0]-\operatorname{sign}(z_j)\langle g,p\rangle\right)",
    vjp=_vjp,
    jvp=_jvp,
    params=(Param("eps", 1e-6, "> 0", positive, sweep=(1e-6,), doc="added to the denominator"),),
    reference="Zuhri, Fuadi & Aji 2025, Softpick: No Attention Sink, No Massive Activations "
    "with Rectified Softmax, arXiv:2504.20966.",
    properties=Properties((0, 1), monotone=False, smooth=False, zero_centred=False, bounded=True),
    notes="Not shift-invariant; entries <= 0 give exactly 0; the sum is at most 1. -inf entries are "
    "masked (left out of the denominator).",
    masks=True,
    extra={"sums_to_one": False},  # read by the generic tests
)
def softpick(x: Any, eps: Any, *, xp: Any) -> Any:
    r"""Softpick: :math:`\operatorname{relu}(e^{z_i}-1) / (\sum_j |e^{z_j}-1| + \varepsilon)`.

    Args:
        x: scores. eps: the denominator's epsilon (> 0).
        axis, temperature, where: the map's axis, ``x / temperature``, a mask
            (masked entries are left out, like -inf entries).

    Returns:
        Non-negative weights of ``x``'s shape, summing to at most 1 along
        ``axis`` (0 for every entry <= 0).

    Example:
        >>> import actlab
        >>> [round(v, 4) for v in actlab.softpick([-1.0, 0.0, 1.0, 2.0]).tolist()]
        [0.0, 0.0, 0.1966, 0.7311]

    Reference: Zuhri, Fuadi & Aji 2025, arXiv:2504.20966.
    """
    if x.shape[-1] == 0:
        return x + 0.0
    d, _, z, rows = _parts(x, eps, xp)
    return restore_rows(xp.clip(d, min=0.0) / z, rows, xp)
