"""Cross-entropy from logits and the binary (sigmoid) cross-entropy, with
PyTorch's argument conventions (``weight``, ``ignore_index``, ``reduction``,
``label_smoothing``).

:func:`nll_from_log_probs` holds the target handling once (class indices or
probabilities, weights, label smoothing, reduction); the softmax, spherical
and Taylor cross-entropies only differ in the log-probabilities they feed it.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _xp
from .._simplex import move_axis_last
from ..elementwise import softplus
from ..registry import Entry, Param, plain_number, register
from ..simplex.softmax import log_softmax
from ._reduction import check_reduction, class_targets, reduce_loss

__all__ = ["cross_entropy", "binary_cross_entropy_with_logits", "nll_from_log_probs", "register_loss"]


def _like(value: Any, x: Any, xp: Any, name: str) -> Any:
    """``value`` as an array of x's namespace (and device), dtype kept."""
    try:
        return xp.asarray_like(value, x)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} must be an array like the logits, got {type(value).__name__}") from exc


def _check_smoothing(label_smoothing: Any, owner: str) -> float:
    label_smoothing = plain_number(label_smoothing)
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)):
        raise TypeError(f"{owner}(): label_smoothing must be a number, got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{owner}(): label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return float(label_smoothing)


def _class_weight(weight, z, xp, owner):
    """The (C,) class weights in z's dtype, or None."""
    if weight is None:
        return None
    n_classes = z.shape[-1]
    w = _like(weight, z, xp, "weight")
    w = w if w.dtype == z.dtype else xp.astype(w, z.dtype)
    if tuple(w.shape) != (n_classes,):
        raise ValueError(f"{owner}(): weight must have shape ({n_classes},), got {tuple(w.shape)}")
    return w


def _class_indices(tgt, z, ignore_index, owner, xp):
    """``(safe, keep)`` for integer class targets of the logits ``z`` (class axis last)."""
    if tuple(tgt.shape) != tuple(z.shape[:-1]):
        raise ValueError(
            f"{owner}(): class target shape {tuple(tgt.shape)} must be the logits' shape without the class axis, "
            f"{tuple(z.shape[:-1])}"
        )
    safe, keep = class_targets(tgt, z.shape[-1], ignore_index, owner, xp)
    return xp.astype(safe, xp.int64), keep


def _fused(z, target, xp, *, weight, ignore_index, reduction, label_smoothing):
    """The backend's fused cross-entropy of class-index targets, or None.

    The kernel evaluates the same per-row formula as the general path,
    ``(1 - e) w_k (t - z_k + log1p(s)) + (e / C) sum_c w_c (t - z_c +
    log1p(s))`` with ``t = max z``, and its backward is ``a softmax(z) - b
    onehot(k) - c w`` per row in one pass."""
    owner = "cross_entropy"
    check_reduction(reduction, owner)
    eps = _check_smoothing(label_smoothing, owner)
    tgt = _like(target, z, xp, "target")
    if xp.isdtype(tgt.dtype, "real floating") or z.shape[-1] == 0:
        return None
    w = _class_weight(weight, z, xp, owner)
    safe, keep = _class_indices(tgt, z, ignore_index, owner, xp)
    return xp.kernels.cross_entropy(z, safe, keep, w, eps, reduction, xp)


def nll_from_log_probs(logp, target, xp, *, owner, axis, weight=None, ignore_index=-100,
                       reduction="mean", label_smoothing=0.0):
    """The cross-entropy of log-probabilities ``logp`` (class axis last)
    against ``target`` (class indices shaped like ``logp`` without its last
    axis, with ``axis`` the class axis of a probability target).

    Class indices: ``l_i = (1 - e) w[t_i] (-logp[i, t_i]) + (e / C) sum_c
    w_c (-logp[i, c])``, ignored rows 0, ``mean`` divided by the summed
    ``w[t_i]`` of the counted rows (PyTorch's rule). Probabilities: ``q``
    smoothed to ``(1 - e) q + e / C``, ``l_i = -sum_c w_c q_c logp[i, c]``
    with ``0 * log 0 = 0``, ``mean`` over rows.
    """
    check_reduction(reduction, owner)
    eps = _check_smoothing(label_smoothing, owner)
    n_classes = logp.shape[-1]
    tgt = _like(target, logp, xp, "target")
    w = _class_weight(weight, logp, xp, owner)
    if xp.isdtype(tgt.dtype, "real floating"):
        q, _ = move_axis_last(tgt, axis, xp, owner) if tgt.ndim else (tgt, 0)
        if tuple(q.shape) != tuple(logp.shape):
            raise ValueError(f"{owner}(): probability target shape {tuple(tgt.shape)} does not match the logits")
        q = q if q.dtype == logp.dtype else xp.astype(q, logp.dtype)
        if eps:
            q = q * (1.0 - eps) + eps / n_classes
        wq = q if w is None else q * w
        terms = xp.where(wq == 0.0, 0.0, wq * logp)
        return reduce_loss(-xp.sum(terms, axis=-1), None, None, reduction, xp)
    safe, keep = _class_indices(tgt, logp, ignore_index, owner, xp)
    picked = xp.take_along_axis(logp, xp.expand_dims(safe, axis=-1), axis=-1)
    nll = -xp.squeeze(picked, axis=-1)
    w_row = None
    if w is not None:
        w_row = xp.reshape(xp.take(w, xp.reshape(safe, (-1,)), axis=0), tuple(safe.shape))
    if not eps:
        return reduce_loss(nll, w_row, keep, reduction, xp)
    smooth = -xp.sum(logp if w is None else logp * w, axis=-1)
    per = (1.0 - eps) * (nll if w_row is None else nll * w_row) + (eps / n_classes) * smooth
    per = xp.where(keep, per, 0.0)
    if reduction == "none":
        return per
    total = xp.sum(per)
    if reduction == "sum":
        return total
    kept = xp.astype(keep, per.dtype)
    return total / xp.sum(kept if w_row is None else kept * w_row)


def cross_entropy(logits, target, /, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    r"""Softmax cross-entropy from logits, with PyTorch's conventions.

    Per row, with class index ``k``: :math:`L = -z_k + \log\sum_j e^{z_j}`,
    evaluated as ``-log_softmax(z)[k]`` whose ``(z - max) - log1p(s)`` form
    keeps tiny losses exact (a confident correct row gives 1.9e-22, not 0);
    with probability targets ``q``: :math:`-\sum_c q_c \log\mathrm{softmax}(z)_c`.
    The gradient is ``softmax(z) - q`` (through the registered log-softmax).

    Args:
        logits: (..., C, ...) scores; ``axis`` is the class axis (default
            last; PyTorch's is 1).
        target: class indices (integers, the logits' shape without the
            class axis) or probabilities (floats, the logits' shape).
        weight: (C,) class weights.
        ignore_index: class-index rows with this target do not count.
        reduction: "mean" (weighted mean over counted rows), "sum", "none".
        label_smoothing: e in [0, 1]: the target becomes ``(1-e) q + e/C``.

    Returns:
        The loss: a 0-d array for ``reduction="mean"`` or ``"sum"``, one value per sample (the class
        axis removed) for ``"none"``; the array type and floating dtype of the scores.

    Example:
        >>> import actlab
        >>> round(float(actlab.cross_entropy([[2.0, 0.0, -1.0]], [0])), 6)
        0.169846
        >>> float(actlab.cross_entropy([[0.0, -50.0]], [0]))
        1.9287498479639178e-22
    """
    xp, z = _xp.as_float_array(logits, "logits")
    z, _ = move_axis_last(z, axis, xp, "cross_entropy")
    if xp.kernels.cross_entropy is not None:
        loss = _fused(z, target, xp, weight=weight, ignore_index=ignore_index, reduction=reduction,
                      label_smoothing=label_smoothing)
        if loss is not None:
            return loss
    logp = log_softmax(z, axis=-1)
    return nll_from_log_probs(
        logp, target, xp, owner="cross_entropy", axis=axis, weight=weight, ignore_index=ignore_index,
        reduction=reduction, label_smoothing=label_smoothing,
    )


def binary_cross_entropy_with_logits(logits, target, /, *, weight=None, pos_weight=None, reduction="mean"):
    r"""Sigmoid cross-entropy from logits (multi-label), PyTorch's conventions.

    :math:`L = p\,y\,\mathrm{softplus}(-x) + (1-y)\,\mathrm{softplus}(x)`
    (``p`` = ``pos_weight``), which is :math:`-[p\,y\log\sigma(x) +
    (1-y)\log(1-\sigma(x))]` without cancellation: exact for any logit
    (``x = -30, y = 0`` gives 9.4e-14 where ``x + softplus(-x)`` loses all
    digits), a zero coefficient times an infinite softplus is 0.

    Args:
        logits, target: same shape; target in [0, 1].
        weight: broadcastable per-element weight.
        pos_weight: weight of the positive term, broadcast along the last axis.
        reduction: "mean" (over all elements), "sum", "none".

    Returns:
        The loss: a 0-d array for ``reduction="mean"`` or ``"sum"``, one value per element (the
        shape of ``logits``) for ``"none"``; the array type and floating dtype of the scores.

    Example:
        >>> import actlab
        >>> float(actlab.binary_cross_entropy_with_logits([-30.0], [0.0]))
        9.357622968839737e-14
    """
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    xp, x = _xp.as_float_array(logits, "logits")
    y = _like(target, x, xp, "target")
    y = y if y.dtype == x.dtype else xp.astype(y, x.dtype)
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(
            f"binary_cross_entropy_with_logits(): target shape {tuple(y.shape)} must equal logits shape {tuple(x.shape)}"
        )
    pos = y
    if pos_weight is not None:
        pos = y * _like(pos_weight, x, xp, "pos_weight")
    neg = 1.0 - y
    loss = _bce_terms(x, y, pos, neg, pos_weight, xp)
    if weight is not None:
        loss = loss * _like(weight, x, xp, "weight")
    return reduce_loss(loss, None, None, reduction, xp)


def _bce_terms(x, y, pos, neg, pos_weight, xp):
    """``pos softplus(-x) + neg softplus(x)``; a zero coefficient never meets an
    infinite softplus (its argument is replaced by 0).

    When the target records a gradient, that gradient is formed exactly:
    autograd through the two terms would give ``p softplus(-x) - softplus(x)``,
    a difference of two rounded numbers that cancels (for p = 1 it is exactly
    ``-x``; bfloat16 lost all digits). Here it is ``(p - 1) softplus(-x) - x``,
    entered as ``(y - detach(y)) * that`` (value 0, so the loss is unchanged;
    the mixed second derivative is kept). Infinite and NaN logits keep the
    plain form (an infinite gradient times a zero would be NaN)."""

    def terms(a, b):
        return a * softplus(-xp.where(a == 0.0, 0.0, x)) + b * softplus(xp.where(b == 0.0, 0.0, x))

    if not xp.records_grad(y):
        return terms(pos, neg)
    finite = (x > -math.inf) & (x < math.inf)
    yd = xp.detach(y)
    pw = None if pos_weight is None else _like(pos_weight, x, xp, "pos_weight")
    pos_d = yd if pw is None else yd * pw
    main = terms(xp.where(finite, pos_d, pos), xp.where(finite, 1.0 - yd, neg))
    dy = -x if pw is None else (pw - 1.0) * softplus(-x) - x
    return main + (y - yd) * xp.where(finite, dy, 0.0)


def register_loss(fn, *, latex, dlatex, reference, params=(), notes=""):
    fn.entry = register(
        Entry(name=fn.__name__, kind="loss", family="softmax", function=fn, params=tuple(params), latex=latex,
              dlatex=dlatex, properties=None, reference=reference, notes=notes)
    )
    return fn


_CE_PARAMS = (
    Param("label_smoothing", 0.0, "[0, 1]", valid=lambda v: 0.0 <= v <= 1.0, sweep=(0.0, 0.1)),
    Param("reduction", "mean", "choice", choices=("mean", "sum", "none")),
)
register_loss(
    cross_entropy,
    latex=r"L(z,k)=-z_k+\log\sum_j e^{z_j}",
    dlatex=r"\nabla_z L=\mathrm{softmax}(z)-\mathrm{onehot}(k)",
    reference="Bridle 1990 (softmax cross-entropy); label smoothing: Szegedy et al. 2016, arXiv:1512.00567; torch.nn.functional.cross_entropy conventions.",
    params=_CE_PARAMS,
)
register_loss(
    binary_cross_entropy_with_logits,
    latex=r"L(x,y)=p\,y\,\mathrm{softplus}(-x)+(1-y)\,\mathrm{softplus}(x)",
    dlatex=r"\partial_x L=(1-y)\sigma(x)-p\,y\,\sigma(-x)",
    reference="Multi-label sigmoid cross-entropy; torch.nn.functional.binary_cross_entropy_with_logits.",
    params=(Param("reduction", "mean", "choice", choices=("mean", "sum", "none")),),
)

