"""PyTorch registration of logsumexp: forward is our exact logsumexp, backward
``g * softmax(x)`` through the registered softmax (so double backward works)."""

from __future__ import annotations

from typing import Any

import torch

from . import _namespace as xp

__all__ = ["apply_logsumexp"]


class LogsumexpFunction(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        from ..simplex.logsumexp import logsumexp_math

        return logsumexp_math(x, xp)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        from ..simplex.softmax import softmax

        (x,) = ctx.saved_tensors
        return grad * softmax(x, axis=-1)


def apply_logsumexp(x: torch.Tensor) -> torch.Tensor:
    """logsumexp over the last axis with shape (..., 1), recorded for autograd."""
    return LogsumexpFunction.apply(x)
