r"""Losses over a vocabulary sharded across the ranks of a process group: the
loss on every rank, and each rank's backward gives the gradient of its own
columns, with no communication.

- cross-entropy with label smoothing and the z-loss (PaLM, Chowdhery et
  al. 2022): :math:`\ell = \operatorname{lse}(z) - (1-\varepsilon) z_k -
  \tfrac{\varepsilon}{V}\sum_j z_j + \lambda \operatorname{lse}(z)^2`,
  gradient :math:`(1 + 2\lambda\operatorname{lse})\operatorname{softmax}(z)
  - (1-\varepsilon) e_k - \varepsilon/V`. Two collectives (a MAX, then one
  SUM of three scalars per row), as in Megatron-LM's vocab-parallel
  cross-entropy (Shoeybi et al. 2019) with its two sums fused;
- the sparsemax and entmax (Fenchel-Young) losses (Martins & Astudillo 2016;
  Peters, Niculae & Martins 2019; Blondel, Martins & Niculae 2020):
  :math:`\ell = \langle p - e_k, z\rangle + H^T_\alpha(p)`, gradient
  :math:`p - e_k`, ``p = entmax(z)``: the threshold search's collectives
  (``1 + t``, or ``2 + t`` for alpha not in {1.5, 2}) and nothing more, the
  loss following from the last step's sums.

Targets are global class indices (the same tensor on every rank);
``ignore_index`` and ``reduction`` follow ``torch.nn.functional.cross_entropy``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ...losses._reduction import check_reduction
from . import _search
from ._comm import all_reduce, local_target, shard_of
from .maps import check_alpha, work_dtype

__all__ = ["vocab_parallel_cross_entropy", "vocab_parallel_sparsemax_loss", "vocab_parallel_entmax_loss",
           "ce_rows", "ce_grad", "row_max", "fy_rows", "reduce_rows"]


def _pick(z: torch.Tensor, rel: torch.Tensor, here: torch.Tensor, fill: float) -> torch.Tensor:
    """The target's entry of each row where this shard holds it, ``fill`` elsewhere."""
    if z.shape[-1] == 0:  # an empty shard (more ranks than classes)
        return z.new_full(rel.shape, fill)
    return torch.where(here, z.gather(-1, rel), fill)


