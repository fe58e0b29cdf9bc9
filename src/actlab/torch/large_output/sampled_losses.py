r"""Sampled softmax, noise-contrastive estimation and negative sampling
(Jean et al. 2015; Gutmann & Hyvarinen 2010; Mikolov et al. 2013): losses that score the true class and ``S`` candidates drawn
once for the whole batch, O(S) per row instead of O(V).

With logits :math:`z_k = \langle h, w_k\rangle + b_k`, candidates
:math:`s_1..s_S` from a :class:`~actlab.torch.large_output.sampling.Sampler` and
:math:`\log E_k` the log expected count of class k among the draws
(:math:`\log(S\,Q(k))` with replacement):

- sampled softmax [Jean et al. 2015]: :math:`\tilde z_k = z_k - \log E_k`
  (``subtract_log_q``) for the true class and the candidates; a candidate
  equal to the row's target is dropped (``remove_accidental_hits``);
  :math:`\ell = -\tilde z_t + \log(e^{\tilde z_t} + \sum_j e^{\tilde z_{s_j}})`.
- NCE [Gutmann & Hyvarinen 2010; Mnih & Teh 2012]:
  :math:`\ell = -\log\sigma(z_t - \log Z - \log E_t)
  - \sum_j \log\sigma(-(z_{s_j} - \log Z - \log E_{s_j}))`, the partition
  function :math:`Z` a constant or a learned scalar (``log_z``).
- negative sampling [Mikolov et al. 2013]: the same without the
  :math:`\log Z` and :math:`\log E` terms.

Only the rows of ``weight`` (and entries of ``bias``) of the targets and the
candidates receive gradient. TensorFlow's ``sampled_softmax_loss`` and
``nce_loss`` are the models for the semantics. The log-sigmoids are
``torch.nn.functional.logsigmoid`` (stable, one kernel over the N x S
candidates), which the tests check against the formulas computed by hand.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .._torch_conventions import check_choice, check_count, check_number
from ._common import check_bias, check_hidden_weight, check_reduction, check_targets, reduce_rows
from .sampling import LogUniformSampler, Sampler, Samples

__all__ = [
    "sampled_softmax_loss", "nce_loss", "negative_sampling_loss",
    "SampledSoftmaxLoss", "NCELoss", "NegativeSamplingLoss",
]


def sampled_softmax_loss(hidden, weight, target, num_sampled, bias=None, sampler=None,
                         remove_accidental_hits=True, subtract_log_q=True, generator=None, *,
                         reduction="mean", ignore_index=-100, samples: Samples | None = None):
    """Sampled softmax cross-entropy (see the module docstring).

    Args:
        hidden: (..., d); weight: (V, d); target: (...) integer classes.
        num_sampled: number of candidates S drawn for the whole batch.
        bias: optional (V,).
        sampler: a :class:`Sampler` over V classes (default: log-uniform,
            without replacement).
        remove_accidental_hits: drop candidates equal to a row's target.
        subtract_log_q: subtract the log expected counts from the logits.
        generator: ``torch.Generator`` for the draw.
        reduction, ignore_index: PyTorch's loss conventions.
        samples: candidates already drawn (``sampler.sample(S, generator)``),
            used instead of a new draw.

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import sampled_softmax_loss, UniformSampler
        >>> g = torch.Generator().manual_seed(0)
        >>> h, w, t = torch.randn(4, 3, generator=g), torch.randn(6, 3, generator=g), torch.tensor([0, 5, 2, 2])
        >>> full = torch.nn.functional.cross_entropy(h @ w.T, t)
        >>> ours = sampled_softmax_loss(h, w, t, 6, sampler=UniformSampler(6), generator=g)  # every class once
        >>> bool(torch.allclose(ours, full))
        True

    Returns:
        The loss: a 0-d tensor for ``reduction="mean"`` or ``"sum"``, one value per row of the hidden
        for ``"none"``.
    """
    true, parts, keep = _candidate_logits("sampled_softmax_loss", hidden, weight, target, num_sampled, bias,
                                          sampler, remove_accidental_hits, subtract_log_q, generator, reduction,
                                          ignore_index, samples, 0.0, negate=None)
    nll = _CandidateSoftmax.apply(true, *parts)
    return _finish(nll, hidden, target, keep, reduction)


def nce_loss(hidden, weight, target, num_sampled, bias=None, sampler=None, remove_accidental_hits=False,
             subtract_log_q=True, generator=None, *, log_z=0.0, reduction="mean", ignore_index=-100,
             samples: Samples | None = None):
    """Noise-contrastive estimation loss (see the module docstring).

    Arguments as :func:`sampled_softmax_loss`, plus ``log_z``: the log
    partition function, a number or a 0-d tensor (learnable). As in
    TensorFlow's ``nce_loss``, accidental hits are kept by default.

    Example:
        >>> import math, torch
        >>> from actlab.torch.large_output import nce_loss, UniformSampler, Samples
        >>> h, w = torch.zeros(1, 2), torch.zeros(4, 2)  # every logit 0
        >>> s = Samples(torch.tensor([1, 2]), torch.full((2,), math.log(0.5)), 2)  # E = S Q = 2/4
        >>> loss = nce_loss(h, w, torch.tensor([0]), 2, sampler=UniformSampler(4, replacement=True), samples=s)
        >>> # logits become log 2: -log sigma(log 2) - 2 log sigma(-log 2) = log(3/2) + 2 log 3
        >>> bool(torch.isclose(loss, torch.tensor(math.log(1.5) + 2 * math.log(3))))
        True

    Returns:
        The loss: a 0-d tensor for ``reduction="mean"`` or ``"sum"``, one value per row of the hidden
        for ``"none"``.
    """
    owner = "nce_loss"
    if not (isinstance(log_z, (int, float)) and not isinstance(log_z, bool)
            or isinstance(log_z, torch.Tensor) and log_z.dim() == 0):
        raise ValueError(f"{owner}(): log_z must be a number or a 0-d tensor, got {log_z!r}")
    true, neg_cand, keep = _candidate_logits(owner, hidden, weight, target, num_sampled, bias, sampler,
                                             remove_accidental_hits, subtract_log_q, generator, reduction,
                                             ignore_index, samples, log_z, negate=True)
    nll = -F.logsigmoid(true) - F.logsigmoid(neg_cand).sum(dim=1)
    return _finish(nll, hidden, target, keep, reduction)


def negative_sampling_loss(hidden, weight, target, num_sampled, bias=None, sampler=None,
                           remove_accidental_hits=False, generator=None, *, reduction="mean",
                           ignore_index=-100, samples: Samples | None = None):
    r"""Negative sampling (word2vec): :math:`-\log\sigma(z_t) - \sum_j \log\sigma(-z_{s_j})`.

    Arguments as :func:`nce_loss` without the log Q and log Z terms.

    Returns:
        The loss: a 0-d tensor for ``reduction="mean"`` or ``"sum"``, one value per row of the hidden
        for ``"none"``.
    """
    true, neg_cand, keep = _candidate_logits("negative_sampling_loss", hidden, weight, target, num_sampled,
                                             bias, sampler, remove_accidental_hits, False, generator,
                                             reduction, ignore_index, samples, 0.0, negate=True)
    nll = -F.logsigmoid(true) - F.logsigmoid(neg_cand).sum(dim=1)
    return _finish(nll, hidden, target, keep, reduction)


def _candidate_logits(owner, hidden, weight, target, num_sampled, bias, sampler, remove_accidental_hits,
                      subtract_log_q, generator, reduction, ignore_index, samples, offset, negate):
    """(true logits (N,), candidate logits (N, S), mask of counted rows).

    Every logit has ``offset`` (log Z) and, with ``subtract_log_q``, its log
    expected count subtracted; with ``negate`` the candidate logits come
    negated (for log sigma(-x)), accidental hits set to +inf, else to -inf:
    either way they add nothing to the loss and get no gradient. With
    ``negate=None`` (sampled softmax) the second item is what
    :class:`_CandidateSoftmax` needs to make the candidate logits itself. The
    corrections ride in the bias of one ``addmm``; one gather of the weight
    rows (targets and candidates) means one dense gradient buffer. Half
    precision is computed in float32.
    """
    check_hidden_weight(hidden, weight, owner)
    num_classes, d = weight.shape
    check_bias(bias, num_classes, hidden.dtype, owner)
    check_reduction(reduction, owner)
    if isinstance(num_sampled, bool) or not isinstance(num_sampled, int) or num_sampled < 1:
        raise ValueError(f"{owner}(): num_sampled must be a positive int, got {num_sampled!r}")
    if sampler is None:
        sampler = LogUniformSampler(num_classes)
    if not isinstance(sampler, Sampler) or sampler.num_classes != num_classes:
        raise ValueError(f"{owner}(): sampler must be a Sampler over {num_classes} classes, got {sampler!r}")
    if not sampler.replacement and num_sampled > num_classes:
        raise ValueError(
            f"{owner}(): num_sampled={num_sampled} exceeds the {num_classes} classes when sampling "
            "without replacement (use a sampler with replacement=True)"
        )
    keep = check_targets(target, hidden.shape[:-1], num_classes, ignore_index, owner).reshape(-1)
    if samples is None:
        samples = sampler.sample(num_sampled, generator)
    elif not isinstance(samples, Samples) or samples.ids.shape != (num_sampled,):
        raise ValueError(f"{owner}(): samples must be a Samples of {num_sampled} candidates, got {samples!r}")
    device = hidden.device
    work = torch.float32 if hidden.dtype in (torch.float16, torch.bfloat16) else hidden.dtype
    h = hidden.reshape(-1, d).to(work)
    n = h.shape[0]
    t = torch.where(keep, target.reshape(-1), torch.zeros((), dtype=target.dtype, device=device)).to(torch.int64)
    ids = samples.ids.to(device)
    rows = weight[torch.cat([t, ids])].to(work)
    w_true, w_cand = rows.split([n, num_sampled])
    shift_true = torch.zeros(n, dtype=work, device=device) - offset
    shift_cand = torch.zeros(num_sampled, dtype=work, device=device) - offset
    if bias is not None:
        b_true, b_cand = bias[torch.cat([t, ids])].to(work).split([n, num_sampled])
        shift_true, shift_cand = shift_true + b_true, shift_cand + b_cand
    if subtract_log_q:
        shift_true = shift_true - sampler.log_expected_count(t, samples.num_tries).to(device=device, dtype=work)
        shift_cand = shift_cand - samples.log_expected_count.to(device=device, dtype=work)
    true = torch.linalg.vecdot(h, w_true) + shift_true
    if negate is None:  # sampled softmax: the candidate logits are made inside _CandidateSoftmax
        hits = _hits(t, ids) if remove_accidental_hits else (t[:0], t[:0])
        return true, (h, w_cand, shift_cand, *hits), keep
    if negate:
        cand = torch.addmm(-shift_cand, h, w_cand.T, alpha=-1.0)
    else:
        cand = torch.addmm(shift_cand, h, w_cand.T)
    if remove_accidental_hits:
        hit_rows, hit_cols = _hits(t, ids)
        cand = cand.index_put_((hit_rows, hit_cols), torch.tensor(float("inf") if negate else float("-inf"),
                                                                  dtype=work, device=device))
    return true, cand, keep


class _CandidateSoftmax(torch.autograd.Function):
    """``log(e^{true_i} + sum_j e^{c_ij}) - true_i`` with ``c = h w_cand^T + shift``
    (accidental hits at -inf), the N x S candidate logits made, exponentiated
    and used by the backward in one buffer: the backward's per-row factors
    ride on the N x d and S x d products, so it makes no N x S pass."""

    @staticmethod
    def forward(ctx, true, h, w_cand, shift, hit_rows, hit_cols):
        e = torch.addmm(shift, h, w_cand.T)
        if hit_rows.numel():
            e.index_put_((hit_rows, hit_cols), torch.tensor(float("-inf"), dtype=e.dtype, device=e.device))
        m = torch.maximum(e.amax(1), true)
        e.sub_(m[:, None]).exp_()
        e_true = torch.exp(true - m)
        denom = e.sum(1) + e_true
        ctx.save_for_backward(h, w_cand, e, denom, e_true)
        return torch.log(denom) + m - true

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        h, w_cand, e, denom, e_true = ctx.saved_tensors
        coef = grad / denom  # d nll_i / d c_ij = e_ij / denom_i
        need = ctx.needs_input_grad
        g_true = grad * (e_true / denom - 1.0) if need[0] else None
        g_h = (e @ w_cand).mul_(coef[:, None]) if need[1] else None
        g_w = e.T @ (h * coef[:, None]) if need[2] else None
        g_shift = coef @ e if need[3] else None
        return g_true, g_h, g_w, g_shift, None, None


def _hits(t: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, column) of every candidate equal to its row's target, found by
    binary search in the sorted candidates (no N x S comparison)."""
    if t.is_meta:
        raise NotImplementedError(
            "remove_accidental_hits=True: the number of hits depends on the target values, which tensors on "
            "the meta device do not have (pass remove_accidental_hits=False)"
        )
    order = torch.argsort(ids, stable=True)
    sorted_ids = ids[order]
    lo = torch.searchsorted(sorted_ids, t)
    hi = torch.searchsorted(sorted_ids, t, right=True)
    count = hi - lo
    rows = torch.repeat_interleave(torch.arange(t.numel(), device=t.device), count)
    first = torch.repeat_interleave(lo, count)
    step = torch.arange(rows.numel(), device=t.device) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
    return rows, order[first + step]


