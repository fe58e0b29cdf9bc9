"""Alternatives to softmax: hardmax, sum normalisation, the
spherical and Taylor softmax of de Brebisson & Vincent (2016).

The last three are ratio maps ``p_i = q(z_i) / sum_j q(z_j)`` with
``q >= 0``; they share one evaluation (with a power-of-two rescaling so that
``q`` never overflows) and one Jacobian:
``J = (diag(q') - p q'^T) / S``, ``S = sum_j q(z_j)``.

Non-finite entries follow the masking convention of softmax (that of
attention): -inf entries are absent (probability 0, zero gradient), even
where ``q(-inf)`` would be +inf; +inf entries share the mass, with the
gradient softmax has there (``y (g - <g, y>)``: the ratio maps' own
Jacobian vanishes in that limit); NaN makes its row NaN. The spherical and
Taylor softmax apply the temperature inside the rescaling, so ``z / T``
never overflows.
"""

from __future__ import annotations

import math

from .._simplex import simplex_map
from ..registry import Param, Properties
from .shifted_exp import branchable, quiet

__all__ = ["hardmax", "sum_normalize", "spherical_softmax", "taylor_softmax", "log_ratio"]

_PROB = Properties((0, 1), monotone=False, smooth=True, zero_centred=False, bounded=True)
_DB = "de Brebisson & Vincent, 'An exploration of softmax alternatives belonging to the spherical loss family', ICLR 2016 (arXiv 1511.05042)"


# -- ratio maps --------------------------------------------------------------


def _scale(x, f, xp):
    """``(w, inv)``: ``w = z / c`` for ``z = f x`` (non-finite entries of x
    zeroed) and ``inv = 1/c``, ``c`` a power of two per row (1 when
    ``max |z| < 4``) so that ``|w| < 8``. Formed without forming z, which
    can overflow (``x`` near the largest float with ``|f| > 1``)."""
    xf = xp.where(xp.isfinite(x), x, 0.0)
    if f == 0.0:
        return xf * 0.0, 1.0 + 0.0 * xf
    mant, j = math.frexp(abs(f))
    jf = float(j - 1)  # |f| = (2 mant) 2^jf, 2 mant in [1, 2)
    m = xp.max(xp.abs(xf), axis=-1, keepdims=True)
    e = xp.floor(xp.log2(xp.where(m > 0.0, m, 1.0)))  # 2^e <= m < 2^(e+1) (or e one above: log2 rounds up)
    big = e + jf - 1.0 > 0.0
    eb = xp.where(big, e, 1.0)
    w = xp.where(big, (xf / 2.0 ** (eb - 1.0)) * (f / 2.0**jf), xp.where(big, 0.0, xf) * f)
    inv = xp.where(big, 2.0 ** -(eb + (jf - 1.0)), 1.0)
    return w, inv


def _spherical_terms(w, inv, eps, xp):
    """q(z)/c^2 and q'(z)/c^2 for q = z^2 + eps, w = z/c."""
    return w * w + (eps * inv) * inv, 2.0 * w * inv


def _taylor_terms(w, inv, order, xp):
    """t(z)/c^n and t'(z)/c^n for t the order-n Taylor polynomial of exp, w = z/c."""
    n = int(order)
    coef = [0.0 * inv] * (n + 1)  # coef[j] = c^(j-n) / j!
    power = 1.0 + 0.0 * inv
    for j in range(n, -1, -1):
        coef[j] = power / math.factorial(j)
        power = power * inv
    q = coef[n] + 0.0 * w
    for j in range(n - 1, -1, -1):
        q = q * w + coef[j]
    dq = n * coef[n] + 0.0 * w
    for j in range(n - 2, -1, -1):
        dq = dq * w + (j + 1) * coef[j + 1]
    return q, dq * inv


def _ratio_parts(x, terms, f, xp):
    """``(q, dq, S, ok, pinf)`` of a ratio map of ``z = f x`` on the last
    axis, with -inf entries of z absent; ``ok`` marks rows computed from q
    (finite, S > 0), ``pinf`` the +inf entries of z."""
    w, inv = _scale(x, f, xp)
    q, dq = terms(w, inv)
    top = math.inf if f >= 0.0 else -math.inf
    present = x != -top
    q = xp.where(present, q, 0.0)
    dq = xp.where(present, dq, 0.0)
    s = xp.sum(q, axis=-1, keepdims=True)
    pinf = x == top
    has_pinf = xp.any(pinf, axis=-1, keepdims=True)
    ok = ~has_pinf & (s > 0.0)
    return q, dq, s, ok, pinf


def _nan_rows(x, f, xp):
    """Rows that are NaN: a NaN entry, or with ``f = 0`` an infinite one (0 * inf)."""
    bad = xp.isnan(x) if f != 0.0 else ~xp.isfinite(x)
    return xp.any(bad, axis=-1, keepdims=True)