def _minus_onehot(grad: torch.Tensor, rel: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
    return grad if grad.shape[-1] == 0 else grad.scatter_add(-1, rel, -hot)


def reduce_rows(rows: torch.Tensor, keep: torch.Tensor, reduction: str, shape: Any) -> torch.Tensor:
    if reduction == "none":
        return rows.reshape(shape)
    total = rows.sum()
    return total / keep.sum().to(rows.dtype) if reduction == "mean" else total


def _prepare(logits_shard, target, group, vocab_offset, ignore_index, reduction, owner):
    check_reduction(reduction, owner)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ValueError(f"{owner}(): ignore_index must be an int, got {ignore_index!r}")
    shard = shard_of(logits_shard, group, vocab_offset, owner)
    keep, rel, here = local_target(target, shard, ignore_index, owner)
    x = shard.local
    z = x.to(work_dtype(x.dtype)).reshape(math.prod(x.shape[:-1]), x.shape[-1])
    return shard, z, keep.reshape(-1), rel.reshape(-1, 1), here.reshape(-1, 1), tuple(keep.shape)


def ce_rows(m, S_l, Xk_l, SX_l, width, group, smoothing, z_loss, vocab_known):
    """Cross-entropy rows from this shard's sums (``sum exp(z - m)``, the
    target's ``z - m`` where here, else 0, and ``sum (z - m)`` with smoothing),
    ``m`` the global row maxima: one SUM collective of 3 scalars per row (and
    the shard's ``width``). Returns ``(rows, S, lse or log S, V)``."""
    cols = [S_l, Xk_l, SX_l if smoothing else torch.zeros_like(Xk_l)]
    flat = torch.cat([torch.cat(cols, -1).reshape(-1), S_l.new_tensor([float(width)])])
    st = all_reduce(flat, "sum", group)
    V = vocab_known or float(st[-1])
    S, Xk, SX = st[:-1].reshape(-1, 3).unbind(-1)
    log_s = torch.log(S)
    rows = log_s - (1.0 - smoothing) * Xk - (smoothing / V) * SX if smoothing else log_s - Xk
    if z_loss:
        lse = log_s + m.squeeze(-1)
        rows = rows + z_loss * lse * lse
    else:
        lse = log_s
    return rows, S, lse, V


def ce_grad(e, S, lse, g, rel, here, smoothing, z_loss, V):
    """The rows' gradient ``g * ((1 + 2 lambda lse) softmax - (1 - eps) e_k - eps / V)``
    on this shard, ``e = exp(z - m)``."""
    scale = (1.0 + 2.0 * z_loss * lse) / S if z_loss else 1.0 / S
    grad = e * (g * scale).unsqueeze(-1)
    if smoothing:
        grad = grad - (g * (smoothing / V)).unsqueeze(-1)
    hot = torch.where(here, (g * (1.0 - smoothing)).unsqueeze(-1), 0.0)
    return _minus_onehot(grad, rel, hot)


def row_max(z: torch.Tensor, group: Any) -> torch.Tensor:
    """The MAX collective: the rows' maxima over all shards (0 where not finite)."""
    m_l = z.amax(-1, keepdim=True) if z.shape[-1] else z.new_full((z.shape[0], 1), -math.inf)
    m = all_reduce(m_l, "max", group)
    return torch.where(torch.isfinite(m), m, 0.0)


class _CrossEntropyRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z, keep, rel, here, group, smoothing, z_loss, vocab_known):
        m = row_max(z, group)
        X = z - m
        e = torch.exp(X)
        rows, S, lse, V = ce_rows(m, e.sum(-1, keepdim=True), _pick(X, rel, here, 0.0),
                                  X.sum(-1, keepdim=True) if smoothing else None, z.shape[-1], group,
                                  smoothing, z_loss, vocab_known)
        ctx.save_for_backward(e, S, lse, keep, rel, here)
        ctx.opts = (smoothing, z_loss, V)
        return torch.where(keep, rows, 0.0)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        e, S, lse, keep, rel, here = ctx.saved_tensors
        grad = ce_grad(e, S, lse, torch.where(keep, g, 0.0), rel, here, *ctx.opts)
        return grad, None, None, None, None, None, None, None


