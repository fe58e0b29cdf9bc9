"""The kernel of softmax, log-softmax and logsumexp: exponentials of exactly
shifted and scaled scores, with the top term kept apart.

For a row ``z = x * f`` (``f = num/den``, the inverse temperature) with its
largest entry ``t = z[i*]``, :func:`shifted_exp` returns

- ``e_j = exp(z_j - t)`` for ``j != i*`` and ``e[i*] = 0``,
- ``s = sum_j e_j`` (so the full sum is ``1 + s``),

from which softmax is ``e / (1 + s)`` (``1/(1+s)`` at ``i*``), log-softmax
``(z - t) - log1p(s)`` and logsumexp ``t + log1p(s)``: keeping the top term
apart lets ``log1p`` see ``s`` itself, so ``logsumexp([0, -50]) = 1.9e-22``
instead of ``log(1 + 1.9e-22) = 0``.

Exactness. In float64 the difference ``z_j - t`` is formed as a double-double
``zh + zl`` (TwoSum for the shift, Dekker's product or an exact remainder
for the temperature), and ``exp(zh + zl) = exp(zh) (1 + zl)``: a rounded
shift would cost up to ``|z_j - t|/2`` ULPs (hundreds at scale 1000). Float32
(and half precision) is computed in float64, where the plain difference is
exact enough, and rounded once.

The unshifted fast path. Where every entry of a block lies in
``[-708, 709 - log K - 1]`` no shift is needed at all: ``exp(x_j)`` is a
normal number with 0.65 ULP error, ``sum_j exp(x_j)`` cannot overflow, and
``s = (sum_{j != i*} exp(x_j)) exp(-t)``. This removes the shift and its
error term (the cost of exactness) for ordinary logits. It is used by
softmax of float32 input (computed in float64) and by logsumexp (float64:
1.8 ULP measured); float64 softmax keeps the exact shift, which is tighter
(unshifted: up to 4.2 ULP measured). Other blocks, and temperatures other
than 1, take the exact shift.

Non-finite entries: rows whose top entry is not finite
(a +inf entry, all entries -inf, or a NaN) are flagged in ``ok`` and
computed on zeros, the callers replace them; -inf entries of the other rows
are clipped to a floor far enough below the top that their exponential is 0.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Shifted", "shifted_exp", "by_rows", "put_last", "branchable", "quiet", "fix_rows", "needed",
    "unshifted_ok", "unshifted_sum",
]

_SPAN = 1100.0
"""Entries more than this below the top (after scaling) have exp() = 0 in float64."""
_F64_MAX = float(np.finfo(np.float64).max)
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's constant for float64
_BLOCK = 1 << 16
"""Elements per block when NumPy rows are processed a block at a time."""


class Shifted(NamedTuple):
    raw: Any  # the oriented input (sign of f applied), before bad rows are zeroed
    x: Any  # the oriented (sign of f applied), working-precision input; bad rows zeroed
    top: Any  # (..., 1) largest entry of x in the working dtype (0 on bad rows)
    zh: Any  # (z - t) high part (float64), from x clipped at ``floor``
    zl: Any  # low part or None
    e: Any  # exp(z - t), 0 at idx
    s: Any  # (..., 1) sum of e
    idx: Any  # (..., 1) index of the top entry
    ok: Any  # (..., 1) bool: the row's top entry is finite
    floor: Any  # (..., 1) clipping floor in x units when entries were clipped (float64, f = 1), else None


def quiet(xp: Any):
    """Silence the backend's overflow warning where overflow to +-inf is the
    exact IEEE result (a logit difference beyond the float range); invalid
    operations are avoided by construction, never silenced."""
    return xp.quiet()


def branchable(x: Any, xp: Any) -> bool:
    """True when the code may branch on array values (not while torch.compile
    traces or torch.func transforms run)."""
    return xp.may_branch(x)


def needed(flag: Any, x: Any, xp: Any) -> bool:
    """Whether a fix-up guarded by the boolean array ``flag`` must run: its
    value when we may branch on data, else always (shapes stay static)."""
    return bool(xp.any(flag)) if branchable(x, xp) else True


def put_last(a: Any, idx: Any, value: Any, xp: Any) -> Any:
    """``a`` with ``value`` written at ``idx`` (shape (..., 1)) on the last axis.
    A backend with mutable arrays may write in place (``a`` must be a
    temporary we own)."""
    if xp.kernels.put_along_last is not None:
        return xp.kernels.put_along_last(a, idx, value)
    cols = xp.arange(a.shape[-1], dtype=idx.dtype)
    return xp.where(cols == idx, value, a)


def by_rows(fn: Any, x: Any, xp: Any, width: int | None = None) -> Any:
    """``fn(x)`` cast to x's dtype, a block of rows at a time for large NumPy
    arrays so every intermediate stays in cache (and the cast is folded into
    the copy to the output); ``width`` is the output's last-axis length
    (default: x's). Other backends get one call."""
    if not xp.row_blocks or x.ndim < 2 or x.size <= _BLOCK:
        y = fn(x)
        return y if y.dtype == x.dtype else xp.astype(y, x.dtype)
    k = x.shape[-1]
    rows = max(1, _BLOCK // max(k, 1))
    x2 = np.reshape(x, (-1, k))
    n = x2.shape[0]
    out = np.empty((n, k if width is None else width), dtype=x.dtype)
    for i in range(0, n, rows):
        out[i : i + rows] = fn(x2[i : i + rows])
    return np.reshape(out, tuple(x.shape[:-1]) + (out.shape[-1],))


def unshifted_ok(x: Any, xp: Any) -> bool:
    """True when the unshifted fast path applies to every row of ``x`` (and we
    may branch on data): all entries in ``[-708, 709 - log K - 1]``, no NaN."""
    if not branchable(x, xp) or x.shape[-1] == 0:
        return False
    hi = 708.0 - math.log(x.shape[-1])
    return bool(xp.min(x) >= -708.0) and bool(xp.max(x) <= hi)


def unshifted_sum(x: Any, xp: Any, exclude_top: bool):
    """``(w, e, s)`` in float64 without a shift: ``w`` is x in float64,
    ``e = exp(w)``; with ``exclude_top`` also ``(idx, top)`` and ``s`` is the
    sum of the other terms divided by ``exp(top)``, else ``s`` is the full
    sum. Only where :func:`unshifted_ok`."""
    w = x if x.dtype == xp.float64 else xp.astype(x, xp.float64)
    e = xp.exp(w)
    if not exclude_top:
        return w, e, xp.sum(e, axis=-1, keepdims=True), None, None
    idx = xp.argmax(x, axis=-1, keepdims=True)
    top = xp.take_along_axis(w, idx, axis=-1)
    e = put_last(e, idx, 0.0, xp)
    s = xp.sum(e, axis=-1, keepdims=True) * xp.exp(-top)
    return w, e, s, idx, top


def _split(a: Any) -> tuple[Any, Any]:
    t = _SPLIT * a
    hi = t - (t - a)
    return hi, a - hi


def _two_prod_err(a: Any, b: float, p: Any) -> Any:
    """The exact error ``a*b - p`` of ``p = fl(a*b)`` (Dekker), for |a|, |b| < 2**995."""
    ah, al = _split(a)
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


_EXACT_SCALE = 2.0**500
"""Scale factors f with 1/E <= |f| <= E are applied exactly; beyond, x*f is rounded once."""


def _scaled_difference(x: Any, top: Any, num: float, den: float, xp: Any) -> tuple[Any, Any]:
    """``(x - top) * num / den`` (num, den > 0, one of them 1) as ``zh + zl``.

    Formed in half units (``0.5 x - 0.5 top`` never overflows); ``zh`` is the
    rounded scaled difference (-inf where it overflows), ``zl`` its exact
    error where ``zh >= -1100`` (0 elsewhere: those exponentials are 0).
    """
    xh, th = x * 0.5, top * 0.5
    b = 2.0 * num if den == 1.0 else 0.5 * den
    dh = xh - th
    zh = dh * b if den == 1.0 else dh / b
    f = num / den
    if not 1.0 / _EXACT_SCALE <= f <= _EXACT_SCALE:
        return zh, None
    near = zh >= -_SPAN
    xs = xp.where(near, xh, th)
    ds = xs - th
    bb = ds - xs
    dl = (xs - (ds - bb)) + (-th - bb)
    if den == 1.0:
        zs = ds * b
        zl = _two_prod_err(ds, b, zs) + dl * b
    else:
        q = ds / b
        p = q * b
        zl = ((ds - p) - _two_prod_err(q, b, p) + dl) / b
    return zh, zl


def shifted_exp(x: Any, num: float, den: float, xp: Any) -> Shifted:
    """The shifted exponentials of ``x * num / den`` along the last axis
    (see the module docstring). ``x`` is float32 or float64, ``K >= 1``."""
    if (num < 0.0 and den > 0.0) or (num > 0.0 and den < 0.0):  # (comparisons a tracer can guard on)
        x = -x
    num, den = abs(num), abs(den)
    raw = x
    f = num / den
    f64 = xp.float64
    idx = xp.argmax(x, axis=-1, keepdims=True)
    top = xp.take_along_axis(x, idx, axis=-1)
    ok = xp.isfinite(top)
    if needed(~ok, x, xp):
        x = xp.where(ok, x, 0.0)
        top = xp.where(ok, top, 0.0)
    if x.dtype == f64 and f != 1.0:
        floor = None
        zh, zl = _scaled_difference(x, top, num, den, xp)
    elif x.dtype == f64:
        # Entries below ``floor`` are clipped to it: their exponential is 0
        # (floor <= top - 1100), and the clip keeps the shift finite. The gap
        # is at least 2**-50 |top|, so the floor never rounds back to the top;
        # clip() keeps it from overflowing. Rows are clipped only if needed.
        gap = xp.clip(xp.abs(top) * 2.0**-50, min=_SPAN)
        floor = xp.clip(top, min=gap - _F64_MAX) - gap
        if needed(xp.min(x, axis=-1, keepdims=True) < floor, x, xp):
            xc = xp.maximum(x, floor)
        else:
            xc, floor = x, None
        zh = xc - top
        bb = zh - xc
        zl = (xc - (zh - bb)) + (-top - bb)
    else:
        # float32 in float64: the mixed subtraction is one pass, and exact
        # to far below a float32 ULP.
        floor, zl = None, None
        d = x - xp.astype(top, f64)
        zh = d if f == 1.0 else d * num if den == 1.0 else d / den
    e = xp.exp(zh)
    if zl is not None:
        e = e + e * zl
    e = put_last(e, idx, 0.0, xp)
    s = xp.sum(e, axis=-1, keepdims=True)
    return Shifted(raw, x, top, zh, zl, e, s, idx, ok, floor)


def fix_rows(y: Any, sh: Shifted, xp: Any, log: bool = False) -> Any:
    """Replace the rows whose top entry is not finite: +inf
    entries share the mass, all -inf gives 0 (log: -inf), NaN gives NaN."""
    if not needed(~sh.ok, sh.raw, xp):
        return y
    raw = sh.raw
    pinf = raw == math.inf
    count = xp.sum(xp.astype(pinf, y.dtype), axis=-1, keepdims=True)
    count = xp.where(count > 0.0, count, 1.0)
    top_raw = xp.take_along_axis(raw, sh.idx, axis=-1)
    if log:
        hard = xp.where(pinf, -xp.log(count), -math.inf)
        empty = -math.inf
    else:
        hard = xp.where(pinf, 1.0 / count, 0.0)
        empty = 0.0
    bad = xp.where(top_raw == math.inf, hard, xp.where(top_raw == -math.inf, empty, math.nan))
    return xp.where(sh.ok, y, bad)
