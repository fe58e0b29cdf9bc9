"""PyTorch autograd for the reductions and losses whose backward is not a
map's VJP: logsumexp (forward our exact logsumexp, backward
``g * softmax(x)`` through the registered softmax, so double backward works)
and the Fenchel-Young losses of :mod:`actlab.losses.sparse` (the loss value
from the array-API math, the gradient ``p - q`` directly: the map's Jacobian
cancels out; built from the differentiable ``p`` so that the second
derivative is the map's Jacobian)."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["apply_logsumexp", "fenchel_young"]


class LogsumexpFunction(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        from ...simplex.logsumexp_math import logsumexp_math
        from . import BACKEND

        return logsumexp_math(x, BACKEND)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        from ...simplex.softmax import softmax

        (x,) = ctx.saved_tensors
        return grad * softmax(x, axis=-1)


def apply_logsumexp(x: torch.Tensor) -> torch.Tensor:
    """logsumexp over the last axis with shape (..., 1), recorded for autograd."""
    return LogsumexpFunction.apply(x)


class FenchelYoungFunction(torch.autograd.Function):
    """Rows of the loss; inputs ``(z, p, target, alpha)``, ``p = entmax(z)``."""

    @staticmethod
    def forward(z: torch.Tensor, p: torch.Tensor, target: torch.Tensor, alpha: Any) -> torch.Tensor:
        from ...losses.sparse import fenchel_young_rows
        from . import BACKEND

        return fenchel_young_rows(z, p, target, alpha, BACKEND)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        _, p, target, *_ = inputs
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


def fenchel_young(z: torch.Tensor, p: torch.Tensor, target: torch.Tensor, alpha: Any) -> torch.Tensor:
    return FenchelYoungFunction.apply(z, p, target, alpha)
