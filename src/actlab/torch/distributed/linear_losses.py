# mypy: disable-error-code="union-attr,arg-type,index"
# (the gradient buffers are None exactly when not wanted: branches mypy cannot pair up)
r"""Fused-linear losses over a vocabulary sharded across the ranks of a process
group: each rank holds ``V_local`` rows of the output layer's weight (and
bias), the scores ``z = x W^T + b`` are formed a chunk of rows at a time and
never held whole (not even this rank's ``N x V_local``).

- cross-entropy (label smoothing, z-loss): per chunk the shard's row maximum,
  ``sum exp(z - m_local)``, the target's score and ``sum z``; the same two
  collectives as :func:`~actlab.torch.distributed.vocab_parallel_cross_entropy`
  (a MAX of 1, then a SUM of 3 scalars per row), and the backward recomputes
  the chunks' scores (Megatron-LM's vocab-parallel cross-entropy, Shoeybi et
  al. 2019, fused with the output layer as Wijmans et al. 2024 do);
- sparsemax and alpha-entmax (Fenchel-Young) losses: per chunk the shard's
  *support lists*, tile by tile, as the single-process fused losses locate
  them (:mod:`actlab.torch.large_output.sparse_chunks`; the threshold of a
  shard is a lower bound of the whole row's, so the list of the shard's
  entries above its own cut holds every entry of the row's support that lies
  on this shard); then the threshold search across ranks of
  :mod:`actlab.torch.distributed._search` runs once on all rows' lists: the
  collectives of :func:`~actlab.torch.distributed.vocab_parallel_entmax_loss`
  and no more. The gradient ``p - q`` is sparse: the backward needs no scores.

Gradients: each rank gets the gradient of its own weight and bias rows; the
gradient of ``input`` is the sum over ranks of each shard's ``G W_local``,
one SUM ``all_reduce`` of ``N x d`` in the backward (as Megatron-LM's
column-parallel output layer). Every rank must call the forward and the
backward (they are collective); ``input`` and ``target`` are the same on
every rank.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ...losses._reduction import check_reduction
from ..large_output import sparse_chunks
from ..large_output._common import check_bias, check_hidden_weight, check_nonnegative, check_positive_int
from ..large_output.fused_sparse_losses import DEFAULT_CHUNK_ROWS, DEFAULT_TILE_BYTES
from . import _search
from ._comm import all_reduce, local_target, shard_of
from .losses import ce_grad, ce_rows, fy_rows, reduce_rows, row_max
from .maps import check_alpha, work_dtype

__all__ = ["vocab_parallel_linear_cross_entropy", "vocab_parallel_linear_sparsemax_loss",
           "vocab_parallel_linear_entmax_loss"]


def _prepare(input, weight_shard, target, bias_shard, group, vocab_offset, ignore_index, reduction, chunk_rows,
             owner):
    check_reduction(reduction, owner)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ValueError(f"{owner}(): ignore_index must be an int, got {ignore_index!r}")
    check_hidden_weight(input, weight_shard, owner, ("input", "weight_shard"))
    check_bias(bias_shard, weight_shard.shape[0], input.dtype, owner, "bias_shard", "input")
    if chunk_rows is not None:
        check_positive_int(chunk_rows, "chunk_rows", owner)
    # the scores' shape and device, without memory, for the shard's place and the targets
    scores = input.detach()[..., :1].expand(*input.shape[:-1], weight_shard.shape[0])
    shard = shard_of(scores, group, vocab_offset, owner)
    keep, rel, here = local_target(target, shard, ignore_index, owner)
    d = input.shape[-1]
    return shard, input.reshape(-1, d), keep.reshape(-1), rel.reshape(-1), here.reshape(-1), tuple(keep.shape)


def _chunks(n: int, rows: int) -> list[slice]:
    return [slice(i, min(i + rows, n)) for i in range(0, n, rows)]


def _scores(hc, w, b):
    return hc @ w.T if b is None else torch.addmm(b, hc, w.T)


def _input_grad(gh: torch.Tensor | None, group: Any) -> torch.Tensor | None:
    """The one collective of the backward: the input's gradient summed over ranks."""
    return None if gh is None else all_reduce(gh, "sum", group)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h, w, b, keep, rel, here, group, smoothing, z_loss, vocab_known, chunk_rows):
        work = work_dtype(h.dtype)
        n, Vl = h.shape[0], w.shape[0]
        wc, bc = w.to(work), None if b is None else b.to(work)
        m_l, S_l = (torch.empty((n, 1), dtype=work, device=h.device) for _ in range(2))
        zk, zsum = torch.zeros(n, dtype=work, device=h.device), torch.zeros(n, dtype=work, device=h.device)
        for sel in _chunks(n, chunk_rows):
            z = _scores(h[sel].to(work), wc, bc)
            m_l[sel] = mc = z.amax(-1, keepdim=True)
            S_l[sel] = torch.exp(z - mc).sum(-1, keepdim=True)
            zk[sel] = torch.where(here[sel], z.gather(-1, rel[sel, None]).squeeze(-1), 0.0)
            if smoothing:
                zsum[sel] = z.sum(-1)
        m = row_max(m_l, group)  # the chunks' maxima are a one-column shard
        rows, S, lse, V = ce_rows(m, S_l * torch.exp(m_l - m), torch.where(here, zk - m.squeeze(-1), 0.0)[:, None],
                                  (zsum[:, None] - Vl * m) if smoothing else None, Vl, group, smoothing, z_loss,
                                  vocab_known)
        ctx.save_for_backward(h, w, b, m, S, lse, keep, rel, here)
        ctx.opts = (group, smoothing, z_loss, V, chunk_rows)
        return torch.where(keep, rows, 0.0)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        h, w, b, m, S, lse, keep, rel, here = ctx.saved_tensors
        group, smoothing, z_loss, V, chunk_rows = ctx.opts
        work = work_dtype(h.dtype)
        wc, bc = w.to(work), None if b is None else b.to(work)
        want_h, want_w, want_b = ctx.needs_input_grad[:3]
        g = torch.where(keep, g, 0.0).to(work)
        gh = torch.zeros(h.shape, dtype=work, device=h.device) if want_h else None
        gw = torch.zeros(w.shape, dtype=work, device=h.device) if want_w else None
        gb = torch.zeros(w.shape[0], dtype=work, device=h.device) if want_b and b is not None else None
        for sel in _chunks(h.shape[0], chunk_rows):
            hc = h[sel].to(work)
            e = torch.exp(_scores(hc, wc, bc) - m[sel])
            G = ce_grad(e, S[sel], lse[sel], g[sel], rel[sel, None], here[sel, None], smoothing, z_loss, V)
            if gh is not None:
                gh[sel] = G @ wc
            if gw is not None:
                gw.addmm_(G.T, hc)
            if gb is not None:
                gb += G.sum(0)
        gh = _input_grad(gh, group)
        return (None if gh is None else gh.to(h.dtype), None if gw is None else gw.to(w.dtype),
                None if gb is None else gb.to(b.dtype), *([None] * 8))


