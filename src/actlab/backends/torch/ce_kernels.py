"""Fused softmax cross-entropy and logsumexp for float32 CPU tensors (with
the numba ``fast`` extra), in plain eager mode only.

Cross-entropy of class indices: the forward pass computes per row, in
float64, ``nll = t - z_k + log1p(s)`` and, with label smoothing,
``sum_c w_c (t - z_c + log1p(s))`` (``t`` the row maximum, ``s`` the sum of
the other shifted exponentials: :mod:`actlab.backends.numba_softmax`), so
no (N, C) log-probability matrix is written; the per-row loss
``(1 - e) w_k nll + (e / C) smooth`` and the reduction (PyTorch's weighted
mean) follow in float64 and are rounded once. Its backward is the closed
form ``a softmax(z) - b onehot(k) - c w`` with per-row ``a, b, c`` from the
upstream gradient, weights and smoothing, written in one pass. Under
``create_graph`` (double backward) the backward is built from differentiable
operations instead (softmax through its registered Function).

Rows whose maximum is not finite or whose sum is NaN make the caller take
the general path, which holds the non-finite-entry rules of :mod:`actlab.simplex.shifted_exp` for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .softmax_kernels import numba_rows

__all__ = ["cross_entropy", "logsumexp_forward"]

_EMPTY = np.empty(0)


def _applies(z: torch.Tensor, xp: Any) -> Any:
    if z.dtype != torch.float32 or z.device.type != "cpu" or z.ndim < 1 or not xp.may_branch(z):
        return None
    return numba_rows()


def logsumexp_forward(x: torch.Tensor, xp: Any) -> torch.Tensor | None:
    """``t + log1p(s)`` along the last axis, shape (..., 1), or None."""
    nbk = _applies(x, xp)
    if nbk is None or x.shape[-1] == 0:
        return None
    x2 = x.detach().reshape(-1, x.shape[-1]).contiguous()
    m, lse, ok = nbk.lse_rows(x2.numpy())
    if not ok.all():
        return None
    y = torch.from_numpy(lse).add_(torch.from_numpy(m)).to(torch.float32)
    return y.reshape(*x.shape[:-1], 1)


class CrossEntropyFunction(torch.autograd.Function):
    """Inputs ``(z2, loss, m, inv, target, kw, kc, w, eps, reduction)``: only
    the logits ``z2`` (N, C) are differentiable; ``loss`` is the value the
    forward kernel computed; ``kw = keep * w[target]`` and ``kc = keep`` are
    float64 per row, ``w`` the float64 weights or an empty tensor, ``reduction``
    "none", "sum" or the mean's denominator (a float64 0-d tensor)."""

    @staticmethod
    def forward(z2, loss, m, inv, target, kw, kc, w, eps, reduction):  # type: ignore[no-untyped-def]
        return loss.clone()

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        z2, _, m, inv, target, kw, kc, w, eps, reduction = inputs
        mean = isinstance(reduction, torch.Tensor)
        ctx.save_for_backward(z2, m, inv, target, kw, kc, w, *((reduction,) if mean else ()))
        ctx.eps, ctx.none = eps, reduction == "none" if not mean else False

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        z2, m, inv, target, kw, kc, w, *denom = ctx.saved_tensors
        eps, n_classes = ctx.eps, z2.shape[-1]
        r = grad.to(torch.float64)
        r = r.reshape(-1) if ctx.none else r.expand(z2.shape[0])
        if denom:
            r = r / denom[0]
        b = r * kw * (1.0 - eps)
        c = r * kc * (eps / n_classes)
        a = b + c * (w.sum() if w.numel() else float(n_classes))
        none = (None,) * 9
        if torch.is_grad_enabled():  # double backward: differentiable operations
            from ...simplex.softmax import softmax

            p = softmax(z2, axis=-1).to(torch.float64)
            gz = a[:, None] * p - c[:, None] * (w if w.numel() else 1.0)
            gz = gz - torch.nn.functional.one_hot(target, n_classes) * b[:, None]
            return (gz.to(z2.dtype), *none)
        gz = numba_rows().ce_grad_rows(
            z2.detach().contiguous().numpy(), m.numpy(), inv.numpy(), a.detach().numpy(), b.detach().numpy(),
            c.detach().numpy(), target.numpy(), w.numpy() if w.numel() else _EMPTY,
        )
        return (torch.from_numpy(gz), *none)


def cross_entropy(z: torch.Tensor, safe: torch.Tensor, keep: torch.Tensor, w: torch.Tensor | None, eps: float,
                  reduction: str, xp: Any) -> torch.Tensor | None:
    """The fused cross-entropy of float32 CPU logits ``z`` (class axis last)
    against validated class indices ``safe`` (ignored rows: ``keep`` False),
    or None where the general path must run (other dtypes and devices, no
    numba, tracing, weights that require grad, a row with a non-finite
    maximum or a NaN)."""
    nbk = _applies(z, xp)
    if nbk is None or (w is not None and w.requires_grad):
        return None
    n_classes = z.shape[-1]
    z2 = z.reshape(-1, n_classes)
    x = z2.detach().contiguous()
    t = safe.reshape(-1).contiguous()
    w64 = w.detach().to(torch.float64).contiguous() if w is not None else torch.empty(0, dtype=torch.float64)
    m, nll, smooth, inv, ok = nbk.ce_forward_rows(x.numpy(), t.numpy(), w64.numpy(), eps != 0.0)
    if not ok.all():
        return None
    nll_t, smooth_t = torch.from_numpy(nll), torch.from_numpy(smooth)
    kc = keep.reshape(-1).to(torch.float64)
    kw = kc * w64[t] if w is not None else kc
    per = kw * nll_t if not eps else (1.0 - eps) * kw * nll_t + (eps / n_classes) * smooth_t
    per = torch.where(kc > 0.0, per, 0.0)
    red: Any = reduction
    if reduction == "none":
        loss = per.reshape(safe.shape)
    elif reduction == "sum":
        loss = per.sum()
    else:
        red = kw.sum()
        loss = per.sum() / red
    loss = loss.to(torch.float32)
    if not (torch.is_grad_enabled() and z.requires_grad):
        return loss
    return CrossEntropyFunction.apply(z2, loss, torch.from_numpy(m), torch.from_numpy(inv), t, kw, kc, w64, eps, red)
