r"""Sparsegen-lin and sparsehourglass (Laha, Chemmengath, Agrawal, Khapra,
Sankaranarayanan & Ramaswamy 2018, "On Controllable Sparse Alternatives to
Softmax", NeurIPS): sparsemax with a control on its sparsity.

- sparsegen-lin: :math:`\arg\min_{p\in\Delta}\lVert p - z\rVert^2 - \lambda\lVert p\rVert^2`
  for :math:`\lambda < 1`, which is :math:`\operatorname{sparsemax}(z/(1-\lambda))`:
  :math:`\lambda \to 1` tends to the arg max (one-hot), :math:`\lambda \to -\infty` to the
  uniform distribution, :math:`\lambda = 0` is sparsemax. Its Jacobian is sparsemax's
  divided by :math:`1-\lambda`.
- sparsehourglass, for :math:`q > 0`:
  :math:`\operatorname{sparsemax}(\alpha(z) z)` with
  :math:`\alpha(z) = (1 + Kq)/(\lvert\sum_j z_j\rvert + Kq)` (K the number of entries), a
  translation- and scale-sensitive map whose output for :math:`q \to \infty` is
  sparsemax's and which tends to the scale-invariant sum normalisation as
  :math:`q \to 0` (for non-negative z). With :math:`u = J_{\mathrm{sp}} g`:
  :math:`g^\top J = \alpha u + \langle u, z\rangle \nabla\alpha`,
  :math:`\nabla_j\alpha = -\alpha\operatorname{sign}(\sum z)/(\lvert\sum z\rvert + Kq)`.
  Evaluated in units of the row's largest magnitude, so the sum never overflows.

Masked (-inf) entries get 0 and, in sparsehourglass, are left out of the
sum and of K.
"""

from __future__ import annotations

import math
from typing import Any

from .._simplex import simplex_map
from ..registry import Param, Properties, positive
from . import sparse_forward
from .entmax import entmax_vjp_math
from .shifted_exp import quiet
from .threshold import shift

__all__ = ["sparsegen_lin", "sparsehourglass"]

_REF = ("Laha, Chemmengath, Agrawal, Khapra, Sankaranarayanan & Ramaswamy 2018, On Controllable Sparse "
        "Alternatives to Softmax (NeurIPS), arXiv:1810.11975.")
_PROPS = Properties((0, 1), monotone=True, smooth=False, zero_centred=False, bounded=True)


def _sparsemax_vjp(y: Any, g: Any, xp: Any) -> Any:
    """sparsemax's VJP at output ``y`` (``g`` broadcast to y's shape; K = 0 gives the empty array)."""
    if y.shape[-1] == 0:
        return y * 0.0
    return entmax_vjp_math(y, xp.broadcast_to(g, tuple(y.shape)), 1.0, xp)


def _lin_vjp(x: Any, y: Any, g: Any, lam: Any, *, xp: Any) -> Any:
    return _sparsemax_vjp(y, g, xp) / (1.0 - lam)


@simplex_map(
    family="sparse",
    latex=r"\operatorname{sparsegen\text{-}lin}(z)=\operatorname{sparsemax}\!\left(\frac{z}{1-\lambda}\right)",
    dlatex=r"\frac{1}{1-\lambda}\left(\operatorname{diag}(s)-\frac{ss^\top}{|S|}\right)",
    vjp=_lin_vjp,
    params=(Param("lam", 0.0, "< 1", lambda v: v < 1.0, sweep=(-1.0, 0.0, 0.5, 0.9),
                  doc="sparsity control: 0 is sparsemax, towards 1 one-hot, towards -inf uniform"),),
    reference=_REF,
    properties=_PROPS,
    notes="sparsemax(z / (1 - lam)); lam < 1.",
    masks=True,
    shift_invariant=True,
)
def sparsegen_lin(x: Any, lam: Any, *, xp: Any) -> Any:
    r"""Sparsegen-lin: :math:`\arg\min_{p\in\Delta}\lVert p-z\rVert^2-\lambda\lVert p\rVert^2
    = \operatorname{sparsemax}(z/(1-\lambda))`.

    Args:
        x: scores. lam: < 1 (0 gives sparsemax; larger is sparser).
        axis, temperature, where: the map's axis, ``x / temperature``, a mask.

    Returns:
        A point of the simplex along ``axis``, exact (sparsemax's search).

    Example:
        >>> import actlab
        >>> actlab.sparsegen_lin([-2.0, 0.0, 0.5], 0.5).tolist()
        [0.0, 0.0, 1.0]
        >>> actlab.sparsegen_lin([-2.0, 0.0, 0.5], -1.0).tolist()
        [0.0, 0.375, 0.625]

    Reference: Laha et al. 2018 (sparsegen-lin).
    """
    if x.shape[-1] == 0:
        return x + 0.0
    # shift by the row maximum before dividing (sparsemax is shift-invariant): the entries near
    # the maximum, which hold the support, are then exact, and 1/(1 - lam) rounds only |x - max|
    m = xp.max(x, axis=-1, keepdims=True)
    with quiet(xp):  # an entry beyond the range below the maximum becomes -inf, with no support either way
        xs = shift(x, xp.where(xp.isfinite(m), m, 0.0), xp) / (1.0 - lam)
    return sparse_forward.forward(xs, 1.0, 0, xp)