def vocab_parallel_linear_cross_entropy(input: torch.Tensor, weight_shard: torch.Tensor, target: torch.Tensor, *,
                                        bias_shard: torch.Tensor | None = None, group: Any = None,
                                        label_smoothing: float = 0.0, ignore_index: int = -100,
                                        reduction: str = "mean", z_loss: float = 0.0,
                                        vocab_offset: int | None = None,
                                        chunk_rows: int | None = None) -> torch.Tensor:
    r"""Cross-entropy of ``input @ W.T + b`` with the output layer's rows split across ``group``, fused.

    Equals ``linear_cross_entropy(input, W, target, linear_bias=b, ...)`` on
    the full weight ``W`` (every rank's ``weight_shard`` stacked), and
    ``torch.nn.functional.cross_entropy`` of the full scores (plus ``z_loss *
    lse**2`` per counted row), in value and gradients. Collectives: two
    ``all_reduce`` in the forward pass (MAX of 1, SUM of 3 scalars per row),
    one in the backward (SUM of the ``N x d`` input gradient).

    Args:
        input: ``(..., d)`` hidden states, the same on every rank.
        weight_shard: ``(V_local, d)``: this rank's rows of the output weight.
        target: ``(...)`` global class indices, the same on every rank.
        bias_shard: optional ``(V_local,)``: this rank's entries of the bias.
        group: the process group (None: the default group).
        label_smoothing: epsilon in [0, 1], PyTorch's convention.
        ignore_index, reduction: as in ``torch.nn.functional.cross_entropy``.
        z_loss: coefficient of the z-loss ``lse(z)^2`` (Chowdhery et al. 2022), >= 0.
        vocab_offset: the global index of this shard's first row; None means
            ``rank * V_local`` (equal shards).
        chunk_rows: rows of scores formed at once (default: a 32 MiB chunk).

    Returns:
        The loss (the same on every rank): 0-d, or ``target``'s shape for ``"none"``.

    Example:
        >>> import os, tempfile, torch, torch.distributed as dist
        >>> from actlab.torch.distributed import vocab_parallel_linear_cross_entropy
        >>> store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
        >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        >>> h, w, t = torch.randn(4, 3), torch.randn(10, 3), torch.tensor([1, 5, 9, 0])
        >>> ours = vocab_parallel_linear_cross_entropy(h, w, t, chunk_rows=2)
        >>> bool(torch.isclose(ours, torch.nn.functional.cross_entropy(h @ w.T, t)))
        True
        >>> dist.destroy_process_group()

    Reference: Shoeybi et al. 2019 (Megatron-LM), arXiv:1909.08053; Wijmans et
    al. 2024, "Cut Your Losses in Large-Vocabulary Language Models", arXiv:2411.09009.
    """
    owner = "vocab_parallel_linear_cross_entropy"
    smoothing = check_nonnegative(label_smoothing, "label_smoothing", owner, upper=1.0)
    zl = check_nonnegative(z_loss, "z_loss", owner)
    shard, h, keep, rel, here, shape = _prepare(input, weight_shard, target, bias_shard, group, vocab_offset,
                                                ignore_index, reduction, chunk_rows, owner)
    rows = chunk_rows or _default_rows(weight_shard.shape[0], h.dtype)
    out = _LinearCrossEntropy.apply(h, weight_shard, bias_shard, keep, rel, here, shard.group, smoothing, zl,
                                    shard.num_classes, rows)
    return reduce_rows(out, keep, reduction, shape).to(input.dtype)


