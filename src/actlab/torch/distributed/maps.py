r"""Sparsemax and alpha-entmax over a vocabulary sharded across the ranks of
a process group: each rank passes its columns of the scores and gets its
columns of the map.

.. math:: \operatorname{entmax}_\alpha(z)_i = [(\alpha-1) z_i - \tau(z)]_+^{1/(\alpha-1)},
   \qquad \sum_i p_i = 1 \text{ over all shards},

sparsemax for alpha = 2 (Martins & Astudillo 2016), 1.5-entmax and
alpha-entmax (Peters, Niculae & Martins 2019). The threshold is found from
per-shard sums (:mod:`actlab.torch.distributed._search`). The backward is
the Jacobian-vector product :math:`w \odot (g - \langle w, g\rangle / \sum_j w_j)`,
:math:`w = p^{2-\alpha}` on the support, whose one all-reduced scalar per row
is :math:`\langle w, g\rangle` (:math:`\sum_j w_j` comes from the forward pass).

Collectives per call (each an ``all_reduce`` of a few scalars per row):
forward ``1 + t`` (sparsemax, 1.5-entmax) or ``2 + t`` (other alphas), ``t``
the search steps (typically 2-4); backward 1. Every rank must call the
forward and the backward (they are collective).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ... import _backend
from ...simplex.entmax import entmax_weights
from . import _search
from ._comm import all_reduce, shard_of, wrap_like

__all__ = ["vocab_parallel_sparsemax", "vocab_parallel_entmax", "check_alpha", "work_dtype"]


def work_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16 and bfloat16 are computed in float32 (and rounded once)."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def check_alpha(alpha: Any, n_iter: Any, owner: str) -> tuple[float, int]:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (alpha > 1 and math.isfinite(alpha)):
        raise ValueError(f"{owner}(): alpha must be a finite number > 1 (alpha = 1 is softmax: use "
                         f"vocab_parallel_cross_entropy), got {alpha!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"{owner}(): n_iter must be a positive int, got {n_iter!r}")
    return float(alpha), n_iter


class _VocabParallelMap(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, beta: float, n_iter: int, group: Any, num_classes: Any) -> torch.Tensor:
        sol = _search.solve(x.detach(), beta, n_iter, group, num_classes)
        y = _search.values(sol, beta)
        ctx.save_for_backward(y, sol.sum_w)
        ctx.beta, ctx.group = beta, group
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        y, sum_w = ctx.saved_tensors
        w = entmax_weights(y, ctx.beta, _backend.backend_of(y))
        q = all_reduce((w * g).sum(-1, keepdim=True), "sum", ctx.group) / torch.where(sum_w > 0, sum_w, 1.0)
        return w * (g - q), None, None, None, None


def _map(logits_shard: Any, beta: float, n_iter: int, group: Any, vocab_offset: Any, owner: str) -> Any:
    shard = shard_of(logits_shard, group, vocab_offset, owner)
    x = shard.local
    work = work_dtype(x.dtype)
    z = x.to(work).reshape(math.prod(x.shape[:-1]), x.shape[-1]) if x.dim() != 2 or work != x.dtype else x
    y = _VocabParallelMap.apply(z, beta, n_iter, shard.group, shard.num_classes)
    return wrap_like(y.reshape(x.shape).to(x.dtype), shard)


def vocab_parallel_sparsemax(logits_shard: Any, *, group: Any = None, vocab_offset: int | None = None) -> Any:
    r"""Sparsemax over the class (last) dimension split across ``group``:
    :math:`p_i = [z_i - \tau]_+`, :math:`\sum_i p_i = 1` over every rank's
    columns; this rank's columns of ``p``. Exact.

    Args:
        logits_shard: ``(..., V_local)``: this rank's columns of the scores, or
            a DTensor sharded on its last dimension (``Shard(-1)``).
        group: the process group (None: the default group).
        vocab_offset: the global index of this shard's first column; None
            means ``rank * V_local`` (equal shards).

    Returns:
        ``(..., V_local)``, this rank's slice of the output (a DTensor with the
        input's placements for a DTensor input).

    Example:
        >>> import os, tempfile, torch, torch.distributed as dist
        >>> from actlab.torch.distributed import vocab_parallel_sparsemax
        >>> store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
        >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        >>> vocab_parallel_sparsemax(torch.tensor([[-2.0, 0.0, 0.5]])).tolist()
        [[0.0, 0.25, 0.75]]
        >>> dist.destroy_process_group()

    Reference: Martins & Astudillo 2016; the pivot search of Michelot 1986.
    """
    return _map(logits_shard, 1.0, 0, group, vocab_offset, "vocab_parallel_sparsemax")


def vocab_parallel_entmax(logits_shard: Any, alpha: float = 1.5, *, group: Any = None, n_iter: int = 50,
                          vocab_offset: int | None = None) -> Any:
    r"""alpha-entmax over the class (last) dimension split across ``group``:
    :math:`p_i = [(\alpha-1) z_i - \tau]_+^{1/(\alpha-1)}`, :math:`\sum_i p_i = 1`
    over every rank's columns; this rank's columns of ``p``. Exact for
    alpha in {1.5, 2}; otherwise Newton-bisection to a few ulps.

    Args:
        logits_shard: ``(..., V_local)`` (or a ``Shard(-1)`` DTensor).
        alpha: > 1 (2 is sparsemax).
        group, vocab_offset: as in :func:`vocab_parallel_sparsemax`.
        n_iter: the most Newton-bisection steps (alpha not in {1.5, 2}).

    Returns:
        This rank's slice of the output.

    Example:
        >>> import os, tempfile, torch, torch.distributed as dist
        >>> from actlab.torch.distributed import vocab_parallel_entmax
        >>> store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
        >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        >>> [round(v, 4) for v in vocab_parallel_entmax(torch.tensor([-2.0, 0.0, 0.5])).tolist()]
        [0.0, 0.326, 0.674]
        >>> dist.destroy_process_group()

    Reference: Peters, Niculae & Martins 2019.
    """
    alpha, n_iter = check_alpha(alpha, n_iter, "vocab_parallel_entmax")
    return _map(logits_shard, alpha - 1.0, n_iter, group, vocab_offset, "vocab_parallel_entmax")