def _ratio_forward(x, terms, xp, f=1.0):
    with quiet(xp):
        q, dq, s, ok, pinf = _ratio_parts(x, terms, f, xp)
        p = q / xp.where(s > 0.0, s, 1.0)
        count = xp.sum(xp.astype(pinf, x.dtype), axis=-1, keepdims=True)
        hard = xp.where(pinf, 1.0 / xp.where(count > 0.0, count, 1.0), 0.0)
        p = xp.where(ok, p, hard)
        return xp.where(_nan_rows(x, f, xp), math.nan, p)


def _ratio_vjp(x, y, g, terms, xp, f=1.0):
    """``f dq (g - <g, y>) / S``; on rows with +inf entries (where y is the
    uniform distribution on them) softmax's ``f y (g - <g, y>)``, the
    convention every map follows there (see :func:`actlab.softmax`)."""
    with quiet(xp):
        q, dq, s, ok, _ = _ratio_parts(x, terms, f, xp)
        centred = g - xp.sum(g * y, axis=-1, keepdims=True)
        out = dq * centred / xp.where(s > 0.0, s, 1.0)
        out = xp.where(ok | xp.isnan(y), out, y * centred)
        return out if f == 1.0 else f * out


def _ratio_jvp(x, y, v, terms, xp, f=1.0):
    with quiet(xp):
        q, dq, s, ok, _ = _ratio_parts(x, terms, f, xp)
        out = (dq * v - y * xp.sum(dq * v, axis=-1, keepdims=True)) / xp.where(s > 0.0, s, 1.0)
        out = xp.where(ok | xp.isnan(y), out, y * (v - xp.sum(y * v, axis=-1, keepdims=True)))
        return out if f == 1.0 else f * out


def log_ratio(x, terms, xp):
    """``log q(x) - log sum q(x)`` along the last axis (-inf for absent
    entries): the log-probabilities of a ratio map, for its loss."""
    with quiet(xp):
        q, _, s, ok, pinf = _ratio_parts(x, terms, 1.0, xp)
        pos = q > 0.0
        lq = xp.where(pos, xp.log(xp.where(pos, q, 1.0)), -math.inf)
        y = lq - xp.log(xp.where(s > 0.0, s, 1.0))
        count = xp.sum(xp.astype(pinf, x.dtype), axis=-1, keepdims=True)
        hard = xp.where(pinf, -xp.log(xp.where(count > 0.0, count, 1.0)), -math.inf)
        y = xp.where(ok, y, hard)
        return xp.where(xp.any(xp.isnan(x), axis=-1, keepdims=True), math.nan, y)


def spherical_terms(eps):
    return lambda w, inv, xp=None: _spherical_terms(w, inv, eps, xp)


def taylor_terms(order):
    return lambda w, inv, xp=None: _taylor_terms(w, inv, order, xp)


def _sph_vjp(x, y, g, num, den, eps, *, xp):
    return _ratio_vjp(x, y, g, spherical_terms(eps), xp, num / den)


def _sph_jvp(x, y, v, num, den, eps, *, xp):
    return _ratio_jvp(x, y, v, spherical_terms(eps), xp, num / den)


def _tay_vjp(x, y, g, num, den, order, *, xp):
    return _ratio_vjp(x, y, g, taylor_terms(order), xp, num / den)


def _tay_jvp(x, y, v, num, den, order, *, xp):
    return _ratio_jvp(x, y, v, taylor_terms(order), xp, num / den)


def _even_order(v: float) -> bool:
    return v >= 2 and v == int(v) and int(v) % 2 == 0


@simplex_map(
    family="softmax alternatives",
    latex=r"p_i=\frac{z_i^2+\epsilon}{\sum_j (z_j^2+\epsilon)}",
    dlatex=r"\frac{\partial p_i}{\partial z_j}=\frac{2 z_j(\delta_{ij}-p_i)}{\sum_k (z_k^2+\epsilon)}",
    vjp=_sph_vjp,
    exact_temperature=True,
    jvp=_sph_jvp,
    params=(Param("eps", 1e-6, "> 0", valid=lambda v: v > 0 and math.isfinite(v), sweep=(1e-6, 0.1, 1.0)),),
    properties=_PROB,
    reference=_DB + "; Vincent et al. 2015.",
)
def spherical_softmax(x, num, den, eps, *, xp):
    r"""Spherical softmax: :math:`p_i = (z_i^2 + \epsilon) / \sum_j (z_j^2 + \epsilon)`.

    Even in z (not monotone); ``eps > 0`` keeps the all-zero row defined
    (uniform). Rows are rescaled by a power of two first, so z^2 never
    overflows. -inf entries are masked (probability 0), as in masked attention.

    Args:
        x: array or nested list; ``axis``, ``temperature`` (keyword).
        eps: the additive constant, > 0.

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> actlab.spherical_softmax([1.0, 2.0], eps=0.0001).round(4).tolist()
        [0.2, 0.8]
        >>> actlab.spherical_softmax([1e200, 2e200]).round(4).tolist()
        [0.2, 0.8]
    """
    return _ratio_forward(x, spherical_terms(eps), xp, num / den)


