r"""The tiles of the blocked attention path: one call's state (:class:`Run`),
a tile's scores, the gradient of a float mask, and the backward sweep that
every normaliser shares.

The backward visits the tiles of ``block_q`` queries x ``block_k`` keys. A
normaliser only says, tile by tile, the gradient :math:`\partial s` of its
input and the weights :math:`w` the tile's output was made from
(:mod:`actlab._attention.blocked` for softmax, softpick, sigmoid, relu,
stick-breaking; :mod:`actlab._attention.blocked_threshold` for sparsemax and
entmax); :func:`backward_sweep` turns them into
:math:`\partial V = w^\top dO`, :math:`\partial t = f\,\partial s` (f the
length-scale factor, :math:`t` the scaled scores),
:math:`\partial Q = \text{scale}\,\partial t\,K`,
:math:`\partial K = \text{scale}\,\partial t^\top Q`, the float mask's
gradient and that of a learnable length-scale factor c of
:math:`f = c \log n / T` (SSMax, Nakanishi 2025),
:math:`\sum_j \partial s_j\, t_j \log n / T`.

Example:
    >>> import numpy as np
    >>> from actlab._attention.plan import make_plan
    >>> from actlab._attention.tiles import Run
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = (rng.normal(size=(1, 7, 4)) for _ in range(3))
    >>> p = make_plan(q, k, v, None, 0.0, True, None, False, "softmax", 0.0, {})
    >>> run = Run(p, p.q, p.k, p.v, p.arrays(), block=3)
    >>> run.queries, run.live(0, 3)
    ([(0, 3), (3, 6), (6, 7)], [(0, 3)])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from .dense import row_factor
from .plan import Plan

__all__ = ["Run", "MaskGrad", "RowGrads", "backward_sweep", "masked", "dropped", "BLOCK", "BLOCK_Q"]

BLOCK = 1024
"""Keys per tile."""
BLOCK_Q = 256
"""Queries per tile (a tile of float64 temporaries is 2 MiB)."""


class Run:
    """One call's state shared by the tiles: the plan, the learnable arrays
    actually passed in, the key blocks, the row counts and factors."""

    def __init__(self, plan: Plan, q: Any, k: Any, v: Any, arrays: tuple[Any, ...], block: int | None) -> None:
        self.plan, self.xp, self.q, self.k, self.v = plan, plan.xp, q, k, v
        self.arrays = arrays
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
        """The key blocks the mask leaves something of for queries i0:i1."""
        return [(j0, j1) for j0, j1 in self.keys if not self.plan.mask.empty(i0, i1, j0, j1)]

    def learns(self, name: str) -> bool:
        """Whether the learnable parameter ``name`` was passed as an array (it gets a gradient)."""
        return name in self.plan.learnable and not isinstance(self.params.get(name), (float, type(None)))


def masked(x: Any, allowed: Any, xp: Any) -> Any:
    """``x`` with 0 where the mask ``allowed`` (or None: nothing masked) is False."""
    return x if allowed is None else xp.where(allowed, x, 0.0)


def dropped(w: Any, drop: Any) -> Any:
    """The weights ``w`` times the dropout factors (or None: no dropout)."""
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


RowGrads = Callable[[Run, int, int, Any, Any, Any, tuple[Any, ...], dict[str, Any]], Iterator[tuple[int, Any, Any, Any]]]
"""A normaliser's backward over one block of queries:
``row_grads(run, i0, i1, qb, dob, ob, st, acc)`` (``qb``, ``dob``, ``ob``
the block's queries, output gradient and output, ``st`` its rows of the
saved statistics) yields ``(jb, t, ds, w)`` for each key block ``jb`` it
visits: the tile's scaled scores, the gradient of the normaliser's input
and the weights (dropout applied, in the queries' dtype) that made the
tile's output; once done it adds its rows' share of the learnable arrays'
gradients to ``acc`` (name -> array)."""


def backward_sweep(run: Run, out: Any, saved: tuple[Any, ...], dout: Any, row_grads: RowGrads
                   ) -> tuple[Any, Any, Any, tuple[Any, ...]]:
    """``(dq, dk, dv, d_arrays)``, the gradients of ``<dout, out>`` from the
    tiles ``row_grads`` yields; ``d_arrays`` holds one ``(B, 1, 1)`` gradient
    per learnable array (None for floats), then, when the call's arrays have
    one more entry (the float mask), the mask's gradient."""
    xp, plan, q, k, v = run.xp, run.plan, run.q, run.k, run.v
    dks = [xp.zeros_like(k[:, j0:j1]) for j0, j1 in run.keys]
    dvs = [xp.zeros_like(v[:, j0:j1]) for j0, j1 in run.keys]
    zero = xp.zeros_like(q[:, :1, :1])
    acc = {name: zero for name in plan.learnable}
    dqs = []
    for i0, i1 in run.queries:
        qb, dob = q[:, i0:i1], dout[:, i0:i1]
        st = tuple(a[:, i0:i1] for a in saved)
        dq = xp.zeros_like(qb)
        f = run.rows(run.f, i0, i1)
        gf = xp.zeros_like(qb[:, :, :1])
        for jb, t, ds, w in row_grads(run, i0, i1, qb, dob, out[:, i0:i1], st, acc):
            j0, j1 = run.keys[jb]
            dvs[jb] = dvs[jb] + w.mT @ dob
            if plan.length_scale:
                gf = gf + xp.sum(ds * t, axis=-1, keepdims=True)
            dt = ds if isinstance(f, float) and f == 1.0 else ds * f
            if run.dmask is not None:
                run.dmask.put(i0, jb, dt)
            dt = dt * plan.scale
            dq = dq + dt @ k[:, j0:j1]
            dks[jb] = dks[jb] + dt.mT @ qb
        dqs.append(dq)
        if plan.length_scale and run.learns("length_scale_factor"):
            log_n = xp.log(xp.clip(run.rows(run.n, i0, i1), min=1.0))
            acc["length_scale_factor"] = acc["length_scale_factor"] + xp.sum(
                gf * log_n / plan.temperature, axis=1, keepdims=True)
    grads = tuple(acc[name] if run.learns(name) else None for name in plan.learnable)
    if len(run.arrays) > len(plan.learnable):
        grads = (*grads, None if run.dmask is None else run.dmask.result())
    return xp.concat(dqs, axis=1), xp.concat(dks, axis=1), xp.concat(dvs, axis=1), grads
