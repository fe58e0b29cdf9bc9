r"""Fused linear cross-entropy: the loss of ``softmax(h W^T + b)`` against class
targets without ever holding the N x V logits (SPEC section 4).

Per counted row i, with logits :math:`z = W h_i + b` (after the optional soft
cap :math:`z \leftarrow c \tanh(z / c)`, Gemma 2) and
:math:`\mathrm{lse}_i = \log\sum_j e^{z_j}`,

.. math::

    \ell_i = \mathrm{lse}_i - (1-\varepsilon) z_{t_i}
             - \frac{\varepsilon}{V}\sum_j z_j + \lambda\,\mathrm{lse}_i^2,

(label smoothing :math:`\varepsilon`, z-loss :math:`\lambda`, PaLM), with
gradient :math:`\partial\ell_i/\partial z_j = p_j (1 + 2\lambda\,\mathrm{lse}_i)
- (1-\varepsilon)[j = t_i] - \varepsilon/V`, :math:`p = \mathrm{softmax}(z)`.
Rows whose target is ``ignore_index`` count for nothing; ``mean`` divides by
the number of counted rows (NaN when there is none, as ``F.cross_entropy``).

How: the rows are processed in chunks of ``c`` rows, ``c`` chosen so that the
``c x V`` logits of one chunk (two such buffers with a soft cap) fit in
``memory_budget`` bytes; by default the larger of 128 MiB and twice the
weight's size (the step holds the weight and its gradient anyway, and larger
chunks make faster matrix products at large V). One buffer is reused from
chunk to chunk, and each chunk's logits become ``exp(z - max)`` in place.
When the loss is reduced (``mean``/``sum``) and a gradient is needed, the
gradients for hidden, weight and bias are accumulated during the forward pass
and only scaled by the incoming gradient in backward: three matrix products
per chunk, as the plain computation, with the softmax's normalisation, the
per-row factors and the one-hot and smoothing terms folded into ``c x d``
products. With ``reduction="none"``, or when backward runs a second time
(``retain_graph=True``), the backward recomputes the logits chunk by chunk.
float16/bfloat16 inputs are computed and accumulated in float32 (a bfloat16
weight-gradient accumulator diverges: Liger-Kernel issue 512) and the results
rounded once.

Reference: Wijmans et al., "Cut Your Losses in Large-Vocabulary Language
Models" (2024); Hsu et al., Liger-Kernel (2024); Chowdhery et al., PaLM
(2022), z-loss; Gemma Team, Gemma 2 (2024), logit soft-capping.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ._common import check_bias, check_hidden_weight, check_nonnegative, check_reduction, check_targets

__all__ = ["linear_cross_entropy", "LinearCrossEntropyLoss", "DEFAULT_MEMORY_BUDGET"]

#: Least bytes of chunk logits held at once by default (128 MiB); the default
#: budget is the larger of this and twice the weight's size in the working dtype.
DEFAULT_MEMORY_BUDGET = 128 * 2**20


class _Options(NamedTuple):
    smoothing: float
    z_loss: float
    softcap: float | None
    reduction: str
    chunk_rows: int
    grad_enabled: bool  # grad mode at the call (inside Function.forward it is always off)


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    bias: torch.Tensor | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    softcap: float | None = None,
    reduction: str = "mean",
    memory_budget: int | None = None,
) -> torch.Tensor:
    r"""Cross-entropy of ``hidden @ weight.T + bias`` against ``target``, in chunks.

    Equals ``F.cross_entropy(hidden @ weight.T + bias, target,
    ignore_index=ignore_index, label_smoothing=label_smoothing,
    reduction=reduction)`` (plus ``z_loss * lse**2`` per counted row, and with
    the logits soft-capped first when ``softcap`` is given) in value and in
    the gradients for ``hidden``, ``weight`` and ``bias``, but holds at most
    ``memory_budget`` bytes of logits at a time.

    Args:
        hidden: (..., d) float tensor.
        weight: (V, d) tensor of the same dtype.
        target: (...) integer class indices in ``[0, V)`` or ``ignore_index``.
        bias: optional (V,) tensor.
        ignore_index: target value that is not counted.
        label_smoothing: epsilon in [0, 1] (PyTorch's convention).
        z_loss: coefficient of the PaLM z-loss ``lse(z)^2``, >= 0.
        softcap: if given (> 0), logits become ``softcap * tanh(z / softcap)``.
        reduction: ``"mean"`` (over counted rows), ``"sum"`` or ``"none"``.
        memory_budget: bytes of chunk logits held at once (at least one row);
            ``None``: the larger of 128 MiB and twice the weight's size.

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import linear_cross_entropy
        >>> g = torch.Generator().manual_seed(0)
        >>> h, w = torch.randn(6, 4, generator=g), torch.randn(10, 4, generator=g)
        >>> t = torch.tensor([1, 2, 3, -100, 9, 0])
        >>> ours = linear_cross_entropy(h, w, t, memory_budget=80)  # 2 rows a chunk
        >>> ref = torch.nn.functional.cross_entropy(h @ w.T, t)
        >>> bool(torch.allclose(ours, ref))
        True
    """
    owner = "linear_cross_entropy"
    check_hidden_weight(hidden, weight, owner)
    num_classes, d = weight.shape
    check_bias(bias, num_classes, hidden.dtype, owner)
    check_reduction(reduction, owner)
    smoothing = check_nonnegative(label_smoothing, "label_smoothing", owner, upper=1.0)
    zl = check_nonnegative(z_loss, "z_loss", owner)
    if softcap is not None:
        softcap = check_nonnegative(softcap, "softcap", owner)
        if softcap == 0.0:
            raise ValueError(f"{owner}(): softcap must be positive (or None), got 0")
    work = _work_dtype(hidden.dtype)
    itemsize = torch.finfo(work).bits // 8
    if memory_budget is None:
        memory_budget = max(DEFAULT_MEMORY_BUDGET, 2 * num_classes * d * itemsize)
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget <= 0:
        raise ValueError(f"{owner}(): memory_budget must be a positive number of bytes, got {memory_budget!r}")
    keep = check_targets(target, hidden.shape[:-1], num_classes, ignore_index, owner)

    per_row = num_classes * itemsize * (2 if softcap is not None else 1)
    opts = _Options(smoothing, zl, softcap, reduction, max(1, memory_budget // per_row), torch.is_grad_enabled())
    out = _LinearCrossEntropy.apply(hidden.reshape(-1, d), weight, bias, target.reshape(-1), keep.reshape(-1), opts)
    return out.reshape(target.shape) if reduction == "none" else out


class LinearCrossEntropyLoss(torch.nn.Module):
    """Module form of :func:`linear_cross_entropy`: ``loss(hidden, weight, target, bias=None)``.

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import LinearCrossEntropyLoss
        >>> loss = LinearCrossEntropyLoss(label_smoothing=0.1)
        >>> h, w = torch.zeros(3, 2), torch.zeros(5, 2)
        >>> round(float(loss(h, w, torch.tensor([0, 1, 4]))), 6)  # log 5
        1.609438
    """

    def __init__(
        self,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        z_loss: float = 0.0,
        softcap: float | None = None,
        reduction: str = "mean",
        memory_budget: int | None = None,
    ) -> None:
        super().__init__()
        self.ignore_index, self.label_smoothing, self.z_loss = ignore_index, label_smoothing, z_loss
        self.softcap, self.reduction, self.memory_budget = softcap, reduction, memory_budget

    def forward(self, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        return linear_cross_entropy(
            hidden, weight, target, bias, self.ignore_index, self.label_smoothing, self.z_loss,
            self.softcap, self.reduction, self.memory_budget,
        )

    def extra_repr(self) -> str:
        return (f"ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}, "
                f"z_loss={self.z_loss}, softcap={self.softcap}, reduction={self.reduction!r}")


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, t: torch.Tensor,
                keep: torch.Tensor, opts: _Options) -> torch.Tensor:
        rows = keep.nonzero().squeeze(1)
        count = rows.numel()
        want = tuple(ctx.needs_input_grad[:3])
        eager = opts.grad_enabled and any(want) and opts.reduction != "none"
        scale = None
        if eager:
            scale = torch.tensor(1.0 / count if opts.reduction == "mean" and count else 1.0, dtype=torch.float64)
        loss, grads = _sweep(h, w, b, t, rows, opts, scale, want if eager else (False,) * 3)
        ctx.save_for_backward(h, w, b, t, rows)
        ctx.opts, ctx.count, ctx.grads = opts, count, grads if eager else None
        if opts.reduction == "none":
            return loss.to(h.dtype)
        total = loss.sum()
        return (total / count if opts.reduction == "mean" else total).to(h.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        h, w, b, t, rows = ctx.saved_tensors
        want = tuple(ctx.needs_input_grad[:3])
        grads, ctx.grads = ctx.grads, None
        if grads is not None:  # computed in forward: scale by the incoming scalar
            out = [None if g is None else g.mul_(grad.to(g.dtype)) for g in grads]
        else:  # reduction "none", or a second backward: recompute chunk by chunk
            opts = ctx.opts
            if opts.reduction == "none":
                scale = grad.reshape(-1).to(torch.float64)
            elif opts.reduction == "mean":
                scale = grad.to(torch.float64) / ctx.count if ctx.count else grad.to(torch.float64)
            else:
                scale = grad.to(torch.float64)
            _, out = _sweep(h, w, b, t, rows, opts, scale, want)
        gh, gw, gb = out
        return (
            None if gh is None else gh.to(h.dtype),
            None if gw is None else gw.to(w.dtype),
            None if gb is None or b is None else gb.to(b.dtype),
            None, None, None,
        )


def _sweep(h, w, b, t, rows, opts: _Options, scale, want):
    """One pass over the counted ``rows`` in chunks: per-row losses (length N,
    zero on ignored rows) and, where ``want``, the gradients for (h, w, b)
    with row ``i``'s gradient multiplied by ``scale`` (a 0-d tensor or a
    length-N tensor)."""
    n, d = h.shape
    num_classes = w.shape[0]
    work = _work_dtype(h.dtype)
    wc = w.to(work)
    bc = None if b is None else b.to(work)
    eps, zl, cap = opts.smoothing, opts.z_loss, opts.softcap
    want_h, want_w, want_b = want[0], want[1], want[2] and b is not None
    grads_needed = want_h or want_w or want_b
    gh = torch.zeros((n, d), dtype=work) if want_h else None
    gw = torch.zeros((num_classes, d), dtype=work) if want_w else None
    gb = torch.zeros(num_classes, dtype=work) if want_b else None
    loss = torch.zeros(n, dtype=work)
    folded = cap is None  # without a soft cap the one-hot and smoothing terms fold into c x d products
    w_colsum = wc.sum(0) if grads_needed and folded and eps and want_h else None
    smooth_h = torch.zeros(d, dtype=work) if want_w and folded and eps else None
    smooth_b = torch.zeros((), dtype=work) if want_b and folded and eps else None

    # one logits buffer (two with a soft cap) for every chunk: reusing it spares
    # the allocator and the kernel from mapping and zeroing fresh pages per chunk
    rows_per_chunk = min(opts.chunk_rows, max(rows.numel(), 1))
    buf = torch.empty((rows_per_chunk, num_classes), dtype=work, device=h.device)
    buf_raw = torch.empty_like(buf) if cap is not None else None
    for start in range(0, rows.numel(), rows_per_chunk):
        r = rows[start:start + rows_per_chunk]
        hc = h.index_select(0, r).to(work)
        tc = t.index_select(0, r)
        z = buf[:r.numel()]
        raw = None
        if cap is not None:
            raw = buf_raw[:r.numel()]
        target = raw if raw is not None else z
        if bc is not None:
            torch.addmm(bc, hc, wc.T, out=target)
        else:
            torch.mm(hc, wc.T, out=target)
        if raw is not None:
            torch.div(raw, cap, out=z).tanh_().mul_(cap)
        z_t = z.gather(1, tc[:, None]).squeeze(1)
        z_mean = z.mean(1) if eps else None
        m = z.amax(1, keepdim=True)
        denom = z.sub_(m).exp_().sum(1)  # z <- E = exp(z - m) in place; P = E / denom
        lse = m.squeeze(1) + torch.log(denom)
        row_loss = lse - (1.0 - eps) * z_t
        if eps:
            row_loss = row_loss - eps * z_mean
        if zl:
            row_loss = row_loss + zl * lse * lse
        loss.index_copy_(0, r, row_loss)
        if not grads_needed:
            continue

        s = (scale if scale.dim() == 0 else scale.index_select(0, r)).to(work)
        s = s.expand(r.numel())
        coef = (s * (1.0 + 2.0 * zl * lse) if zl else s) / denom  # per-row factor of E
        hot = (1.0 - eps) * s
        if folded:
            # G = diag(coef) E - diag(hot) onehot(t) - (eps/V) s 1^T, never formed.
            if want_h:
                ghc = (z @ wc).mul_(coef[:, None])
                ghc.sub_(hot[:, None] * wc.index_select(0, tc))
                if eps:
                    ghc.sub_((eps / num_classes) * s[:, None] * w_colsum)
                gh.index_copy_(0, r, ghc)
            if want_w:
                gw.addmm_(z.T, hc * coef[:, None])
                gw.index_add_(0, tc, hc * (-hot)[:, None])
                if eps:
                    smooth_h.add_(s @ hc)
            if want_b:
                gb.add_(coef @ z)
                gb.index_add_(0, tc, -hot)
                if eps:
                    smooth_b.add_(s.sum())
        else:
            # soft cap: G_raw = (diag(coef) E - hot onehot - eps/V s) * sech^2(raw / cap)
            z.mul_(coef[:, None])
            if eps:
                z.sub_((eps / num_classes) * s[:, None])
            z.scatter_add_(1, tc[:, None], -hot[:, None])
            z.div_(raw.div_(cap).cosh_().square_())  # cosh overflow gives sech^2 = 0, never NaN
            if want_h:
                gh.index_copy_(0, r, z @ wc)
            if want_w:
                gw.addmm_(z.T, hc)
            if want_b:
                gb.add_(z.sum(0))
    if smooth_h is not None:
        gw.sub_((eps / num_classes) * smooth_h)
    if smooth_b is not None:
        gb.sub_((eps / num_classes) * smooth_b)
    return loss, (gh, gw, gb)

