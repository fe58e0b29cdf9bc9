"""``torch.nn`` modules for the maps and losses of
:mod:`actlab.torch._functional_catalogue`, with PyTorch's conventions
(``dim``, ``reduction``, ``weight`` as a buffer; bad arguments are errors at
construction).

Example:
    >>> import torch, actlab.torch as at
    >>> at.Softpick()(torch.tensor([-1.0, 0.0, 1.0, 2.0], dtype=torch.float64)).round(decimals=4).tolist()
    [0.0, 0.0, 0.1966, 0.7311]
    >>> loss = at.KLDivLoss(reduction="batchmean")
    >>> p = torch.log(torch.tensor([[0.25, 0.75]]))
    >>> round(float(loss(p, torch.tensor([[0.5, 0.5]]))), 6)
    0.143841
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import functional as AF
from ._torch_conventions import check_choice, check_count, check_dim, check_number, legacy_reduction

Tensor = torch.Tensor

__all__ = [
    "SparsegenLin", "Sparsehourglass", "AlphaReLU", "Softpick", "Normmax", "BudgetSparsemax",
    "KLDivLoss", "MultiLabelSoftMarginLoss", "NormmaxLoss",
]


class SparsegenLin(nn.Module):
    """:func:`actlab.sparsegen_lin` along ``dim`` (``lam`` < 1)."""

    def __init__(self, lam: float = 0.0, dim: int = -1) -> None:
        super().__init__()
        self.lam = check_number("SparsegenLin", "lam", lam)
        if not self.lam < 1.0:
            raise ValueError(f"SparsegenLin: lam must be < 1, got {lam!r}")
        self.dim = check_dim("SparsegenLin", dim)

    def forward(self, input: Tensor) -> Tensor:
        return AF.sparsegen_lin(input, self.lam, self.dim)

    def extra_repr(self) -> str:
        return f"lam={self.lam}, dim={self.dim}"


class Sparsehourglass(nn.Module):
    """:func:`actlab.sparsehourglass` along ``dim`` (``q`` > 0)."""

    def __init__(self, q: float = 1.0, dim: int = -1) -> None:
        super().__init__()
        self.q = check_number("Sparsehourglass", "q", q, low=0.0, low_open=True)
        self.dim = check_dim("Sparsehourglass", dim)

    def forward(self, input: Tensor) -> Tensor:
        return AF.sparsehourglass(input, self.q, self.dim)

    def extra_repr(self) -> str:
        return f"q={self.q}, dim={self.dim}"


class AlphaReLU(nn.Module):
    """:func:`actlab.alpha_relu` (``alpha`` > 1, fixed threshold ``tau``)."""

    def __init__(self, alpha: float = 1.5, tau: float = 0.0) -> None:
        super().__init__()
        self.alpha = check_number("AlphaReLU", "alpha", alpha, low=1.0, low_open=True)
        self.tau = check_number("AlphaReLU", "tau", tau)

    def forward(self, input: Tensor) -> Tensor:
        return AF.alpha_relu(input, self.alpha, self.tau)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, tau={self.tau}"


class Softpick(nn.Module):
    """:func:`actlab.softpick` along ``dim`` (``eps`` > 0)."""

    def __init__(self, dim: int = -1, eps: float = 1e-6) -> None:
        super().__init__()
        self.dim = check_dim("Softpick", dim)
        self.eps = check_number("Softpick", "eps", eps, low=0.0, low_open=True)

    def forward(self, input: Tensor) -> Tensor:
        return AF.softpick(input, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


class Normmax(nn.Module):
    """:func:`actlab.normmax` along ``dim`` (``alpha`` > 1), as the ``entmax``
    package's ``NormmaxBisect``."""

    def __init__(self, alpha: float = 2.0, dim: int = -1, n_iter: int = 50) -> None:
        super().__init__()
        self.alpha = check_number("Normmax", "alpha", alpha, low=1.0, low_open=True)
        self.dim = check_dim("Normmax", dim)
        self.n_iter = check_count("Normmax", "n_iter", n_iter)

    def forward(self, input: Tensor) -> Tensor:
        return AF.normmax(input, self.alpha, self.dim, self.n_iter)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, dim={self.dim}"


class BudgetSparsemax(nn.Module):
    """:func:`actlab.budget_sparsemax` along ``dim``, as the ``entmax``
    package's ``BudgetBisect``."""

    def __init__(self, budget: float = 2.0, dim: int = -1, n_iter: int = 50) -> None:
        super().__init__()
        self.budget = check_number("BudgetSparsemax", "budget", budget, low=0.0, low_open=True)
        self.dim = check_dim("BudgetSparsemax", dim)
        self.n_iter = check_count("BudgetSparsemax", "n_iter", n_iter)

    def forward(self, input: Tensor) -> Tensor:
        return AF.budget_sparsemax(input, self.budget, self.dim, self.n_iter)

    def extra_repr(self) -> str:
        return f"budget={self.budget}, dim={self.dim}"


class KLDivLoss(nn.Module):
    """:func:`actlab.torch.functional.kl_div` as a module, as ``torch.nn.KLDivLoss``."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__()
        if reduction != "batchmean":
            reduction = legacy_reduction(size_average, reduce, reduction)
        self.reduction = check_choice("KLDivLoss", "reduction", reduction, ("mean", "batchmean", "sum", "none"))
        if not isinstance(log_target, bool):
            raise TypeError(f"KLDivLoss: log_target must be a bool, got {log_target!r}")
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return AF.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class MultiLabelSoftMarginLoss(nn.Module):
    """:func:`actlab.torch.functional.multilabel_soft_margin_loss` as a module,
    as ``torch.nn.MultiLabelSoftMarginLoss`` (``weight`` is a buffer)."""

    weight: Tensor | None

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        reduction = legacy_reduction(size_average, reduce, reduction)
        self.reduction = check_choice("MultiLabelSoftMarginLoss", "reduction", reduction, ("mean", "sum", "none"))
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return AF.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class NormmaxLoss(nn.Module):
    """:func:`actlab.normmax_loss` as a module (``weight``, ``ignore_index``,
    ``reduction``), as the ``entmax`` package's ``NormmaxBisectLoss``."""

    weight: Tensor | None

    def __init__(self, alpha: float = 2.0, weight: Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean", n_iter: int = 50) -> None:
        super().__init__()
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (alpha > 1 and math.isfinite(alpha)):
            raise ValueError(f"NormmaxLoss: alpha must be a finite number > 1, got {alpha!r}")
        self.alpha = float(alpha)
        self.register_buffer("weight", weight)
        self.ignore_index = check_count("NormmaxLoss", "ignore_index", ignore_index, minimum=-(2 ** 63))
        self.reduction = check_choice("NormmaxLoss", "reduction", reduction, ("mean", "sum", "none"))
        self.n_iter = check_count("NormmaxLoss", "n_iter", n_iter)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return AF.normmax_loss(input, target, self.alpha, self.weight, self.ignore_index, self.reduction,
                               n_iter=self.n_iter)