def vocab_parallel_cross_entropy(logits_shard: Any, target: Any, *, group: Any = None, label_smoothing: float = 0.0,
                                 ignore_index: int = -100, reduction: str = "mean", z_loss: float = 0.0,
                                 vocab_offset: int | None = None) -> torch.Tensor:
    r"""Cross-entropy of logits whose class (last) dimension is split across ``group``.

    Equals ``torch.nn.functional.cross_entropy(z, target, ignore_index=...,
    label_smoothing=..., reduction=...)`` on the full logits ``z`` (plus
    ``z_loss * lse(z)**2`` per counted row). Two ``all_reduce`` calls in the
    forward pass (MAX of 1 and SUM of 3 scalars per row), none in the backward.

    Args:
        logits_shard: ``(..., V_local)``: this rank's columns (or a ``Shard(-1)`` DTensor).
        target: ``(...)`` global class indices, the same on every rank.
        group: the process group (None: the default group).
        label_smoothing: epsilon in [0, 1], PyTorch's convention.
        ignore_index, reduction: as in ``torch.nn.functional.cross_entropy``.
        z_loss: coefficient of the z-loss ``lse(z)^2`` (Chowdhery et al. 2022), >= 0.
        vocab_offset: the global index of this shard's first column; None
            means ``rank * V_local`` (equal shards).

    Returns:
        The loss (the same on every rank): 0-d, or ``target``'s shape for ``"none"``.

    Example:
        >>> import os, tempfile, torch, torch.distributed as dist
        >>> from actlab.torch.distributed import vocab_parallel_cross_entropy
        >>> store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
        >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        >>> z, t = torch.tensor([[1.0, 2.0, 0.5]]), torch.tensor([1])
        >>> bool(torch.isclose(vocab_parallel_cross_entropy(z, t), torch.nn.functional.cross_entropy(z, t)))
        True
        >>> dist.destroy_process_group()

    Reference: Shoeybi et al. 2019 (Megatron-LM), arXiv:1909.08053.
    """
    owner = "vocab_parallel_cross_entropy"
    for name, v, top in (("label_smoothing", label_smoothing, 1.0), ("z_loss", z_loss, math.inf)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= top:
            raise ValueError(f"{owner}(): {name} must be a number in [0, {top}], got {v!r}")
    shard, z, keep, rel, here, shape = _prepare(logits_shard, target, group, vocab_offset, ignore_index,
                                                reduction, owner)
    rows = _CrossEntropyRows.apply(z, keep, rel, here, shard.group, float(label_smoothing), float(z_loss),
                                   shard.num_classes)
    return reduce_rows(rows, keep, reduction, shape).to(shard.local.dtype)


def fy_rows(z, zk, group, beta, n_iter, num_classes, smoothing, shard_sum=None):
    """Fenchel-Young loss rows of the shard's rows ``z`` (or of lists holding
    every entry of the shard that can be in the support, -inf padded),
    ``zk`` the target's score where this shard holds it (-inf elsewhere):
    ``(rows, solution, spread)``. With smoothing, ``shard_sum`` is
    ``(sum of the shard's scores (N,), its width)`` when ``z`` is not the
    whole shard; the sums ride along with the first search step."""
    rider = None
    if smoothing:
        if shard_sum is None:
            def rider(X, m):
                return torch.cat([X.sum(-1, keepdim=True), X.new_full((X.shape[0], 1), X.shape[-1])], -1)
        else:
            def rider(X, m):
                return torch.cat([shard_sum[0][:, None] - shard_sum[1] * m, X.new_full(m.shape, shard_sum[1])], -1)
    sol = _search.solve(z, beta, n_iter, group, num_classes, zk, rider)
    assert sol.loss is not None and sol.xk is not None
    rows, spread = sol.loss, 0.0
    if smoothing:  # q = (1 - eps) e_k + eps / V: L = <p - q, z> + H(p) - H(q)
        assert sol.rider is not None
        V = float(num_classes or (sol.rider[0, 1] if len(rows) else 1.0))
        alpha, spread = beta + 1.0, smoothing / V
        h_q = (1.0 - (1.0 - smoothing + spread) ** alpha - (V - 1.0) * spread**alpha) / (alpha * beta)
        rows = rows + smoothing * sol.xk - spread * sol.rider[:, 0] - h_q
    return rows, sol, spread


class _FenchelYoungRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z, keep, rel, here, group, beta, n_iter, num_classes, smoothing):
        rows, sol, spread = fy_rows(z, _pick(z, rel, here, -math.inf), group, beta, n_iter, num_classes, smoothing)
        ctx.save_for_backward(_search.values(sol, beta), keep, rel, here)
        ctx.opts = (smoothing, spread)
        return torch.where(keep, rows, 0.0)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        p, keep, rel, here = ctx.saved_tensors
        smoothing, spread = ctx.opts
        g = torch.where(keep, g, 0.0).unsqueeze(-1)
        grad = (p - spread) * g if smoothing else p * g
        grad = _minus_onehot(grad, rel, torch.where(here, (1.0 - smoothing) * g, 0.0))
        return grad, None, None, None, None, None, None, None, None


def _fy_loss(logits_shard, target, beta, n_iter, group, ignore_index, reduction, vocab_offset, smoothing, owner):
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"{owner}(): label_smoothing must be a number in [0, 1], got {smoothing!r}")
    shard, z, keep, rel, here, shape = _prepare(logits_shard, target, group, vocab_offset, ignore_index,
                                                reduction, owner)
    rows = _FenchelYoungRows.apply(z, keep, rel, here, shard.group, beta, n_iter, shard.num_classes,
                                   float(smoothing))
    return reduce_rows(rows, keep, reduction, shape).to(shard.local.dtype)


