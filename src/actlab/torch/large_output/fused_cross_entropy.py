# mypy: disable-error-code="union-attr,arg-type,index"
# (the gradient buffers are None exactly when the want_* flags are False, the
# soft-cap buffers exactly when cap is None: branches mypy cannot pair up)
r"""Fused linear cross-entropy: the loss of ``softmax(x W^T + b)`` against class
targets without ever holding the N x V logits.

The arguments follow ``torch.nn.functional.linear_cross_entropy``
(``input``, ``linear_weight``, ``target``, ``linear_bias``, class weights
``weight``, ``reduction``, ``ignore_index``, ``label_smoothing``); actlab's
extras (``z_loss``, ``softcap``, ``memory_budget``) are keyword-only.

Per row i with target :math:`t_i`, class weights :math:`w` (all 1 when not
given, :math:`W = \sum_c w_c`), logits :math:`z = W_{lin} x_i + b` (after the
optional soft cap :math:`z \leftarrow c \tanh(z / c)`, Gemma 2) and
:math:`\mathrm{lse}_i = \log\sum_j e^{z_j}`,

.. math::

    \ell_i = (1-\varepsilon)\,w_{t_i}(\mathrm{lse}_i - z_{t_i})
             + \frac{\varepsilon}{V}\sum_j w_j(\mathrm{lse}_i - z_j)
             + \lambda\,w_{t_i}\,\mathrm{lse}_i^2

(label smoothing :math:`\varepsilon`, PyTorch's formula; z-loss
:math:`\lambda`, PaLM, weighted like the row), with gradient
:math:`\partial\ell_i/\partial z_j = a_i p_j - (1-\varepsilon) w_{t_i}[j = t_i]
- \varepsilon w_j / V`, :math:`a_i = (1-\varepsilon) w_{t_i} + \varepsilon W / V
+ 2\lambda w_{t_i} \mathrm{lse}_i`, :math:`p = \mathrm{softmax}(z)`.
Rows whose target is ``ignore_index`` count for nothing; ``mean`` divides by
:math:`\sum_i w_{t_i}` over the counted rows (their number without class
weights; NaN when there is none, as ``F.cross_entropy``).

How: the rows are processed in chunks of ``c`` rows, ``c`` chosen so that the
``c x V`` logits of one chunk (two such buffers with a soft cap) fit in
``memory_budget`` bytes; by default the larger of 128 MiB and twice the
weight's size (the step holds the weight and its gradient anyway, and larger
chunks make faster matrix products at large V). One buffer is reused from
chunk to chunk, and each chunk's logits become ``exp(z - max)`` in place.
When the loss is reduced (``mean``/``sum``) and a gradient is needed, the
gradients for input, weight and bias are accumulated during the forward pass
and only scaled by the incoming gradient in backward: three matrix products
per chunk, as the plain computation, with the softmax's normalisation, the
per-row factors and the one-hot and smoothing terms folded into ``c x d``
products. With ``reduction="none"``, or when backward runs a second time
(``retain_graph=True``), the backward recomputes the logits chunk by chunk.
float16/bfloat16 inputs are computed and accumulated in float32 (a bfloat16
weight-gradient accumulator diverges, as Liger-Kernel users reported, GitHub #512) and the results
rounded once.

Eagerly, ignored rows are left out before the chunks are formed (a
data-dependent ``nonzero``). Under ``torch.compile`` and on the meta device
every row is processed and the ignored ones are masked, so the graph has
static shapes and no data-dependent branch (``fullgraph=True`` works). Every
buffer is allocated on the input's device.

Reference: Wijmans et al., "Cut Your Losses in Large-Vocabulary Language
Models" (2024); Hsu et al., Liger-Kernel (2024); Chowdhery et al., PaLM
(2022), z-loss; Gemma Team, Gemma 2 (2024), logit soft-capping.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

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
    compact: bool  # leave ignored rows out eagerly (a data-dependent nonzero)


def linear_cross_entropy(
    input: torch.Tensor,
    linear_weight: torch.Tensor,
    target: torch.Tensor,
    *,
    linear_bias: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
    z_loss: float = 0.0,
    softcap: float | None = None,
    memory_budget: int | None = None,
) -> torch.Tensor:
    r"""Cross-entropy of ``input @ linear_weight.T + linear_bias`` against ``target``, in chunks.

    Equals ``F.cross_entropy(F.linear(input, linear_weight, linear_bias),
    target, weight=weight, ignore_index=ignore_index,
    label_smoothing=label_smoothing, reduction=reduction)`` (plus ``z_loss *
    w[t] * lse**2`` per counted row, and with the logits soft-capped first when
    ``softcap`` is given) in value and in the gradients for ``input``,
    ``linear_weight`` and ``linear_bias``, but holds at most
    ``memory_budget`` bytes of logits at a time.

    Args:
        input: (..., d) float tensor.
        linear_weight: (V, d) tensor of the same dtype and device.
        target: (...) integer class indices in ``[0, V)`` or ``ignore_index``
            (probability targets are not supported: they are N x V already;
            use ``cross_entropy`` on the logits).
        linear_bias: optional (V,) tensor.
        weight: optional (V,) class weights (PyTorch's ``weight``).
        reduction: ``"mean"`` (weighted mean over counted rows), ``"sum"`` or ``"none"``.
        ignore_index: target value that is not counted; None means -100.
        label_smoothing: epsilon in [0, 1] (PyTorch's convention).
        options: accepted for ``F.linear_cross_entropy``'s signature; PyTorch's
            chunking options do not change the result, and actlab chooses its
            chunks from ``memory_budget`` instead.
        z_loss: coefficient of the PaLM z-loss ``lse(z)^2``, >= 0.
        softcap: if given (> 0), logits become ``softcap * tanh(z / softcap)``.
        memory_budget: bytes of chunk logits held at once (at least one row);
            ``None``: the larger of 128 MiB and twice the weight's size.

    Returns:
        The loss: a 0-d tensor, or ``target``'s shape with ``reduction="none"``.

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import linear_cross_entropy
        >>> g = torch.Generator().manual_seed(0)
        >>> h, w = torch.randn(6, 4, generator=g), torch.randn(10, 4, generator=g)
        >>> t, cw = torch.tensor([1, 2, 3, -100, 9, 0]), torch.rand(10, generator=g)
        >>> ours = linear_cross_entropy(h, w, t, weight=cw, memory_budget=80)  # 2 rows a chunk
        >>> ref = torch.nn.functional.cross_entropy(h @ w.T, t, weight=cw)
        >>> bool(torch.allclose(ours, ref))
        True
    """
    owner = "linear_cross_entropy"
    check_hidden_weight(input, linear_weight, owner, ("input", "linear_weight"))
    num_classes, d = linear_weight.shape
    check_bias(linear_bias, num_classes, input.dtype, owner, "linear_bias", "input")
    if weight is not None:
        if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (num_classes,) \
                or not weight.is_floating_point():
            raise ValueError(f"{owner}(): weight (class weights) must be a float tensor of shape "
                             f"({num_classes},), got {_describe(weight)}")
    for name, t in (("linear_bias", linear_bias), ("weight", weight), ("target", target)):
        if isinstance(t, torch.Tensor) and t.device != input.device:
            raise ValueError(f"{owner}(): {name} is on {t.device}, input on {input.device}")
    check_reduction(reduction, owner)
    if ignore_index is None:
        ignore_index = -100
    smoothing = check_nonnegative(label_smoothing, "label_smoothing", owner, upper=1.0)
    zl = check_nonnegative(z_loss, "z_loss", owner)
    if softcap is not None:
        softcap = check_nonnegative(softcap, "softcap", owner)
        if softcap == 0.0:
            raise ValueError(f"{owner}(): softcap must be positive (or None), got 0")
    work = work_dtype(input.dtype)
    itemsize = torch.finfo(work).bits // 8
    if memory_budget is None:
        memory_budget = max(DEFAULT_MEMORY_BUDGET, 2 * num_classes * d * itemsize)
    check_positive_int(memory_budget, "memory_budget", owner)
    if isinstance(target, torch.Tensor) and target.is_floating_point() and target.shape == (
            *input.shape[:-1], num_classes):
        raise ValueError(f"{owner}(): probability targets are not supported (they are as large as the logits); "
                         "use actlab.torch.functional.cross_entropy on the logits")
    if transforms_active():
        # torch.func.grad / vmap / jvp: the chunked autograd Function (gradients accumulated during the
        # forward pass, data-dependent chunking) cannot run under a functorch transform; the same loss
        # is formed from the full logits with plain differentiable operations (no memory saving there).
        return _plain_linear_cross_entropy(input, linear_weight, target, linear_bias, weight, reduction,
                                           ignore_index, smoothing, zl, softcap)
    keep = check_targets(target, input.shape[:-1], num_classes, ignore_index, owner, "input")

    per_row = num_classes * itemsize * (2 if softcap is not None else 1)
    compact = not torch.compiler.is_compiling() and not input.is_meta
    opts = _Options(smoothing, zl, softcap, reduction, max(1, memory_budget // per_row), torch.is_grad_enabled(),
                    compact)
    out = _LinearCrossEntropy.apply(input.reshape(-1, d), linear_weight, linear_bias, weight, target.reshape(-1),
                                    keep.reshape(-1), opts)
    return out.reshape(target.shape) if reduction == "none" else out


class LinearCrossEntropyLoss(torch.nn.Module):
    """Module form of :func:`linear_cross_entropy`:
    ``loss(input, linear_weight, target, linear_bias=None)``.

    Unlike ``torch.nn.LinearCrossEntropyLoss`` (which owns its ``Linear``),
    the projection's weight and bias are arguments of the call, so the
    output layer of a language model can be shared with its embedding.
    ``weight`` (class weights) is a buffer.

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
        *,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        z_loss: float = 0.0,
        softcap: float | None = None,
        memory_budget: int | None = None,
    ) -> None:
        super().__init__()
        check_reduction(reduction, "LinearCrossEntropyLoss")
        check_nonnegative(label_smoothing, "label_smoothing", "LinearCrossEntropyLoss", upper=1.0)
        check_nonnegative(z_loss, "z_loss", "LinearCrossEntropyLoss")
        if softcap is not None and check_nonnegative(softcap, "softcap", "LinearCrossEntropyLoss") == 0.0:
            raise ValueError(f"LinearCrossEntropyLoss(): softcap must be positive (or None), got {softcap!r}")
        self.register_buffer("weight", weight)
        self.ignore_index, self.label_smoothing, self.z_loss = ignore_index, label_smoothing, z_loss
        self.softcap, self.reduction, self.memory_budget = softcap, reduction, memory_budget

    def forward(self, input: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor,
                linear_bias: torch.Tensor | None = None) -> torch.Tensor:
        return linear_cross_entropy(
            input, linear_weight, target, linear_bias=linear_bias, weight=self.weight, reduction=self.reduction,
            ignore_index=self.ignore_index, label_smoothing=self.label_smoothing, z_loss=self.z_loss,
            softcap=self.softcap, memory_budget=self.memory_budget,
        )

    def extra_repr(self) -> str:
        return (f"ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}, "
                f"z_loss={self.z_loss}, softcap={self.softcap}, reduction={self.reduction!r}")


def _plain_linear_cross_entropy(h, w, t, b, cw, reduction, ignore_index, eps, zl, cap):
    """The loss of the module docstring from the full logits, in plain torch
    operations (for ``torch.func`` transforms; the values are not checked)."""
    z = h @ w.T
    if b is not None:
        z = z + b
    work = work_dtype(h.dtype)
    z = z.to(work)
    if cap is not None:
        z = cap * torch.tanh(z / cap)
    num_classes = w.shape[0]
    keep = t != ignore_index
    ts = torch.where(keep, t, torch.zeros_like(t))
    cwf = torch.ones(num_classes, dtype=work, device=z.device) if cw is None else cw.to(work)
    rw = torch.where(keep, cwf[ts], 0.0)
    lse = torch.logsumexp(z, -1)
    z_t = z.gather(-1, ts[..., None]).squeeze(-1)
    row = (1.0 - eps) * rw * (lse - z_t)
    if eps:
        row = row + (eps / num_classes) * keep.to(work) * ((lse[..., None] - z) * cwf).sum(-1)
    if zl:
        row = row + zl * rw * lse * lse
    row = torch.where(keep, row, 0.0)
    if reduction == "none":
        return row.to(h.dtype)
    total = row.sum()
    return (total / rw.sum() if reduction == "mean" else total).to(h.dtype)


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return repr(x)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, cw: torch.Tensor | None,
                t: torch.Tensor, keep: torch.Tensor, opts: _Options) -> torch.Tensor:
        work = work_dtype(h.dtype)
        rows = keep.nonzero().squeeze(1) if opts.compact else None
        t = torch.where(keep, t, torch.zeros((), dtype=t.dtype, device=t.device))  # ignored rows read class 0
        row_w = keep.to(work) if cw is None else torch.where(keep, cw.to(work)[t], 0.0)
        total_w = row_w.sum()  # the mean's denominator: counted rows, or their summed class weights
        want = tuple(ctx.needs_input_grad[:3])
        eager = opts.grad_enabled and any(want) and opts.reduction != "none"
        scale = None
        if eager:
            one = torch.ones((), dtype=work, device=h.device)
            # no counted row: loss 0/0 = NaN as F.cross_entropy, gradients 0 (every row's factor is 0)
            scale = torch.where(total_w > 0, one / total_w, one) if opts.reduction == "mean" else one
        loss, grads = _sweep(h, w, b, cw, t, keep, row_w, rows, opts, scale, want if eager else (False,) * 3)
        ctx.opts = opts
        if opts.compact:
            ctx.save_for_backward(h, w, b, cw, t, keep, row_w, total_w, rows)
            ctx.grads = grads if eager else None
        else:  # traced (compile, meta): no Python state changes between backward calls
            ctx.save_for_backward(h, w, b, cw, t, keep, row_w, total_w, *(grads if eager else (None,) * 3))
            ctx.grads = None
        ctx.eager = eager
        if opts.reduction == "none":
            return loss.to(h.dtype)
        total = loss.sum()
        return (total / total_w if opts.reduction == "mean" else total).to(h.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        opts = ctx.opts
        saved = ctx.saved_tensors
        h, w, b, cw, t, keep, row_w, total_w = saved[:8]
        rows = saved[8] if opts.compact else None
        want = tuple(ctx.needs_input_grad[:3])
        work = work_dtype(h.dtype)
        if opts.compact:
            grads, ctx.grads = ctx.grads, None
            if grads is not None:  # computed in forward: scale by the incoming scalar, in place
                grads = tuple(None if g is None else g.mul_(grad.to(g.dtype)) for g in grads)
        else:
            grads = tuple(None if g is None else g * grad.to(g.dtype) for g in saved[8:]) if ctx.eager else None
        if grads is None:  # reduction "none", or a second eager backward: recompute chunk by chunk
            g = grad.to(work)
            if opts.reduction == "none":
                scale = g.reshape(-1)
            elif opts.reduction == "mean":
                scale = torch.where(total_w > 0, g / total_w, g)
            else:
                scale = g
            _, grads = _sweep(h, w, b, cw, t, keep, row_w, rows, opts, scale, want)
        gh, gw, gb = grads
        return (
            None if gh is None else gh.to(h.dtype),
            None if gw is None else gw.to(w.dtype),
            None if gb is None or b is None else gb.to(b.dtype),
            None, None, None, None,
        )


def _sweep(h, w, b, cw, t, keep, row_w, rows, opts: _Options, scale, want):
    """One pass over the rows in chunks (only the counted ``rows`` when given,
    else all, the ignored ones weighing 0): per-row losses (length N, zero on
    ignored rows) and, where ``want``, the gradients for (h, w, b) with row
    ``i``'s gradient multiplied by ``scale`` (a 0-d or a length-N tensor)."""
    n, d = h.shape
    num_classes = w.shape[0]
    work = work_dtype(h.dtype)
    dev = h.device
    wc = w.to(work)
    bc = None if b is None else b.to(work)
    cwc = None if cw is None else cw.to(work)
    eps, zl, cap = opts.smoothing, opts.z_loss, opts.softcap
    want_h, want_w, want_b = want[0], want[1], want[2] and b is not None
    grads_needed = want_h or want_w or want_b
    gh = torch.zeros((n, d), dtype=work, device=dev) if want_h else None
    gw = torch.zeros((num_classes, d), dtype=work, device=dev) if want_w else None
    gb = torch.zeros(num_classes, dtype=work, device=dev) if want_b else None
    loss = torch.zeros(n, dtype=work, device=dev)
    folded = cap is None  # without a soft cap the one-hot and smoothing terms fold into c x d products
    w_colsum = None  # sum_j cw_j W_j (the smoothing term of the input gradient)
    if grads_needed and folded and eps and want_h:
        w_colsum = wc.sum(0) if cwc is None else cwc @ wc
    smooth_h = torch.zeros(d, dtype=work, device=dev) if want_w and folded and eps else None
    smooth_b = torch.zeros((), dtype=work, device=dev) if want_b and folded and eps else None
    sum_cw = float(num_classes) if cwc is None else cwc.sum()

    # one logits buffer (two with a soft cap) for every chunk: reusing it spares
    # the allocator and the kernel from mapping and zeroing fresh pages per chunk
    count = n if rows is None else rows.numel()
    rows_per_chunk = min(opts.chunk_rows, max(count, 1))
    buf = torch.empty((rows_per_chunk, num_classes), dtype=work, device=dev)
    buf_raw = torch.empty_like(buf) if cap is not None else None
    for sel in row_chunks(n, rows, rows_per_chunk):
        hc = take_rows(h, sel).to(work)
        tc = take_rows(t, sel)
        rw = take_rows(row_w, sel)  # w[t_i] on counted rows (1 without class weights), 0 on ignored ones
        m_rows = hc.shape[0]
        z = buf[:m_rows]
        raw = buf_raw[:m_rows] if cap is not None else None
        target = raw if raw is not None else z
        if bc is not None:
            torch.addmm(bc, hc, wc.T, out=target)
        else:
            torch.mm(hc, wc.T, out=target)
        if raw is not None:
            torch.div(raw, cap, out=z).tanh_().mul_(cap)
        z_t = z.gather(1, tc[:, None]).squeeze(1)
        kc = take_rows(keep, sel)
        kept = rw if cwc is None else kc.to(work)  # 1 on counted rows
        z_smooth = (z.sum(1) if cwc is None else z @ cwc) if eps else None
        m = z.amax(1, keepdim=True)
        denom = z.sub_(m).exp_().sum(1)  # z <- E = exp(z - m) in place; P = E / denom
        lse = m.squeeze(1) + torch.log(denom)
        # a_i lse_i - (1 - eps) w_t z_t - eps/V sum_j w_j z_j + zl w_t lse^2
        a = (1.0 - eps) * rw + (eps / num_classes) * sum_cw * kept if eps else rw
        row_loss = a * lse - (1.0 - eps) * rw * z_t
        if eps:
            row_loss = row_loss - (eps / num_classes) * kept * z_smooth
        if zl:
            row_loss = row_loss + zl * rw * lse * lse
        row_loss = torch.where(kc, row_loss, 0.0)  # an ignored row is 0, even if its logits are not finite
        put_rows(loss, sel, row_loss)
        if not grads_needed:
            continue

        s = (scale if scale.dim() == 0 else take_rows(scale, sel)).to(work)
        s = s.expand(m_rows)
        coef = s * (a + 2.0 * zl * rw * lse if zl else a) / denom  # per-row factor of E
        hot = (1.0 - eps) * rw * s
        sm = (eps / num_classes) * kept * s  # per-row factor of the smoothing term w_j
        if folded:
            # G = diag(coef) E - diag(hot) onehot(t) - sm w^T, never formed.
            if want_h:
                ghc = (z @ wc).mul_(coef[:, None])
                ghc.sub_(hot[:, None] * wc.index_select(0, tc))
                if eps:
                    ghc.sub_(sm[:, None] * w_colsum)
                put_rows(gh, sel, ghc)
            if want_w:
                gw.addmm_(z.T, hc * coef[:, None])
                gw.index_add_(0, tc, hc * (-hot)[:, None])
                if eps:
                    smooth_h.add_(sm @ hc)
            if want_b:
                gb.add_(coef @ z)
                gb.index_add_(0, tc, -hot)
                if eps:
                    smooth_b.add_(sm.sum())
        else:
            # soft cap: G_raw = (diag(coef) E - hot onehot - sm w^T) * sech^2(raw / cap)
            z.mul_(coef[:, None])
            if eps:
                z.sub_(sm[:, None] if cwc is None else sm[:, None] * cwc)
            z.scatter_add_(1, tc[:, None], -hot[:, None])
            z.div_(raw.div_(cap).cosh_().square_())  # cosh overflow gives sech^2 = 0, never NaN
            if want_h:
                put_rows(gh, sel, z @ wc)
            if want_w:
                gw.addmm_(z.T, hc)
            if want_b:
                gb.add_(z.sum(0))
    if smooth_h is not None:
        gw.sub_(smooth_h if cwc is None else cwc[:, None] * smooth_h)
    if smooth_b is not None:
        gb.sub_(smooth_b if cwc is None else cwc * smooth_b)
    return loss, (gh, gw, gb)
