r"""alpha-entmax (Peters, Niculae & Martins 2019) and 1.5-entmax.

.. math:: \operatorname{entmax}_\alpha(z) = \arg\max_{p \in \Delta} \langle p, z\rangle
   + H^T_\alpha(p), \qquad p_i = [(\alpha-1) z_i - \tau]_+^{1/(\alpha-1)},

with the Tsallis entropy :math:`H^T_\alpha`; alpha = 1 is softmax, alpha = 2
sparsemax. The threshold search is in :mod:`actlab.simplex.threshold`.

Derivatives need only the output: with :math:`w = p^{2-\alpha}` on the
support, :math:`J = \operatorname{diag}(w) - w w^\top / \sum_j w_j` (symmetric,
so the VJP is the JVP), and (Peters et al. 2019, for a learned alpha, with
:math:`\hat w = w/\sum w`, :math:`\beta = \alpha - 1`)

.. math:: \frac{\partial p_i}{\partial\alpha} = \frac{p_i - \hat w_i}{\beta^2}
   - \frac{p_i \log p_i - \hat w_i \sum_j p_j \log p_j}{\beta}.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _backend
from .._simplex import simplex_map
from ..registry import Param, Properties
from . import sparse_forward, threshold

__all__ = ["entmax15", "entmax", "entmax_threshold", "entmax_weights", "entmax_vjp_math"]

_PROPS = Properties((0, 1), monotone=True, smooth=False, zero_centred=False, bounded=True)
_REF = "Peters, Niculae & Martins 2019, Sparse Sequence-to-Sequence Models (ACL)."


def _exact_complement(beta: float) -> bool:
    """Whether ``1 - beta`` is exact in float64 (alpha = 1.25, 3, ...)."""
    c = 1.0 - beta
    return c + beta == 1.0 and 1.0 - c == beta


def entmax_weights(y: Any, beta: Any, xp: Any) -> Any:
    """``w = y^(1-beta)`` on the support, 0 off it, NaN where ``y`` is NaN."""
    if isinstance(beta, float) and beta == 1.0:
        return xp.sign(y)
    if isinstance(beta, float) and beta == 0.0:
        return y
    # the masked branch keeps d/dy finite at y = 0 (double backward)
    pos = y > 0
    ys = xp.where(pos, y, 1.0)
    if isinstance(beta, float) and beta == 0.5:
        w = xp.sqrt(ys)
    elif isinstance(beta, float) and _exact_complement(beta):
        with xp.quiet():  # (one rounding; past the float range where beta > 1: inf, as the exact value)
            w = xp.pow(ys, 1.0 - beta)
    else:
        # y * y^(-beta), not y^(1 - beta): 1 - beta rounds (alpha = 0.9: 1.1), which costs |log y| eps/2;
        # where y^(-beta) overflows (tiny y, beta > 0), y^(1 - beta) instead
        fits = -beta * xp.log(xp.detach(ys)) < math.log(xp.finfo(ys.dtype).max) - 1.0  # (no overflow to probe)
        yn, yt = xp.where(fits, ys, 1.0), xp.where(fits, 1.0, ys)  # (each branch finite, for autograd)
        with xp.quiet():  # (y^(1 - beta) may pass the float range where beta > 1: inf, as the exact value)
            w = xp.where(fits, yn * xp.pow(yn, -beta), xp.pow(yt, 1.0 - beta))
    return xp.where(pos, w, y * 0.0)


def entmax_vjp_math(y: Any, g: Any, beta: Any, xp: Any) -> Any:
    r"""``w * (g - <w, g>/sum(w))``: the VJP (and JVP) of entmax at output ``y``.
    Rows with no support (all -inf input) get 0."""
    fast = sparse_forward.compiled_vjp(y, g, beta, xp)
    if fast is not None:
        return fast
    kernel = xp.kernels.entmax_vjp
    if kernel is not None and isinstance(beta, float) and xp.may_branch(g) and not xp.records_grad():
        return kernel(y, g, beta)  # plain backward: in-place kernel
    w = entmax_weights(y, beta, xp)
    sw = xp.sum(w, axis=-1, keepdims=True)
    q = xp.sum(w * g, axis=-1, keepdims=True) / xp.where(sw > 0, sw, 1.0)
    return w * (g - q)


def _alpha_vjp(x: Any, y: Any, g: Any, alpha: Any, n_iter: Any, *, xp: Any) -> tuple[Any, None]:
    """Gradient of ``<g, entmax(x, alpha)>`` w.r.t. an array alpha (reduced over the axis)."""
    if isinstance(alpha, float):
        return None, None
    beta = alpha - 1.0
    w = entmax_weights(y, beta, xp)
    sw = xp.sum(w, axis=-1, keepdims=True)
    wh = w / xp.where(sw > 0, sw, 1.0)  # an all -inf row: y = w = 0, so d = 0
    pos = y > 0
    ylogy = xp.where(pos, y * xp.log(xp.where(pos, y, 1.0)), 0.0)
    ent = xp.sum(ylogy, axis=-1, keepdims=True)
    d = (y - wh) / (beta * beta) - (ylogy - wh * ent) / beta
    return xp.sum(g * d, axis=-1, keepdims=True), None


def _vjp15(x: Any, y: Any, g: Any, *, xp: Any) -> Any:
    return entmax_vjp_math(y, g, 0.5, xp)


@simplex_map(
    family="sparse",
    latex=r"\operatorname{entmax}_{1.5}(z)_i=\left[\tfrac{z_i}{2}-\tau(z)\right]_+^2",
    dlatex=r"\operatorname{diag}(w)-\frac{ww^\top}{\sum_j w_j},\ w=\sqrt{p}",
    vjp=_vjp15,
    shift_invariant=True,
    reference=_REF,
    properties=_PROPS,
    notes="Exact (closed form on the support); between softmax (dense) and sparsemax. C^1, not C^2.",
)
def entmax15(x: Any, *, xp: Any) -> Any:
    r"""1.5-entmax: :math:`p_i = [z_i/2 - \tau]_+^2` with :math:`\sum_i p_i = 1`,
    computed exactly (support search, then the closed form on the support).

    Args:
        x: scores; axis: the map's axis; temperature: divides ``x`` first.

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> [round(v, 4) for v in actlab.entmax15([-2.0, 0.0, 0.5]).tolist()]
        [0.0, 0.326, 0.674]

    Reference: Peters, Niculae & Martins 2019.
    """
    return sparse_forward.forward(x, 0.5, 0, xp)


def _entmax_vjp(x: Any, y: Any, g: Any, alpha: Any, n_iter: Any, *, xp: Any) -> Any:
    if isinstance(alpha, float) and alpha == 1.0:  # softmax: w = p
        return y * (g - xp.sum(g * y, axis=-1, keepdims=True))
    return entmax_vjp_math(y, g, _beta(alpha, y, xp), xp)


def _beta(alpha: Any, x: Any, xp: Any) -> Any:
    if isinstance(alpha, float):
        return alpha - 1.0
    if _backend.backend_of(alpha) is not xp:
        alpha = xp.asarray_like(alpha, x)
    if alpha.dtype != x.dtype:
        alpha = xp.astype(alpha, x.dtype)
    if alpha.ndim == x.ndim and alpha.shape[-1] != 1:
        raise ValueError("entmax(): an array alpha must have size 1 along the map's axis (one alpha per row, "
                         f"not per class), got shape {tuple(alpha.shape)} against x's {tuple(x.shape)} (axis last)")
    if not threshold.static_required(x, xp) and not bool(xp.all(alpha > 1.0)):
        raise ValueError("entmax(): an array alpha must be > 1 everywhere (use a float alpha=1 for softmax)")
    return alpha - 1.0


def _valid_alpha(a: float) -> bool:
    return a > 0.0 and math.isfinite(a)


@simplex_map(
    family="sparse",
    latex=r"\operatorname{entmax}_\alpha(z)_i=\left[(\alpha-1)z_i-\tau(z)\right]_+^{1/(\alpha-1)}",
    dlatex=r"\operatorname{diag}(w)-\frac{ww^\top}{\sum_j w_j},\ w=p^{2-\alpha}",
    vjp=_entmax_vjp,
    shift_invariant=True,
    param_vjp=_alpha_vjp,
    reference=_REF,
    properties=_PROPS,
    params=(
        Param("alpha", 1.5, "> 0", _valid_alpha, array=True, sweep=(0.5, 1.0, 1.25, 1.5, 2.0, 4.0),
              doc="1: softmax; 1.5: 1.5-entmax; 2: sparsemax; other values by Newton-bisection on tau; "
              "below 1 dense (actlab.simplex.entmax_dense)"),
        Param("n_iter", 50, "a positive integer", lambda n: math.isfinite(n) and n >= 1 and n == int(n),
              doc="most Newton-bisection steps (alpha not in {1, 1.5, 2})"),
    ),
    notes="Exact for alpha in {1, 1.5, 2}; otherwise to a few ulps, then renormalised. "
    "An array alpha (size 1 along the axis) is differentiable: torch tensors get d/dalpha.",
)
def entmax(x: Any, alpha: Any, n_iter: Any, *, xp: Any) -> Any:
    r"""alpha-entmax: :math:`p_i = [(\alpha-1) z_i - \tau]_+^{1/(\alpha-1)}`,
    :math:`\sum_i p_i = 1`. alpha = 1 is softmax, 1.5 is :func:`entmax15`, 2 is
    :func:`sparsemax` (exact); other alphas solve for tau by safeguarded
    Newton-bisection from a lower bound, to a few ulps, then renormalise.

    Args:
        x: scores.
        alpha: > 0 (below 1 the map is dense, as the ``entmax`` package's
            bisection allows); a float, or an array broadcastable to ``x`` with size 1
            along ``axis`` (each entry > 1): a torch tensor that requires grad
            gets a gradient (Peters et al. 2019).
        n_iter: the most Newton-bisection steps (each halves the bracket at
            worst; Newton usually converges in fewer than 10).
        axis, temperature: the map's axis; ``x`` is divided by ``temperature``.

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab
        >>> [round(v, 4) for v in actlab.entmax([-2.0, 0.0, 0.5], alpha=2).tolist()]
        [0.0, 0.25, 0.75]

    Reference: Peters, Niculae & Martins 2019.
    """
    if isinstance(alpha, float) and alpha == 1.0:
        from .softmax import softmax

        return softmax.spec.forward(x, 1.0, 1.0, xp=xp)  # (num, den): temperature 1
    if isinstance(alpha, float) and alpha < 1.0:
        from .entmax_dense import dense_entmax

        return dense_entmax(x, alpha - 1.0, int(n_iter), xp)
    return sparse_forward.forward(x, _beta(alpha, x, xp), int(n_iter), xp)


def entmax_threshold(x: Any, /, alpha: float = 1.5, n_iter: int = 50, *, axis: int = -1, temperature: float = 1.0):
    r"""The threshold :math:`\tau` and support size of :func:`entmax`:
    ``entmax(x) = [(alpha-1) x/T - tau]_+^(1/(alpha-1))`` along ``axis``.

    Returns ``(tau, support)``, both with ``axis`` kept (size 1); ``support``
    counts the nonzero outputs. Rows whose maximum is not finite get their
    maximum as tau. Not differentiable (tau is computed on detached input).

    Example:
        >>> import actlab
        >>> tau, k = actlab.entmax_threshold([-2.0, 0.0, 0.5], alpha=1.5)
        >>> round(float(tau[0]), 4), int(k[0])
        (-0.571, 2)
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 1 or not math.isfinite(alpha):
        raise ValueError(f"entmax_threshold(): alpha must be a finite number > 1, got {alpha!r}")
    n = entmax.entry.params[1].check(n_iter, "entmax_threshold")
    return threshold_front(x, float(alpha) - 1.0, int(n), axis, temperature, "entmax_threshold")


def threshold_front(x: Any, beta: float, n_iter: int, axis: int, temperature: Any, owner: str):
    """Shared front-end of the threshold functions: ``(tau, support)``."""
    from .._simplex import MapSpec, move_axis_back

    xb = _backend.backend_of(x)
    if xb is not None:
        x = xb.detach(x)
    spec = MapSpec(owner, lambda v, *, xp: v, lambda *a, **k: None)
    xp, xw, ax, out_dtype = spec.prepare(x, axis, temperature)
    y, tau = sparse_forward.forward(xw, beta, n_iter, xp, with_threshold=True)
    support = xp.sum(xp.astype(y > 0, xp.int64), axis=-1, keepdims=True)
    tau = tau if tau.dtype == out_dtype else xp.astype(tau, out_dtype)
    return move_axis_back(tau, ax, xp), move_axis_back(support, ax, xp)
