"""In-place PyTorch kernels for the sparse maps' hot passes (eager mode only).

The array-API code in :mod:`actlab.simplex.threshold` and
:mod:`actlab.simplex.entmax` is the definition; these do the same arithmetic
in fewer memory passes (no temporaries for the element-wise chains), which is
most of the time at large sizes on CPU. ``tests/test_sparse_fastpath.py``
checks that they agree with the array-API code.
"""

from __future__ import annotations

import torch

__all__ = ["compact", "exact_output", "entmax_weights", "entmax_vjp"]


def compact(mask: torch.Tensor) -> torch.Tensor:
    """Column indices of the True entries of each row of ``mask``, left-aligned
    in as many columns as the fullest row has, -1 where a row has fewer."""
    lead, n = mask.shape[:-1], mask.shape[-1]
    flat = mask.reshape(-1, n)
    rows, cols = flat.nonzero(as_tuple=True)
    counts = torch.bincount(rows, minlength=flat.shape[0])
    nb = int(counts.max()) if counts.numel() else 0
    pos = torch.arange(rows.numel(), device=mask.device) - (torch.cumsum(counts, 0) - counts)[rows]
    out = torch.full((flat.shape[0], nb), -1, dtype=torch.int64, device=mask.device)
    out[rows, pos] = cols
    return out.reshape(*lead, nb)


def exact_output(x: torch.Tensor, m: torch.Tensor, cut: torch.Tensor, beta: float) -> torch.Tensor:
    """``[(x - m) - cut]_+`` (sparsemax) or ``([(x - m) - cut]_+ / 2)^2`` (1.5-entmax)."""
    y = torch.sub(x, m)
    y.sub_(cut).clamp_(min=0.0)
    if beta == 0.5:
        y.square_().mul_(0.25)
    return y


def entmax_weights(y: torch.Tensor, beta: float) -> torch.Tensor:
    """``y^(1-beta)`` on the support, 0 off it, NaN where ``y`` is NaN."""
    if beta == 1.0:
        return torch.sign(y)
    if beta == 0.5:
        return torch.sqrt(y)
    if beta == 0.0:
        return y
    c = 1.0 - beta
    if c + beta == 1.0 and 1.0 - c == beta:
        w = torch.pow(y, c)
    else:  # y * y^(-beta): the exponent 1 - beta would round (y^(1 - beta) where y^(-beta) overflows)
        p = torch.pow(y, -beta)
        w = torch.where(torch.isfinite(p), y * p, torch.pow(y, c))
    return w.masked_fill_(y == 0, 0.0)


def entmax_vjp(y: torch.Tensor, g: torch.Tensor, beta: float) -> torch.Tensor:
    """``w * g - w * <w, g>/sum(w)`` with the last step in place."""
    w = entmax_weights(y, beta)
    wg = w * g
    sw = w.sum(dim=-1, keepdim=True)
    q = wg.sum(dim=-1, keepdim=True).div_(torch.where(sw > 0, sw, 1.0))
    return wg.addcmul_(w, q, value=-1.0)
