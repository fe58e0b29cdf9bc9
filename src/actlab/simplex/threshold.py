r"""The threshold search behind sparsemax and alpha-entmax .

Along the last axis, with :math:`\beta = \alpha - 1 > 0` and
:math:`m = \max_j z_j`, every map here is

.. math:: p_i = \bigl[1 + \beta\,(z_i - m - \sigma)\bigr]_+^{1/\beta},

with :math:`\sigma \in [0, (1-K^{-\beta})/\beta]` the one number per row that
makes :math:`\sum_i p_i = 1` (the threshold :math:`\tau` of Martins & Astudillo 2016
and Peters et al. 2019 is :math:`\tau = \beta(m+\sigma)-1`).
The support is :math:`S = \{i : z_i - m > c\}` for the *cut*
:math:`c = \sigma - 1/\beta`. Sparsemax (:math:`\beta = 1`) and 1.5-entmax
(:math:`\beta = 1/2`) are exact once :math:`S` is known, and are searched in
cut units:

- sparsemax: :math:`c = (\sum_S (z_j - m) - 1)/|S|`;
- 1.5-entmax: with :math:`y = (z - m)/2` and :math:`\mu`, :math:`s^2` the mean
  and sum of squared deviations of :math:`y` over :math:`S`,
  :math:`c = 2\bigl(\mu - \sqrt{(1 - s^2)/|S|}\bigr)`.

No full sort (the dominant cost of the ``entmax`` package). In eager mode:

1. maxima of strided blocks (``BLOCK`` entries ``j, j+B, j+2B, ...``) give the
   row maximum in one pass; the threshold of the block maxima is a lower bound
   of the row's (it only grows as entries are added), found by the same
   search, recursively;
2. only blocks whose maximum clears that bound can hold support: they are
   gathered into a small matrix, unless they are much of the row;
3. from the lower bound, Newton's method on the convex decreasing
   :math:`f(c) = \sum_i p_i - 1` is monotone; for sparsemax it is Michelot's
   pivot algorithm, finite and exact. 1.5-entmax finishes with the closed form,
   accepted when consistent with the support it came from; other alphas use a
   bracketed Newton-bisection to a few ulps and renormalise.

Traced code (``torch.compile``) and functorch transforms (``vmap``,
``jacrev``) need static shapes and no reads of values: they get the
sort-based algorithm of Martins & Astudillo 2016 for the two exact maps and ``n_iter`` Newton-bisection
steps for the others. Everything is array-API code; a backend may declare an
in-place block compaction kernel (torch does). :mod:`actlab.simplex.sparse_forward`
is the front door (non-finite rows, output, the optional compiled kernels).

References: Martins & Astudillo 2016 (Algorithm 1); Peters, Niculae &
Martins 2019; Michelot 1986; Condat 2016.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["solve", "maxima", "shift", "is_exact", "static_required", "density", "sort_cut", "exact_cut",
           "moment_cut", "newton_cut_step", "bracketed_newton", "sigma_upper", "screen"]

BLOCK = 16
"""Entries per strided block in the block-maximum screening."""
DIRECT_MAX = 512
"""Rows at most this long are searched whole."""
DENSE_FRACTION = 0.6
"""Gathering more than this fraction of a row costs more than it saves."""
MAX_EXACT_ITER = 64
"""Pivot steps before the exact maps fall back to the sort algorithm."""


def is_exact(beta: Any) -> bool:
    """Whether ``beta`` (alpha - 1) has the closed form on its support (1 or 1/2)."""
    return isinstance(beta, float) and beta in (1.0, 0.5)


def static_required(x: Any, xp: Any) -> bool:
    """True when the code may not branch on the values of ``x`` (while
    ``torch.compile`` traces or a functorch transform wraps it)."""
    return not xp.may_branch(x)


def _count(mask: Any, dtype: Any, xp: Any) -> Any:
    return xp.sum(xp.astype(mask, dtype), axis=-1, keepdims=True)


def _device(x: Any) -> Any:
    return getattr(x, "device", None)


def density(u: Any, beta: Any, xp: Any) -> tuple[Any, Any]:
    r"""``p = [1 + beta u]_+^(1/beta)`` and its slope ``w = p^(1-beta) = -dp/dsigma``
    at ``u = z - m - sigma`` (``-inf`` allowed), through ``exp(log1p(beta u)/beta)``,
    accurate as beta -> 0 (softmax)."""
    bu = beta * u
    pos = bu > -1.0
    bu = xp.where(pos, bu, 0.0)
    p = xp.where(pos, xp.exp(xp.log1p(bu) / beta), 0.0)
    return p, p / (1.0 + bu)


def sigma_upper(k: int, beta: Any, xp: Any) -> Any:
    """``(1 - k**-beta)/beta``: sigma there makes the largest entry 1/k."""
    lk = math.log(max(k, 1))
    if isinstance(beta, float):
        return -math.expm1(-beta * lk) / beta
    return -xp.expm1(-beta * lk) / beta


def exact_cut(X: Any, support: Any, beta: float, xp: Any) -> Any:
    """The cut of sparsemax or 1.5-entmax whose support is ``support`` (a
    boolean mask with at least one entry per row)."""
    k = _count(support, X.dtype, xp)
    k = xp.where(k > 0, k, 1.0)
    Xs = xp.where(support, X, 0.0)
    if beta == 1.0:
        return (xp.sum(Xs, axis=-1, keepdims=True) - 1.0) / k
    y = 0.5 * Xs
    mu = xp.sum(y, axis=-1, keepdims=True) / k
    dev = xp.where(support, y - mu, 0.0)
    ss = xp.sum(dev * dev, axis=-1, keepdims=True)
    return 2.0 * (mu - xp.sqrt(xp.clip((1.0 - ss) / k, min=0.0)))


def sort_cut(X: Any, beta: float, xp: Any) -> Any:
    """The sort-based algorithm (Martins & Astudillo 2016, Algorithm 1; its
    1.5-entmax analogue, Peters et al. 2019): the cut from fully sorted rows.
    Static shapes; rows of ``X`` have maximum 0, ``-inf`` allowed."""
    K = X.shape[-1]
    zs = xp.sort(X, axis=-1, descending=True)
    fin = zs > -math.inf
    zs = xp.where(fin, zs, 0.0)  # -inf sorts last: the prefix sums stay exact
    rho = xp.arange(1, K + 1, dtype=X.dtype, device=_device(X))
    cs = xp.cumulative_sum(zs, axis=-1)
    if beta == 1.0:
        cand = (cs - 1.0) / rho
        ok = fin & (zs > cand)
    else:
        mean = 0.5 * cs / rho
        msq = 0.25 * xp.cumulative_sum(zs * zs, axis=-1) / rho
        cand = 2.0 * (mean - xp.sqrt(xp.clip((1.0 - rho * (msq - mean * mean)) / rho, min=0.0)))
        ok = fin & (cand <= zs)
    k = xp.sum(xp.astype(ok, xp.int64), axis=-1, keepdims=True)
    return xp.take_along_axis(cand, xp.where(k > 0, k - 1, xp.zeros_like(k)), axis=-1)


def moment_cut(k: Any, A: Any, B: Any, s: Any, beta: float, xp: Any) -> Any:
    r"""The cut of sparsemax or 1.5-entmax on the support ``{X > s}`` from its
    size ``k`` and the sums ``A``, ``B`` of ``e = X - s`` and ``e^2`` over it
    (sums that add up across shards): :func:`exact_cut` in moments,
    :math:`c = s + (A - 1)/k` for sparsemax and, for 1.5-entmax,
    :math:`c = s + A/k - 2\sqrt{(1 - (B - A^2/k)/4)/k}`."""
    kk = xp.where(k > 0, k, 1.0)
    if beta == 1.0:
        return s + (A - 1.0) / kk
    mean = A / kk
    ss = 0.25 * (B - A * mean)
    return s + mean - 2.0 * xp.sqrt(xp.clip((1.0 - ss) / kk, min=0.0))


def newton_cut_step(s: Any, A: Any, B: Any) -> Any:
    """Newton's step for 1.5-entmax in cut units from ``A = sum [X - s]_+`` and
    ``B = sum [X - s]_+^2``: the root of ``B/4 - 1`` along its slope ``-A/2``."""
    return s + (0.25 * B - 1.0) / (0.5 * A)


def bracketed_newton(beta: Any, sigma: Any, lo: Any, hi: Any, F: Any, g: Any, xp: Any):
    """The Newton-bisection update from ``F = sum p`` and ``g = sum w`` at
    ``sigma`` (see :func:`_bisect_newton_step`): ``(next sigma, lo, hi)``."""
    left = F >= 1.0
    lo = xp.where(left, sigma, lo)
    hi = xp.where(left, hi, sigma)
    Fs = xp.where(F > 0, F, 1.0)
    if isinstance(beta, float):
        num = (F - xp.pow(Fs, 1.0 - beta)) / beta if beta < 1.0 else F - 1.0
    else:
        num = xp.where(beta < 1.0, (F - xp.pow(Fs, 1.0 - beta)) / beta, F - 1.0)
    new = sigma + num / xp.where(g > 0, g, 1.0)
    return xp.where((new >= lo) & (new <= hi), new, 0.5 * (lo + hi)), lo, hi


def _bisect_newton_step(X: Any, beta: Any, sigma: Any, lo: Any, hi: Any, xp: Any):
    """Newton on ``F(sigma)^beta - 1`` (convex and nearly linear for beta < 1;
    on ``F - 1`` for beta >= 1), ``F = sum p``, kept inside the bracket
    ``[lo, hi]`` (bisection otherwise): ``(next sigma, lo, hi)``."""
    p, w = density(X - sigma, beta, xp)
    F = xp.sum(p, axis=-1, keepdims=True)
    g = xp.sum(w, axis=-1, keepdims=True)
    return bracketed_newton(beta, sigma, lo, hi, F, g, xp)


def _start(beta: Any, like: Any, xp: Any) -> Any:
    """The smallest possible solution: cut -1/beta for the exact maps, sigma 0."""
    zero = xp.zeros_like(like)
    return zero - 1.0 / beta if is_exact(beta) else zero


def _root(X: Any, beta: Any, s: Any, n_iter: int, exact: bool, xp: Any) -> tuple[Any, Any]:
    """The solution on rows ``X`` (maximum 0, ``-inf`` padding) from a lower
    bound ``s``: ``(solution, a lower bound of it)``, reading values to stop.

    Exact only for the closed-form maps with ``exact``; otherwise to a few ulps
    (a lower bound for the screening)."""
    eps = float(xp.finfo(X.dtype).eps)
    if isinstance(beta, float) and beta == 1.0:  # Michelot: finite, monotone
        prev = None
        for _ in range(MAX_EXACT_ITER):
            mask = X > s
            k = _count(mask, X.dtype, xp)
            new = (xp.sum(xp.where(mask, X, 0.0), axis=-1, keepdims=True) - 1.0) / k
            if prev is not None and bool(xp.all(k == prev)):
                return new, s
            prev, s = k, new
        return sort_cut(X, beta, xp), s
    if isinstance(beta, float) and beta == 0.5:  # Newton from the left, cut units
        prev = None
        for _ in range(MAX_EXACT_ITER):
            d = xp.clip(X - s, min=0.0)
            new = newton_cut_step(s, xp.sum(d, axis=-1, keepdims=True), xp.sum(d * d, axis=-1, keepdims=True))
            if exact:
                support = d > 0
                k = _count(support, X.dtype, xp)
                if prev is not None and bool(xp.all(k == prev)):
                    c = exact_cut(X, support, beta, xp)
                    if bool(xp.all(_count(support & (X >= c), X.dtype, xp) == k)):
                        return c, s
                prev = k
            elif bool(xp.all(xp.abs(new - s) <= 4 * eps * (1.0 + xp.abs(s)))):
                return new, s
            s = new
        return (sort_cut(X, beta, xp) if exact else s), s
    lo, hi = s, s * 0.0 + sigma_upper(X.shape[-1], beta, xp)
    for _ in range(max(n_iter, 1)):
        new, lo, hi = _bisect_newton_step(X, beta, s, lo, hi, xp)
        if bool(xp.all(xp.abs(new - s) <= 4 * eps * (1.0 + xp.abs(s)))):
            return new, lo
        s = new
    return s, lo


def _block_maxima(x: Any, xp: Any) -> Any:
    """Maxima of the strided blocks ``{j, j+B, ..., j+(BLOCK-1)B}`` (and of the tail)."""
    K = x.shape[-1]
    B = K // BLOCK
    lead = tuple(x.shape[:-1])
    bmax = xp.max(xp.reshape(x[..., : B * BLOCK], lead + (BLOCK, B)), axis=-2)
    if K % BLOCK:
        bmax = xp.concat([bmax, xp.max(x[..., B * BLOCK :], axis=-1, keepdims=True)], axis=-1)
    return bmax


def shift(x: Any, m: Any, xp: Any) -> Any:
    """``x - m`` for ``x <= m``, reaching ``-inf`` instead of overflowing (and
    without NumPy's overflow warning)."""
    if not xp.warns_on_overflow:
        return x - m
    floor = xp.where(m > 0, m - float(xp.finfo(x.dtype).max), -math.inf)
    return xp.maximum(x, floor) - m


def _cut_of(s: Any, beta: Any) -> Any:
    return s if is_exact(beta) else s - 1.0 / beta


def _compact(mask: Any, xp: Any) -> Any:
    """Indices of the True entries of each row, in as many columns as the
    fullest row has; a row with fewer is padded with -1 (torch) or with
    indices of other entries (which only adds entries outside the support)."""
    if xp.kernels.sparse_compact is not None:
        return xp.kernels.sparse_compact(mask)
    nb = int(xp.max(_count(mask, xp.float32, xp)))
    return xp.argsort(xp.astype(mask, xp.int8), axis=-1, descending=True, stable=True)[..., :nb]


def _gather_candidates(x: Any, m: Any, bmax: Any, cut: Any, xp: Any) -> Any:
    """The blocks whose maximum clears ``cut`` (shifted units), as a dense
    matrix of shifted values padded with ``-inf``; None if too large."""
    K = x.shape[-1]
    B = K // BLOCK
    blocks = _compact(shift(bmax, m, xp) > cut, xp)
    nb = blocks.shape[-1]
    if nb * BLOCK > DENSE_FRACTION * K:
        return None
    blocks = xp.expand_dims(blocks, axis=-1)
    i = xp.arange(BLOCK, dtype=blocks.dtype, device=_device(x))
    idx = xp.where(blocks < B, blocks + i * B, B * BLOCK + i)
    valid = (blocks >= 0) & (idx < K)
    shape = tuple(idx.shape[:-2]) + (nb * BLOCK,)
    idx, valid = xp.reshape(xp.where(valid, idx, xp.zeros_like(idx)), shape), xp.reshape(valid, shape)
    vals = xp.take_along_axis(x, idx, axis=-1)
    return xp.where(valid, shift(vals, m, xp), -math.inf)


def screen(x: Any, m: Any, cut: Any, xp: Any) -> Any:
    """The entries of long rows ``x`` (maxima ``m``) that can clear ``cut``
    (shifted units, a lower bound of the row's cut), gathered block by block
    as in the search: a dense matrix of shifted values padded with ``-inf``,
    which holds the support; None for short rows, or when that is much of the row."""
    if x.shape[-1] <= DIRECT_MAX:
        return None
    return _gather_candidates(x, m, _block_maxima(x, xp), cut, xp)


def _search(x: Any, m: Any, bmax: Any, beta: Any, n_iter: int, exact: bool, xp: Any):
    """``(solution, lower bound)`` on rows ``x`` with maxima ``m`` (``bmax``
    their block maxima, or None to compute them when the rows are long)."""
    s = _start(beta, m, xp)
    if x.shape[-1] > DIRECT_MAX:
        bmax = _block_maxima(x, xp) if bmax is None else bmax
        zero = xp.zeros_like(m)
        _, s = _search(shift(bmax, m, xp), zero, None, beta, n_iter, False, xp)
        X = _gather_candidates(x, m, bmax, _cut_of(s, beta), xp)
        if X is None:
            X = shift(x, m, xp)
    else:
        X = shift(x, m, xp)
    return _root(X, beta, s, n_iter, exact, xp)


def maxima(x: Any, static: bool, xp: Any) -> tuple[Any, Any]:
    if not static and x.shape[-1] > DIRECT_MAX:
        bmax = _block_maxima(x, xp)
        return xp.max(bmax, axis=-1, keepdims=True), bmax
    return xp.max(x, axis=-1, keepdims=True), None


def solve(x: Any, m: Any, bmax: Any, beta: Any, n_iter: int, static: bool, xp: Any) -> Any:
    if not static:
        return _search(x, m, bmax, beta, n_iter, True, xp)[0]
    X = shift(x, m, xp)
    if is_exact(beta):
        return sort_cut(X, beta, xp)
    s, lo, hi = _start(beta, m, xp), m * 0.0, m * 0.0 + sigma_upper(X.shape[-1], beta, xp)
    for _ in range(n_iter):
        s, lo, hi = _bisect_newton_step(X, beta, s, lo, hi, xp)
    return s
