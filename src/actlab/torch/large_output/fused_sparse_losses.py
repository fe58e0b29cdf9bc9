r"""Fused linear sparsemax and alpha-entmax losses: the Fenchel-Young loss of
``entmax_alpha(x W^T + b)`` against class targets without ever holding the
N x V scores, nor even one chunk of rows' full scores.

Per row with target :math:`t`, scores :math:`z = W x + b`,
:math:`p = \operatorname{entmax}_\alpha(z)` and the target distribution
:math:`q = (1-\varepsilon)e_t + \varepsilon/V` (label smoothing :math:`\varepsilon`),

.. math::

    \ell = \langle p - q, z\rangle + H^T_\alpha(p) - H^T_\alpha(q), \qquad
    \partial\ell/\partial z = p - q,

with the Tsallis entropy :math:`H^T_\alpha(p) = (1 - \sum_j p_j^\alpha)/(\alpha(\alpha-1))`;
:math:`\alpha = 2` is the sparsemax loss (Martins & Astudillo 2016).
With class weights ``weight``, a row's loss and gradient are multiplied by
``weight[t]``. Rows whose target is ``ignore_index`` count for nothing;
``mean`` divides by the number of counted rows (the sum of their weights; NaN
when there is none, as ``F.cross_entropy``).

How (:mod:`actlab.torch.large_output.sparse_chunks`): rows are taken in
chunks of ``chunk_rows`` and the vocabulary in tiles of ``vocab_chunk``
columns; one ``chunk_rows x vocab_chunk`` buffer holds the scores of a tile.
The support of :math:`p` is located tile by tile: the threshold of a subset
of the scores is a lower bound of the full row's (it only grows as entries
are added), so the first tile's exact threshold (actlab's search,
:mod:`actlab.simplex.threshold`) starts a running lower bound of the row's
cut, the entries above it (found through maxima of blocks of 16 columns) are
kept as a short list of (column, score) per row, and the exact threshold of
the list raises the bound after every tile. That list holds the whole support; the exact threshold and
:math:`p` come from the same search run on it (entries below a lower bound of
the threshold change nothing), and the loss from actlab's
:func:`~actlab.losses.sparse.fenchel_young_rows` on it. The gradients
:math:`(p - q)` in the directions of input, weight and bias are then sparse
products (``embedding_bag`` and a sparse ``addmm``), so a chunk costs one
dense matrix product (the fused cross-entropy needs three), plus the
label-smoothing term's rank-one part; above ``SPARSE_DENSITY`` nonzeros the
products are dense, tile by tile. A chunk whose support list grows past
a few tiles' worth (a nearly uniform row, an alpha near 1) is redone with
full rows in small groups and dense products.

When the loss is reduced and a gradient is needed, the gradients are
accumulated during the forward pass and only scaled by the incoming gradient
in backward; with ``reduction="none"`` (or a second backward) the backward
recomputes, chunk by chunk. Ignored rows are left out before the chunks are
formed. float16/bfloat16 are computed in float32.

References: Martins & Astudillo, "From Softmax to Sparsemax" (2016); Peters,
Niculae & Martins, "Sparse Sequence-to-Sequence Models" (2019); Blondel,
Martins & Niculae, "Learning with Fenchel-Young Losses" (2020); Wijmans et al.,
"Cut Your Losses in Large-Vocabulary Language Models" (2024), for the fusion.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._torch_conventions import transforms_active
from ._common import (
    check_bias,
    check_hidden_weight,
    check_nonnegative,
    check_positive_int,
    check_reduction,
    check_targets,
    work_dtype,
)
from .sparse_chunks import Options, sweep, target_entropy

__all__ = ["linear_sparsemax_loss", "linear_entmax_loss", "LinearSparsemaxLoss", "LinearEntmaxLoss"]

DEFAULT_CHUNK_ROWS = 1024
"""Rows per chunk by default."""
DEFAULT_TILE_BYTES = 32 * 2**20
"""Bytes of one chunk's score tile by default (sets ``vocab_chunk``)."""


