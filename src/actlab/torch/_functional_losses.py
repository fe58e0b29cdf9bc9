r"""Losses with ``torch.nn.functional``'s signatures, computed by actlab;
re-exported by :mod:`actlab.torch.functional`.

PyTorch's class dimension is 1 (dimension 0 for a 1-d input of C scores):
``input`` (N, C, d1, ...) with class-index targets (N, d1, ...) or
probability targets (N, C, d1, ...). :func:`cross_entropy` hands that class
axis to :func:`actlab.cross_entropy` (``axis=1``), whose formulas are
PyTorch's, including the ``mean`` with class weights (divided by the summed
weights of the counted targets) and label smoothing with weights and
``ignore_index``. The sparse losses take the class axis last.

Example:
    >>> import torch, actlab.torch.functional as AF
    >>> g = torch.Generator().manual_seed(0)
    >>> x, t = torch.randn(4, 5, 5, generator=g), torch.randint(0, 5, (4, 5), generator=g)
    >>> bool(torch.allclose(AF.cross_entropy(x, t), torch.nn.functional.cross_entropy(x, t)))
    True
"""

from __future__ import annotations

import torch

from .. import losses
from ..losses.sparse import entmax_loss as _entmax_loss
from ..losses.sparse import sparsemax_loss as _sparsemax_loss
from ._functional_simplex import check_k
from ._torch_conventions import legacy_reduction, meta_guard
from .large_output.fused_cross_entropy import linear_cross_entropy
from .large_output.fused_sparse_losses import linear_entmax_loss, linear_sparsemax_loss

Tensor = torch.Tensor

__all__ = [
    "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "distillation_loss", "sparsemax_loss",
    "entmax_loss", "linear_cross_entropy", "linear_sparsemax_loss", "linear_entmax_loss",
]


def _class_dim(input: Tensor) -> int:
    return 1 if input.dim() >= 2 else 0


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    r"""Softmax cross-entropy from logits (:func:`actlab.cross_entropy`), as ``F.cross_entropy``.

    Class index :math:`k`: :math:`\ell = w_k(-z_k + \log\sum_j e^{z_j})`;
    probabilities :math:`q`: :math:`\ell = -\sum_c w_c q_c \log\mathrm{softmax}(z)_c`;
    label smoothing :math:`\varepsilon` mixes the target with :math:`1/C`.

    Args:
        input: (N, C), (N, C, d1, ...) or (C,) logits; the class dimension is 1 (0 for 1-d).
        target: class indices (N,), (N, d1, ...) or (); or probabilities of ``input``'s shape.
        weight: (C,) class weights. ignore_index: class-index targets not counted.
        size_average, reduce: PyTorch's deprecated pair, mapped to ``reduction``.
        reduction: "mean", "sum" or "none". label_smoothing: in [0, 1].

    Returns:
        A 0-d tensor, or the per-element losses (``target``'s shape for
        class indices) with ``reduction="none"``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    return meta_guard("cross_entropy", losses.cross_entropy, input, target, axis=_class_dim(input), weight=weight,
                      ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    r"""Negative log-likelihood of log-probabilities ``input`` (class dimension
    1, 0 for 1-d), as ``F.nll_loss``: :math:`\ell = -w_k\,\mathrm{input}_k`,
    ``mean`` divided by the summed weights of the counted targets. The same
    target handling as :func:`cross_entropy` (:func:`actlab.nll_loss`).

    Example:
        >>> import torch, actlab.torch.functional as AF
        >>> lp = torch.log_softmax(torch.tensor([[2.0, 0.0, -1.0]]), 1)
        >>> bool(torch.allclose(AF.nll_loss(lp, torch.tensor([0])), torch.nn.functional.nll_loss(lp, torch.tensor([0]))))
        True

    Returns:
        The loss: a 0-d tensor for ``reduction="mean"`` or ``"sum"``, one value per sample for
        ``"none"``, on ``input``'s device.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if isinstance(target, torch.Tensor) and target.is_floating_point():
        raise ValueError(f"nll_loss(): target must hold class indices, got dtype {target.dtype}")
    return losses.nll_loss(input, target, axis=_class_dim(input), weight=weight, ignore_index=ignore_index,
                           reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    r"""Sigmoid cross-entropy from logits
    (:func:`actlab.binary_cross_entropy_with_logits`), as
    ``F.binary_cross_entropy_with_logits``:
    :math:`\ell = p\,y\,\mathrm{softplus}(-x) + (1-y)\,\mathrm{softplus}(x)`.

    Returns:
        The loss: a 0-d tensor for ``reduction="mean"`` or ``"sum"``, one value per element for
        ``"none"``, on ``input``'s device.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    return losses.binary_cross_entropy_with_logits(input, target, weight=weight, pos_weight=pos_weight,
                                                   reduction=reduction)


def distillation_loss(input: Tensor, target: Tensor, temperature: float, dim: int = -1,
                      reduction: str = "mean") -> Tensor:
    r""":math:`T^2\,\mathrm{KL}(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T))` of student
    logits ``input`` and teacher logits ``target`` (:func:`actlab.distillation_loss`; Hinton et al. 2015).

    Returns:
        The loss: a 0-d tensor for ``reduction="mean"`` or ``"sum"``, one value per sample for
        ``"none"``, on ``input``'s device.
    """
    return meta_guard("distillation_loss", losses.distillation_loss, input, target, temperature, axis=dim,
                      reduction=reduction)


def sparsemax_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                   reduction: str = "mean", *, multilabel: bool = False, k: int | None = None) -> Tensor:
    r"""The sparsemax loss of logits ``input`` (class axis last) against class
    indices or a target distribution (:func:`actlab.sparsemax_loss`; Martins & Astudillo 2016);
    ``multilabel``: a multi-hot target, normalised to label proportions; ``k``: the
    ``entmax`` package's partial-sort budget, checked, the same result for every ``k``
    (see :class:`actlab.torch.Sparsemax`).

    Returns:
        The loss: a 0-d tensor for ``reduction="mean"`` or ``"sum"``, one value per sample for
        ``"none"``, on ``input``'s device.
    """
    check_k("sparsemax_loss", k)
    return meta_guard("sparsemax_loss", _sparsemax_loss, input, target, weight=weight, ignore_index=ignore_index,
                      reduction=reduction, multilabel=multilabel)


def entmax_loss(input: Tensor, target: Tensor, alpha: float = 1.5, weight: Tensor | None = None,
                ignore_index: int = -100, reduction: str = "mean", *, n_iter: int = 50) -> Tensor:
    r"""The alpha-entmax Fenchel-Young loss (class axis last) (:func:`actlab.entmax_loss`; Peters et al. 2019).

    Returns:
        The loss: a 0-d tensor for ``reduction="mean"`` or ``"sum"``, one value per sample for
        ``"none"``, on ``input``'s device.
    """
    return meta_guard("entmax_loss", _entmax_loss, input, target, alpha, n_iter=n_iter, weight=weight,
                      ignore_index=ignore_index, reduction=reduction)
