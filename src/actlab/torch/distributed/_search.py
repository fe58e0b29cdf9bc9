r"""The threshold of sparsemax and alpha-entmax over a vocabulary sharded
across ranks, from per-shard statistics.

With :math:`\beta = \alpha - 1`, :math:`m` the row maximum over all shards
and :math:`X = z - m`, the map is :math:`p_i = [1 + \beta(X_i - \sigma)]_+^{1/\beta}`
(:mod:`actlab.simplex.threshold`). Each rank holds some columns of
:math:`X`; every quantity the search needs is a sum over the columns, so one
``all_reduce`` of a few scalars per row serves each step:

1. one MAX of ``(m_r, a_r, nan_r[, z_target])`` per row: the global maximum,
   and a lower bound of the threshold, since the threshold ``a_r`` of a
   shard (found locally, as :func:`actlab.entmax_threshold` does) is at most that
   of the whole row (it only grows as entries are added);
2. sparsemax and 1.5-entmax, in cut units from that bound: each step sums
   ``k = |S|``, ``A = sum e``, ``B = sum e^2`` (and ``sum e^3`` for the
   1.5-entmax loss) over ``S = {X > s}``, ``e = X - s``. The next point is the
   exact cut of ``S`` (:func:`~actlab.simplex.threshold.moment_cut`:
   Michelot's pivot step for sparsemax), or, for 1.5-entmax while the support
   still changes, Newton's step. When a point that was such an exact cut
   has the support of the point before, it is the solution (the two supports
   are nested and of one size, so equal): the finish is exact;
3. other alphas: Newton-bisection on sigma (:func:`~actlab.simplex.threshold.bracketed_newton`)
   from the sums ``(sum p, sum p^(1-beta))``, to a few ulps, then one more
   sum for the normalisation (and the loss's moments).

The Fenchel-Young loss and ``sum w`` (for the maps' backward) follow from
the last step's sums, without another collective.

References: Michelot 1986; Martins & Astudillo 2016; Peters, Niculae &
Martins 2019; Blondel, Martins & Niculae 2020 (Fenchel-Young losses).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from ... import _backend
from ...simplex import sparse_forward, threshold
from ._comm import all_reduce

__all__ = ["Solution", "solve", "values", "LAST_STEPS"]

LAST_STEPS = [0]
"""Search steps of the last :func:`solve`: its SUM collectives, less the final
normalisation of the maps other than sparsemax and 1.5-entmax."""


class Solution(NamedTuple):
    m: torch.Tensor  # (N, 1) row maxima over all shards (0 on rows with a non-finite maximum)
    s: torch.Tensor  # (N, 1) the cut (sparsemax, 1.5-entmax) or sigma (other alphas)
    norm: torch.Tensor  # (N, 1) sum of the unnormalised map (1 for the exact maps)
    sum_w: torch.Tensor  # (N, 1) sum over all shards of w = p^(2 - alpha)
    loss: torch.Tensor | None  # (N,) Fenchel-Young loss of the target (when asked)
    nan_row: torch.Tensor
    ninf_row: torch.Tensor
    X: torch.Tensor  # the shard shifted by m (non-finite rows rewritten)
    xk: torch.Tensor | None  # (N,) the target's entry of X, from every shard
    rider: torch.Tensor | None  # (N, j) the sums over all shards of the caller's extra columns


def _sum(cols: list, group: Any, rider: dict) -> torch.Tensor:
    """One SUM all-reduce of the per-row columns ``cols``; the first call also
    carries the caller's extra columns ``rider["local"]`` (their sums go to
    ``rider["sum"]``), so that they cost no collective of their own."""
    extra = rider.pop("local", None)
    if extra is None:
        return all_reduce(torch.cat(cols, dim=-1), "sum", group)
    st = all_reduce(torch.cat([*cols, extra], dim=-1), "sum", group)
    rider["sum"] = st[..., len(cols):]
    return st[..., : len(cols)]


def _local_bound(x: torch.Tensor, beta: float, n_iter: int) -> torch.Tensor:
    """This shard's threshold in absolute cut units (``p = 0`` below it):
    a lower bound of the whole row's."""
    if x.shape[-1] == 0:
        return x.new_full((*x.shape[:-1], 1), -math.inf)
    _, tau = sparse_forward.forward(x, beta, n_iter, _backend.backend_of(x), with_threshold=True)
    a = tau / beta
    return torch.where(torch.isfinite(a), a, -math.inf)


