# mypy: disable-error-code="union-attr,arg-type,index"
# (the gradient buffers are None exactly when the want_* flags are False: branches mypy cannot pair up)
r"""One pass of the fused sparsemax / entmax losses over chunks of rows
(:mod:`actlab.torch.large_output.fused_sparse_losses` is the front door):
the support of each row located tile by tile, the loss rows, and the
gradient products of :math:`p - q`.

A chunk's scores are formed one ``rows x vocab_chunk`` tile at a time. The
threshold of a subset of a row's scores is a lower bound of the full row's
(it only grows as entries are added), and entries below a lower bound never
enter the support: the first tile's own exact cut starts a running lower
bound; per tile, the blocks of ``BLOCK`` columns whose maximum clears it give
the new entries of the row's *support list*, and the exact cut of the list
(every entry seen so far that can matter) raises the bound and drops the
entries below it. The searches are actlab's (:mod:`actlab.simplex.threshold`
through :func:`actlab.simplex.sparse_forward.forward`), the loss rows
:func:`actlab.losses.sparse.fenchel_young_rows`.

References: Martins & Astudillo 2016; Peters, Niculae & Martins 2019;
Blondel, Martins & Niculae 2020.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from ... import _backend
from ...losses.sparse import fenchel_young_rows
from ...simplex import sparse_forward
from ._common import put_rows, row_chunks, take_rows, work_dtype

__all__ = ["Options", "sweep", "target_entropy", "support_lists", "add_products", "BLOCK", "SPARSE_DENSITY",
           "SUPPORT_TILES"]

BLOCK = 16
"""Columns per block of the block-maximum screening."""
SPARSE_DENSITY = 1 / 64
"""Sparse gradient products while the nonzeros of ``p - q`` are at most this
fraction of a chunk's scores; dense products tile by tile above it."""
SUPPORT_TILES = 2
"""A chunk's support list may hold this many tiles' worth of entries before
the chunk is redone with dense rows."""


class Options(NamedTuple):
    alpha: float
    n_iter: int
    smoothing: float
    reduction: str
    chunk_rows: int
    vocab_chunk: int
    grad_enabled: bool  # grad mode at the call (inside Function.forward it is always off)



def target_entropy(alpha: float, eps: float, num_classes: int) -> float:
    """Tsallis entropy of the smoothed target ``(1 - eps) e_t + eps / V``."""
    if eps == 0.0:
        return 0.0
    hi, lo = 1.0 - eps + eps / num_classes, eps / num_classes
    return (1.0 - hi ** alpha - (num_classes - 1) * lo ** alpha) / (alpha * (alpha - 1.0))


def _rows_loss(z: torch.Tensor, p: torch.Tensor, pos: torch.Tensor, zsum: Any, opts: Options,
               num_classes: int) -> torch.Tensor:
    """Per-row loss from the rows' scores ``z`` (full rows, or support lists
    padded with -inf), ``p`` on them, the target's column ``pos`` in ``z``
    and (with smoothing) the rows' score sums over the whole vocabulary."""
    xp = _backend.backend_of(z)
    loss = fenchel_young_rows(z, p, pos, opts.alpha, xp)
    eps = opts.smoothing
    if eps:  # <e_t - q, z> - H(q): eps (z_t - mean z) - H(q)
        z_t = z.gather(1, pos[:, None]).squeeze(1)
        loss = loss + eps * (z_t - zsum / num_classes) - target_entropy(opts.alpha, eps, num_classes)
    return loss


def _entmax_rows(z: torch.Tensor, opts: Options, with_threshold: bool = False) -> Any:
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


def _lower_cut(z: torch.Tensor, opts: Options) -> torch.Tensor:
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


def support_lists(hc, wc, bc, tc, tile, opts: Options):
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


def _sparse_chunk(hc, wc, bc, tc, s, tile, opts: Options, grads, want):
    """Loss rows of one chunk through its support lists, and the gradients
    added into ``grads``; None if the lists grew too long (nothing added)."""
    found = support_lists(hc, wc, bc, tc, tile, opts)
    if found is None:
        return None
    z, cols, zsum = found
    num_classes = wc.shape[0]
    is_t = (cols == tc[:, None]) & (z > -math.inf)
    tpos = is_t.to(torch.int8).argmax(1)
    p = _entmax_rows(z, opts)
    loss = _rows_loss(z, p, tpos, zsum, opts, num_classes)
    gh, gw, gb = grads
    if gh is None and gw is None and gb is None:
        return loss, None
    r, q = ((p > 0) | is_t).nonzero(as_tuple=True)  # the nonzeros of p - q, row by row
    g = p[r, q] - (1.0 - opts.smoothing) * is_t[r, q].to(p.dtype)
    g *= s[r]
    return loss, add_products(hc, wc, r, cols[r, q], g, tile, opts.vocab_chunk, grads)


def add_products(hc, wc, r, c, g, tile, width: int, grads):
    """The gradient products of the sparse ``G`` (entries ``g`` at row ``r``,
    column ``c``, row by row) of one chunk: ``gb += G^T 1`` and ``gw += G^T hc``
    into ``grads = (gh, gw, gb)`` (None: not wanted), and ``G @ wc`` returned
    when ``gh`` is wanted (else None). Sparse products (``embedding_bag``, a
    sparse ``addmm``) up to ``SPARSE_DENSITY`` nonzeros, dense ones tile by
    tile of ``width`` columns (in ``tile``) above."""
    m, num_classes = hc.shape[0], wc.shape[0]
    gh, gw, gb = grads
    if gb is not None:
        gb.index_add_(0, c, g)
    if r.numel() > SPARSE_DENSITY * m * num_classes:
        return _tile_products(hc, wc, r, c, g, tile, width, gh is not None, gw)
    gh_c = None
    if gh is not None:
        counts = torch.bincount(r, minlength=m)
        starts = torch.cumsum(counts, 0) - counts
        gh_c = torch.nn.functional.embedding_bag(c, wc, starts, mode="sum", per_sample_weights=g)
    if gw is not None:
        gw.addmm_(torch.sparse_coo_tensor(torch.stack([c, r]), g, (num_classes, m),
                                          check_invariants=False), hc)
    return gh_c


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


def _dense_chunk(hc, wc, bc, tc, s, opts: Options, grads, width: int):
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


def sweep(h, w, b, t, row_w, rows, opts: Options, scale, want):
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