@simplex_map(
    family="softmax alternatives",
    latex=r"p_i=\frac{t(z_i)}{\sum_j t(z_j)},\ t(x)=\sum_{k=0}^{n}\frac{x^k}{k!}",
    dlatex=r"\frac{\partial p_i}{\partial z_j}=\frac{t'(z_j)(\delta_{ij}-p_i)}{\sum_k t(z_k)}",
    vjp=_tay_vjp,
    exact_temperature=True,
    jvp=_tay_jvp,
    params=(Param("order", 2, "even integer >= 2", valid=_even_order, sweep=(2, 4, 6)),),
    properties=_PROB,
    reference=_DB + ".",
)
def taylor_softmax(x, num, den, order, *, xp):
    r"""Taylor softmax: :math:`p_i = t(z_i)/\sum_j t(z_j)` with ``t`` the
    order-n Taylor polynomial of exp, :math:`t(x) = \sum_{k=0}^n x^k/k!`.

    Any even order is positive everywhere (its minimum is above 0), so this
    is a distribution; order 2 is ``1 + x + x^2/2``. Not monotone: t has
    its minimum at a negative x, and grows again as x -> -inf. Rows are
    rescaled by a power of two, so large |z| never overflows.

    Args:
        x: array or nested list; ``axis``, ``temperature`` (keyword).
        order: even integer >= 2.

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> actlab.taylor_softmax([0.0, 2.0]).round(4).tolist()
        [0.1667, 0.8333]
        >>> actlab.taylor_softmax([0.0, 2.0], order=4).round(4).tolist()
        [0.125, 0.875]
    """
    return _ratio_forward(x, taylor_terms(order), xp, num / den)


def _sum_terms(w, inv, xp=None):
    return w, inv + 0.0 * w


def _sum_vjp(x, y, g, *, xp):
    return _ratio_vjp(x, y, g, _sum_terms, xp)


def _sum_jvp(x, y, v, *, xp):
    return _ratio_jvp(x, y, v, _sum_terms, xp)


@simplex_map(
    family="softmax alternatives",
    latex=r"p_i=\frac{z_i}{\sum_j z_j}",
    dlatex=r"\frac{\partial p_i}{\partial z_j}=\frac{\delta_{ij}-p_i}{\sum_k z_k}",
    vjp=_sum_vjp,
    jvp=_sum_jvp,
    temperature=False,
    properties=Properties((0, 1), monotone=True, smooth=True, zero_centred=False, bounded=True),
    reference="Plain normalisation x / sum(x), the scale-invariant alternative softmax is compared with.",
    notes="Scale-invariant (softmax is shift-invariant instead).",
)
def sum_normalize(x, *, xp):
    r"""Sum normalisation: :math:`p_i = z_i / \sum_j z_j`, for non-negative
    z with a positive sum (else ValueError: checked in eager mode, not
    while ``torch.compile`` traces).

    Scale-invariant: ``sum_normalize([1, 2]) == sum_normalize([10, 20])``,
    where softmax is not. +inf entries share the mass; NaN
    makes its row NaN. Rescaled by a power of two, so the sum never
    overflows.

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> actlab.sum_normalize([1.0, 2.0]).round(4).tolist()
        [0.3333, 0.6667]
        >>> actlab.sum_normalize([10.0, 20.0]).round(4).tolist()
        [0.3333, 0.6667]
    """
    if branchable(x, xp):
        if bool(xp.any(x < 0.0)):
            raise ValueError("sum_normalize(): x must be non-negative, got a negative entry")
        positive = xp.any((x > 0.0) | xp.isnan(x), axis=-1)
        if not bool(xp.all(positive)):
            raise ValueError("sum_normalize(): every row of x must have a positive sum, got a zero row")
    return _ratio_forward(x, _sum_terms, xp)


# -- hardmax -----------------------------------------------------------------


def _hardmax_vjp(x, y, g, *, xp):
    return 0.0 * (g * y)


@simplex_map(
    family="softmax",
    latex=r"\mathrm{hardmax}(z)_i=\frac{[z_i=\max_j z_j]}{\#\{j: z_j=\max_k z_k\}}",
    dlatex=r"0",
    vjp=_hardmax_vjp,
    temperature=False,
    properties=Properties((0, 1), monotone=False, smooth=False, zero_centred=False, bounded=True),
    reference="The limit of softmax(beta z) as beta -> +inf (Goodfellow, Bengio & Courville 2016, Deep Learning, 6.2.2.3).",
)
def hardmax(x, *, xp):
    r"""Hardmax: ``1/m`` on each of the ``m`` maximal entries, 0 elsewhere;
    the limit of ``softmax(z / T)`` as ``T -> 0+``.

    Piecewise constant: zero gradient. A row of all -inf gives zeros; NaN
    makes its row NaN. Use ``hardmax(-x)`` for the minimum.

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> actlab.hardmax([1.0, 3.0, 3.0]).tolist()
        [0.0, 0.5, 0.5]
    """
    top = xp.max(x, axis=-1, keepdims=True)
    hit = (x == top) & (top != -math.inf)
    count = xp.sum(xp.astype(hit, x.dtype), axis=-1, keepdims=True)
    y = xp.where(hit, 1.0 / xp.where(count > 0.0, count, 1.0), 0.0)
    return xp.where(xp.isnan(top), math.nan, y)
