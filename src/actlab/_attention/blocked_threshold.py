r"""Sparsemax and entmax attention over key blocks, with the exact threshold.

With :math:`\beta = \alpha - 1` and :math:`x = \beta s`, the weights are
:math:`p_j = [x_j - \tau]_+^{1/\beta}`, :math:`\tau` the one number per row
with :math:`\sum_j p_j = 1` (Martins & Astudillo 2016; Peters et al. 2019).
Every member of the support has :math:`s_j > \max_k s_k + c`, c the cut
(support boundary) of any subset of the row, since the threshold only grows
as entries are added: of the largest score alone (:math:`c = -1/\beta`) or,
tighter, of the maxima of strided groups of 16 keys. One sweep finds the
row maxima and those group maxima (whose cut is solved in memory), a second
gathers the candidates above it, and the threshold is solved exactly on
them in memory by actlab's own search (:mod:`actlab.simplex.threshold`). Only a row with more than
:data:`CANDIDATES` of them (alpha close to 1, flat scores) takes the sweep
method: the threshold is searched over the key blocks, each pass one sweep that
accumulates, over the keys with :math:`x_j > \tau`, their count k,
:math:`\sum (x_j-\tau)`, :math:`\sum (x_j-\tau)^2` and the smallest such
:math:`x_j`. From :math:`\tau_0 = \max_j x_j - 1` (a lower bound):

- sparsemax: Michelot's step :math:`\tau \leftarrow \tau + (\sum(x-\tau) - 1)/k`,
  monotone and finite, stopped when the support it came from is its own
  (then :math:`\tau` is exact, not the result of a fixed number of steps);
- 1.5-entmax: the closed form on the current support, accepted when
  consistent with it, otherwise a Newton step (monotone from the left: the
  sum is convex in :math:`\tau`);
- other alphas: bracketed Newton-bisection to the rounding level, then the
  weights are renormalised.

The accumulation pass then gives the output and, for the backward, with
:math:`u = p^{2-\alpha}`, the row sums :math:`U = \sum_j u_j v_j` and
:math:`\sum_j u_j`, so the backward is one more sweep:
:math:`\partial s_j = u_j (g_j - dO \cdot U / \sum u)`; for a learnable alpha
also :math:`\sum_j p_j \log p_j\, v_j` and :math:`\sum_j p_j \log p_j`. The
search runs in float64.

Example:
    >>> import numpy as np
    >>> from actlab._attention.plan import make_plan
    >>> from actlab._attention import blocked, dense
    >>> rng = np.random.default_rng(1)
    >>> q, k, v = (rng.normal(size=(2, 9, 4)) for _ in range(3))
    >>> p = make_plan(q, k, v, None, 0.0, False, 2.0, False, "entmax15", None, {})
    >>> out, _ = blocked.forward(p, p.q, p.k, p.v, p.arrays(), block=4)
    >>> bool(np.allclose(out, dense.dense(p)[0], rtol=1e-12, atol=1e-12))
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ..simplex.threshold import BLOCK as GROUP
from ..simplex.threshold import _block_maxima, _compact, is_exact, solve
from .tiles import Run, dropped

__all__ = ["forward_rows", "row_grads", "MAX_PASSES", "CANDIDATES"]

MAX_PASSES = 200
"""A guard only: the searches stop when exact (or at the rounding level)."""
CANDIDATES = 1024
"""Candidates per row (summed over the key blocks' widths) up to which the
threshold is solved in memory after one gathering sweep (a float64 matrix
no wider than one key block)."""


def _beta(run: Any) -> Any:
    name = run.plan.norm.name
    if name == "sparsemax":
        return 1.0
    if name == "entmax15":
        return 0.5
    a = run.params["alpha"]
    return a - 1.0 if isinstance(a, float) else run.xp.astype(a, run.xp.float64) - 1.0


def _z(run: Any, qb: Any, i0: int, i1: int, j0: int, j1: int) -> Any:
    """The normaliser's input s of a tile in float64 (-inf where masked)."""
    s = run.tile(qb, i0, i1, j0, j1)[1]
    return run.xp.astype(s, run.xp.float64) if s.dtype != run.xp.float64 else s


def _x(run: Any, qb: Any, i0: int, i1: int, j0: int, j1: int, beta: Any) -> tuple[Any, Any, Any]:
    """``(x, allowed, t)``: x = beta s in float64 (-inf where masked)."""
    xp = run.xp
    t, s, allowed = run.tile(qb, i0, i1, j0, j1)
    s64 = xp.astype(s, xp.float64) if s.dtype != xp.float64 else s
    return (s64 if isinstance(beta, float) and beta == 1.0 else s64 * beta), allowed, t


def _power(d: Any, e: Any, xp: Any) -> Any:
    """``d ** e`` for d >= 0 (0 where d = 0), e a float or an array."""
    if isinstance(e, float) and e == 1.0:
        return d
    if isinstance(e, float) and e == 2.0:
        return d * d
    pos = d > 0
    return xp.where(pos, xp.pow(xp.where(pos, d, 1.0), e), 0.0)


def _scaled(z: Any, beta: Any) -> Any:
    return z if isinstance(beta, float) and beta == 1.0 else z * beta


def _candidates(run: Any, qb: Any, i0: int, i1: int, beta: Any, mz: Any, cut: Any, tmax: list[Any]) -> Any:
    """The scores of each row that may be in the support, ``s_j > max + cut``
    (``cut`` a lower bound of the row's), gathered from one sweep into
    ``(B, rows, C)`` padded with ``-inf``; None when the key blocks' widths
    add up to more than :data:`CANDIDATES`."""
    xp = run.xp
    bound = mz + cut - 2.0**-40 * (xp.abs(mz) + xp.abs(cut))  # below the exact bound, never above
    parts, width = [], 0
    for (j0, j1), mb in zip(run.keys, tmax):
        if not bool(xp.any(mb >= _scaled(bound, beta))):
            continue
        z = _z(run, qb, i0, i1, j0, j1)
        on = z >= bound
        idx = _compact(on, xp)
        width += idx.shape[-1]
        if width > CANDIDATES:
            return None
        ok = idx >= 0
        vals = xp.take_along_axis(z, xp.where(ok, idx, xp.zeros_like(idx)), axis=-1)
        parts.append(xp.where(ok & xp.take_along_axis(on, xp.where(ok, idx, xp.zeros_like(idx)), axis=-1),
                              vals, -math.inf))
    return xp.concat(parts, axis=-1) if parts else None


def _solve_candidates(run: Any, Z: Any, mz: Any, beta: Any) -> Any:
    r"""The exact threshold (x units) from the candidate scores ``Z``: actlab's
    in-memory search (:mod:`actlab.simplex.threshold`), whose cut c (exact maps;
    the support is ``z - max > c``) or sigma gives
    :math:`\tau = \beta(\max + c)` or :math:`\beta(\max + \sigma) - 1`."""
    n_iter = int(run.params.get("n_iter", 100))
    r = solve(Z, mz, None, beta, n_iter, False, run.xp)
    return beta * (mz + r) if is_exact(beta) else beta * (mz + r) - 1.0


def _search(run: Any, qb: Any, i0: int, i1: int, beta: Any) -> tuple[Any, Any]:
    """``(tau, tile_max)``: the exact threshold of each row and the rows'
    maximum in each key block (a block whose maxima are all <= tau holds no
    support, and tau only grows during the search, so it is never read again).

    One sweep for the maxima, one for the candidates, solved in memory; only
    when a row has too many candidates, the sweeps of the module docstring."""
    xp = run.xp
    mz = None
    tmax, groups = [], []
    for j0, j1 in run.keys:
        if run.plan.mask.empty(i0, i1, j0, j1):
            tmax.append(xp.zeros_like(qb[:, :, :1]) - math.inf)
            continue
        z = _z(run, qb, i0, i1, j0, j1)
        mb = xp.max(z, axis=-1, keepdims=True)
        groups.append(_block_maxima(z, xp) if z.shape[-1] > 4 * GROUP else z)
        tmax.append(_scaled(mb, beta))  # rounding is monotone: the maximum of x = beta s
        mz = mb if mz is None else xp.maximum(mz, mb)
    assert mz is not None
    empty = mz == -math.inf
    mz = xp.where(empty, 0.0, mz)
    # the threshold of the strided group maxima is a lower bound of the row's
    # (it only grows as entries are added; Martins & Astudillo 2016 order)
    n_iter = int(run.params.get("n_iter", 100))
    r = solve(xp.where(empty, 0.0, xp.concat(groups, axis=-1)), mz, None, beta, n_iter, False, xp)
    cut = r if is_exact(beta) else r - 1.0 / beta
    cut = xp.maximum(cut, xp.zeros_like(cut) - 1.0 / beta)
    Z = _candidates(run, qb, i0, i1, beta, mz, cut, tmax)
    if Z is not None:
        tau = _solve_candidates(run, xp.where(empty, 0.0, Z), mz, beta)
        return xp.where(empty, math.inf, tau), xp.concat(tmax, axis=-1)
    m = _scaled(mz, beta)
    tau = m - 1.0
    general = not (isinstance(beta, float) and beta in (1.0, 0.5))
    if general:
        n = xp.astype(run.rows(run.n, i0, i1), xp.float64)
        lo, hi = tau, m - xp.pow(xp.clip(n, min=1.0), -beta)
    done = empty
    for _ in range(MAX_PASSES):
        tot: dict[str, Any] = {}
        live = _live(run, tmax, tau)
        for j0, j1 in live:
            x, _, _ = _x(run, qb, i0, i1, j0, j1, beta)
            on = x > tau
            d = xp.where(on, x - tau, 0.0)
            parts = {"k": xp.where(on, 1.0, 0.0), "s1": d}
            if general:
                parts["f"] = _power(d, 1.0 / beta, xp)
                parts["fp"] = _power(d, 1.0 / beta - 1.0, xp) / beta
            else:
                parts["s2"] = d * d
            for key, val in parts.items():
                part = xp.sum(val, axis=-1, keepdims=True)
                tot[key] = part if key not in tot else tot[key] + part
            bmin = xp.min(xp.where(on, x, math.inf), axis=-1, keepdims=True)
            tot["xmin"] = bmin if "xmin" not in tot else xp.minimum(tot["xmin"], bmin)
        k, s1, xmin = tot["k"], tot["s1"], tot["xmin"]
        s2, f, fp = tot.get("s2", 0.0), tot.get("f", 0.0), tot.get("fp", 0.0)
        ks = xp.clip(k, min=1.0)
        if isinstance(beta, float) and beta == 1.0:
            cand = tau + (s1 - 1.0) / ks
            ok = xmin >= cand
        elif not general:
            disc = s1 * s1 - ks * (s2 - 1.0)
            closed = tau + (s1 - xp.sqrt(xp.clip(disc, min=0.0))) / ks
            ok = (disc >= 0.0) & (xmin >= closed)
            newton = tau + (s2 - 1.0) / (2.0 * xp.where(s1 > 0, s1, 1.0))
            cand = xp.where(ok, closed, newton)
        else:
            g = f - 1.0
            lo, hi = xp.where(g > 0, tau, lo), xp.where(g > 0, hi, tau)
            newton = tau + g / xp.where(fp > 0, fp, 1.0)
            inside = (newton > lo) & (newton < hi)
            cand = xp.where(inside, newton, 0.5 * (lo + hi))
            tiny = 4.0 * 2.0**-52 * xp.clip(xp.abs(tau), min=1.0)
            ok = (xp.abs(g) <= 4.0 * 2.0**-52 * ks) | (hi - lo <= tiny)
            cand = xp.where(ok, tau, cand)
        tau = xp.where(done, tau, cand)
        done = done | ok
        if bool(xp.all(done)):
            break
    return xp.where(empty, math.inf, tau), xp.concat(tmax, axis=-1)


def _live(run: Any, tmax: Any, tau: Any) -> list[tuple[int, int]]:
    """The key blocks that may hold support for one of the rows."""
    xp = run.xp
    cols = tmax if isinstance(tmax, list) else [tmax[:, :, j:j + 1] for j in range(len(run.keys))]
    return [kb for kb, mb in zip(run.keys, cols) if bool(xp.any(mb > tau))]


def forward_rows(run: Any, qb: Any, i0: int, i1: int) -> tuple[Any, tuple[Any, ...]]:
    """Output rows ``i0:i1`` and their saved statistics."""
    xp = run.xp
    beta = _beta(run)
    tau, tmax = _search(run, qb, i0, i1, beta)
    wdt = qb.dtype
    learn_alpha = run.plan.norm.name == "entmax" and not isinstance(run.params["alpha"], float)
    acc = U = PL = None
    su = sp = ent = xp.zeros_like(tau)
    zero = xp.zeros_like(qb[:, :, :1] * run.v[:1, :1, :])
    acc = U = PL = zero
    for j0, j1 in _live(run, tmax, tau):
        x, _, _ = _x(run, qb, i0, i1, j0, j1, beta)
        d = xp.where(x > tau, x - tau, 0.0)
        p = _power(d, 1.0 / beta, xp)
        u = _power(d, (1.0 - beta) / beta, xp)
        vb = run.v[:, j0:j1]
        drop = run.drop(i0, i1, j0, j1, p)
        acc = acc + xp.astype(dropped(p, drop), wdt) @ vb
        U = U + xp.astype(dropped(u, drop), wdt) @ vb
        su, sp = su + xp.sum(u, axis=-1, keepdims=True), sp + xp.sum(p, axis=-1, keepdims=True)
        if learn_alpha:
            plogp = xp.where(p > 0, p * xp.log(xp.where(p > 0, p, 1.0)), 0.0)
            ent = ent + xp.sum(plogp, axis=-1, keepdims=True)
            PL = PL + xp.astype(dropped(plogp, drop), wdt) @ vb
    spn = xp.where(sp > 0, sp, 1.0)
    out = acc / xp.astype(spn, wdt)
    return out, (tau, spn, U, su, PL, ent, tmax)


def row_grads(run: Run, i0: int, i1: int, qb: Any, dob: Any, ob: Any, st: tuple[Any, ...],
              acc: dict[str, Any]) -> Iterator[tuple[int, Any, Any, Any]]:
    """The tiles of queries i0:i1 for :func:`actlab._attention.tiles.backward_sweep`,
    then the gradient of a learnable alpha."""
    xp, plan = run.xp, run.plan
    beta = _beta(run)
    tau, spn, U, su, PL, ent, tmax = st
    live = set(_live(run, tmax, tau))
    sus = xp.where(su > 0, su, 1.0)
    qw = xp.astype(xp.sum(dob * U, axis=-1, keepdims=True), xp.float64) / sus
    for jb, (j0, j1) in enumerate(run.keys):
        if (j0, j1) not in live:
            continue
        x, allowed, t = _x(run, qb, i0, i1, j0, j1, beta)
        d = xp.where(x > tau, x - tau, 0.0)
        p = _power(d, 1.0 / beta, xp) / spn
        u = _power(d, (1.0 - beta) / beta, xp)
        drop = run.drop(i0, i1, j0, j1, p)
        g = dropped(xp.astype(dob @ run.v[:, j0:j1].mT, xp.float64), drop)
        ds = xp.astype(u * (g - qw), qb.dtype)
        yield jb, t, ds, xp.astype(dropped(p, drop), qb.dtype)
    if plan.norm.name == "entmax" and run.learns("alpha"):
        D = xp.astype(xp.sum(dob * ob, axis=-1, keepdims=True), xp.float64)
        dpl = xp.astype(xp.sum(dob * PL, axis=-1, keepdims=True), xp.float64) / spn
        row = (D - qw) / (beta * beta) - (dpl - qw * ent / spn) / beta
        acc["alpha"] = acc["alpha"] + xp.astype(xp.sum(row, axis=1, keepdims=True), qb.dtype)
