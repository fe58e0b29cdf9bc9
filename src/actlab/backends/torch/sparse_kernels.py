"""In-place PyTorch kernels for the sparse maps' hot passes (eager mode only),
and the lane of sparsemax / entmax15 / entmax on CPU tensors.

The array-API code in :mod:`actlab.simplex.threshold` and
:mod:`actlab.simplex.entmax` is the definition; these do the same arithmetic
in fewer memory passes (no temporaries for the element-wise chains), which is
most of the time at large sizes on CPU. ``tests/test_sparse_fastpath.py``
checks that they agree with the array-API code.

:func:`lane` calls the numba row kernels (the ``fast`` extra) of a float32 or
float64 CPU tensor in eager mode with float parameters directly, in one
``torch.autograd.Function`` whose backward is the VJP kernel: the same
kernels as the generic path (:mod:`actlab.simplex.sparse_forward`, which
runs everywhere else), without its per-call dispatch (~70 us of ~125 us per
forward and backward of a short row). Double backward and forward mode use
the differentiable VJP of :func:`actlab.simplex.entmax.entmax_vjp_math`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.autograd.forward_ad as fwAD

__all__ = ["compact", "exact_output", "entmax_weights", "entmax_vjp", "lane"]


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


_BETA = {"sparsemax": 1.0, "entmax15": 0.5}
_LANE_DTYPES = (torch.float32, torch.float64)


def _vjp_math(y: torch.Tensor, g: torch.Tensor, beta: float) -> torch.Tensor:
    from ...simplex.entmax import entmax_vjp_math
    from . import BACKEND

    return entmax_vjp_math(y, g, beta, BACKEND)


def _forward(kernels: Any, x: torch.Tensor, beta: float, n_iter: int) -> torch.Tensor:
    """The map by the row kernels, written into a tensor from torch's allocator
    (NumPy's 2 MB buffers, freed each step, were returned to the system and
    faulted in again on every call: ~1000 page faults, ~0.8 ms at (4096, 128))."""
    y = torch.empty(x.shape, dtype=x.dtype)
    kernels.forward_rows(x.detach().numpy(), beta, n_iter, y.numpy())
    return y


class _SparseRows(torch.autograd.Function):
    """The map of :func:`lane` with the VJP kernel as its backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, kernels: Any, beta: float, n_iter: int) -> torch.Tensor:
        y = _forward(kernels, x, beta, n_iter)
        ctx.save_for_backward(y)
        ctx.save_for_forward(y)
        ctx.kernels, ctx.beta = kernels, beta
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        (y,) = ctx.saved_tensors
        if torch.is_grad_enabled() or g.dtype != y.dtype or g.device != y.device:  # double backward
            return _vjp_math(y, g, ctx.beta), None, None, None
        out = torch.empty(y.shape, dtype=y.dtype)
        ctx.kernels.vjp_rows(y.numpy(), g.detach().numpy(), ctx.beta, out.numpy())
        return out, None, None, None

    @staticmethod
    def jvp(ctx: Any, x_t: torch.Tensor, *_: Any) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return _vjp_math(y, x_t, ctx.beta)  # the Jacobian is symmetric


_KERNELS: list[Any] = []


def _kernels() -> Any:
    """The numba row kernels, or None (no numba, or the compiled kernels
    switched off by :data:`actlab.simplex.sparse_forward.USE_COMPILED`)."""
    if not _KERNELS:
        from ...simplex import sparse_forward
        from ..numpy import numba_sparse

        _KERNELS[:] = [sparse_forward, numba_sparse()]
    return _KERNELS[1] if _KERNELS[0].USE_COMPILED else None


def lane(name: str, x: torch.Tensor, values: tuple[Any, ...]) -> torch.Tensor | None:
    """The sparse map ``name`` of ``x`` along its last axis by the numba row
    kernels, or None where the generic path must run (another map, GPU,
    half precision, tracing, a torch.func transform, an array or dense
    alpha, no numba, an empty axis)."""
    beta = _BETA.get(name)
    n_iter = 0
    if beta is None:
        if name != "entmax" or len(values) != 2 or type(values[0]) is not float or not values[0] > 1.0:
            return None
        beta, n_iter = values[0] - 1.0, int(values[1])
    if x.dtype not in _LANE_DTYPES or not x.is_cpu or x.ndim == 0 or x.shape[-1] == 0:
        return None
    if torch.compiler.is_compiling() or torch._C._functorch.is_functorch_wrapped_tensor(x):
        return None
    kernels = _kernels()
    if kernels is None:
        return None
    if (torch.is_grad_enabled() and x.requires_grad) or fwAD._current_level >= 0:  # (a dual level: forward mode)
        return _SparseRows.apply(x, kernels, beta, n_iter)
    return _forward(kernels, x, beta, n_iter)
