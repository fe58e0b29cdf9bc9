r"""Fenchel-Young losses of the sparse maps: the sparsemax loss (Martins &
Astudillo 2016) and the entmax loss (Peters, Niculae & Martins 2019).

For logits :math:`z`, a target distribution :math:`q` (a class index is the
one-hot :math:`q = e_k`) and :math:`p = \operatorname{entmax}_\alpha(z)`,

.. math:: L(z, q) = \langle p - q, z\rangle + H^T_\alpha(p) - H^T_\alpha(q),
   \qquad \nabla_z L = p - q,

with the Tsallis entropy :math:`H^T_\alpha(p) = (1 - \sum_j p_j^\alpha)/(\alpha(\alpha-1))`
(Shannon's for alpha = 1, where the loss is the cross-entropy minus the
target's entropy). For alpha = 2 this is the sparsemax loss of Martins & Astudillo 2016
:math:`-\langle q, z\rangle + \tfrac12 \sum_{j\in S}(z_j^2 - \tau^2) + \tfrac12\lVert q\rVert^2`.
:math:`L \ge 0`, with equality iff :math:`p = q`; with two classes it is the
modified Huber loss of the margin.

PyTorch conventions: logits ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``
(classes on axis 1); targets are class indices (shape without the class
axis) or distributions (the logits' shape); ``weight`` (C,), ``ignore_index``
and ``reduction`` as in :func:`torch.nn.functional.cross_entropy`, see
:mod:`actlab.losses._reduction`. For a distribution target a row's weight is
:math:`\langle w, q\rangle`.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _backend, _xp
from ..registry import Entry, Param, register
from ..simplex import threshold
from ..simplex.entmax import entmax
from ._reduction import check_reduction, class_targets, reduce_rows

__all__ = ["sparsemax_loss", "entmax_loss", "fenchel_young_rows"]


def _tsallis(p: Any, alpha: float, xp: Any) -> Any:
    """Tsallis entropy along the last axis (Shannon's for alpha = 1)."""
    pos = p > 0
    if alpha == 1.0:
        return -xp.sum(xp.where(pos, p * xp.log(xp.where(pos, p, 1.0)), 0.0), axis=-1)
    if alpha == 2.0:
        s = xp.sum(p * p, axis=-1)
    elif alpha == 1.5:
        s = xp.sum(p * xp.sqrt(p), axis=-1)
    else:
        s = xp.sum(xp.where(pos, xp.pow(xp.where(pos, p, 1.0), alpha), 0.0), axis=-1)
    return (1.0 - s) / (alpha * (alpha - 1.0))


def fenchel_young_rows(z: Any, p: Any, target: Any, alpha: float, xp: Any) -> Any:
    """The loss of each row of ``z`` (classes last) with ``p = entmax(z)``;
    ``target`` is an integer array of classes (one per row) or distributions."""
    m = xp.max(z, axis=-1, keepdims=True)
    zs = z - xp.where(xp.isfinite(m), m, 0.0)  # shift-invariant; exact at the support
    if xp.isdtype(target.dtype, "integral"):
        zk = xp.squeeze(xp.take_along_axis(zs, xp.expand_dims(target, axis=-1), axis=-1), axis=-1)
        dot = xp.sum(xp.where(p > 0, p * zs, 0.0), axis=-1) - zk
        h_q = 0.0
    else:
        d = p - target
        dot = xp.sum(xp.where(d != 0, d * zs, 0.0), axis=-1)
        h_q = _tsallis(target, alpha, xp)
    if alpha == 1.0:  # <p, zs> + H(p) = logsumexp(zs), exactly
        lse = xp.log(xp.sum(xp.exp(zs), axis=-1))
        return lse + dot - xp.sum(xp.where(p > 0, p * zs, 0.0), axis=-1) - h_q
    return dot + _tsallis(p, alpha, xp) - h_q


def _check_alpha(alpha: Any, owner: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (alpha >= 1 and math.isfinite(alpha)):
        raise ValueError(f"{owner}(): alpha must be a finite number >= 1, got {alpha!r}")
    return float(alpha)


def _rows(logits: Any, target: Any, owner: str):
    """Classes moved last and batch flattened: ``(xp, z2, t2, batch shape, C)``."""
    xp, z = _xp.as_float_array(logits, "logits")
    if z.ndim == 0:
        raise ValueError(f"{owner}(): logits must have a class axis, got a 0-d array")
    if _backend.backend_of(target) is not xp:
        target = xp.asarray_like(target, z)
    C = z.shape[1] if z.ndim >= 2 else z.shape[0]
    if z.ndim >= 2:
        z = xp.moveaxis(z, 1, -1) if hasattr(xp, "moveaxis") else xp.permute_dims(
            z, (0, *range(2, z.ndim), 1))
    batch = tuple(z.shape[:-1])
    dist = xp.isdtype(target.dtype, "real floating")
    if dist:
        if z.ndim >= 2 and target.ndim == z.ndim:
            target = xp.moveaxis(target, 1, -1) if hasattr(xp, "moveaxis") else xp.permute_dims(
                target, (0, *range(2, target.ndim), 1))
        if tuple(target.shape) != batch + (C,):
            raise ValueError(f"{owner}(): a distribution target must have the logits' shape, got {tuple(target.shape)}")
    elif tuple(target.shape) != batch:
        raise ValueError(f"{owner}(): class targets must have shape {batch}, got {tuple(target.shape)}")
    n = 1
    for s in batch:
        n *= s
    z2 = xp.reshape(z, (n, C))
    t2 = xp.reshape(target, (n, C) if dist else (n,))
    return xp, z2, t2, batch, C


def _check_distribution(q: Any, owner: str, xp: Any) -> None:
    if threshold.static_required(q, xp):
        return
    tol = 1e-3 if q.dtype != xp.float64 else 1e-9
    bad = xp.any(q < 0) or xp.any(xp.abs(xp.sum(q, axis=-1) - 1.0) > tol)
    if bool(bad):
        raise ValueError(f"{owner}(): a distribution target needs entries >= 0 summing to 1 along the class axis")


def _loss(logits, target, alpha, n_iter, weight, ignore_index, reduction, owner):
    reduction = check_reduction(reduction, owner)
    xp, z, t, batch, C = _rows(logits, target, owner)
    keep = None
    if xp.isdtype(t.dtype, "real floating"):
        t = xp.astype(t, z.dtype) if t.dtype != z.dtype else t
        _check_distribution(t, owner, xp)
    else:
        t, keep = class_targets(t, C, ignore_index, owner, xp)
    p = entmax(z, alpha, n_iter)
    rows = xp.fenchel_young(z, p, t, alpha, fenchel_young_rows)
    return reduce_rows(rows, t, keep, weight, reduction, batch, z, owner, xp)


def sparsemax_loss(logits: Any, target: Any, *, weight: Any = None, ignore_index: int = -100,
                   reduction: str = "mean", multilabel: bool = False) -> Any:
    r"""Sparsemax loss: :math:`-\langle q,z\rangle + \tfrac12\sum_{j\in S}(z_j^2-\tau^2)
    + \tfrac12\lVert q\rVert^2`; gradient ``sparsemax(z) - q``.

    Args:
        logits: ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``.
        target: class indices (integers) or distributions (floats, logits' shape).
        weight, ignore_index, reduction: as in ``torch.nn.functional.cross_entropy``.
        multilabel: ``target`` is multi-hot (0/1 or non-negative label
            weights, the logits' shape), normalised to the label proportions
            ``y / sum(y)`` (Martins & Astudillo 2016, section 4; see
            :mod:`actlab.losses.multi_hot`).

    Returns:
        The loss: a 0-d array for ``reduction="mean"`` or ``"sum"``, one value per sample (the class
        axis removed) for ``"none"``; the array type and floating dtype of the scores.

    Example:
        >>> import actlab
        >>> float(actlab.sparsemax_loss([[0.5, 0.0]], [0]))  # binary: (t - 1)^2 / 4
        0.0625
        >>> float(actlab.sparsemax_loss([[1.0, 1.0, -1.0]], [[1, 1, 0]], multilabel=True))
        0.0

    Reference: Martins & Astudillo 2016, eq. (17) and Proposition 3.
    """
    if multilabel:
        from .multi_hot import proportions

        target = proportions(logits, target, "sparsemax_loss")
    return _loss(logits, target, 2.0, 50, weight, ignore_index, reduction, "sparsemax_loss")


def entmax_loss(logits: Any, target: Any, alpha: float = 1.5, *, n_iter: int = 50, weight: Any = None,
                ignore_index: int = -100, reduction: str = "mean") -> Any:
    r"""Entmax (Fenchel-Young) loss: :math:`\langle p-q, z\rangle + H^T_\alpha(p) - H^T_\alpha(q)`,
    ``p = entmax(z, alpha)``; gradient ``p - q``. alpha = 1 gives the
    cross-entropy minus the target's entropy, alpha = 2 the sparsemax loss.

    Returns:
        The loss: a 0-d array for ``reduction="mean"`` or ``"sum"``, one value per sample (the class
        axis removed) for ``"none"``; the array type and floating dtype of the scores.

    Example:
        >>> import actlab
        >>> round(float(actlab.entmax_loss([[2.0, 0.0, -1.0]], [0], alpha=1.5)), 6)
        0.0

    Reference: Peters, Niculae & Martins 2019; Blondel, Martins & Niculae 2020.
    """
    alpha = _check_alpha(alpha, "entmax_loss")
    return _loss(logits, target, alpha, n_iter, weight, ignore_index, reduction, "entmax_loss")


def _margin_loss(loss):
    """The loss of the binary margin t = z_1 - z_2 with class 1 correct (for plots)."""

    def f(t: Any, **params: Any) -> Any:
        xp, t = _xp.as_float_array(t, "t")
        z = xp.stack([t, xp.zeros_like(t)], axis=-1)
        return loss(z, xp.zeros(t.shape, dtype=xp.int64), reduction="none", **params)

    return f


def _register(loss: Any, latex: str, dlatex: str, reference: str, notes: str, params: tuple = ()) -> Entry:
    return register(Entry(name=loss.__name__, kind="loss", family="sparse", function=loss, params=params,
                          latex=latex, dlatex=dlatex, properties=None, reference=reference, notes=notes,
                          extra={"margin": _margin_loss(loss)}))


sparsemax_loss.entry = _register(  # type: ignore[attr-defined]
    sparsemax_loss,
    r"-z_k+\tfrac12\sum_{j\in S(z)}\left(z_j^2-\tau(z)^2\right)+\tfrac12",
    r"\operatorname{sparsemax}(z)-e_k",
    "Martins & Astudillo 2016.",
    "Binary margin t: 0 for t >= 1, -t for t <= -1, (t-1)^2/4 between (modified Huber).",
)
entmax_loss.entry = _register(  # type: ignore[attr-defined]
    entmax_loss,
    r"\langle p-e_k, z\rangle+H^T_\alpha(p),\ p=\operatorname{entmax}_\alpha(z)",
    r"\operatorname{entmax}_\alpha(z)-e_k",
    "Peters, Niculae & Martins 2019; Blondel, Martins & Niculae 2020.",
    "Fenchel-Young loss; alpha=1 needs actlab.softmax.",
    (Param("alpha", 1.5, ">= 1", lambda a: a >= 1 and math.isfinite(a), sweep=(1.0, 1.5, 2.0)),),
)
