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

Memory: a few tiles of ``block_q x block_k`` plus O(L) row statistics. All of
it is array-API code; a framework registers :func:`backward` as the
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
from typing import Any

from ..elementwise import log_sigmoid, sigmoid
from . import blocked_threshold
from .dense import row_factor
from .normalizers import softpick_terms
from .plan import Plan

__all__ = ["forward", "backward", "BLOCK"]

BLOCK = 1024
"""Keys per tile."""
BLOCK_Q = 256
"""Queries per tile (a tile of float64 temporaries is 2 MiB)."""


class Run:
    """One call's state shared by the tiles: the plan, the learnable arrays
    actually passed in, the key blocks, the row counts and factors."""

    def __init__(self, plan: Plan, q: Any, k: Any, v: Any, arrays: tuple[Any, ...], block: int | None) -> None:
        self.plan, self.xp, self.q, self.k, self.v = plan, plan.xp, q, k, v
        self.params = dict(plan.params)
        for name, a in zip(plan.learnable, arrays):
            if a is not None:
                self.params[name] = a
        bk, bq = (int(block), int(block)) if block else (BLOCK, BLOCK_Q)
        L, S = q.shape[1], k.shape[1]
        self.L, self.S = L, S
        self.keys = [(j, min(S, j + bk)) for j in range(0, S, bk)]
        self.queries = [(i, min(L, i + bq)) for i in range(0, L, bq)]
        self.n = plan.mask.counts(self.xp, q)
        self.f = row_factor(plan, self.n, self.params)
        extra = arrays[len(plan.learnable):]
        self.dmask = MaskGrad(self) if extra and extra[0] is not None else None

    def drop(self, i0: int, i1: int, j0: int, j1: int, like: Any) -> Any:
        """The tile's dropout factors (0 or 1/(1-p)) in ``like``'s dtype, or None."""
        return self.plan.dropout(i0, i1, j0, j1, like)

    def rows(self, a: Any, i0: int, i1: int) -> Any:
        """Rows i0:i1 of a per-row array (or the float itself)."""
        return a if isinstance(a, float) else a[:, i0:i1]

    def tile(self, qb: Any, i0: int, i1: int, j0: int, j1: int) -> tuple[Any, Any, Any]:
        """``(t, s, allowed)``: the scaled scores ``t`` (0 where masked), the
        normaliser's input ``s = t f`` (-inf where masked), the mask or None."""
        xp = self.xp
        t = (qb @ self.k[:, j0:j1].mT) * self.plan.scale
        allowed, add = self.plan.mask.block(i0, i1, j0, j1, xp, qb)
        if add is not None:
            t = t + add
        f = self.rows(self.f, i0, i1)
        if allowed is None:
            return t, (t if isinstance(f, float) and f == 1.0 else t * f), None
        t = xp.where(allowed, t, 0.0)
        return t, xp.where(allowed, t * f, -math.inf), allowed

    def live(self, i0: int, i1: int) -> list[tuple[int, int]]:
        return [(j0, j1) for j0, j1 in self.keys if not self.plan.mask.empty(i0, i1, j0, j1)]


def _masked(x: Any, allowed: Any, xp: Any) -> Any:
    return x if allowed is None else xp.where(allowed, x, 0.0)


def _dropped(w: Any, drop: Any) -> Any:
    return w if drop is None else w * drop


