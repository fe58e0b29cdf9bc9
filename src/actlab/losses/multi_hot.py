r"""Multi-label (multi-hot) targets for the sparse losses.

Martins & Astudillo 2016 (section 4, "multi-label classification") train
sparsemax on label *proportions*: a multi-hot row :math:`y \in \{0,1\}^C` (or
non-negative label weights) becomes the distribution :math:`q = y/\lVert y\rVert_1`,
and the sparsemax loss :math:`L(z, q) = -\langle q, z\rangle + \tfrac12\sum_{j\in S(z)}
(z_j^2 - \tau(z)^2) + \tfrac12\lVert q\rVert^2` has gradient :math:`\operatorname{sparsemax}(z) - q`.
At prediction time the predicted label set is the support of sparsemax(z).
A row with no positive label has no proportions: a ValueError.
"""

from __future__ import annotations

from typing import Any

from .. import _backend, _xp
from ..simplex import threshold

__all__ = ["proportions"]


def proportions(logits: Any, target: Any, owner: str) -> Any:
    """``target / target.sum(class axis)`` as a float array of the logits'
    backend and dtype (the class axis is 1, or 0 for 1-d logits)."""
    xp, z = _xp.as_float_array(logits, "logits")
    y = target if _backend.backend_of(target) is xp else xp.asarray_like(target, z)
    y = xp.astype(y, z.dtype) if y.dtype != z.dtype else y
    if tuple(y.shape) != tuple(z.shape):
        raise ValueError(f"{owner}(): a multi-label target must have the logits' shape {tuple(z.shape)}, "
                         f"got {tuple(y.shape)}")
    axis = 1 if z.ndim >= 2 else 0
    total = xp.sum(y, axis=axis, keepdims=True)
    if not threshold.static_required(y, xp) and bool(xp.any(y < 0) or xp.any(total <= 0)):
        raise ValueError(f"{owner}(): a multi-label target needs entries >= 0 and at least one positive label per row")
    return y / xp.where(total > 0, total, 1.0)
