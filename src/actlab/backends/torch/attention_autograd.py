"""The autograd registration of actlab's blocked attention.

The forward and backward math is actlab's (array-API code in
:mod:`actlab._attention.blocked`); this node saves only the inputs, the output
and the O(L) row statistics, so forward and backward together never hold
the L x S score matrix. It has no double backward: with ``create_graph``
the gradients are computed, and differentiating them raises a RuntimeError
that says so.

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


NO_DOUBLE_BACKWARD = ("actlab attention: the blocked path has no double backward (its backward is a "
                      "hand-written sweep over the key tiles); for second derivatives call it with "
                      "path='dense', which materialises the scores")


class _NoDoubleBackward(torch.autograd.Function):
    """The identity on the first-order gradients, raising when differentiated."""

    @staticmethod
    def forward(ctx: Any, anchor: Any, *grads: Any) -> Any:  # type: ignore[override]
        return tuple(g.view_as(g) for g in grads)

    @staticmethod
    def backward(ctx: Any, *_: Any) -> Any:  # type: ignore[override]
        raise RuntimeError(NO_DOUBLE_BACKWARD)


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
    def backward(ctx: Any, dout: Any) -> Any:  # type: ignore[override]
        q, k, v, out, *rest = ctx.saved_tensors
        saved, given = tuple(rest[:ctx.n_saved]), iter(rest[ctx.n_saved:])
        arrays = tuple(next(given) if p else None for p in ctx.present)
        with torch.no_grad():
            dq, dk, dv, da = ctx.bwd(ctx.plan, q, k, v, arrays, out, saved, dout.contiguous(), ctx.block)
        grads = (dq, dk, dv, *da)
        if torch.is_grad_enabled():  # create_graph: the gradients exist, their derivatives raise
            anchor = next((t for t in (q, k, v, dout, *arrays) if t is not None and t.requires_grad), None)
            if anchor is not None:
                wrapped = iter(_NoDoubleBackward.apply(anchor, *[g for g in grads if g is not None]))
                grads = tuple(None if g is None else next(wrapped) for g in grads)
        return (None, None, None, None, *grads)


def apply_blocked(fwd: Any, bwd: Any, plan: Any, block: Any, q: Any, k: Any, v: Any, arrays: tuple[Any, ...]) -> Any:
    """``fwd``'s output, with ``bwd`` as its backward (one autograd node)."""
    return BlockedAttention.apply(fwd, bwd, plan, block, q, k, v, *arrays)
