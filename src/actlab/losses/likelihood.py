r"""Losses on log-probabilities and multi-label logits, with
``torch.nn.functional``'s semantics (the NumPy API takes the class ``axis``;
the torch front-ends in :mod:`actlab.torch.functional` pass PyTorch's class
dimension 1).

- :func:`nll_loss`: :math:`\ell_i = -w_{k_i}\,\log p_{i,k_i}` for log-probabilities
  ``log p`` (the output of :func:`actlab.log_softmax`), ``weight``,
  ``ignore_index``, ``reduction`` (``mean`` divides by the summed weights of the
  counted targets), any number of extra dimensions.
- :func:`kl_div`: :math:`\ell = q(\log q - \mathrm{input})` pointwise, ``input`` the
  log-probabilities of the model and ``target`` the reference distribution
  :math:`q` (torch's argument order: :math:`\mathrm{KL}(q\,\|\,p)`), with
  ``log_target`` and the reductions ``mean`` (over all elements), ``batchmean``
  (the sum over the batch size, the true KL divergence), ``sum``, ``none``.
  A zero target contributes 0 even where ``input`` is -inf (the limit
  :math:`0 \log 0 = 0`; PyTorch gives NaN there).
- :func:`multilabel_soft_margin_loss`: :math:`\ell_i = \frac1C\sum_c w_c\,[y_{ic}
  \operatorname{softplus}(-x_{ic}) + (1 - y_{ic})\operatorname{softplus}(x_{ic})]`,
  the mean over classes of the sigmoid cross-entropy, evaluated without
  cancellation (:func:`actlab.binary_cross_entropy_with_logits`).

References: Kullback & Leibler 1951; PyTorch's ``torch.nn.functional``
documentation (the conventions).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _backend, _xp
from .._simplex import move_axis_last
from ..registry import Param
from ._reduction import check_reduction, reduce_loss
from .cross_entropy import binary_cross_entropy_with_logits, nll_from_log_probs, register_loss

__all__ = ["nll_loss", "kl_div", "multilabel_soft_margin_loss"]

_RED = Param("reduction", "mean", "choice", choices=("mean", "sum", "none"))


def nll_loss(log_probs, target, /, *, axis=-1, weight=None, ignore_index=-100, reduction="mean"):
    r"""Negative log-likelihood of log-probabilities: :math:`\ell_i = -w_{k_i}\log p_{i,k_i}`.

    Args:
        log_probs: (..., C, ...) log-probabilities (``log_softmax`` output);
            ``axis`` is the class axis (PyTorch's is 1).
        target: integer class indices, ``log_probs``' shape without the class axis.
        weight: (C,) class weights. ignore_index: targets that do not count.
        reduction: "mean" (divided by the summed weights of the counted
            targets; NaN when none counts, as in PyTorch), "sum" or "none".

    Returns:
        A 0-d array, or the per-row losses with ``reduction="none"`` (0 on
        ignored rows). Its gradient is :math:`-w_k` at the target entry.

    Example:
        >>> import actlab
        >>> lp = actlab.log_softmax([[2.0, 0.0, -1.0]])
        >>> round(float(actlab.nll_loss(lp, [0])), 6)
        0.169846
        >>> float(actlab.nll_loss([[-0.5, -1.0], [-2.0, -0.1]], [1, -100]))
        1.0

    Reference: PyTorch's ``nll_loss`` conventions.
    """
    xp, lp = _xp.as_float_array(log_probs, "log_probs")
    tgt = target if _backend.backend_of(target) is xp else xp.asarray_like(target, lp)
    if xp.isdtype(tgt.dtype, "real floating"):
        raise TypeError(f"nll_loss(): target must hold integer class indices, got dtype {tgt.dtype}")
    if lp.ndim == 0:
        raise ValueError("nll_loss(): log_probs must have a class axis, got a 0-d array")
    lp, _ = move_axis_last(lp, axis, xp, "nll_loss")
    return nll_from_log_probs(lp, tgt, xp, owner="nll_loss", axis=-1, weight=weight,
                              ignore_index=ignore_index, reduction=reduction)


def kl_div(input, target, /, *, reduction="mean", log_target=False):
    r"""Kullback-Leibler divergence in PyTorch's argument order: ``input`` the
    model's log-probabilities, ``target`` the reference :math:`q`;
    pointwise :math:`q(\log q - \mathrm{input})` (``log_target``: ``target`` is
    :math:`\log q`, :math:`e^{t}(t - \mathrm{input})`).

    Args:
        input: log-probabilities. target: probabilities (or log-probabilities
            with ``log_target=True``), broadcastable to ``input``.
        reduction: "mean" (over all elements, PyTorch's default, not the
            KL), "batchmean" (sum / batch size, the KL divergence per
            sample), "sum" or "none".
        log_target: whether ``target`` holds log-probabilities.

    Returns:
        The reduced loss (pointwise values with "none"); the gradient in
        ``input`` is :math:`-q`.

    Example:
        >>> import actlab, math
        >>> p = [[math.log(0.25), math.log(0.75)]]
        >>> round(float(actlab.kl_div(p, [[0.5, 0.5]], reduction="batchmean")), 6)
        0.143841
        >>> float(actlab.kl_div([[-math.inf, 0.0]], [[0.0, 1.0]], reduction="sum"))
        0.0

    Reference: Kullback & Leibler 1951; PyTorch's ``kl_div``.
    """
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"kl_div(): reduction must be one of ['mean', 'batchmean', 'sum', 'none'], got {reduction!r}")
    if not isinstance(log_target, bool):
        raise TypeError(f"kl_div(): log_target must be a bool, got {log_target!r}")
    xp, x = _xp.as_float_array(input, "input")
    t = target if _backend.backend_of(target) is xp else xp.asarray_like(target, x)
    t = t if t.dtype == x.dtype else xp.astype(t, x.dtype)
    shape = np.broadcast_shapes(tuple(x.shape), tuple(t.shape))
    x, t = xp.broadcast_to(x, shape), xp.broadcast_to(t, shape)
    # float32 in float64, rounded once at the end: exp(t) may be subnormal in float32 where the
    # pointwise loss is not, and the sum of the pointwise terms gains the same
    x, out_dtype = _xp.to_working(xp, x, promote32=True)
    t = t if t.dtype == x.dtype else xp.astype(t, x.dtype)
    if log_target:
        live = t > -math.inf
        ts = xp.where(live, t, 0.0)
        xs = xp.where(live, x, 0.0)
        loss = xp.where(live, xp.exp(ts) * (ts - xs), 0.0)
    else:
        live = t != 0.0
        ts = xp.where(live, t, 1.0)
        xs = xp.where(live, x, 0.0)
        loss = xp.where(live, t * (xp.log(ts) - xs), 0.0)
    if reduction == "batchmean":
        total = xp.sum(loss)
        out = total / x.shape[0] if x.ndim else total
    else:
        out = reduce_loss(loss, None, None, reduction, xp)
    return out if out.dtype == out_dtype else xp.astype(out, out_dtype)


def multilabel_soft_margin_loss(input, target, /, *, weight=None, reduction="mean"):
    r"""Multi-label one-versus-all loss: the mean over classes of the sigmoid
    cross-entropy, :math:`\ell_i = \frac1C\sum_c w_c[y_{ic}\operatorname{softplus}(-x_{ic})
    + (1-y_{ic})\operatorname{softplus}(x_{ic})]`.

    Args:
        input: (N, C) or (C,) logits (classes last, as in PyTorch).
        target: the same shape, entries in [0, 1] (multi-hot labels).
        weight: (C,) class weights. reduction: "mean" (over rows), "sum", "none".

    Returns:
        The reduced loss, or the per-row losses (N,) with "none". Gradient
        :math:`(w/C)(\sigma(x) - y)`.

    Example:
        >>> import actlab
        >>> round(float(actlab.multilabel_soft_margin_loss([[2.0, -1.0, 0.0]], [[1.0, 0.0, 1.0]])), 6)
        0.377779

    Reference: PyTorch's ``multilabel_soft_margin_loss``.
    """
    check_reduction(reduction, "multilabel_soft_margin_loss")
    xp, x = _xp.as_float_array(input, "input")
    if x.ndim == 0:
        raise ValueError("multilabel_soft_margin_loss(): input must have a class axis, got a 0-d array")
    per = binary_cross_entropy_with_logits(x, target, reduction="none")
    if weight is not None:
        w = xp.asarray_like(weight, x)
        w = w if w.dtype == x.dtype else xp.astype(w, x.dtype)
        if tuple(w.shape) not in ((x.shape[-1],), ()):
            raise ValueError(f"multilabel_soft_margin_loss(): weight must have shape ({x.shape[-1]},), got {tuple(w.shape)}")
        per = per * w
    rows = xp.sum(per, axis=-1) / per.shape[-1]
    return reduce_loss(rows, None, None, reduction, xp)


register_loss(
    nll_loss,
    latex=r"L(\ell,k)=-w_k\,\ell_k,\ \ell=\log p",
    dlatex=r"\partial L/\partial \ell_j=-w_k[j=k]",
    reference="PyTorch's nll_loss conventions (weight, ignore_index, reduction).",
    params=(_RED,),
    notes="Takes log-probabilities (log_softmax's output), not logits.",
)
register_loss(
    kl_div,
    latex=r"L(\ell,q)=\sum_i q_i(\log q_i-\ell_i)",
    dlatex=r"\partial L/\partial \ell_i=-q_i",
    reference="Kullback & Leibler 1951; PyTorch's kl_div (argument order, log_target, batchmean).",
    params=(Param("reduction", "mean", "choice", choices=("mean", "batchmean", "sum", "none")),),
    notes="input: the model's log-probabilities; target: the reference distribution.",
)
register_loss(
    multilabel_soft_margin_loss,
    latex=r"L(x,y)=\frac{1}{C}\sum_c y_c\,\mathrm{softplus}(-x_c)+(1-y_c)\,\mathrm{softplus}(x_c)",
    dlatex=r"\partial L/\partial x_c=\frac{1}{C}(\sigma(x_c)-y_c)",
    reference="PyTorch's multilabel_soft_margin_loss (one-versus-all sigmoid cross-entropy).",
    params=(_RED,),
)