def _first(x: torch.Tensor, beta: float, n_iter: int, group: Any, zk: torch.Tensor | None):
    """The MAX collective: ``(x rewritten, m, lower bound a, nan_row, ninf_row, z_target)``."""
    m_l = x.amax(dim=-1, keepdim=True) if x.shape[-1] else x.new_full((*x.shape[:-1], 1), -math.inf)
    nan_l = torch.isnan(m_l)  # amax propagates NaN
    xm = x
    if bool(nan_l.any()):
        xm = torch.where(torch.isnan(x), -math.inf, x)
        m_l = xm.amax(dim=-1, keepdim=True)
    cols = [m_l, _local_bound(xm, beta, n_iter), nan_l.to(x.dtype)]
    if zk is not None:
        cols.append(torch.where(torch.isnan(zk), math.inf, zk))
    red = all_reduce(torch.cat(cols, dim=-1), "max", group)
    m, a, nan_row = red[..., 0:1], red[..., 1:2], red[..., 2:3] > 0
    pinf_row, ninf_row = (m == math.inf) & ~nan_row, m == -math.inf
    bad = nan_row | pinf_row | ninf_row
    if bool(bad.any()):  # the single-process rules: +inf entries share the mass, -inf rows give 0, NaN rows NaN
        x = torch.where(pinf_row, torch.where(x == math.inf, 0.0, -math.inf), x)
        x = torch.where(nan_row | ninf_row, 0.0, x)
        m = torch.where(bad, 0.0, m)
        a = torch.where(bad, -math.inf, a)
    return x, m, a, nan_row, ninf_row, (red[..., 3:4] if zk is not None else None)


def _candidates(X: torch.Tensor, a: torch.Tensor, m: torch.Tensor, xp: Any) -> torch.Tensor:
    """The entries of ``X`` that can be in the support: the blocks whose
    maximum clears the lower bound ``a - m`` of the cut (less a margin for
    its rounding), gathered as the single-process search does
    (:func:`~actlab.simplex.threshold.screen`); ``X`` itself for short rows
    or when they are much of the row. Every sum of the search is over the
    support, which they hold, so the search on them finds the same exact
    threshold at a fraction of the passes over the shard."""
    eps = float(torch.finfo(X.dtype).eps)
    low = (a - m) - 16.0 * eps * (1.0 + a.abs() + m.abs())
    C = threshold.screen(X, torch.zeros_like(m), torch.where(torch.isfinite(low), low, -math.inf), xp)
    return X if C is None else C


def solve(x: torch.Tensor, beta: float, n_iter: int, group: Any, num_classes: int | None,
          zk: torch.Tensor | None = None, rider: Any = None) -> Solution:
    """The threshold of the rows of the shard ``x`` (classes last, no grad)
    over ``group``; with ``zk`` (the target's logit where this shard holds
    it, ``-inf`` elsewhere) also the Fenchel-Young loss of each row. ``rider``,
    a function of the shifted shard and the row maxima giving ``(N, j)`` columns, has their sums
    over all shards computed with the first search step."""
    xp = _backend.backend_of(x)
    x, m, a, nan_row, ninf_row, zt = _first(x, beta, n_iter, group, zk)
    X = x - m
    LAST_STEPS[0] = 0
    ride = {} if rider is None else {"local": rider(X, m)}
    C = _candidates(X, a, m, xp)
    if threshold.is_exact(beta):
        s, norm, sum_w, moments = _exact(C, a - m, beta, zk is not None, group, xp, ride)
    else:
        s, norm, sum_w, moments = _general(C, a - m, beta, n_iter, num_classes, zk is not None, group, xp, ride)
    loss = xk = None
    if zt is not None:
        xk = (zt - m).squeeze(-1)
        loss = torch.where(nan_row.squeeze(-1), math.nan, moments.squeeze(-1) - xk)
    return Solution(m, s, norm, sum_w, loss, nan_row, ninf_row, X, xk, ride.get("sum"))