def linear_sparsemax_loss(input: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor, *,
                          linear_bias: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                          ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0,
                          chunk_rows: int | None = None, vocab_chunk: int | None = None) -> torch.Tensor:
    r"""Sparsemax loss of ``input @ linear_weight.T + linear_bias`` against ``target``, fused.

    Equals ``sparsemax_loss(F.linear(input, linear_weight, linear_bias), target)``
    (with the smoothed target :math:`(1-\varepsilon)e_t + \varepsilon/V` when
    ``label_smoothing`` is given) in value and in the gradients for ``input``,
    ``linear_weight`` and ``linear_bias``, without forming the scores; see
    :func:`linear_entmax_loss` (this is ``alpha=2``).

    Example:
        >>> import torch, actlab
        >>> from actlab.torch.functional import linear_sparsemax_loss
        >>> g = torch.Generator().manual_seed(0)
        >>> h, w = torch.randn(6, 4, generator=g), torch.randn(50, 4, generator=g)
        >>> t = torch.tensor([1, 2, 3, -100, 9, 0])
        >>> ours = linear_sparsemax_loss(h, w, t, chunk_rows=4, vocab_chunk=16)
        >>> bool(torch.allclose(ours, actlab.sparsemax_loss(h @ w.T, t)))
        True

    Reference: Martins & Astudillo, "From Softmax to Sparsemax" (2016), eq. (17).
    """
    return _front("linear_sparsemax_loss", input, linear_weight, target, linear_bias, weight, 2.0, 50, ignore_index,
                  reduction, label_smoothing, chunk_rows, vocab_chunk)


def linear_entmax_loss(input: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor,
                       alpha: float = 1.5, *, linear_bias: torch.Tensor | None = None,
                       weight: torch.Tensor | None = None, ignore_index: int = -100,
                       reduction: str = "mean", label_smoothing: float = 0.0, n_iter: int = 50,
                       chunk_rows: int | None = None, vocab_chunk: int | None = None) -> torch.Tensor:
    r"""alpha-entmax Fenchel-Young loss of ``input @ linear_weight.T + linear_bias``, fused.

    :math:`\ell = \langle p - q, z\rangle + H^T_\alpha(p) - H^T_\alpha(q)`,
    :math:`p = \operatorname{entmax}_\alpha(z)`, :math:`q = (1-\varepsilon)e_t + \varepsilon/V`;
    gradient :math:`p - q` in :math:`z`. Equals ``entmax_loss(F.linear(input,
    linear_weight, linear_bias), target, alpha)`` in value and gradients.

    Args:
        input: (..., d) float tensor.
        linear_weight: (V, d) tensor of the same dtype and device.
        target: (...) integer class indices in ``[0, V)`` or ``ignore_index``.
        alpha: > 1 (1.5: 1.5-entmax, 2: sparsemax; 1 would be the
            cross-entropy: use ``linear_cross_entropy``).
        linear_bias: optional (V,) tensor.
        weight: optional (V,) class weights: row i's loss and gradient are
            multiplied by ``weight[target_i]``, and ``mean`` divides by their
            sum (PyTorch's convention).
        ignore_index: target value that is not counted (None: -100).
        reduction: ``"mean"`` (over counted rows), ``"sum"`` or ``"none"``.
        label_smoothing: epsilon in [0, 1].
        n_iter: bisection steps for alphas without a closed form (not 1.5, 2).
        chunk_rows: rows per chunk (default 1024).
        vocab_chunk: vocabulary columns per tile (default: a 32 MiB tile).

    Returns:
        The loss: a 0-d tensor, or ``target``'s shape with ``reduction="none"``.

    Example:
        >>> import torch, actlab
        >>> from actlab.torch.functional import linear_entmax_loss
        >>> g = torch.Generator().manual_seed(0)
        >>> h, w = torch.randn(6, 4, generator=g), torch.randn(50, 4, generator=g)
        >>> t = torch.tensor([1, 2, 3, 4, 9, 0])
        >>> ours = linear_entmax_loss(h, w, t, alpha=1.5, chunk_rows=4, vocab_chunk=16)
        >>> bool(torch.allclose(ours, actlab.entmax_loss(h @ w.T, t, alpha=1.5)))
        True

    Reference: Peters, Niculae & Martins, "Sparse Sequence-to-Sequence Models"
    (2019); Blondel, Martins & Niculae, "Learning with Fenchel-Young Losses" (2020).
    """
    return _front("linear_entmax_loss", input, linear_weight, target, linear_bias, weight, alpha, n_iter, ignore_index,
                  reduction, label_smoothing, chunk_rows, vocab_chunk)


