"""Losses with PyTorch's argument conventions (``reduction``, ``weight``,
``ignore_index``); shared reduction helpers in :mod:`._reduction`."""

from .cross_entropy import binary_cross_entropy_with_logits, cross_entropy
from .likelihood import kl_div, multilabel_soft_margin_loss, nll_loss
from .normmax import normmax_loss
from .softmax_alternatives import distillation_loss, spherical_cross_entropy, taylor_cross_entropy

__all__ = [
    "cross_entropy", "binary_cross_entropy_with_logits", "distillation_loss",
    "spherical_cross_entropy", "taylor_cross_entropy", "nll_loss", "kl_div", "multilabel_soft_margin_loss",
    "normmax_loss",
]
