r"""alpha-normmax (Blondel, Martins & Niculae 2020, "Learning with Fenchel-Young
Losses", JMLR 21; the ``entmax`` package's ``normmax_bisect``): the
regularised prediction map of the alpha-norm,

.. math:: \operatorname{normmax}_\alpha(z) = \arg\max_{p\in\Delta}\ \langle p, z\rangle - \lVert p\rVert_\alpha ,
   \qquad p_i = \frac{[z_i - \tau]_+^{1/(\alpha-1)}}{\sum_j [z_j - \tau]_+^{1/(\alpha-1)}},

with :math:`\tau` the root of :math:`\sum_j [z_j-\tau]_+^{\alpha/(\alpha-1)} = 1`
(the KKT conditions give :math:`p \propto [z-\tau]_+^{1/(\alpha-1)}` and
:math:`\lVert p/\lVert p\rVert_\alpha\rVert_\alpha = 1`). alpha -> 1 tends to the
arg max, large alpha to a uniform distribution over the top entries.

:math:`t = \max z - \tau \in [K^{-(\alpha-1)/\alpha}, 1]` is found by a
safeguarded Newton iteration from :math:`t = 1` (monotone: the function is
convex), to a few ulps. The Jacobian is symmetric: with :math:`w = p^{2-\alpha}`
on the support and :math:`c = \langle p, v\rangle`,

.. math:: J v = \frac{(\sum_j p_j^\alpha)^{(\alpha-1)/\alpha}}{\alpha-1}
   \bigl(w\odot(v - c) - p\,\langle w, v - c\rangle\bigr).
"""

from __future__ import annotations

import math
from typing import Any

from .._simplex import simplex_map
from ..registry import Param, Properties
from .row_rules import finite_rows, restore_rows
from .shifted_exp import quiet
from .threshold import shift

__all__ = ["normmax"]


def _pow(u: Any, e: float, xp: Any) -> Any:
    pos = u > 0
    return xp.where(pos, xp.exp(e * xp.log(xp.where(pos, u, 1.0))), 0.0)


def _solve(X: Any, r: float, n_iter: int, xp: Any) -> Any:
    """``t`` with ``sum_j [X_j + t]_+^r = 1`` (X = z - max z, -inf masked)."""
    k = xp.sum(xp.astype(X > -math.inf, X.dtype), axis=-1, keepdims=True)
    lo = xp.exp(-xp.log(xp.where(k > 0, k, 1.0)) / r)
    hi = xp.ones_like(lo)
    t = hi
    for _ in range(n_iter):
        u = xp.clip(X + t, min=0.0)
        f = xp.sum(_pow(u, r, xp), axis=-1, keepdims=True) - 1.0
        df = r * xp.sum(_pow(u, r - 1.0, xp), axis=-1, keepdims=True)
        hi = xp.where(f >= 0, t, hi)
        lo = xp.where(f < 0, t, lo)
        step = t - f / xp.where(df > 0, df, 1.0)
        t_new = xp.where((step >= lo) & (step <= hi), step, 0.5 * (lo + hi))  # a converged step is kept
        t_new = xp.where(f == 0, t, t_new)
        if xp.may_branch(t) and bool(xp.all(t_new == t)):
            break
        t = t_new
    return t


def _vjp(x: Any, y: Any, g: Any, alpha: Any, n_iter: Any, *, xp: Any) -> Any:
    pos = y > 0
    ys = xp.where(pos, y, 1.0)
    w = xp.where(pos, xp.exp((2.0 - alpha) * xp.log(ys)), 0.0)
    pa = xp.sum(xp.where(pos, xp.exp(alpha * xp.log(ys)), 0.0), axis=-1, keepdims=True)
    scale = xp.exp((alpha - 1.0) / alpha * xp.log(xp.where(pa > 0, pa, 1.0))) / (alpha - 1.0)
    gc = g - xp.sum(xp.where(pos, y * g, 0.0), axis=-1, keepdims=True)
    a = xp.where(pos, w * gc, 0.0)
    out = scale * (a - y * xp.sum(a, axis=-1, keepdims=True))
    return xp.where(pa > 0, out, 0.0)


@simplex_map(
    family="sparse",
    latex=r"\operatorname{normmax}_\alpha(z)=\arg\max_{p\in\Delta}\langle p,z\rangle-\lVert p\rVert_\alpha",
    dlatex=r"\frac{(\sum_j p_j^\alpha)^{(\alpha-1)/\alpha}}{\alpha-1}\left(\operatorname{diag}(w)-wp^\top-pw^\top"
    r"+(\sum_j w_j)pp^\top\right),\ w=p^{2-\alpha}",
    vjp=_vjp,
    params=(
        Param("alpha", 2.0, "> 1", lambda a: a > 1.0 and math.isfinite(a), sweep=(1.5, 2.0, 4.0),
              doc="the norm's order"),
        Param("n_iter", 50, "a positive integer", lambda n: math.isfinite(n) and n >= 1 and n == int(n),
              doc="most Newton steps"),
    ),
    reference="Blondel, Martins & Niculae 2020, Learning with Fenchel-Young Losses (JMLR 21); "
    "the entmax package's normmax_bisect (Peters, Niculae, Correia, Martins).",
    properties=Properties((0, 1), monotone=True, smooth=False, zero_centred=False, bounded=True),
    notes="Sparse; alpha -> 1 approaches the arg max, large alpha a uniform distribution on the top entries.",
    masks=True,
    shift_invariant=True,
)
def normmax(x: Any, alpha: Any, n_iter: Any, *, xp: Any) -> Any:
    r"""alpha-normmax: :math:`\arg\max_{p\in\Delta}\langle p,z\rangle-\lVert p\rVert_\alpha`.

    Args:
        x: scores. alpha: > 1 (the norm's order). n_iter: most Newton steps.
        axis, temperature, where: the map's axis, ``x / temperature``, a mask.

    Returns:
        A point of the simplex along ``axis`` (sparse).

    Example:
        >>> import actlab
        >>> [round(v, 4) for v in actlab.normmax([0.0, 0.25, 0.5, 0.75, 1.0]).tolist()]
        [0.0, 0.0239, 0.1746, 0.3254, 0.4761]

    Reference: Blondel, Martins & Niculae 2020; the value above is the
    ``entmax`` package's own test case.
    """
    if x.shape[-1] == 0:
        return x + 0.0
    clean, rows = finite_rows(x, xp)
    m = xp.max(clean, axis=-1, keepdims=True)
    with quiet(xp):  # the unused floor of shift() may overflow for m far below 0
        X = shift(clean, m, xp)
    beta = alpha - 1.0
    with quiet(xp):
        t = _solve(X, alpha / beta, int(n_iter), xp)
        q = _pow(xp.clip(X + t, min=0.0), 1.0 / beta, xp)
    y = q / xp.sum(q, axis=-1, keepdims=True)
    return restore_rows(y, rows, xp)
