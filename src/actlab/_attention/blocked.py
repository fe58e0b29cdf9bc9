r"""The blocked path of attention: tiles of queries x keys, never the L x S scores.

For each block of queries the keys are visited a block at a time:

- softmax (with a sink :math:`c`): the running maximum :math:`m` and sum
  :math:`Z = \sum_j e^{s_j - m}` (+ :math:`e^{c-m}`), the output rescaled as
  :math:`m` grows (Milakov & Gimelshein 2018; Dao et al. 2022). The backward
  recomputes each tile from :math:`(m, Z)`: :math:`\partial s_j = p_j (g_j - D)`,
  :math:`g_j = dO \cdot v_j`, :math:`D = dO \cdot O`; the sink's gradient is
  :math:`-\sum_\text{rows} (e^{c-m}/Z)\, D`.
- softpick: the same with :math:`m \ge 0` and :math:`e^{s}-1` formed exactly,
  :math:`\partial s_j = (e^{s_j}/Z)([s_j > 0] g_j - \operatorname{sign}(s_j) D)`.
- sigmoid, relu, relu2: no row statistic but the key count n.
- stick-breaking: key blocks from the last to the first carry
  :math:`\sum_{k \text{ after}} \log(1-\sigma(s_k))` (saved per tile); the backward,
  first to last, carries :math:`\sum_{j<i} g_j p_j`:
  :math:`\partial s_i = g_i p_i \sigma(-s_i) - \sigma(s_i) \sum_{j<i} g_j p_j`.
- sparsemax and entmax: :mod:`actlab._attention.blocked_threshold`.

Memory: a few tiles of ``block_q x block_k`` plus O(L) row statistics. The
tiles, their state and the backward sweep shared with the threshold maps are
:mod:`actlab._attention.tiles`; here is what each normaliser computes on a
tile. All of it is array-API code; a framework registers :func:`backward` as the
backward of :func:`forward` (torch: :mod:`actlab.backends.torch.attention_autograd`).

Example:
    >>> import numpy as np
    >>> from actlab._attention.plan import make_plan
    >>> from actlab._attention import blocked, dense
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = (rng.normal(size=(1, 7, 4)) for _ in range(3))
    >>> p = make_plan(q, k, v, None, 0.0, True, None, False, "softmax", 0.0, {})
    >>> out, _ = blocked.forward(p, p.q, p.k, p.v, p.arrays(), block=3)
    >>> bool(np.allclose(out, dense.dense(p)[0]))
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ..elementwise import log_sigmoid, sigmoid
from . import blocked_threshold
from .normalizers import softpick_terms
from .plan import Plan
from .tiles import BLOCK, BLOCK_Q, Run, backward_sweep, dropped, masked

__all__ = ["forward", "backward", "BLOCK", "BLOCK_Q"]


# -- forward ------------------------------------------------------------------

def _softmax_rows(run: Run, qb: Any, i0: int, i1: int) -> tuple[Any, tuple[Any, ...]]:
    xp, name = run.xp, run.plan.norm.kind
    m = xp.zeros_like(qb[:, :, :1]) + (0.0 if name == "softpick" else -math.inf)
    z = xp.zeros_like(m)
    acc = xp.zeros_like(qb[:, :, :1] * run.v[:1, :1, :])
    for j0, j1 in run.live(i0, i1):
        _, s, allowed = run.tile(qb, i0, i1, j0, j1)
        m_new = xp.maximum(m, xp.max(s, axis=-1, keepdims=True))
        ms = xp.where(m_new == -math.inf, 0.0, m_new)
        r = xp.exp(m - ms)
        if name == "softpick":
            d, _ = softpick_terms(masked(s, allowed, xp), ms, xp)
            d = masked(d, allowed, xp)
            z = z * r + xp.sum(xp.abs(d), axis=-1, keepdims=True)
            p = xp.clip(d, min=0.0)
        else:
            p = xp.exp(s - ms)
            z = z * r + xp.sum(p, axis=-1, keepdims=True)
        acc = acc * r + dropped(p, run.drop(i0, i1, j0, j1, p)) @ run.v[:, j0:j1]
        m = m_new
    if name == "softpick":
        z = z + run.params["eps"] * xp.exp(-m)
    elif run.params.get("sink") is not None:
        c = run.params["sink"]
        mf = xp.clip(m, min=c)
        r = xp.exp(m - mf)
        z, acc, m = z * r + xp.exp(c - mf), acc * r, mf
    m = xp.where(m == -math.inf, 0.0, m)
    out = acc / xp.where(z > 0, z, 1.0)
    return out, (m, z)


def _simple_weights(run: Run, s: Any, allowed: Any, i0: int, i1: int) -> tuple[Any, Any]:
    """``(w, dw/ds)`` of sigmoid, relu, relu2."""
    xp, name = run.xp, run.plan.norm.name
    s = masked(s, allowed, xp)
    nn = xp.clip(run.rows(run.n, i0, i1), min=1.0)
    if name == "sigmoid":
        b = run.params.get("bias")
        b = -xp.log(nn) if b is None else b
        w = masked(sigmoid(s + b), allowed, xp)
        return w, w * sigmoid(-(s + b))
    pos = s > 0.0
    r = xp.where(pos, s, 0.0)
    if name == "relu":
        return r / nn, masked(xp.where(pos, 1.0, 0.0), allowed, xp) / nn
    return r * r / nn, 2.0 * r / nn


def _simple_rows(run: Run, qb: Any, i0: int, i1: int) -> tuple[Any, tuple[Any, ...]]:
    acc = run.xp.zeros_like(qb[:, :, :1] * run.v[:1, :1, :])
    for j0, j1 in run.live(i0, i1):
        _, s, allowed = run.tile(qb, i0, i1, j0, j1)
        w = _simple_weights(run, s, allowed, i0, i1)[0]
        acc = acc + dropped(w, run.drop(i0, i1, j0, j1, w)) @ run.v[:, j0:j1]
    return acc, ()


def _suffix(x: Any, xp: Any, exclusive: bool, reverse: bool) -> Any:
    """Cumulative sums along the last axis: from the end when ``reverse``,
    without the entry itself when ``exclusive``."""
    k = x.shape[-1]
    if reverse:
        idx = xp.arange(k - 1, -1, -1, device=getattr(x, "device", None))
        c = xp.take(xp.cumulative_sum(xp.take(x, idx, axis=-1), axis=-1), idx, axis=-1)
        return xp.concat([c[..., 1:], xp.zeros_like(c[..., :1])], axis=-1) if exclusive else c
    c = xp.cumulative_sum(x, axis=-1)
    return xp.concat([xp.zeros_like(c[..., :1]), c[..., :-1]], axis=-1) if exclusive else c


def _stick_rows(run: Run, qb: Any, i0: int, i1: int) -> tuple[Any, tuple[Any, ...]]:
    xp = run.xp
    acc = xp.zeros_like(qb[:, :, :1] * run.v[:1, :1, :])
    carry = xp.zeros_like(qb[:, :, :1])
    carries = []
    for j0, j1 in reversed(run.keys):
        carries.append(carry)
        if run.plan.mask.empty(i0, i1, j0, j1):
            continue
        _, s, allowed = run.tile(qb, i0, i1, j0, j1)
        safe = masked(s, allowed, xp)
        keep = masked(log_sigmoid(-safe), allowed, xp)
        logw = log_sigmoid(safe) + _suffix(keep, xp, True, True) + carry
        w = masked(xp.exp(logw), allowed, xp)
        acc = acc + dropped(w, run.drop(i0, i1, j0, j1, w)) @ run.v[:, j0:j1]
        carry = carry + xp.sum(keep, axis=-1, keepdims=True)
    return acc, (xp.concat(carries[::-1], axis=-1),)


_FORWARD = {"softmax": _softmax_rows, "softpick": _softmax_rows, "simple": _simple_rows, "stick": _stick_rows,
            "threshold": blocked_threshold.forward_rows}


def forward(plan: Plan, q: Any, k: Any, v: Any, arrays: tuple[Any, ...], block: int | None = None
            ) -> tuple[Any, tuple[Any, ...]]:
    """``(out, saved)``: the attention output ``(B, L, Ev)`` and the row
    statistics the backward needs, computed a tile at a time."""
    run = Run(plan, q, k, v, arrays, block)
    rows = _FORWARD[plan.norm.kind]
    outs, stats = [], []
    for i0, i1 in run.queries:
        o, st = rows(run, q[:, i0:i1], i0, i1)
        outs.append(o)
        stats.append(st)
    xp = plan.xp
    saved = tuple(xp.concat(list(parts), axis=1) for parts in zip(*stats))
    return xp.concat(outs, axis=1), saved


# -- backward -----------------------------------------------------------------

def _grad_scores(run: Run, s: Any, allowed: Any, g: Any, st: tuple[Any, ...], D: Any, i0: int, i1: int,
                 acc: dict[str, Any], gw_carry: Any) -> tuple[Any, Any, Any]:
    """``(ds, w, new carry)`` for one tile of the softmax-like and simple kinds."""
    xp, kind = run.xp, run.plan.norm.kind
    if kind in ("softmax", "softpick"):
        m, z = st
        zs = xp.where(z > 0, z, 1.0)
        if kind == "softmax":
            w = xp.exp(s - m) / zs
            return w * (g - D), w, gw_carry
        d, e = softpick_terms(masked(s, allowed, xp), m, xp)
        d, e = masked(d, allowed, xp), masked(e, allowed, xp)
        w = xp.clip(d, min=0.0) / zs
        sgn = xp.where(d > 0, 1.0, xp.where(d < 0, -1.0, 0.0))
        return (e / zs) * (xp.where(d > 0, g, 0.0) - sgn * D), w, gw_carry
    if kind == "simple":
        w, dw = _simple_weights(run, s, allowed, i0, i1)
        ds = g * dw
        if run.learns("bias"):
            acc["bias"] = acc["bias"] + xp.sum(ds, axis=(1, 2), keepdims=True)
        return ds, w, gw_carry
    raise AssertionError(kind)


def _stick_grad(run: Run, s: Any, allowed: Any, g: Any, carry: Any, prefix: Any) -> tuple[Any, Any, Any]:
    xp = run.xp
    safe = masked(s, allowed, xp)
    keep = masked(log_sigmoid(-safe), allowed, xp)
    w = masked(xp.exp(log_sigmoid(safe) + _suffix(keep, xp, True, True) + carry), allowed, xp)
    gw = g * w
    beta = masked(sigmoid(safe), allowed, xp)
    ds = gw * sigmoid(-safe) - beta * (prefix + _suffix(gw, xp, True, False))
    return ds, w, prefix + xp.sum(gw, axis=-1, keepdims=True)


def _row_grads(run: Run, i0: int, i1: int, qb: Any, dob: Any, ob: Any, st: tuple[Any, ...],
               acc: dict[str, Any]) -> Iterator[tuple[int, Any, Any, Any]]:
    """The tiles of queries i0:i1 for :func:`actlab._attention.tiles.backward_sweep`
    (softmax, softpick, simple, stick), then the sink's gradient."""
    xp, plan, kind = run.xp, run.plan, run.plan.norm.kind
    D = xp.sum(dob * ob, axis=-1, keepdims=True)
    prefix = xp.zeros_like(qb[:, :, :1])
    for jb, (j0, j1) in enumerate(run.keys):
        if plan.mask.empty(i0, i1, j0, j1):
            continue
        t, s, allowed = run.tile(qb, i0, i1, j0, j1)
        drop = run.drop(i0, i1, j0, j1, t)
        g = dropped(dob @ run.v[:, j0:j1].mT, drop)
        if kind == "stick":
            ds, w, prefix = _stick_grad(run, s, allowed, g, st[0][:, :, jb:jb + 1], prefix)
        else:
            ds, w, _ = _grad_scores(run, s, allowed, g, st, D, i0, i1, acc, None)
        yield jb, t, ds, dropped(w, drop)
    if kind == "softmax" and run.learns("sink"):
        m, z = st
        c = run.params["sink"]
        wsink = xp.exp(c - m) / xp.where(z > 0, z, 1.0)
        acc["sink"] = acc["sink"] + xp.sum(-wsink * D, axis=1, keepdims=True)


def backward(plan: Plan, q: Any, k: Any, v: Any, arrays: tuple[Any, ...], out: Any, saved: tuple[Any, ...],
             dout: Any, block: int | None = None) -> tuple[Any, Any, Any, tuple[Any, ...]]:
    """``(dq, dk, dv, d_arrays)``: the gradients of ``<dout, out>``; ``d_arrays``
    holds one ``(B, 1, 1)`` gradient per learnable array (None for floats),
    then, when ``arrays`` has one more entry (the float mask, not None), the
    mask's gradient."""
    run = Run(plan, q, k, v, arrays, block)
    rows = blocked_threshold.row_grads if plan.norm.kind == "threshold" else _row_grads
    return backward_sweep(run, out, saved, dout, rows)
