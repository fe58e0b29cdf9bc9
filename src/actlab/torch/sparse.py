"""``torch.nn`` modules for the sparse maps and their losses.

``Entmax(alpha, learnable=True)`` learns alpha as ``1 + softplus(a)``, so it
stays in (1, inf) whatever the optimiser does (users of the ``entmax``
package report a learned alpha drifting below 1); its gradient is Peters et
al. (2019)'s closed form, registered with the map's backward.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._simplex import check_temperature
from . import functional as AF
from ._functional_simplex import check_k
from ._torch_conventions import check_choice, check_count, check_dim, check_number, resolve_dim

__all__ = ["Sparsemax", "Entmax15", "Entmax", "SparsemaxLoss", "EntmaxLoss"]


class Sparsemax(nn.Module):
    """:func:`actlab.sparsemax` along ``dim`` (divided by ``temperature`` first;
    ``axis`` is another name for ``dim``). ``k``: the ``entmax`` package's
    partial-sort budget, its second positional argument as in that package's
    ``Sparsemax(dim, k)``, checked when the module is built; the result is
    the same for every ``k`` (:func:`actlab.torch.functional.sparsemax`).

    Example:
        >>> import torch, actlab.torch as at
        >>> at.Sparsemax(dim=0)(torch.tensor([-2.0, 0.0, 0.5])).tolist()
        [0.0, 0.25, 0.75]
    """

    def __init__(self, dim: int = -1, k: int | None = None, *, temperature: float = 1.0,
                 axis: int | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.dim = check_dim(owner, resolve_dim(owner, dim, axis, -1))
        check_temperature(temperature, owner)
        self.temperature = temperature
        self.k = check_k(owner, k)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return AF.sparsemax(input, self.dim, self.k, temperature=self.temperature)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, temperature={self.temperature}" + ("" if self.k is None else f", k={self.k}")


class Entmax15(Sparsemax):
    """:func:`actlab.entmax15` along ``dim`` (arguments as :class:`Sparsemax`)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return AF.entmax15(input, self.dim, self.k, temperature=self.temperature)


def _softplus_inverse(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class Entmax(nn.Module):
    """:func:`actlab.entmax` with a fixed or learned alpha.

    Args:
        alpha: the (initial) alpha, > 1 when learnable (>= 1 otherwise).
        learnable: learn alpha as ``1 + softplus(a)`` (always > 1).
        dim: the map's axis. n_iter: most Newton-bisection steps.
        shape: the learned alpha's shape, broadcastable to the input with
            size 1 along ``dim`` (``()`` for one alpha; ``(heads, 1, 1)`` for
            one per attention head, say).

    Example:
        >>> import torch
        >>> from actlab.torch.sparse import Entmax
        >>> m = Entmax(1.5, learnable=True)
        >>> y = m(torch.tensor([[-2.0, 0.0, 0.5]]))
        >>> y.sum().backward(); m.a.grad is not None
        True
    """

    def __init__(self, alpha: float = 1.5, learnable: bool = False, dim: int = -1, n_iter: int = 50,
                 shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        lowest = 1.0 if not learnable else math.nextafter(1.0, 2.0)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (
            alpha >= lowest and math.isfinite(alpha)
        ):
            raise ValueError(f"Entmax(): alpha must be {'> 1' if learnable else '>= 1'} and finite, got {alpha!r}")
        self.dim, self.learnable = check_dim("Entmax", dim), learnable
        self.n_iter = check_count("Entmax", "n_iter", n_iter)
        if learnable:
            self.a = nn.Parameter(torch.full(shape, _softplus_inverse(float(alpha) - 1.0)))
        else:
            self.register_buffer("a", None)
            self._alpha = float(alpha)

    @property
    def alpha(self) -> Any:
        """The current alpha (a tensor when learned)."""
        if self.learnable:
            return 1.0 + nn.functional.softplus(self.a)
        return self._alpha

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha
        if self.learnable:
            alpha = alpha.to(input.dtype) if input.is_floating_point() else alpha
            # 1 + softplus(a) rounds to exactly 1 once softplus(a) is below half an ULP of 1 (a < -17 in
            # float32): the value is held at the next number above 1, the gradient is that of alpha itself,
            # so training goes on (towards softmax) instead of failing on alpha = 1.
            above_one = math.nextafter(1.0, 2.0) if alpha.dtype == torch.float64 else 1.0 + torch.finfo(alpha.dtype).eps
            alpha = alpha + (alpha.clamp_min(above_one) - alpha).detach()
        return AF.entmax(input, alpha, self.dim, self.n_iter)

    def extra_repr(self) -> str:
        return f"alpha={'learned' if self.learnable else self._alpha}, dim={self.dim}"


class _LossModule(nn.Module):
    weight: torch.Tensor | None

    def __init__(self, weight: torch.Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__()
        owner = type(self).__name__
        self.register_buffer("weight", weight)
        self.ignore_index = check_count(owner, "ignore_index", ignore_index, minimum=-(2 ** 63))
        self.reduction = check_choice(owner, "reduction", reduction, ("mean", "sum", "none"))


class SparsemaxLoss(_LossModule):
    """:func:`actlab.sparsemax_loss` as a module (``weight``, ``ignore_index``,
    ``reduction``; ``k`` as the ``entmax`` package's, checked here)."""

    def __init__(self, weight: torch.Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 k: int | None = None) -> None:
        super().__init__(weight, ignore_index, reduction)
        self.k = check_k(type(self).__name__, k)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return AF.sparsemax_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                                 reduction=self.reduction)


class EntmaxLoss(_LossModule):
    """:func:`actlab.entmax_loss` as a module, for a fixed ``alpha`` (>= 1)."""

    def __init__(self, alpha: float = 1.5, weight: torch.Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean", n_iter: int = 50) -> None:
        super().__init__(weight, ignore_index, reduction)
        self.alpha = check_number("EntmaxLoss", "alpha", alpha, low=1.0)
        self.n_iter = check_count("EntmaxLoss", "n_iter", n_iter)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return AF.entmax_loss(input, target, self.alpha, self.weight, self.ignore_index, self.reduction,
                              n_iter=self.n_iter)
