r"""The alpha-normmax Fenchel-Young loss (Blondel, Martins & Niculae 2020; the
``entmax`` package's ``normmax_bisect_loss``). With the regulariser
:math:`\Omega(p) = \lVert p\rVert_\alpha - 1` (zero at every vertex of the simplex)
and :math:`p = \operatorname{normmax}_\alpha(z)`,

.. math:: L(z, q) = \langle p - q, z\rangle + \lVert q\rVert_\alpha - \lVert p\rVert_\alpha,
   \qquad \nabla_z L = p - q,

:math:`L \ge 0` with equality iff :math:`p = q`. The gradient is exact by the
envelope theorem: ``p`` enters the value as a constant (its own derivative
cancels at the maximiser), so the loss is written with ``p`` detached and
its gradient in ``z`` is ``p - q``.

Conventions (class axis 1, ``weight``, ``ignore_index``, ``reduction``,
class-index or distribution targets) are those of :mod:`actlab.losses.sparse`.
"""

from __future__ import annotations

import math
from typing import Any

from ..registry import Entry, Param, register
from ..simplex.normmax import normmax
from ._reduction import check_reduction, class_targets, reduce_rows
from .sparse import _check_distribution, _margin_loss, _rows

__all__ = ["normmax_loss"]


def _norm(p: Any, alpha: float, xp: Any) -> Any:
    pos = p > 0
    s = xp.sum(xp.where(pos, xp.exp(alpha * xp.log(xp.where(pos, p, 1.0))), 0.0), axis=-1)
    return xp.exp(xp.log(s) / alpha)


def normmax_loss(logits: Any, target: Any, alpha: float = 2.0, *, n_iter: int = 50, weight: Any = None,
                 ignore_index: int = -100, reduction: str = "mean") -> Any:
    r"""alpha-normmax loss: :math:`\langle p - q, z\rangle + \lVert q\rVert_\alpha - \lVert p\rVert_\alpha`,
    ``p = normmax(z, alpha)``; gradient ``p - q``.

    Args:
        logits: ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``.
        target: class indices (integers) or distributions (floats, logits' shape).
        alpha: > 1. n_iter: the map's Newton steps.
        weight, ignore_index, reduction: as in ``torch.nn.functional.cross_entropy``.

    Returns:
        The reduced loss, or the per-row losses with ``reduction="none"``.

    Example:
        >>> import actlab
        >>> float(actlab.normmax_loss([[3.0, 0.0, -1.0]], [0]))  # normmax is one-hot here
        0.0

    Reference: Blondel, Martins & Niculae 2020, Learning with Fenchel-Young Losses (JMLR 21).
    """
    owner = "normmax_loss"
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (alpha > 1 and math.isfinite(alpha)):
        raise ValueError(f"{owner}(): alpha must be a finite number > 1, got {alpha!r}")
    alpha = float(alpha)
    reduction = check_reduction(reduction, owner)
    xp, z, t, batch, C = _rows(logits, target, owner)
    keep = None
    p = xp.detach(normmax(z, alpha, n_iter))
    m = xp.detach(xp.max(z, axis=-1, keepdims=True))
    zs = z - xp.where(xp.isfinite(m), m, 0.0)
    if xp.isdtype(t.dtype, "real floating"):
        t = xp.astype(t, z.dtype) if t.dtype != z.dtype else t
        _check_distribution(t, owner, xp)
        d = p - t
        rows = xp.sum(xp.where(d != 0, d * zs, 0.0), axis=-1) + _norm(t, alpha, xp) - _norm(p, alpha, xp)
    else:
        t, keep = class_targets(t, C, ignore_index, owner, xp)
        zk = xp.squeeze(xp.take_along_axis(zs, xp.expand_dims(t, axis=-1), axis=-1), axis=-1)
        rows = xp.sum(xp.where(p > 0, p * zs, 0.0), axis=-1) - zk + 1.0 - _norm(p, alpha, xp)
    rows = xp.where(xp.any(xp.isnan(z), axis=-1), math.nan, rows)  # a NaN logit makes its row NaN
    return reduce_rows(rows, t, keep, weight, reduction, batch, z, owner, xp)


normmax_loss.entry = register(  # type: ignore[attr-defined]
    Entry(name="normmax_loss", kind="loss", family="sparse", function=normmax_loss,
          params=(Param("alpha", 2.0, "> 1", lambda a: a > 1 and math.isfinite(a), sweep=(1.5, 2.0, 4.0)),),
          latex=r"\langle p-e_k,z\rangle+1-\lVert p\rVert_\alpha,\ p=\operatorname{normmax}_\alpha(z)",
          dlatex=r"\operatorname{normmax}_\alpha(z)-e_k", properties=None,
          reference="Blondel, Martins & Niculae 2020 (JMLR 21); the entmax package's normmax_bisect_loss.",
          notes="Fenchel-Young loss of the alpha-norm.", extra={"margin": _margin_loss(normmax_loss)})
)