class MaskGrad:
    r"""The gradient of a float ``attn_mask`` that requires grad: the tiles'
    :math:`\partial t = f\, \partial s`, summed over the batch where the
    mask is shared (``(Bm, L, S)``, the mask's own size: it is the one L x S
    array the blocked path makes, and only when asked)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.add: Any = run.plan.mask.add
        self.tiles: dict[tuple[int, int], Any] = {}
        assert self.add is not None
        self.bm = self.add.shape[0]

    def put(self, i0: int, jb: int, dt: Any) -> None:
        xp = self.run.xp
        self.tiles[i0, jb] = xp.sum(dt, axis=0, keepdims=True) if self.bm == 1 and dt.shape[0] != 1 else dt

    def result(self) -> Any:
        run, xp, add = self.run, self.run.xp, self.add
        rows = [xp.concat([self.tiles.get((i0, jb), xp.zeros_like(add[:, i0:i1, j0:j1]))
                           for jb, (j0, j1) in enumerate(run.keys)], axis=-1) for i0, i1 in run.queries]
        return xp.concat(rows, axis=1)


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
            d, _ = softpick_terms(_masked(s, allowed, xp), ms, xp)
            d = _masked(d, allowed, xp)
            z = z * r + xp.sum(xp.abs(d), axis=-1, keepdims=True)
            p = xp.clip(d, min=0.0)
        else:
            p = xp.exp(s - ms)
            z = z * r + xp.sum(p, axis=-1, keepdims=True)
        acc = acc * r + _dropped(p, run.drop(i0, i1, j0, j1, p)) @ run.v[:, j0:j1]
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
    s = _masked(s, allowed, xp)
    nn = xp.clip(run.rows(run.n, i0, i1), min=1.0)
    if name == "sigmoid":
        b = run.params.get("bias")
        b = -xp.log(nn) if b is None else b
        w = _masked(sigmoid(s + b), allowed, xp)
        return w, w * sigmoid(-(s + b))
    pos = s > 0.0
    r = xp.where(pos, s, 0.0)
    if name == "relu":
        return r / nn, _masked(xp.where(pos, 1.0, 0.0), allowed, xp) / nn
    return r * r / nn, 2.0 * r / nn


def _simple_rows(run: Run, qb: Any, i0: int, i1: int) -> tuple[Any, tuple[Any, ...]]:
    acc = run.xp.zeros_like(qb[:, :, :1] * run.v[:1, :1, :])
    for j0, j1 in run.live(i0, i1):
        _, s, allowed = run.tile(qb, i0, i1, j0, j1)
        w = _simple_weights(run, s, allowed, i0, i1)[0]
        acc = acc + _dropped(w, run.drop(i0, i1, j0, j1, w)) @ run.v[:, j0:j1]
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
        safe = _masked(s, allowed, xp)
        keep = _masked(log_sigmoid(-safe), allowed, xp)
        logw = log_sigmoid(safe) + _suffix(keep, xp, True, True) + carry
        w = _masked(xp.exp(logw), allowed, xp)
        acc = acc + _dropped(w, run.drop(i0, i1, j0, j1, w)) @ run.v[:, j0:j1]
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
        d, e = softpick_terms(_masked(s, allowed, xp), m, xp)
        d, e = _masked(d, allowed, xp), _masked(e, allowed, xp)
        w = xp.clip(d, min=0.0) / zs
        sgn = xp.where(d > 0, 1.0, xp.where(d < 0, -1.0, 0.0))
        return (e / zs) * (xp.where(d > 0, g, 0.0) - sgn * D), w, gw_carry
    if kind == "simple":
        w, dw = _simple_weights(run, s, allowed, i0, i1)
        ds = g * dw
        if _is_grad_array(run, "bias"):
            acc["bias"] = acc["bias"] + xp.sum(ds, axis=(1, 2), keepdims=True)
        return ds, w, gw_carry
    raise AssertionError(kind)


def _is_grad_array(run: Run, name: str) -> bool:
    return name in run.plan.learnable and not isinstance(run.params.get(name), (float, type(None)))


def _stick_grad(run: Run, s: Any, allowed: Any, g: Any, carry: Any, prefix: Any) -> tuple[Any, Any, Any]:
    xp = run.xp
    safe = _masked(s, allowed, xp)
    keep = _masked(log_sigmoid(-safe), allowed, xp)
    w = _masked(xp.exp(log_sigmoid(safe) + _suffix(keep, xp, True, True) + carry), allowed, xp)
    gw = g * w
    beta = _masked(sigmoid(safe), allowed, xp)
    ds = gw * sigmoid(-safe) - beta * (prefix + _suffix(gw, xp, True, False))
    return ds, w, prefix + xp.sum(gw, axis=-1, keepdims=True)


def backward(plan: Plan, q: Any, k: Any, v: Any, arrays: tuple[Any, ...], out: Any, saved: tuple[Any, ...],
             dout: Any, block: int | None = None) -> tuple[Any, Any, Any, tuple[Any, ...]]:
    """``(dq, dk, dv, d_arrays)``: the gradients of ``<dout, out>``; ``d_arrays``
    holds one ``(B, 1, 1)`` gradient per learnable array (None for floats),
    then, when ``arrays`` has one more entry (the float mask, not None), the
    mask's gradient."""
    run = Run(plan, q, k, v, arrays, block)
    xp, kind = plan.xp, plan.norm.kind
    if kind == "threshold":
        return blocked_threshold.backward(run, out, saved, dout)
    dks = [xp.zeros_like(k[:, j0:j1]) for j0, j1 in run.keys]
    dvs = [xp.zeros_like(v[:, j0:j1]) for j0, j1 in run.keys]
    zero = xp.zeros_like(q[:, :1, :1])
    acc = {name: zero for name in plan.learnable}
    dqs = []
    for i0, i1 in run.queries:
        qb, dob = q[:, i0:i1], dout[:, i0:i1]
        st = tuple(a[:, i0:i1] for a in saved)
        D = xp.sum(dob * out[:, i0:i1], axis=-1, keepdims=True)
        dq = xp.zeros_like(qb)
        f = run.rows(run.f, i0, i1)
        gf = xp.zeros_like(qb[:, :, :1])
        prefix = xp.zeros_like(qb[:, :, :1])
        for jb, (j0, j1) in enumerate(run.keys):
            if plan.mask.empty(i0, i1, j0, j1):
                continue
            t, s, allowed = run.tile(qb, i0, i1, j0, j1)
            drop = run.drop(i0, i1, j0, j1, t)
            g = _dropped(dob @ v[:, j0:j1].mT, drop)
            if kind == "stick":
                ds, w, prefix = _stick_grad(run, s, allowed, g, st[0][:, :, jb:jb + 1], prefix)
            else:
                ds, w, _ = _grad_scores(run, s, allowed, g, st, D, i0, i1, acc, None)
            dvs[jb] = dvs[jb] + _dropped(w, drop).mT @ dob
            if plan.length_scale:
                gf = gf + xp.sum(ds * t, axis=-1, keepdims=True)
            dt = ds if isinstance(f, float) and f == 1.0 else ds * f
            if run.dmask is not None:
                run.dmask.put(i0, jb, dt)
            dt = dt * plan.scale
            dq = dq + dt @ k[:, j0:j1]
            dks[jb] = dks[jb] + dt.mT @ qb
        dqs.append(dq)
        if kind == "softmax" and _is_grad_array(run, "sink"):
            m, z = st
            c = run.params["sink"]
            wsink = xp.exp(c - m) / xp.where(z > 0, z, 1.0)
            acc["sink"] = acc["sink"] + xp.sum(-wsink * D, axis=1, keepdims=True)
        if plan.length_scale and _is_grad_array(run, "length_scale_factor"):
            log_n = xp.log(xp.clip(run.rows(run.n, i0, i1), min=1.0))
            acc["length_scale_factor"] = acc["length_scale_factor"] + xp.sum(
                gf * log_n / plan.temperature, axis=1, keepdims=True)
    grads = tuple(acc[name] if _is_grad_array(run, name) else None for name in plan.learnable)
    if len(arrays) > len(plan.learnable):
        grads = (*grads, None if run.dmask is None else run.dmask.result())
    return xp.concat(dqs, axis=1), xp.concat(dks, axis=1), xp.concat(dvs, axis=1), grads