def _exact(X: torch.Tensor, s0: torch.Tensor, beta: float, with_loss: bool, group: Any, xp: Any, ride: dict):
    """Sparsemax and 1.5-entmax: ``(cut, 1, sum w, loss + X_target)``."""
    s = torch.where((s0 < 0) & (s0 > -1.0 / beta), s0, -1.0 / beta)
    n_sums = 2 + (beta == 0.5 or with_loss) + (beta == 0.5 and with_loss)
    prev_k = None
    is_cand = torch.zeros_like(s, dtype=torch.bool)
    done = torch.zeros_like(is_cand)
    for _ in range(threshold.MAX_EXACT_ITER):
        e = X - s
        ez = torch.where(e > 0, e, 0.0)
        cols = [(e > 0).to(X.dtype).sum(-1, keepdim=True), ez.sum(-1, keepdim=True)]
        if n_sums > 2:
            cols.append((ez * ez).sum(-1, keepdim=True))
        if n_sums > 3:
            cols.append((ez * ez * ez).sum(-1, keepdim=True))
        st = _sum(cols, group, ride)
        LAST_STEPS[0] += 1
        k, A = st[..., 0:1], st[..., 1:2]
        B = st[..., 2:3] if n_sums > 2 else A
        cand, s_ref = threshold.moment_cut(k, A, B, s, beta, xp), s
        stable = torch.zeros_like(done) if prev_k is None else k == prev_k
        done = done | (is_cand & stable)
        if bool(done.all()):
            break
        if beta == 1.0:
            nxt, is_cand = cand, torch.ones_like(done)
        else:  # 1.5-entmax: try the exact cut once the support settles, else Newton
            try_cand = stable | (prev_k is None) | (A <= 0)
            newton = threshold.newton_cut_step(s, torch.where(A > 0, A, 1.0), B)
            nxt, is_cand = torch.where(try_cand, cand, newton), try_cand
        s = torch.where(done, s, nxt)
        prev_k = k
    c = cand
    d = c - s_ref  # ~0: the last point is the solution up to rounding
    if beta == 1.0:
        sum_w = k
        moments = c + 0.5 * (B - 2.0 * d * A + k * d * d) + 0.5 if with_loss else None
    else:
        sum_w = 0.5 * (A - k * d)
        if with_loss:
            C = st[..., 3:4]
            cube = C - 3.0 * d * B + 3.0 * d * d * A - k * d * d * d
            moments = c + 4.0 / 3.0 + cube / 12.0
        else:
            moments = None
    return c, torch.ones_like(c), sum_w, moments


def _general(X: torch.Tensor, s0: torch.Tensor, beta: float, n_iter: int, num_classes: int | None,
             with_loss: bool, group: Any, xp: Any, ride: dict):
    """Other alphas: ``(sigma, sum p, sum w, loss + X_target)`` by Newton-bisection."""
    upper = threshold.sigma_upper(num_classes, beta, xp) if num_classes else 1.0 / beta
    lo, hi = torch.zeros_like(s0), torch.full_like(s0, upper)
    s = torch.clip(torch.where(torch.isfinite(s0), s0 + 1.0 / beta, 0.0), 0.0, upper)
    done = torch.zeros_like(s, dtype=torch.bool)
    eps = float(torch.finfo(X.dtype).eps)
    for _ in range(max(n_iter, 1)):
        p, w = threshold.density(X - s, beta, xp)
        st = _sum([p.sum(-1, keepdim=True), w.sum(-1, keepdim=True)], group, ride)
        LAST_STEPS[0] += 1
        new, lo, hi = threshold.bracketed_newton(beta, s, lo, hi, st[..., 0:1], st[..., 1:2], xp)
        conv = (new - s).abs() <= 4 * eps * (1.0 + s.abs())
        s = torch.where(done, s, new)
        done = done | conv
        if bool(done.all()):
            break
    p, w = threshold.density(X - s, beta, xp)
    cols = [p.sum(-1, keepdim=True), w.sum(-1, keepdim=True)]
    if with_loss:
        pos = p > 0
        cols.append(torch.where(pos, p * X, 0.0).sum(-1, keepdim=True))
        cols.append(torch.where(pos, p * p / torch.where(pos, w, 1.0), 0.0).sum(-1, keepdim=True))  # p^alpha
    st = all_reduce(torch.cat(cols, dim=-1), "sum", group)
    F, g = st[..., 0:1], st[..., 1:2]
    Fs = torch.where(F > 0, F, 1.0)
    sum_w = g * Fs ** (beta - 1.0)
    moments = None
    if with_loss:
        alpha = beta + 1.0
        moments = st[..., 2:3] / Fs + (1.0 - st[..., 3:4] / Fs**alpha) / (alpha * beta)
    return s, Fs, sum_w, moments


def values(sol: Solution, beta: float) -> torch.Tensor:
    """This shard's slice of the map."""
    xp = _backend.backend_of(sol.X)
    if threshold.is_exact(beta):
        y = (sol.X - sol.s).clamp_(min=0.0)
        if beta == 0.5:
            y = y.mul_(y).mul_(0.25)
    else:
        y = threshold.density(sol.X - sol.s, beta, xp)[0].div_(sol.norm)
    if bool(sol.ninf_row.any()):
        y = torch.where(sol.ninf_row, 0.0, y)
    if bool(sol.nan_row.any()):
        y = torch.where(sol.nan_row, math.nan, y)
    return y
