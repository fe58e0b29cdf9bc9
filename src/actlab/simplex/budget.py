r"""Budget sparsemax (the ``entmax`` package's ``budget_bisect``): the
Euclidean projection onto the capped simplex of k-subsets,

.. math:: \operatorname{budget}_B(z) = \arg\min_{0\le p\le 1,\ \sum_i p_i = B}\lVert p - z\rVert^2,
   \qquad p_i = \operatorname{clip}(z_i - \tau, 0, 1),

the marginals of a k-subset selection (B = 1 is sparsemax). Related work:
Blondel, Martins & Niculae 2020 (Fenchel-Young losses, the budget polytope);
Martins & Kreutzer 2017 (constrained sparsemax).

The threshold: bisection on the piecewise-linear :math:`f(\tau)=\sum_i \operatorname{clip}(z_i-\tau,0,1)`
in :math:`[z_{(j)} - 1, z_{(j)}]`, :math:`j = \lceil B\rceil` (one sort), finds the sets of capped (:math:`p=1`) and free (:math:`0<p<1`) entries, then
:math:`\tau = (\sum_{\text{free}} z_i + |\text{capped}| - B)/|\text{free}|` exactly
(two refinement passes). The Jacobian is :math:`\operatorname{diag}(s) - s s^\top/|S|`,
``s`` the indicator of the free entries (0 when there are none).

Masked (-inf) entries get 0; a row with fewer than B finite entries gives 1
on each of them; +inf entries are capped at 1 (sharing B equally when there
are more than B of them); NaN makes its row NaN.
"""

from __future__ import annotations

import math
from typing import Any

from .._simplex import simplex_map
from ..registry import Param, Properties, positive
from .shifted_exp import quiet

__all__ = ["budget_sparsemax"]


def _vjp(x: Any, y: Any, g: Any, budget: Any, n_iter: Any, *, xp: Any) -> Any:
    free = (y > 0) & (y < 1)
    n = xp.sum(xp.astype(free, g.dtype), axis=-1, keepdims=True)
    mean = xp.sum(xp.where(free, g, 0.0), axis=-1, keepdims=True) / xp.where(n > 0, n, 1.0)
    return xp.where(free, g - mean, 0.0)


def _refine(X: Any, tau: Any, b: float, xp: Any) -> Any:
    d = X - tau
    free = (d > 0) & (d < 1)
    capped = d >= 1
    nf = xp.sum(xp.astype(free, X.dtype), axis=-1, keepdims=True)
    nc = xp.sum(xp.astype(capped, X.dtype), axis=-1, keepdims=True)
    sf = xp.sum(xp.where(free, X, 0.0), axis=-1, keepdims=True)
    return xp.where(nf > 0, (sf + nc - b) / xp.where(nf > 0, nf, 1.0), tau)


@simplex_map(
    family="sparse",
    latex=r"\operatorname{budget}_B(z)_i=\operatorname{clip}(z_i-\tau,0,1),\ \sum_i p_i=B",
    dlatex=r"\operatorname{diag}(s)-\frac{ss^\top}{|S|},\ S=\{i:0<p_i<1\}",
    vjp=_vjp,
    params=(
        Param("budget", 2.0, "> 0", positive, sweep=(1.0, 2.0, 3.0), doc="B, the sum of the output (k of k-subsets)"),
        Param("n_iter", 50, "a positive integer", lambda n: math.isfinite(n) and n >= 1 and n == int(n),
              doc="bisection steps before the exact refinement"),
    ),
    reference="The entmax package's budget_bisect (Peters, Niculae, Correia, Martins); "
    "Blondel, Martins & Niculae 2020, Learning with Fenchel-Young Losses (JMLR 21).",
    properties=Properties((0, 1), monotone=True, smooth=False, zero_centred=False, bounded=True),
    notes="Sums to B, entries in [0, 1]; budget 1 is sparsemax.",
    masks=True,
    extra={"sums_to_one": False},  # read by the generic tests
)
def budget_sparsemax(x: Any, budget: Any, n_iter: Any, *, xp: Any) -> Any:
    r"""Budget (k-subset) sparsemax: ``clip(z - tau, 0, 1)`` summing to ``budget``.

    Args:
        x: scores. budget: B > 0 (a row with at most B finite entries gives 1 on each).
        n_iter: bisection steps. axis, temperature, where: as for sparsemax.

    Returns:
        Entries in [0, 1] summing to B along ``axis``.

    Example:
        >>> import actlab
        >>> actlab.budget_sparsemax([0.0, 0.25, 0.5, 0.75, 1.0], 2).tolist()
        [0.0, 0.125, 0.375, 0.625, 0.875]
        >>> actlab.budget_sparsemax([0.0, 0.5, 1.0, 1.5, 2.0], 3).tolist()
        [0.0, 0.25, 0.75, 1.0, 1.0]

    Reference: the ``entmax`` package's budget_bisect (the values above are
    its test cases).
    """
    k = x.shape[-1]
    if k == 0:
        return x + 0.0
    nan_row = xp.any(xp.isnan(x), axis=-1, keepdims=True)
    live = x > -math.inf
    # +inf entries are put above every cap; NaN rows are computed on zeros and set to NaN at the end
    X = xp.where(x == math.inf, float(xp.finfo(x.dtype).max), xp.where(nan_row, 0.0, x))
    n_live = xp.sum(xp.astype(live, x.dtype), axis=-1, keepdims=True)
    with quiet(xp):
        # tau lies in [x_(j) - 1, x_(j)], x_(j) the j-th largest entry, j = ceil(B): below it the top j
        # entries are capped (sum >= B), at it at most j - 1 entries count (sum < B). A bracket of width 1.
        # The search runs on X - x_(j): the entries near tau are then exact (a shift by the maximum would
        # round them away, and none at all would lose the bracket once |x| > 2^53).
        j = min(int(math.ceil(budget)), k)
        top_j = xp.sort(X, axis=-1, descending=True)[..., j - 1:j]
        X = X - xp.where(top_j > -math.inf, top_j, 0.0)
        hi = xp.zeros_like(top_j)
        lo = hi - 1.0
        for _ in range(int(n_iter)):
            mid = 0.5 * (lo + hi)
            f = xp.sum(xp.clip(X - mid, min=0.0, max=1.0), axis=-1, keepdims=True)
            ok = f >= budget
            lo, hi = xp.where(ok, mid, lo), xp.where(ok, hi, mid)
        tau = _refine(X, lo, budget, xp)
        tau = _refine(X, tau, budget, xp)
        y = xp.clip(X - tau, min=0.0, max=1.0)
    y = xp.where(n_live <= budget, xp.where(live, 1.0, 0.0), y)
    return xp.where(nan_row, math.nan, y)
