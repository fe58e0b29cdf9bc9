# mypy: disable-error-code="union-attr,arg-type,index"
# (the gradient buffers are None exactly when the want_* flags are False: branches mypy cannot pair up)
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
Rows whose target is ``ignore_index`` count for nothing; ``mean`` divides by
the number of counted rows (NaN when there is none, as ``F.cross_entropy``).

How: rows are taken in chunks of ``chunk_rows`` and the vocabulary in tiles
of ``vocab_chunk`` columns; one ``chunk_rows x vocab_chunk`` buffer holds
the scores of a tile. The support of :math:`p` is located tile by tile: the
threshold of a subset of the scores is a lower bound of the full row's (it
only grows as entries are added), so each tile's own exact threshold (actlab's
search, :mod:`actlab.simplex.threshold`) raises a running lower bound of the
row's cut, and only the entries above it are kept, as a short list of (row,
column, score). That list holds the whole support; the exact threshold and
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
from typing import Any, NamedTuple

import torch

from ... import _backend
from ...losses.sparse import fenchel_young_rows
from ...simplex import sparse_forward
from .._torch_conventions import transforms_active
from ._common import (
    check_bias,
    check_hidden_weight,
    check_nonnegative,
    check_positive_int,
    check_reduction,
    check_targets,
    put_rows,
    row_chunks,
    take_rows,
    work_dtype,
)

__all__ = ["linear_sparsemax_loss", "linear_entmax_loss", "LinearSparsemaxLoss", "LinearEntmaxLoss"]

DEFAULT_CHUNK_ROWS = 1024
"""Rows per chunk by default."""
DEFAULT_TILE_BYTES = 32 * 2**20
"""Bytes of one chunk's score tile by default (sets ``vocab_chunk``)."""
BLOCK = 16
"""Columns per block of the block-maximum screening."""
SPARSE_DENSITY = 1 / 64
"""Sparse gradient products while the nonzeros of ``p - q`` are at most this
fraction of a chunk's scores; dense products tile by tile above it."""
SUPPORT_TILES = 2
"""A chunk's support list may hold this many tiles' worth of entries before
the chunk is redone with dense rows."""


class _Options(NamedTuple):
    alpha: float
    n_iter: int
    smoothing: float
    reduction: str
    chunk_rows: int
    vocab_chunk: int
    grad_enabled: bool  # grad mode at the call (inside Function.forward it is always off)


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
    opts = _Options(alpha, n_iter, eps, reduction, rows, cols, torch.is_grad_enabled())
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


def _target_entropy(alpha: float, eps: float, num_classes: int) -> float:
    """Tsallis entropy of the smoothed target ``(1 - eps) e_t + eps / V``."""
    if eps == 0.0:
        return 0.0
    hi, lo = 1.0 - eps + eps / num_classes, eps / num_classes
    return (1.0 - hi ** alpha - (num_classes - 1) * lo ** alpha) / (alpha * (alpha - 1.0))


def _rows_loss(z: torch.Tensor, p: torch.Tensor, pos: torch.Tensor, zsum: Any, opts: _Options,
               num_classes: int) -> torch.Tensor:
    """Per-row loss from the rows' scores ``z`` (full rows, or support lists
    padded with -inf), ``p`` on them, the target's column ``pos`` in ``z``
    and (with smoothing) the rows' score sums over the whole vocabulary."""
    xp = _backend.backend_of(z)
    loss = fenchel_young_rows(z, p, pos, opts.alpha, xp)
    eps = opts.smoothing
    if eps:  # <e_t - q, z> - H(q): eps (z_t - mean z) - H(q)
        z_t = z.gather(1, pos[:, None]).squeeze(1)
        loss = loss + eps * (z_t - zsum / num_classes) - _target_entropy(opts.alpha, eps, num_classes)
    return loss


def _entmax_rows(z: torch.Tensor, opts: _Options, with_threshold: bool = False) -> Any:
    return sparse_forward.forward(z, opts.alpha - 1.0, opts.n_iter, _backend.backend_of(z),
                                  with_threshold=with_threshold)