def vocab_parallel_sparsemax_loss(logits_shard: Any, target: Any, *, group: Any = None, ignore_index: int = -100,
                                  reduction: str = "mean", label_smoothing: float = 0.0,
                                  vocab_offset: int | None = None) -> torch.Tensor:
    r"""Sparsemax loss :math:`-z_k + \tfrac12\sum_{j\in S}(z_j^2 - \tau^2) + \tfrac12`
    of logits whose class (last) dimension is split across ``group``;
    gradient ``sparsemax(z) - e_k``, each rank its own columns, with no
    communication in the backward pass.

    Args:
        logits_shard: ``(..., V_local)`` (or a ``Shard(-1)`` DTensor).
        target: ``(...)`` global class indices, the same on every rank.
        group, vocab_offset: as in :func:`vocab_parallel_cross_entropy`.
        ignore_index, reduction: as in ``torch.nn.functional.cross_entropy``.
        label_smoothing: epsilon in [0, 1]: the target is the distribution
            ``q = (1 - eps) e_k + eps / V`` and the loss
            ``<p - q, z> + H(p) - H(q)`` (Fenchel-Young), gradient ``p - q``.

    Returns:
        The loss (the same on every rank).

    Example:
        >>> import os, tempfile, torch, torch.distributed as dist
        >>> from actlab.torch.distributed import vocab_parallel_sparsemax_loss
        >>> store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
        >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        >>> float(vocab_parallel_sparsemax_loss(torch.tensor([[0.5, 0.0]]), torch.tensor([0])))  # (t-1)^2/4
        0.0625
        >>> dist.destroy_process_group()

    Reference: Martins & Astudillo 2016, eq. (17).
    """
    return _fy_loss(logits_shard, target, 1.0, 0, group, ignore_index, reduction, vocab_offset, label_smoothing,
                    "vocab_parallel_sparsemax_loss")


def vocab_parallel_entmax_loss(logits_shard: Any, target: Any, alpha: float = 1.5, *, group: Any = None,
                               n_iter: int = 50, ignore_index: int = -100, reduction: str = "mean",
                               label_smoothing: float = 0.0, vocab_offset: int | None = None) -> torch.Tensor:
    r"""Entmax (Fenchel-Young) loss :math:`\langle p - e_k, z\rangle + H^T_\alpha(p)`,
    ``p = entmax(z, alpha)``, of logits whose class (last) dimension is split
    across ``group``; gradient ``p - e_k``, each rank its own columns, with no
    communication in the backward pass.

    Args:
        logits_shard: ``(..., V_local)`` (or a ``Shard(-1)`` DTensor).
        target: ``(...)`` global class indices, the same on every rank.
        alpha: > 1 (2 is the sparsemax loss).
        n_iter: the most Newton-bisection steps (alpha not in {1.5, 2}).
        group, vocab_offset, ignore_index, reduction, label_smoothing: as in
            :func:`vocab_parallel_sparsemax_loss`.

    Returns:
        The loss (the same on every rank).

    Example:
        >>> import os, tempfile, torch, torch.distributed as dist
        >>> from actlab.torch.distributed import vocab_parallel_entmax_loss
        >>> store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
        >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        >>> round(float(vocab_parallel_entmax_loss(torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0]))), 6)
        0.0
        >>> dist.destroy_process_group()

    Reference: Peters, Niculae & Martins 2019; Blondel, Martins & Niculae 2020.
    """
    alpha, n_iter = check_alpha(alpha, n_iter, "vocab_parallel_entmax_loss")
    return _fy_loss(logits_shard, target, alpha - 1.0, n_iter, group, ignore_index, reduction, vocab_offset,
                    label_smoothing, "vocab_parallel_entmax_loss")