def _scale(x: Any, q: Any, xp: Any):
    """``(z, f, c, u, live, finite_row)`` of sparsehourglass along the last axis, in units of the
    row's largest magnitude ``s`` (so the sum cannot overflow): ``u = x / s``,
    ``D = |sum u| + Kq/s``, ``z = alpha(x) x = (1 + Kq) u / D``, the derivative factor
    ``f = alpha = (1 + Kq)/(s D)`` and ``c = sign(sum u) / D`` (``grad alpha = -f c / s``)."""
    live = x > -math.inf
    finite_row = xp.all(xp.isfinite(x) | (x == -math.inf), axis=-1, keepdims=True) & xp.any(live, axis=-1, keepdims=True)
    xs = xp.where(live & finite_row, x, 0.0)
    scale = xp.max(xp.abs(xs), axis=-1, keepdims=True)
    scale = xp.where(scale > 0, scale, 1.0)
    u = xs / scale
    k = xp.sum(xp.astype(live, x.dtype), axis=-1, keepdims=True)
    total = xp.sum(u, axis=-1, keepdims=True)
    with quiet(xp):  # k q / s is +inf only when the true value is beyond the range (then alpha x -> 0)
        den = xp.abs(total) + k * q / scale
    den = xp.where(den > 0, den, 1.0)
    with quiet(xp):  # alpha x beyond the float range is +-inf, which sparsemax takes as its limit
        z = xp.where(finite_row, xp.where(live, ((1.0 + k * q) * u) / den, -math.inf), x)
    with quiet(xp):
        f = (1.0 + k * q) / (scale * den)
    return z, f, xp.sign(total) / den, u, live, finite_row


def _hg_vjp(x: Any, y: Any, g: Any, q: Any, *, xp: Any) -> Any:
    if x.shape[-1] == 0:
        return x + 0.0
    _, f, c, u, live, finite_row = _scale(x, q, xp)
    ug = _sparsemax_vjp(y, g, xp)
    uu = xp.sum(xp.where(y > 0, u, 0.0) * ug, axis=-1, keepdims=True)
    return xp.where(finite_row, f * (ug - xp.where(live, uu * c, 0.0)), ug)


def _hg_jvp(x: Any, y: Any, v: Any, q: Any, *, xp: Any) -> Any:
    if x.shape[-1] == 0:
        return x + 0.0
    _, f, c, u, live, finite_row = _scale(x, q, xp)
    sv = xp.sum(xp.where(live, v, 0.0), axis=-1, keepdims=True)
    out = _sparsemax_vjp(y, f * (v - u * c * sv), xp)
    return xp.where(finite_row, out, _sparsemax_vjp(y, v, xp))


@simplex_map(
    family="sparse",
    latex=r"\operatorname{sparsehg}(z)=\operatorname{sparsemax}\!\left(\frac{1+Kq}{|\sum_j z_j|+Kq}\,z\right)",
    dlatex=r"g^\top J=\alpha u+\langle u,z\rangle\nabla\alpha,\ u=J_{\mathrm{sparsemax}}g",
    vjp=_hg_vjp,
    jvp=_hg_jvp,
    params=(Param("q", 1.0, "> 0", positive, sweep=(0.1, 1.0, 10.0),
                  doc="large q: sparsemax; small q: close to sum normalisation"),),
    temperature=False,
    reference=_REF,
    properties=_PROPS,
    notes="Not shift-invariant. -inf entries are masked (out of the sum and of K).",
    masks=True,
)
def sparsehourglass(x: Any, q: Any, *, xp: Any) -> Any:
    r"""Sparsehourglass: :math:`\operatorname{sparsemax}(\alpha(z)\,z)`,
    :math:`\alpha(z) = (1+Kq)/(\lvert\sum_j z_j\rvert + Kq)`.

    Args:
        x: scores. q: > 0.
        axis, where: the map's axis, a mask (masked entries are left out of
            the sum and of K).

    Returns:
        A point of the simplex along ``axis`` (exact: sparsemax's search on
        the rescaled scores).

    Example:
        >>> import actlab
        >>> actlab.sparsehourglass([1.0, 2.0, 5.0], 1.0).tolist()
        [0.0, 0.0, 1.0]
        >>> [round(v, 4) for v in actlab.sparsehourglass([1.0, 2.0, 5.0], 0.01).tolist()]
        [0.1196, 0.2478, 0.6326]

    Reference: Laha et al. 2018 (sparsehourglass), with the scale as in the
    authors' code.
    """
    if x.shape[-1] == 0:
        return x + 0.0
    z, *_ = _scale(x, q, xp)
    return sparse_forward.forward(z, 1.0, 0, xp)