def _compact(z: torch.Tensor, cols: torch.Tensor, keep: torch.Tensor):
    """The entries ``keep`` of each row of ``z`` (and their columns
    ``cols``), moved left into as few columns as the fullest row needs;
    padding is -inf (column 0)."""
    pos = keep.cumsum(1) - 1
    width = max(int(pos[:, -1].max()) + 1, 1) if z.shape[1] else 1
    r, q = keep.nonzero(as_tuple=True)
    out = torch.full((z.shape[0], width), -math.inf, dtype=z.dtype, device=z.device)
    out_c = torch.zeros((z.shape[0], width), dtype=cols.dtype, device=z.device)
    out[r, pos[r, q]] = z[r, q]
    out_c[r, pos[r, q]] = cols[r, q]
    return out, out_c


def _lower_cut(z: torch.Tensor, opts: _Options) -> torch.Tensor:
    """A lower bound (in score units) of the cut of every row of which the
    rows of ``z`` (-inf padded) hold a subset: the subset's own cut, less its
    rounding."""
    beta = opts.alpha - 1.0
    _, tau = _entmax_rows(z, opts, with_threshold=True)
    cut = tau.squeeze(1) / beta  # the support is z > tau / beta
    return cut - 64 * torch.finfo(z.dtype).eps * (1.0 + cut.abs() + 1.0 / beta)


