r"""alpha-entmax for 0 < alpha < 1 (the ``entmax`` package's ``entmax_bisect``
accepts these): the maximiser of :math:`\langle p, z\rangle + H^T_\alpha(p)` over the
simplex is then dense,

.. math:: p_i = \bigl(1 + t + \beta (z_i - \max z)\bigr)^{1/\beta}, \qquad \beta = \alpha - 1 \in (-1, 0),

with the one :math:`t \in [0, K^{-\beta} - 1]` that makes the sum 1 (every base is
:math:`\ge 1 + t > 0`, so no entry is clipped; larger z gives larger p since
:math:`1/\beta < 0`). The sum is convex and decreasing in t, so Newton's method from
t = 0 is monotone; it is safeguarded by the bracket and followed by a
renormalisation. The Jacobian is entmax's, :math:`\operatorname{diag}(w) - w w^\top/\sum w`
with :math:`w = p^{2-\alpha}` (:func:`actlab.simplex.entmax.entmax_vjp_math`). -inf
entries get 0; the other non-finite rules are those of
:mod:`actlab.simplex.row_rules`.

Reference: Peters, Niculae & Martins 2019 (the Tsallis entmax family); the
``entmax`` package's bisection, whose bracket this is in shifted form.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from .row_rules import finite_rows, restore_rows
from .shifted_exp import quiet
from .threshold import shift

__all__ = ["dense_entmax"]


def _terms(u: Any, e: float, xp: Any) -> Any:
    """``(1 + u)^e`` for ``u >= 0`` (0 at ``u = +inf``, a masked entry). Below ``u = 1`` through
    ``exp(e log1p(u))`` (the rounding of ``1 + u`` would cost ``|e|/2`` ULPs, 5 at alpha = 0.9);
    above, ``pow(1 + u, e)`` (``exp`` of a large ``e log(1 + u)`` would cost that many ULPs)."""
    small = u < 1.0
    ok = u < math.inf
    via_log1p = xp.exp(e * xp.log1p(xp.where(small, u, 0.0)))
    via_pow = xp.pow(xp.where(ok & ~small, u, 1.0) + 1.0, e)
    return xp.where(small, via_log1p, xp.where(ok, via_pow, 0.0))


def dense_entmax(x: Any, beta: float, n_iter: int, xp: Any) -> Any:
    """entmax with ``beta = alpha - 1`` in (-1, 0) along the last axis."""
    if x.shape[-1] == 0:
        return x + 0.0
    clean, rows = finite_rows(x, xp)
    m = xp.max(clean, axis=-1, keepdims=True)
    with quiet(xp):  # the unused floor of shift() may overflow for m far below 0
        bx = beta * shift(clean, m, xp)  # >= 0; +inf at masked entries
    k = xp.sum(xp.astype(clean > -math.inf, x.dtype), axis=-1, keepdims=True)
    lo = xp.zeros_like(m)
    hi = xp.exp(-beta * xp.log(xp.where(k > 0, k, 1.0))) - 1.0
    t = lo
    inv = 1.0 / beta
    with quiet(xp):
        for _ in range(n_iter):
            u = t + bx
            p = _terms(u, inv, xp)
            f = xp.sum(p, axis=-1, keepdims=True) - 1.0
            df = inv * xp.sum(_terms(u, inv - 1.0, xp), axis=-1, keepdims=True)
            lo = xp.where(f >= 0, t, lo)
            hi = xp.where(f < 0, t, hi)
            step = t - f / xp.where(df < 0, df, -1.0)
            t_new = xp.where((step >= lo) & (step <= hi), step, 0.5 * (lo + hi))  # a converged step is kept
            t_new = xp.where(f == 0, t, t_new)
            if xp.may_branch(t) and bool(xp.all(t_new == t)):
                break
            t = t_new
        u = t + bx
        # 1/beta rounds by up to eps/2 of itself, which costs |log p| eps/2 (600 ULPs at p = 1e-290):
        # the exponent's rounding error, exact as a Fraction, enters as a factor exp(inv_lo log(1 + u))
        inv_lo = float(Fraction(1) / Fraction(beta) - Fraction(inv))
        p = _terms(u, inv, xp) * xp.exp(inv_lo * xp.log1p(xp.where(u < math.inf, u, 0.0)))
    y = p / xp.sum(p, axis=-1, keepdims=True)
    return restore_rows(y, rows, xp)