def _check_alpha(alpha: Any, owner: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (alpha > 1 and math.isfinite(alpha)):
        raise ValueError(f"{owner}(): alpha must be a finite number > 1 (alpha = 1 is the cross-entropy: "
                         f"linear_cross_entropy), got {alpha!r}")
    return float(alpha)


def _check_options(owner: str, alpha: Any, n_iter: Any, reduction: Any, label_smoothing: Any,
                   chunk_rows: Any, vocab_chunk: Any) -> tuple[float, int, float]:
    alpha = _check_alpha(alpha, owner)
    check_positive_int(n_iter, "n_iter", owner)
    check_reduction(reduction, owner)
    eps = check_nonnegative(label_smoothing, "label_smoothing", owner, upper=1.0)
    for name, value in (("chunk_rows", chunk_rows), ("vocab_chunk", vocab_chunk)):
        if value is not None:
            check_positive_int(value, name, owner)
    return alpha, n_iter, eps


def _front(owner, input, linear_weight, target, linear_bias, weight, alpha, n_iter, ignore_index, reduction,
           label_smoothing, chunk_rows, vocab_chunk):
    check_hidden_weight(input, linear_weight, owner, ("input", "linear_weight"))
    num_classes, d = linear_weight.shape
    check_bias(linear_bias, num_classes, input.dtype, owner, "linear_bias", "input")
    if weight is not None and (not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (num_classes,)
                               or not weight.is_floating_point()):
        got = (f"shape {tuple(weight.shape)} and dtype {weight.dtype}" if isinstance(weight, torch.Tensor)
               else repr(weight))
        raise ValueError(f"{owner}(): weight (class weights) must be a float tensor of shape ({num_classes},), "
                         f"got {got}")
    for name, x in (("linear_bias", linear_bias), ("weight", weight), ("target", target)):
        if isinstance(x, torch.Tensor) and x.device != input.device:
            raise ValueError(f"{owner}(): {name} is on {x.device}, input on {input.device}")
    alpha, n_iter, eps = _check_options(owner, alpha, n_iter, reduction, label_smoothing, chunk_rows, vocab_chunk)
    if ignore_index is None:
        ignore_index = -100
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ValueError(f"{owner}(): ignore_index must be an integer (or None: -100), got {ignore_index!r}")
    keep = check_targets(target, input.shape[:-1], num_classes, ignore_index, owner, "input")
    work = work_dtype(input.dtype)
    row_w = keep.to(work) if weight is None else torch.where(
        keep, weight.detach().to(work)[torch.where(keep, target, 0)], 0.0)
    if transforms_active() or torch.compiler.is_compiling():
        # torch.func transforms and tracing need static shapes: the same loss from the full scores
        # with plain differentiable operations (no memory saving there).
        return _plain(input, linear_weight, target, linear_bias, keep, row_w, alpha, n_iter, eps, reduction)
    n = keep.numel()
    itemsize = torch.finfo(work).bits // 8
    rows = min(chunk_rows or DEFAULT_CHUNK_ROWS, max(n, 1))
    cols = min(vocab_chunk or max(1, DEFAULT_TILE_BYTES // (rows * itemsize)), num_classes)
    opts = Options(alpha, n_iter, eps, reduction, rows, cols, torch.is_grad_enabled())
    out = _LinearFenchelYoung.apply(input.reshape(-1, d), linear_weight, linear_bias, target.reshape(-1),
                                    keep.reshape(-1), row_w.reshape(-1), opts)
    return out.reshape(target.shape) if reduction == "none" else out


class LinearEntmaxLoss(torch.nn.Module):
    """Module form of :func:`linear_entmax_loss`:
    ``loss(input, linear_weight, target, linear_bias=None)`` (the output
    layer's weight is an argument, so it can be shared with an embedding).

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import LinearEntmaxLoss
        >>> loss = LinearEntmaxLoss(alpha=1.5)
        >>> h, w = torch.zeros(3, 2), torch.zeros(4, 2)  # uniform p: (1 - 4**-0.5) / 0.75
        >>> round(float(loss(h, w, torch.tensor([0, 1, 3]))), 6)
        0.666667
    """

    weight: torch.Tensor | None

    def __init__(self, alpha: float = 1.5, *, weight: torch.Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean",
                 label_smoothing: float = 0.0, n_iter: int = 50, chunk_rows: int | None = None,
                 vocab_chunk: int | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.alpha, self.n_iter, self.label_smoothing = _check_options(
            owner, alpha, n_iter, reduction, label_smoothing, chunk_rows, vocab_chunk)
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction
        self.chunk_rows, self.vocab_chunk = chunk_rows, vocab_chunk

    def forward(self, input: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor,
                linear_bias: torch.Tensor | None = None) -> torch.Tensor:
        return linear_entmax_loss(input, linear_weight, target, self.alpha, linear_bias=linear_bias,
                                  weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                                  label_smoothing=self.label_smoothing, n_iter=self.n_iter,
                                  chunk_rows=self.chunk_rows, vocab_chunk=self.vocab_chunk)

    def extra_repr(self) -> str:
        return (f"alpha={self.alpha}, ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}, "
                f"reduction={self.reduction!r}")


class LinearSparsemaxLoss(LinearEntmaxLoss):
    """Module form of :func:`linear_sparsemax_loss` (``LinearEntmaxLoss`` with alpha = 2)."""

    def __init__(self, *, weight: torch.Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0, chunk_rows: int | None = None,
                 vocab_chunk: int | None = None) -> None:
        super().__init__(2.0, weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing,
                         chunk_rows=chunk_rows, vocab_chunk=vocab_chunk)

class _LinearFenchelYoung(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, t: torch.Tensor,
                keep: torch.Tensor, row_w: torch.Tensor, opts: Options) -> torch.Tensor:
        work = work_dtype(h.dtype)
        want = tuple(ctx.needs_input_grad[:3])
        eager = opts.grad_enabled and any(want) and opts.reduction != "none"
        count = row_w.sum()  # the mean's denominator: counted rows, or their summed class weights
        ctx.opts, ctx.eager = opts, eager
        if h.is_meta:  # shapes only
            loss = torch.zeros(h.shape[0], dtype=work, device=h.device)
            ctx.grads = tuple(torch.zeros_like(x, dtype=work) if x is not None and need else None
                              for x, need in zip((h, w, b), want, strict=True)) if eager else None
            rows = None
        else:
            rows = keep.nonzero().squeeze(1)
            scale = None
            if eager:
                one = torch.ones((), dtype=work, device=h.device)
                scale = torch.where(count > 0, one / count, one) if opts.reduction == "mean" else one
            loss, grads = sweep(h, w, b, t, row_w, rows, opts, scale, want if eager else (False,) * 3)
            ctx.grads = grads if eager else None
        ctx.save_for_backward(h, w, b, t, row_w, count, rows)
        if opts.reduction == "none":
            return loss.to(h.dtype)
        total = loss.sum()
        return (total / count if opts.reduction == "mean" else total).to(h.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        opts = ctx.opts
        h, w, b, t, row_w, count, rows = ctx.saved_tensors
        work = work_dtype(h.dtype)
        grads, ctx.grads = ctx.grads, None
        if grads is not None:  # computed in forward: scale by the incoming scalar, in place
            grads = tuple(None if x is None else x.mul_(grad.to(x.dtype)) for x in grads)
        elif h.is_meta:
            grads = (torch.zeros_like(h, dtype=work), torch.zeros_like(w, dtype=work),
                     None if b is None else torch.zeros_like(b, dtype=work))
        else:  # reduction "none", or a second backward: recompute chunk by chunk
            g = grad.to(work)
            if opts.reduction == "none":
                scale = g.reshape(-1)
            elif opts.reduction == "mean":
                scale = torch.where(count > 0, g / count, g)
            else:
                scale = g
            grads = sweep(h, w, b, t, row_w, rows, opts, scale, tuple(ctx.needs_input_grad[:3]))[1]
        gh, gw, gb = grads
        return (
            None if gh is None or not ctx.needs_input_grad[0] else gh.to(h.dtype),
            None if gw is None or not ctx.needs_input_grad[1] else gw.to(w.dtype),
            None if gb is None or b is None or not ctx.needs_input_grad[2] else gb.to(b.dtype),
            None, None, None, None,
        )


def _plain(h, w, t, b, keep, row_w, alpha, n_iter, eps, reduction):
    """The loss of the module docstring from the full scores, in plain
    differentiable operations (for ``torch.func`` transforms and tracing)."""
    import actlab

    z = h @ w.T
    if b is not None:
        z = z + b
    z = z.to(work_dtype(h.dtype))
    num_classes = w.shape[0]
    ts = torch.where(keep, t, torch.zeros_like(t))
    p = actlab.entmax(z, alpha, n_iter)
    m = z.detach().amax(-1, keepdim=True)
    zs = z - m
    if alpha == 2.0:
        ent = 0.5 * (1.0 - (p * p).sum(-1))
    else:
        ent = (1.0 - torch.where(p > 0, p, 0.0).pow(alpha).sum(-1)) / (alpha * (alpha - 1.0))
    z_t = zs.gather(-1, ts[..., None]).squeeze(-1)
    row = (p * zs).sum(-1) + ent - z_t
    if eps:
        row = row + eps * (z_t - zs.mean(-1)) - target_entropy(alpha, eps, num_classes)
    row = torch.where(keep, row, 0.0) * row_w
    if reduction == "none":
        return row.to(h.dtype)
    total = row.sum()
    return (total / row_w.sum() if reduction == "mean" else total).to(h.dtype)
