r"""Candidate samplers for sampled softmax, NCE and negative sampling.

A sampler draws ``num_sampled`` classes from a proposal :math:`Q` over
``0..V-1``, once for the whole batch (TensorFlow's semantics). With
``replacement=True`` the draws are i.i.d. and the expected count of class
:math:`k` is :math:`S\,Q(k)`; with ``replacement=False`` (TensorFlow's
``unique=True``, the default) draws are made one by one until ``S`` distinct
classes have come up, after ``T`` tries, and the expected count is the
probability that :math:`k` came up, :math:`1 - (1 - Q(k))^T`. The losses
subtract the log of these expected counts ("log Q correction").

Proposals:

- :class:`LogUniformSampler`: :math:`Q(k) = \log\frac{k+2}{k+1} / \log(V+1)`
  (Zipfian, for classes sorted by decreasing frequency);
- :class:`UnigramSampler`: :math:`Q(k) \propto \mathrm{count}_k^{\,p}`,
  ``p = 0.75`` as in word2vec;
- :class:`UniformSampler`: :math:`Q(k) = 1/V`.

Every draw comes from the ``generator`` passed to :meth:`Sampler.sample`, so
runs are reproducible. Reference: Jean et al., "On Using Very Large Target
Vocabulary for Neural Machine Translation" (ACL 2015); TensorFlow's
``candidate_sampling_ops``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ._common import check_counts

__all__ = ["Samples", "Sampler", "UniformSampler", "LogUniformSampler", "UnigramSampler"]


class Samples(NamedTuple):
    """One draw of candidates: ``ids`` (S,) int64, ``log_expected_count``
    (S,) float64 for them, and ``num_tries`` (the number of draws made; S
    with replacement)."""

    ids: torch.Tensor
    log_expected_count: torch.Tensor
    num_tries: int


class Sampler:
    """Base class: subclasses define ``log_prob`` (log Q) and ``_draw`` (i.i.d. draws)."""

    def __init__(self, num_classes: int, replacement: bool = False) -> None:
        name = type(self).__name__
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"{name}(): num_classes must be a positive int, got {num_classes!r}")
        self.num_classes = num_classes
        self.replacement = bool(replacement)

    def log_prob(self, ids: torch.Tensor) -> torch.Tensor:
        """log Q(ids) in float64."""
        raise NotImplementedError

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, num_sampled: int, generator: torch.Generator | None = None) -> Samples:
        """Draw ``num_sampled`` candidates (distinct unless ``replacement``)."""
        name = type(self).__name__
        if isinstance(num_sampled, bool) or not isinstance(num_sampled, int) or num_sampled < 1:
            raise ValueError(f"{name}.sample(): num_sampled must be a positive int, got {num_sampled!r}")
        if self.replacement:
            ids = self._draw(num_sampled, generator)
            return Samples(ids, self.log_expected_count(ids, num_sampled), num_sampled)
        if num_sampled > self.num_classes:
            raise ValueError(
                f"{name}.sample(): num_sampled={num_sampled} exceeds the {self.num_classes} classes "
                "when sampling without replacement (pass replacement=True to the sampler)"
            )
        draws = torch.zeros(0, dtype=torch.int64)
        batch = max(2 * num_sampled, 16)
        limit = 32 * num_sampled + 4096  # past it, the stream is too slow to give S distinct classes
        while True:
            draws = torch.cat([draws, self._draw(batch, generator)])
            uniq, inverse = torch.unique(draws, return_inverse=True)
            if uniq.numel() >= num_sampled:
                break
            if draws.numel() >= limit:
                return self._distinct_exact(num_sampled, generator)
            batch = draws.numel()
        # position of each distinct class's first draw; keep the first num_sampled
        first = torch.full((uniq.numel(),), draws.numel(), dtype=torch.int64)
        first.scatter_reduce_(0, inverse, torch.arange(draws.numel()), reduce="amin")
        first = first.sort().values[:num_sampled]
        tries = int(first[-1]) + 1
        ids = draws[first]
        return Samples(ids, self.log_expected_count(ids, tries), tries)

    def _distinct_exact(self, num_sampled: int, generator: torch.Generator | None) -> Samples:
        """The same draw as the rejection loop (the first ``num_sampled``
        distinct classes of an i.i.d. stream from Q, and the stream length
        that took), made directly where the loop would take too long: the
        classes in order of first appearance follow the Plackett-Luce law,
        drawn as the top-S of ``log Q + Gumbel`` (Gumbel-top-k; Kool et al.
        2019), and the wait for each new class is geometric with success
        probability the mass not yet seen."""
        lq = self.log_prob(torch.arange(self.num_classes))
        u = torch.rand(self.num_classes, dtype=torch.float64, generator=generator)
        ids = torch.topk(lq - torch.log(-torch.log(u)), num_sampled).indices
        q_all = torch.exp(lq)
        q = q_all[ids]
        unchosen = q_all.index_fill(0, ids, 0.0).sum()
        # mass not yet seen when the k-th new class is awaited, summed without cancellation
        rest = torch.clamp(unchosen + torch.flip(torch.cumsum(torch.flip(q, (0,)), 0), (0,)), max=1.0)
        v = torch.rand(num_sampled, dtype=torch.float64, generator=generator)
        # geometric waits: 1 + floor(log V / log(1 - rest)) (1 where rest = 1)
        waits = 1.0 + torch.floor(torch.log(v) / torch.log1p(-rest))
        total = float(waits.sum())
        tries: float = total if not math.isfinite(total) or total > 2.0**62 else int(total)
        return Samples(ids, self.log_expected_count(ids, tries), tries)  # type: ignore[arg-type]

    def log_expected_count(self, ids: torch.Tensor, num_tries: int) -> torch.Tensor:
        """log of the expected number of times ``ids`` come up in ``num_tries``
        draws (``S Q`` with replacement, ``1 - (1-Q)^T`` without)."""
        lq = self.log_prob(ids)
        if self.replacement:
            return lq + math.log(num_tries)
        # log(1 - (1 - q)^T) = log(-expm1(T log1p(-q))), accurate for q tiny or near 1
        return torch.log(-torch.expm1(num_tries * torch.log1p(-torch.exp(lq))))

    def _uniform(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.rand(n, dtype=torch.float64, generator=generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_classes={self.num_classes}, replacement={self.replacement})"


class UniformSampler(Sampler):
    """Q(k) = 1/V.

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import UniformSampler
        >>> s = UniformSampler(10).sample(10, generator=torch.Generator().manual_seed(0))
        >>> sorted(s.ids.tolist()) == list(range(10))  # without replacement: each class once
        True
    """

    def log_prob(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.full(ids.shape, -math.log(self.num_classes), dtype=torch.float64, device=ids.device)

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randint(self.num_classes, (n,), generator=generator)


class LogUniformSampler(Sampler):
    r"""Log-uniform (Zipfian) proposal :math:`Q(k) = \log\frac{k+2}{k+1}/\log(V+1)`.

    Drawn as :math:`\lfloor e^{u \log(V+1)} \rfloor - 1`, u uniform in [0, 1).

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import LogUniformSampler
        >>> q = LogUniformSampler(3).log_prob(torch.arange(3)).exp()
        >>> [round(float(x), 6) for x in q], round(float(q.sum()), 12)
        ([0.5, 0.292481, 0.207519], 1.0)
    """

    def log_prob(self, ids: torch.Tensor) -> torch.Tensor:
        k = ids.to(torch.float64)
        return torch.log(torch.log1p(1.0 / (k + 1.0))) - math.log(math.log1p(self.num_classes))

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        u = self._uniform(n, generator)
        k = torch.floor(torch.exp(u * math.log1p(self.num_classes))) - 1.0
        return k.clamp_(0, self.num_classes - 1).to(torch.int64)


class UnigramSampler(Sampler):
    r"""Unigram proposal raised to a power: :math:`Q(k) \propto c_k^{p}`.

    ``counts`` must be positive and finite (one per class).

    Example:
        >>> import torch
        >>> from actlab.torch.large_output import UnigramSampler
        >>> s = UnigramSampler([16.0, 1.0], power=0.5)
        >>> [round(float(x), 6) for x in s.log_prob(torch.tensor([0, 1])).exp()]
        [0.8, 0.2]
    """

    def __init__(self, counts, power: float = 0.75, replacement: bool = False) -> None:
        c = check_counts(counts, "UnigramSampler", "counts")
        if not math.isfinite(power):
            raise ValueError(f"UnigramSampler(): power must be finite, got {power!r}")
        super().__init__(c.numel(), replacement)
        self.power = float(power)
        logw = self.power * torch.log(c)
        self._log_q = logw - torch.logsumexp(logw, 0)
        self._cdf = torch.cumsum(torch.exp(self._log_q), 0)

    def log_prob(self, ids: torch.Tensor) -> torch.Tensor:
        return self._log_q.to(ids.device)[ids]

    def _draw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        u = self._uniform(n, generator) * self._cdf[-1]
        return torch.searchsorted(self._cdf, u, right=True).clamp_(max=self.num_classes - 1)

    def __repr__(self) -> str:
        return (f"UnigramSampler(num_classes={self.num_classes}, power={self.power}, "
                f"replacement={self.replacement})")