def _finish(nll: torch.Tensor, hidden: torch.Tensor, target: torch.Tensor, keep: torch.Tensor,
            reduction: str) -> torch.Tensor:
    out = reduce_rows(nll, keep, reduction)
    out = out.reshape(target.shape) if reduction == "none" else out
    return out.to(hidden.dtype)


class _SampledLoss(torch.nn.Module):
    def __init__(self, num_sampled: int, sampler: Sampler | None = None, remove_accidental_hits: bool = True,
                 generator: torch.Generator | None = None, reduction: str = "mean",
                 ignore_index: int = -100) -> None:
        super().__init__()
        owner = type(self).__name__
        self.num_sampled = check_count(owner, "num_sampled", num_sampled)
        self.sampler, self.generator = sampler, generator
        self.reduction = check_choice(owner, "reduction", reduction, ("mean", "sum", "none"))
        self.remove_accidental_hits = remove_accidental_hits
        self.ignore_index = check_count(owner, "ignore_index", ignore_index, minimum=-(2 ** 63))

    def extra_repr(self) -> str:
        return f"num_sampled={self.num_sampled}, sampler={self.sampler!r}, reduction={self.reduction!r}"


class SampledSoftmaxLoss(_SampledLoss):
    """Module form of :func:`sampled_softmax_loss`: ``loss(hidden, weight, target, bias=None)``."""

    def __init__(self, num_sampled: int, sampler: Sampler | None = None, remove_accidental_hits: bool = True,
                 subtract_log_q: bool = True, generator: torch.Generator | None = None,
                 reduction: str = "mean", ignore_index: int = -100) -> None:
        super().__init__(num_sampled, sampler, remove_accidental_hits, generator, reduction, ignore_index)
        self.subtract_log_q = subtract_log_q

    def forward(self, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        return sampled_softmax_loss(hidden, weight, target, self.num_sampled, bias, self.sampler,
                                    self.remove_accidental_hits, self.subtract_log_q, self.generator,
                                    reduction=self.reduction, ignore_index=self.ignore_index)


class NCELoss(_SampledLoss):
    """Module form of :func:`nce_loss`; ``learn_log_z=True`` makes the log
    partition function a learned parameter ``log_z`` (initial value ``log_z``)."""

    def __init__(self, num_sampled: int, sampler: Sampler | None = None, remove_accidental_hits: bool = False,
                 subtract_log_q: bool = True, generator: torch.Generator | None = None, log_z: float = 0.0,
                 learn_log_z: bool = False, reduction: str = "mean", ignore_index: int = -100) -> None:
        super().__init__(num_sampled, sampler, remove_accidental_hits, generator, reduction, ignore_index)
        self.subtract_log_q = subtract_log_q
        check_number("NCELoss", "log_z", log_z)
        self.log_z: Any = torch.nn.Parameter(torch.tensor(float(log_z))) if learn_log_z else float(log_z)

    def forward(self, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        return nce_loss(hidden, weight, target, self.num_sampled, bias, self.sampler,
                        self.remove_accidental_hits, self.subtract_log_q, self.generator, log_z=self.log_z,
                        reduction=self.reduction, ignore_index=self.ignore_index)


class NegativeSamplingLoss(_SampledLoss):
    """Module form of :func:`negative_sampling_loss`."""

    def __init__(self, num_sampled: int, sampler: Sampler | None = None, remove_accidental_hits: bool = False,
                 generator: torch.Generator | None = None, reduction: str = "mean",
                 ignore_index: int = -100) -> None:
        super().__init__(num_sampled, sampler, remove_accidental_hits, generator, reduction, ignore_index)

    def forward(self, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        return negative_sampling_loss(hidden, weight, target, self.num_sampled, bias, self.sampler,
                                      self.remove_accidental_hits, self.generator,
                                      reduction=self.reduction, ignore_index=self.ignore_index)
