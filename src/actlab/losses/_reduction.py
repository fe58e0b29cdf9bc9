"""PyTorch's loss conventions, shared by every loss: ``reduction``,
``ignore_index`` and per-class ``weight``.

For class-index targets: each counted row i has weight ``w[t_i]`` (1 without
``weight``); ``mean`` is ``sum_i w_i l_i / sum_i w_i`` over the rows whose
target is not ``ignore_index`` (NaN when no row counts, as in PyTorch);
``sum`` is the weighted sum; ``none`` returns the weighted per-row losses with
0 on ignored rows. For probability targets the weight enters the per-row
loss and ``mean`` divides by the number of rows.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["check_reduction", "class_targets", "reduce_loss", "reduce_rows"]

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: Any, owner: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}(): reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    return reduction


def class_targets(target: Any, n_classes: int, ignore_index: int, owner: str, xp: Any):
    """Validate integer class targets; return ``(safe_target, keep)`` where
    ``keep`` marks the rows that count and ``safe_target`` (int64, whatever
    the target's integer dtype) has ignored rows replaced by class 0 (so
    indexing never goes out of range).

    Out-of-range targets raise ValueError naming the first bad value (this
    reads the values, so it is skipped where the backend may not branch on
    them: while ``torch.compile`` traces, on the meta device).
    """
    if xp.isdtype(target.dtype, "real floating") or xp.isdtype(target.dtype, "bool"):
        raise TypeError(f"{owner}(): class targets must be integers, got dtype {target.dtype}")
    keep = target != ignore_index
    bad = keep & ((target < 0) | (target >= n_classes))
    if xp.may_branch(bad) and bool(xp.any(bad)):
        first = int(target[bad][0]) if hasattr(target[bad], "__getitem__") else "?"
        raise ValueError(
            f"{owner}(): target {first} is out of range for {n_classes} classes "
            f"(ignore_index={ignore_index})"
        )
    safe = xp.where(keep, target, xp.zeros_like(target))
    if safe.dtype != xp.int64:  # uint8, int16, ... targets: indices are int64 for every gather
        safe = xp.astype(safe, xp.int64)
    return safe, keep


def reduce_loss(loss: Any, row_weight: Any, keep: Any, reduction: str, xp: Any) -> Any:
    """Apply ``reduction`` to per-row ``loss`` with per-row weights (or None)
    and a mask of counted rows (or None)."""
    w = row_weight
    if keep is not None:
        kw = xp.astype(keep, loss.dtype)
        w = kw if w is None else w * kw
        loss = xp.where(keep, loss, 0.0)
    weighted = loss if w is None else loss * w
    if reduction == "none":
        return weighted
    total = xp.sum(weighted)
    if reduction == "sum":
        return total
    if w is None:
        n = 1
        for s in loss.shape:
            n *= s
        return total / n if n else total * math.nan  # an empty mean: NaN, as in PyTorch, without a warning
    den = xp.sum(w)
    # No counted row (every target ignored, or zero weights): NaN as in PyTorch, formed without 0/0's
    # warning, and a zero gradient (PyTorch's), not a NaN one.
    none = den == 0
    return xp.where(none, math.nan, total / xp.where(none, 1.0, den))


def reduce_rows(rows: Any, target: Any, keep: Any, weight: Any, reduction: str, batch: tuple[int, ...],
                like: Any, owner: str, xp: Any) -> Any:
    """The loss of per-row losses ``rows`` (batch flattened) against ``target``
    (class indices, ``keep`` marking the counted rows, or distributions,
    ``keep`` None), with the class ``weight`` (C,) or None: a row's weight
    is ``weight[t]``, or :math:`\\langle w, q\\rangle` for a distribution
    (folded into the row), then ``reduction``; ``"none"`` keeps the
    ``batch`` shape. ``weight`` is taken in ``like``'s dtype and device."""
    row_w = None
    if weight is not None:
        n_classes = like.shape[-1]
        w = xp.astype(xp.asarray_like(weight, like), like.dtype)
        if tuple(w.shape) != (n_classes,):
            raise ValueError(f"{owner}(): weight must have shape ({n_classes},), got {tuple(w.shape)}")
        if keep is None:
            rows = rows * xp.sum(target * w, axis=-1)
        else:
            row_w = xp.take(w, target, axis=0)
    out = reduce_loss(rows, row_w, keep, reduction, xp)
    return xp.reshape(out, batch) if reduction == "none" else out
