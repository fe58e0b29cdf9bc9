"""``torch.nn`` modules for the softmax family, with PyTorch's names,
constructor signatures and class dimension: thin wrappers over
:mod:`actlab.torch.functional` (whose backward passes are actlab's VJPs).

``Softmax(dim=None)`` picks PyTorch's implicit dimension (with its warning);
``temperature`` and ``beta`` are actlab's keyword-only extras, and ``axis``
is accepted as another name for ``dim``. The losses take the class dimension
1 ((N, C) or (N, C, d1, ...) input), as ``torch.nn.CrossEntropyLoss``.

Example:
    >>> import torch, actlab.torch as at
    >>> at.Softmax(dim=1)
    Softmax(dim=1)
    >>> [round(v, 4) for v in at.Softmax(dim=-1)(torch.tensor([1.0, 2.0])).tolist()]
    [0.2689, 0.7311]
"""

from __future__ import annotations

from typing import Any

import torch

from . import functional as AF
from ._torch_conventions import (
    check_choice,
    check_count,
    check_dim,
    check_number,
    legacy_reduction,
    resolve_dim,
)

Tensor = torch.Tensor

__all__ = [
    "Softmax", "LogSoftmax", "Softmin", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "DistillationLoss",
]


class _Map(torch.nn.Module):
    fn: Any = None

    def __init__(self, dim: int | None = None, *, temperature: float = 1.0, beta: float | None = None,
                 axis: int | None = None) -> None:
        super().__init__()
        self.dim = resolve_dim(type(self).__name__, dim, axis, None)
        if self.dim is not None and (isinstance(self.dim, bool) or not isinstance(self.dim, int)):
            raise TypeError(f"{type(self).__name__}: dim must be an int or None, got {self.dim!r}")
        self.temperature, self.beta = temperature, beta
        type(self).fn(torch.zeros(1), 0, temperature=temperature, beta=beta)  # validate now

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, self.dim, 5, temperature=self.temperature, beta=self.beta)

    def extra_repr(self) -> str:
        extra = "" if self.temperature == 1.0 else f", temperature={self.temperature}"
        extra += "" if self.beta is None else f", beta={self.beta}"
        return f"dim={self.dim}{extra}"


class _MaskedMap(_Map):
    def forward(self, input: Tensor, where: Tensor | None = None) -> Tensor:
        """The map of ``input``; ``where``: an optional boolean mask, as in
        :func:`actlab.torch.functional.softmax` (jax.nn's ``where``)."""
        return type(self).fn(input, self.dim, 5, temperature=self.temperature, beta=self.beta, where=where)


class Softmax(_MaskedMap):
    r""":math:`e^{z_i}/\sum_j e^{z_j}` along ``dim`` (:func:`actlab.softmax`), as ``torch.nn.Softmax``;
    ``forward(input, where=mask)`` takes the map over the True entries only (the others get 0).

    >>> import torch, actlab.torch as at
    >>> x = torch.randn(2, 3, 4, dtype=torch.float64)
    >>> torch.allclose(at.Softmax(dim=1, temperature=2.0)(x), torch.softmax(x / 2, dim=1))
    True
    >>> at.Softmax(dim=-1)(torch.zeros(3), where=torch.tensor([True, False, True])).tolist()
    [0.5, 0.0, 0.5]
    """

    fn = staticmethod(AF.softmax)


class LogSoftmax(_MaskedMap):
    r""":math:`z_i - \log\sum_j e^{z_j}` along ``dim`` (:func:`actlab.log_softmax`), as ``torch.nn.LogSoftmax``;
    ``forward(input, where=mask)``: the masked entries give :math:`-\infty`."""

    fn = staticmethod(AF.log_softmax)


class Softmin(_Map):
    r""":math:`\mathrm{softmax}(-z)` along ``dim`` (:func:`actlab.softmin`), as ``torch.nn.Softmin``."""

    fn = staticmethod(AF.softmin)


class _Loss(torch.nn.Module):
    def __init__(self, size_average: bool | None, reduce: bool | None, reduction: str) -> None:
        super().__init__()
        reduction = legacy_reduction(size_average, reduce, reduction)
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    """:func:`actlab.torch.functional.cross_entropy` as a module, as
    ``torch.nn.CrossEntropyLoss`` (class dimension 1; ``weight`` is a buffer).

    >>> import torch, actlab.torch as at
    >>> loss = at.CrossEntropyLoss(label_smoothing=0.1)
    >>> round(float(loss(torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0]))), 4)
    0.3365
    """

    weight: Tensor | None

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(size_average, reduce, reduction)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
                or not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.register_buffer("weight", weight)
        self.ignore_index = check_count("CrossEntropyLoss", "ignore_index", ignore_index, minimum=-(2 ** 63))
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return AF.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                                reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """:func:`actlab.torch.functional.nll_loss` as a module, as ``torch.nn.NLLLoss``."""

    weight: Tensor | None

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = check_count("NLLLoss", "ignore_index", ignore_index, minimum=-(2 ** 63))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return AF.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                           reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """:func:`actlab.binary_cross_entropy_with_logits` as a module, as
    ``torch.nn.BCEWithLogitsLoss``; ``weight`` and ``pos_weight`` are buffers."""

    weight: Tensor | None
    pos_weight: Tensor | None

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return AF.binary_cross_entropy_with_logits(input, target, weight=self.weight, pos_weight=self.pos_weight,
                                                   reduction=self.reduction)


class DistillationLoss(torch.nn.Module):
    """:func:`actlab.distillation_loss` as a module (Hinton et al. 2015):
    ``DistillationLoss(temperature, reduction="mean", dim=-1)(student, teacher)``."""

    def __init__(self, temperature: float, reduction: str = "mean", dim: int = -1, *, axis: int | None = None) -> None:
        super().__init__()
        owner = "DistillationLoss"
        self.temperature = check_number(owner, "temperature", temperature, low=0.0, low_open=True)
        self.reduction = check_choice(owner, "reduction", reduction, ("mean", "sum", "none"))
        self.dim = check_dim(owner, resolve_dim(owner, dim, axis, -1))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return AF.distillation_loss(input, target, self.temperature, self.dim, self.reduction)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, reduction={self.reduction!r}, dim={self.dim}"
