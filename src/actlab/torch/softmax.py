"""``torch.nn`` modules for the softmax family: thin wrappers over the
functions of :mod:`actlab` (whose backward passes are the registered VJPs).

``axis`` is the class axis, last by default (PyTorch's ``dim``; its losses
default to axis 1, which is the same for (N, C) input).
"""

from __future__ import annotations

from typing import Any

import torch

from .. import losses, simplex

__all__ = [
    "Softmax", "LogSoftmax", "Softmin", "CrossEntropyLoss", "BCEWithLogitsLoss", "DistillationLoss",
]


class _Map(torch.nn.Module):
    fn: Any = None

    def __init__(self, axis: int = -1, temperature: float = 1.0, beta: float | None = None) -> None:
        super().__init__()
        self.axis, self.temperature, self.beta = axis, temperature, beta
        type(self).fn(torch.zeros(1), temperature=temperature, beta=beta)  # validate now

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return type(self).fn(x, axis=self.axis, temperature=self.temperature, beta=self.beta)

    def extra_repr(self) -> str:
        beta = "" if self.beta is None else f", beta={self.beta}"
        return f"axis={self.axis}, temperature={self.temperature}{beta}"


class Softmax(_Map):
    """:func:`actlab.softmax` as a module: ``Softmax(axis=-1, temperature=1.0, beta=None)``.

    >>> import torch, actlab.torch.softmax as m
    >>> [round(v, 4) for v in m.Softmax()(torch.tensor([1.0, 2.0])).tolist()]
    [0.2689, 0.7311]
    """

    fn = staticmethod(simplex.softmax)


class LogSoftmax(_Map):
    """:func:`actlab.log_softmax` as a module."""

    fn = staticmethod(simplex.log_softmax)


class Softmin(_Map):
    """:func:`actlab.softmin` as a module."""

    fn = staticmethod(simplex.softmin)


class CrossEntropyLoss(torch.nn.Module):
    """:func:`actlab.cross_entropy` as a module, PyTorch's arguments plus ``axis``
    (the class axis; -1 by default, PyTorch's is 1). ``weight`` is a buffer.

    >>> import torch, actlab.torch.softmax as m
    >>> loss = m.CrossEntropyLoss(label_smoothing=0.1)
    >>> round(float(loss(torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0]))), 4)
    0.3365
    """

    def __init__(self, weight: torch.Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0, axis: int = -1) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction, self.label_smoothing, self.axis = (
            ignore_index, reduction, label_smoothing, axis)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return losses.cross_entropy(logits, target, axis=self.axis, weight=self.weight,
                                    ignore_index=self.ignore_index, reduction=self.reduction,
                                    label_smoothing=self.label_smoothing)


class BCEWithLogitsLoss(torch.nn.Module):
    """:func:`actlab.binary_cross_entropy_with_logits` as a module; ``weight``
    and ``pos_weight`` are buffers."""

    def __init__(self, weight: torch.Tensor | None = None, reduction: str = "mean",
                 pos_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return losses.binary_cross_entropy_with_logits(logits, target, weight=self.weight,
                                                       pos_weight=self.pos_weight, reduction=self.reduction)


class DistillationLoss(torch.nn.Module):
    """:func:`actlab.distillation_loss` as a module:
    ``DistillationLoss(temperature, reduction="mean", axis=-1)(student, teacher)``."""

    def __init__(self, temperature: float, reduction: str = "mean", axis: int = -1) -> None:
        super().__init__()
        self.temperature, self.reduction, self.axis = temperature, reduction, axis

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        return losses.distillation_loss(student_logits, teacher_logits, self.temperature, axis=self.axis,
                                        reduction=self.reduction)
