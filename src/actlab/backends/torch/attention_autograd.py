"""The autograd registration of actlab's blocked attention.

The forward and backward math is actlab's (array-API code in
:mod:`actlab._attention.blocked`); this node saves only the inputs, the output
and the O(L) row statistics, so forward and backward together never hold
the L x S score matrix.

Example:
    >>> import torch, actlab
    >>> q = torch.randn(1, 6, 4, dtype=torch.float64, requires_grad=True)
    >>> out = actlab.attention(q, q, q, normalizer="sparsemax", path="blocked", block_size=4)
    >>> out.grad_fn.next_functions[0][0].name()
    'BlockedAttentionBackward'
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["apply_blocked"]


class BlockedAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, fwd: Any, bwd: Any, plan: Any, block: Any, q: Any, k: Any, v: Any,  # type: ignore[override]
                *arrays: Any) -> Any:
        out, saved = fwd(plan, q, k, v, arrays, block)
        ctx.bwd, ctx.plan, ctx.block = bwd, plan, block
        ctx.present = tuple(a is not None for a in arrays)
        ctx.n_saved = len(saved)
        ctx.save_for_backward(q, k, v, out, *saved, *[a for a in arrays if a is not None])
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, dout: Any) -> Any:  # type: ignore[override]
        q, k, v, out, *rest = ctx.saved_tensors
        saved, given = tuple(rest[:ctx.n_saved]), iter(rest[ctx.n_saved:])
        arrays = tuple(next(given) if p else None for p in ctx.present)
        dq, dk, dv, da = ctx.bwd(ctx.plan, q, k, v, arrays, out, saved, dout.contiguous(), ctx.block)
        return (None, None, None, None, dq, dk, dv, *da)


def apply_blocked(fwd: Any, bwd: Any, plan: Any, block: Any, q: Any, k: Any, v: Any, arrays: tuple[Any, ...]) -> Any:
    """``fwd``'s output, with ``bwd`` as its backward (one autograd node)."""
    return BlockedAttention.apply(fwd, bwd, plan, block, q, k, v, *arrays)