def _default_rows(width: int, dtype: torch.dtype) -> int:
    itemsize = torch.finfo(work_dtype(dtype)).bits // 8
    return max(1, min(DEFAULT_CHUNK_ROWS, DEFAULT_TILE_BYTES // (width * itemsize)))


class _LinearFenchelYoung(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h, w, b, keep, rel, here, group, beta, n_iter, num_classes, smoothing, opts):
        work = work_dtype(h.dtype)
        n, Vl = h.shape[0], w.shape[0]
        wc, bc = w.to(work), None if b is None else b.to(work)
        tile = torch.empty(min(opts.chunk_rows, n) * opts.vocab_chunk, dtype=work, device=h.device)
        lists, zsum = [], torch.zeros(n, dtype=work, device=h.device)
        for sel in _chunks(n, opts.chunk_rows):
            hc = h[sel].to(work)
            found = sparse_chunks.support_lists(hc, wc, bc, rel[sel], tile, opts)
            if found is None:  # the lists outgrew a few tiles (nearly uniform rows): the chunk's full rows
                z = _scores(hc, wc, bc)
                found = z, torch.arange(Vl, device=h.device).expand(z.shape), z.sum(-1)
            lists.append(found[:2])
            if smoothing:
                zsum[sel] = found[2]
        width = max(z.shape[1] for z, _ in lists)
        L = torch.cat([torch.nn.functional.pad(z, (0, width - z.shape[1]), value=-math.inf) for z, _ in lists])
        C = torch.cat([torch.nn.functional.pad(c, (0, width - c.shape[1])) for _, c in lists])
        is_t = (C == rel[:, None]) & (L > -math.inf) & here[:, None]
        zk = torch.where(here, torch.where(is_t, L, -math.inf).amax(-1), -math.inf)[:, None]
        rows, sol, spread = fy_rows(L, zk, group, beta, n_iter, num_classes, smoothing,
                                    (zsum, Vl) if smoothing else None)
        ctx.save_for_backward(h, w, b, _search.values(sol, beta), C, is_t, keep)
        ctx.opts = (group, smoothing, spread, opts)
        return torch.where(keep, rows, 0.0)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        h, w, b, p, C, is_t, keep = ctx.saved_tensors
        group, smoothing, spread, opts = ctx.opts
        work = work_dtype(h.dtype)
        wc = w.to(work)
        want_h, want_w, want_b = ctx.needs_input_grad[:3]
        g = torch.where(keep, g, 0.0).to(work)
        gh = torch.zeros(h.shape, dtype=work, device=h.device) if want_h else None
        gw = torch.zeros(w.shape, dtype=work, device=h.device) if want_w else None
        gb = torch.zeros(w.shape[0], dtype=work, device=h.device) if want_b and b is not None else None
        tile = torch.empty(min(opts.chunk_rows, h.shape[0]) * opts.vocab_chunk, dtype=work, device=h.device)
        for sel in _chunks(h.shape[0], opts.chunk_rows):  # the sparse part of G = g (p - (1 - eps) e_k)
            hc, pc, tc = h[sel].to(work), p[sel], is_t[sel]
            r, q = ((pc > 0) | tc).nonzero(as_tuple=True)
            val = (pc[r, q] - (1.0 - smoothing) * tc[r, q].to(work)) * g[sel][r]
            gh_c = sparse_chunks.add_products(hc, wc, r, C[sel][r, q], val, tile, opts.vocab_chunk, (gh, gw, gb))
            if gh is not None:
                gh[sel] = gh_c
        if smoothing:  # its rank-one part, -eps / V on every class
            sg = spread * g
            if gh is not None:
                gh -= sg[:, None] * wc.sum(0)
            if gw is not None:
                gw -= sg @ h.to(work)
            if gb is not None:
                gb -= sg.sum()
        gh = _input_grad(gh, group)
        return (None if gh is None else gh.to(h.dtype), None if gw is None else gw.to(w.dtype),
                None if gb is None else gb.to(b.dtype), *([None] * 9))


def _fy_front(owner, input, weight_shard, target, bias_shard, alpha, n_iter, group, ignore_index, reduction,
              label_smoothing, vocab_offset, chunk_rows, vocab_chunk):
    smoothing = check_nonnegative(label_smoothing, "label_smoothing", owner, upper=1.0)
    if vocab_chunk is not None:
        check_positive_int(vocab_chunk, "vocab_chunk", owner)
    shard, h, keep, rel, here, shape = _prepare(input, weight_shard, target, bias_shard, group, vocab_offset,
                                                ignore_index, reduction, chunk_rows, owner)
    n, Vl = h.shape[0], weight_shard.shape[0]
    itemsize = torch.finfo(work_dtype(h.dtype)).bits // 8
    rows = min(chunk_rows or DEFAULT_CHUNK_ROWS, max(n, 1))
    cols = min(vocab_chunk or max(1, DEFAULT_TILE_BYTES // (rows * itemsize)), Vl)
    opts = sparse_chunks.Options(alpha, n_iter, smoothing, reduction, rows, cols, False)
    out = _LinearFenchelYoung.apply(h, weight_shard, bias_shard, keep, rel, here, shard.group, alpha - 1.0,
                                    n_iter, shard.num_classes, smoothing, opts)
    return reduce_rows(out, keep, reduction, shape).to(input.dtype)


def vocab_parallel_linear_sparsemax_loss(input: torch.Tensor, weight_shard: torch.Tensor, target: torch.Tensor, *,
                                         bias_shard: torch.Tensor | None = None, group: Any = None,
                                         label_smoothing: float = 0.0, ignore_index: int = -100,
                                         reduction: str = "mean", vocab_offset: int | None = None,
                                         chunk_rows: int | None = None,
                                         vocab_chunk: int | None = None) -> torch.Tensor:
    r"""Sparsemax loss of ``input @ W.T + b`` with the output layer's rows split across ``group``, fused.

    Equals ``linear_sparsemax_loss(input, W, target, linear_bias=b, ...)`` on
    the full weight; see :func:`vocab_parallel_linear_entmax_loss` (this is
    ``alpha=2``).

    Example:
        >>> import os, tempfile, torch, torch.distributed as dist, actlab
        >>> from actlab.torch.distributed import vocab_parallel_linear_sparsemax_loss
        >>> store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
        >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        >>> h, w, t = torch.randn(4, 3), torch.randn(10, 3), torch.tensor([1, 5, 9, 0])
        >>> ours = vocab_parallel_linear_sparsemax_loss(h, w, t, chunk_rows=2)
        >>> bool(torch.isclose(ours, actlab.sparsemax_loss(h @ w.T, t)))
        True
        >>> dist.destroy_process_group()

    Reference: Martins & Astudillo, "From Softmax to Sparsemax" (2016), eq. (17).
    """
    return _fy_front("vocab_parallel_linear_sparsemax_loss", input, weight_shard, target, bias_shard, 2.0, 50, group,
                     ignore_index, reduction, label_smoothing, vocab_offset, chunk_rows, vocab_chunk)


def vocab_parallel_linear_entmax_loss(input: torch.Tensor, weight_shard: torch.Tensor, target: torch.Tensor,
                                      alpha: float = 1.5, *, bias_shard: torch.Tensor | None = None,
                                      group: Any = None, n_iter: int = 50, label_smoothing: float = 0.0,
                                      ignore_index: int = -100, reduction: str = "mean",
                                      vocab_offset: int | None = None, chunk_rows: int | None = None,
                                      vocab_chunk: int | None = None) -> torch.Tensor:
    r"""alpha-entmax Fenchel-Young loss of ``input @ W.T + b`` with the output layer's rows split across ``group``.

    :math:`\ell = \langle p - q, z\rangle + H^T_\alpha(p) - H^T_\alpha(q)`,
    :math:`p = \operatorname{entmax}_\alpha(z)`, :math:`q = (1-\varepsilon)e_t + \varepsilon/V`;
    equals ``linear_entmax_loss(input, W, target, alpha, linear_bias=b, ...)``
    on the full weight ``W`` in value and gradients, without forming any
    rank's ``N x V_local`` scores. Collectives: those of
    :func:`vocab_parallel_entmax_loss` in the forward pass (``1 + t``, or
    ``2 + t`` for alpha not in {1.5, 2}; ``t`` search steps of 2-4 scalars
    per row), one SUM of the ``N x d`` input gradient in the backward.

    Args:
        input: ``(..., d)`` hidden states, the same on every rank.
        weight_shard: ``(V_local, d)``: this rank's rows of the output weight.
        target: ``(...)`` global class indices, the same on every rank.
        alpha: > 1 (2 is the sparsemax loss).
        bias_shard: optional ``(V_local,)``: this rank's entries of the bias.
        group, vocab_offset, ignore_index, reduction: as in
            :func:`vocab_parallel_linear_cross_entropy`.
        n_iter: the most Newton-bisection steps (alpha not in {1.5, 2}).
        label_smoothing: epsilon in [0, 1].
        chunk_rows: rows per chunk (default 1024).
        vocab_chunk: columns of scores per tile (default: a 32 MiB tile).

    Returns:
        The loss (the same on every rank).

    Example:
        >>> import os, tempfile, torch, torch.distributed as dist, actlab
        >>> from actlab.torch.distributed import vocab_parallel_linear_entmax_loss
        >>> store = dist.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
        >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        >>> h, w, t = torch.randn(4, 3), torch.randn(10, 3), torch.tensor([1, 5, 9, 0])
        >>> ours = vocab_parallel_linear_entmax_loss(h, w, t, alpha=1.5, chunk_rows=2, vocab_chunk=4)
        >>> bool(torch.isclose(ours, actlab.entmax_loss(h @ w.T, t, alpha=1.5)))
        True
        >>> dist.destroy_process_group()

    Reference: Peters, Niculae & Martins, "Sparse Sequence-to-Sequence Models"
    (2019); Blondel, Martins & Niculae, "Learning with Fenchel-Young Losses" (2020).
    """
    owner = "vocab_parallel_linear_entmax_loss"
    alpha, n_iter = check_alpha(alpha, n_iter, owner)
    return _fy_front(owner, input, weight_shard, target, bias_shard, alpha, n_iter, group, ignore_index, reduction,
                     label_smoothing, vocab_offset, chunk_rows, vocab_chunk)
