"""PyTorch autograd for the Fenchel-Young losses of :mod:`actlab.losses.sparse`:
the loss value from the array-API math, the gradient ``p - q`` directly (the
map's Jacobian cancels out), built from the differentiable ``p`` so that the
second derivative is the map's Jacobian."""

from __future__ import annotations

from typing import Any

import torch

from ..losses.sparse import fenchel_young_rows
from . import _namespace as xp

__all__ = ["fenchel_young"]


class FenchelYoungFunction(torch.autograd.Function):
    """Rows of the loss; inputs ``(z, p, target, alpha)``, ``p = entmax(z)``."""

    @staticmethod
    def forward(z: torch.Tensor, p: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
        return fenchel_young_rows(z, p, target, alpha, xp)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        _, p, target, _ = inputs
        ctx.save_for_backward(p, target)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        p, target = ctx.saved_tensors
        g = grad.unsqueeze(-1)
        if target.is_floating_point():
            gz = (p - target) * g
        else:
            gz = (p * g).index_put((torch.arange(p.shape[0], device=p.device), target), -grad, accumulate=True)
        return gz, None, None, None


def fenchel_young(z: torch.Tensor, p: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    return FenchelYoungFunction.apply(z, p, target, alpha)