def _entries_above(z: torch.Tensor, cut: torch.Tensor, j0: int):
    """The entries of the tile ``z`` above ``cut`` (found through the maxima
    of blocks of ``BLOCK`` columns), each row's side by side (-inf padded):
    ``(scores, columns)``."""
    m, width = z.shape
    nb = -(-width // BLOCK)
    if width % BLOCK:  # a short last block, padded with -inf
        tail = torch.full((m, BLOCK), -math.inf, dtype=z.dtype, device=z.device)
        tail[:, : width % BLOCK] = z[:, (nb - 1) * BLOCK:]
        blocks = torch.cat([z[:, : (nb - 1) * BLOCK].reshape(m, nb - 1, BLOCK), tail[:, None]], 1)
    else:
        blocks = z.view(m, nb, BLOCK)
    rb, cb = (blocks.amax(2) > cut[:, None]).nonzero(as_tuple=True)
    vb = blocks[rb, cb]
    i, lane = (vb > cut[rb, None]).nonzero(as_tuple=True)  # row by row, as rb
    r = rb[i]
    counts = torch.bincount(r, minlength=m)
    pos = torch.arange(r.numel(), device=z.device) - (torch.cumsum(counts, 0) - counts)[r]
    k = max(int(counts.max()), 1) if r.numel() else 1
    out = torch.full((m, k), -math.inf, dtype=z.dtype, device=z.device)
    out_c = torch.zeros((m, k), dtype=torch.long, device=z.device)
    out[r, pos] = vb[i, lane]
    out_c[r, pos] = cb[i] * BLOCK + lane + j0
    return out, out_c


def _support_lists(hc, wc, bc, tc, tile, opts: _Options):
    """Locate the support of each row of the chunk ``hc`` tile by tile:
    ``(scores, columns)`` (-inf padded rows) of a superset of each row's
    support and its target, and the rows' score sums (smoothing); None when
    the lists outgrow ``SUPPORT_TILES`` tiles.

    The first tile's own cut is a lower bound of the row's; per tile, the
    blocks of ``BLOCK`` columns whose maximum clears the bound join the
    lists, and the exact cut of the lists (every entry seen so far that can
    matter) raises the bound and drops the entries below it."""
    m, num_classes = hc.shape[0], wc.shape[0]
    width = opts.vocab_chunk
    cap = SUPPORT_TILES * m * width
    dev = hc.device
    zsum = torch.zeros(m, dtype=hc.dtype, device=dev) if opts.smoothing else None
    lz = torch.full((m, 0), -math.inf, dtype=hc.dtype, device=dev)
    lc = torch.zeros((m, 0), dtype=torch.long, device=dev)
    cut = None
    for j0 in range(0, num_classes, width):
        j1 = min(j0 + width, num_classes)
        z = tile[: m * (j1 - j0)].view(m, j1 - j0)
        if bc is not None:
            torch.addmm(bc[j0:j1], hc, wc[j0:j1].T, out=z)
        else:
            torch.mm(hc, wc[j0:j1].T, out=z)
        if zsum is not None:
            zsum += z.sum(1)
        if cut is None:
            cut = _lower_cut(z, opts)
        bz, bcols = _entries_above(z, cut, j0)
        lz, lc = torch.cat([lz, bz], 1), torch.cat([lc, bcols], 1)
        cut = torch.maximum(cut, _lower_cut(lz, opts))
        lz, lc = _compact(lz, lc, lz > cut[:, None])
        if lz.numel() > cap:
            return None
    # every row's target joins its list (it carries the loss's -z_t even outside the support)
    miss = ~((lc == tc[:, None]) & (lz > -math.inf)).any(1)
    if bool(miss.any()):
        z_t = (hc * wc[tc]).sum(1)
        if bc is not None:
            z_t = z_t + bc[tc]
        lz = torch.cat([lz, torch.where(miss, z_t, -math.inf)[:, None]], 1)
        lc = torch.cat([lc, tc[:, None]], 1)
    return lz, lc, zsum


def _sparse_chunk(hc, wc, bc, tc, s, tile, opts: _Options, grads, want):
    """Loss rows of one chunk through its support lists, and the gradients
    added into ``grads``; None if the lists grew too long (nothing added)."""
    found = _support_lists(hc, wc, bc, tc, tile, opts)
    if found is None:
        return None
    z, cols, zsum = found
    m, num_classes = hc.shape[0], wc.shape[0]
    is_t = (cols == tc[:, None]) & (z > -math.inf)
    tpos = is_t.to(torch.int8).argmax(1)
    p = _entmax_rows(z, opts)
    loss = _rows_loss(z, p, tpos, zsum, opts, num_classes)
    gh, gw, gb = grads
    if gh is None and gw is None and gb is None:
        return loss, None
    r, q = ((p > 0) | is_t).nonzero(as_tuple=True)  # the nonzeros of p - q, row by row
    c = cols[r, q]
    g = p[r, q] - (1.0 - opts.smoothing) * is_t[r, q].to(p.dtype)
    g *= s[r]
    if gb is not None:
        gb.index_add_(0, c, g)
    if r.numel() > SPARSE_DENSITY * m * num_classes:
        return loss, _tile_products(hc, wc, r, c, g, tile, opts.vocab_chunk, gh is not None, gw)
    gh_c = None
    if gh is not None:
        counts = torch.bincount(r, minlength=m)
        starts = torch.cumsum(counts, 0) - counts
        gh_c = torch.nn.functional.embedding_bag(c, wc, starts, mode="sum", per_sample_weights=g)
    if gw is not None:
        gw.addmm_(torch.sparse_coo_tensor(torch.stack([c, r]), g, (num_classes, m),
                                          check_invariants=False), hc)
    return loss, gh_c


def _tile_products(hc, wc, r, c, g, tile, width: int, want_h: bool, gw):
    """The gradient products of the entries ``g`` at (row ``r``, column
    ``c``) tile by tile, each tile of ``G`` dense in the score buffer (for
    wide supports, where dense products are faster than sparse ones):
    ``G @ W`` (returned when ``want_h``) and ``gw += G^T hc``."""
    m, num_classes = hc.shape[0], wc.shape[0]
    order = torch.argsort(c)
    r, c, g = r[order], c[order], g[order]
    edges = torch.arange(0, num_classes + width, width, device=c.device).clamp_(max=num_classes)
    bounds = torch.searchsorted(c, edges).tolist()
    gh_c = torch.zeros_like(hc) if want_h else None
    for k, j0 in enumerate(range(0, num_classes, width)):
        lo, hi = bounds[k], bounds[k + 1]
        if lo == hi:
            continue
        j1 = min(j0 + width, num_classes)
        G = tile[: m * (j1 - j0)].view(m, j1 - j0).zero_()
        G[r[lo:hi], c[lo:hi] - j0] = g[lo:hi]
        if gh_c is not None:
            gh_c.addmm_(G, wc[j0:j1])
        if gw is not None:
            gw[j0:j1].addmm_(G.T, hc)
    return gh_c


def _dense_chunk(hc, wc, bc, tc, s, opts: _Options, grads, width: int):
    """Loss rows (and gradients) of one chunk with full rows, a few at a time
    (``width`` scores at once): the fallback for wide supports."""
    m, num_classes = hc.shape[0], wc.shape[0]
    gh, gw, gb = grads
    eps = opts.smoothing
    group = max(1, width // num_classes)
    loss = torch.empty(m, dtype=hc.dtype, device=hc.device)
    gh_c = torch.empty_like(hc) if gh is not None else None
    for i0 in range(0, m, group):
        i1 = min(i0 + group, m)
        hg, tg = hc[i0:i1], tc[i0:i1]
        z = torch.addmm(bc, hg, wc.T) if bc is not None else hg @ wc.T
        p = _entmax_rows(z, opts)
        loss[i0:i1] = _rows_loss(z, p, tg, z.sum(1) if eps else None, opts, num_classes)
        if gh is None and gw is None and gb is None:
            continue
        p.scatter_add_(1, tg[:, None], torch.full((i1 - i0, 1), eps - 1.0, dtype=p.dtype, device=p.device))
        if eps:
            p.sub_(eps / num_classes)
        p.mul_(s[i0:i1, None])
        if gh_c is not None:
            gh_c[i0:i1] = p @ wc
        if gw is not None:
            gw.addmm_(p.T, hg)
        if gb is not None:
            gb.add_(p.sum(0))
    return loss, gh_c


def _sweep(h, w, b, t, row_w, rows, opts: _Options, scale, want):
    """One pass over the counted ``rows`` in chunks: per-row losses (length N,
    zero on ignored rows), each multiplied by its weight ``row_w``, and, where
    ``want``, the gradients for (h, w, b), row ``i``'s scaled by ``scale``
    (0-d or length N) and its weight."""
    n, d = h.shape
    num_classes = w.shape[0]
    work = work_dtype(h.dtype)
    dev = h.device
    wc = w.to(work)
    bc = None if b is None else b.to(work)
    want_h, want_w, want_b = want[0], want[1], want[2] and b is not None
    gh = torch.zeros((n, d), dtype=work, device=dev) if want_h else None
    gw = torch.zeros((num_classes, d), dtype=work, device=dev) if want_w else None
    gb = torch.zeros(num_classes, dtype=work, device=dev) if want_b else None
    grads = (gh, gw, gb)
    loss = torch.zeros(n, dtype=work, device=dev)
    eps = opts.smoothing
    # the smoothing's -eps/V on every class: rank-one parts, added once at the end (sparse chunks)
    smooth_h = torch.zeros(d, dtype=work, device=dev) if want_w and eps else None
    smooth_b = torch.zeros((), dtype=work, device=dev) if want_b and eps else None
    w_colsum = wc.sum(0) if want_h and eps else None
    tile = torch.empty(min(opts.chunk_rows, max(rows.numel(), 1)) * opts.vocab_chunk, dtype=work, device=dev)
    for sel in row_chunks(n, rows, opts.chunk_rows):
        hc, tc = take_rows(h, sel).to(work), take_rows(t, sel)
        s = (scale if scale is None or scale.dim() == 0 else take_rows(scale, sel))
        s = torch.ones((), dtype=work, device=dev) if s is None else s.to(work)
        rw = take_rows(row_w, sel)
        s = s * rw
        out = _sparse_chunk(hc, wc, bc, tc, s, tile, opts, grads, want)
        if out is not None:
            if eps:
                sm = (eps / num_classes) * s
                if w_colsum is not None:
                    out = (out[0], out[1] - sm[:, None] * w_colsum)
                if smooth_h is not None:
                    smooth_h.add_(sm @ hc)
                if smooth_b is not None:
                    smooth_b.add_(sm.sum())
        else:
            out = _dense_chunk(hc, wc, bc, tc, s, opts, grads, tile.numel())
        put_rows(loss, sel, out[0] * rw)
        if gh is not None:
            put_rows(gh, sel, out[1])
    if smooth_h is not None:
        gw.sub_(smooth_h)
    if smooth_b is not None:
        gb.sub_(smooth_b)
    return loss, grads


class _LinearFenchelYoung(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, t: torch.Tensor,
                keep: torch.Tensor, row_w: torch.Tensor, opts: _Options) -> torch.Tensor:
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
            loss, grads = _sweep(h, w, b, t, row_w, rows, opts, scale, want if eager else (False,) * 3)
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
            grads = _sweep(h, w, b, t, row_w, rows, opts, scale, tuple(ctx.needs_input_grad[:3]))[1]
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
        row = row + eps * (z_t - zs.mean(-1)) - _target_entropy(alpha, eps, num_classes)
    row = torch.where(keep, row, 0.0) * row_w
    if reduction == "none":
        return row.to(h.dtype)
    total = row.sum()
    return (total / row_w.sum() if reduction == "mean" else total).to(h.dtype)
