r"""alpha-ReLU (Tezekbayev, Nikoulina, Gallé & Assylbekov 2022, "Speeding Up
Entmax", NAACL Findings, arXiv:2111.06832): alpha-entmax with its
input-dependent threshold replaced by a fixed one,

.. math:: \alpha\text{-ReLU}(z)_i = \bigl[(\alpha - 1) z_i - \tau\bigr]_+^{1/(\alpha-1)},

an exp-free, sort-free map applied entry by entry (not normalised: the
outputs need not sum to 1; the paper trains it with the entmax loss so that
they come close). Its Jacobian is diagonal,
:math:`\partial_i = [(\alpha-1) z_i - \tau]_+^{(2-\alpha)/(\alpha-1)}`
(1 on the support for alpha = 2, where the map is :math:`\operatorname{relu}(z - \tau)`).
-inf entries give 0 and zero gradient; +inf gives +inf; NaN gives NaN (in its
entry only: the map is element-wise); an output beyond the
float range is +inf, without an overflow warning.
"""

from __future__ import annotations

import math
from typing import Any

from .._simplex import simplex_map
from ..registry import Param, Properties, finite
from .shifted_exp import quiet

__all__ = ["alpha_relu"]


def _base(x: Any, alpha: Any, tau: Any, xp: Any) -> tuple[Any, Any]:
    beta = alpha - 1.0
    u = beta * x - tau
    pos = u > 0
    return xp.where(pos, u, 1.0), pos


def _slope(x: Any, alpha: Any, tau: Any, xp: Any) -> Any:
    u, pos = _base(x, alpha, tau, xp)
    if alpha == 2.0:
        return xp.astype(pos, x.dtype)
    with quiet(xp):
        return xp.where(pos, xp.pow(u, (2.0 - alpha) / (alpha - 1.0)), 0.0)


def _vjp(x: Any, y: Any, g: Any, alpha: Any, tau: Any, *, xp: Any) -> Any:
    d = _slope(x, alpha, tau, xp)
    return xp.where(d == 0, 0.0, g * d)


@simplex_map(
    family="sparse",
    latex=r"\alpha\text{-ReLU}(z)_i=\left[(\alpha-1)z_i-\tau\right]_+^{1/(\alpha-1)}",
    dlatex=r"\frac{\partial p_i}{\partial z_i}=\left[(\alpha-1)z_i-\tau\right]_+^{(2-\alpha)/(\alpha-1)}",
    vjp=_vjp,
    params=(
        Param("alpha", 1.5, "> 1", lambda a: a > 1.0 and math.isfinite(a), sweep=(1.25, 1.5, 2.0),
              doc="the entmax alpha"),
        Param("tau", 0.0, "finite", finite, sweep=(0.0,), doc="the fixed threshold"),
    ),
    reference="Tezekbayev, Nikoulina, Gallé & Assylbekov 2022, Speeding Up Entmax (NAACL Findings), "
    "arXiv:2111.06832.",
    properties=Properties((0, math.inf), monotone=True, smooth=False, zero_centred=False, bounded=False),
    notes="Element-wise (diagonal Jacobian) and not normalised; entmax with a fixed threshold.",
    masks=True,
    extra={"sums_to_one": False, "elementwise": True},  # read by the generic tests
)
def alpha_relu(x: Any, alpha: Any, tau: Any, *, xp: Any) -> Any:
    r"""alpha-ReLU: :math:`[(\alpha-1) z_i - \tau]_+^{1/(\alpha-1)}`, entry by entry.

    Args:
        x: scores. alpha: > 1 (2 gives ``relu(z - tau)``). tau: the fixed threshold.
        axis, temperature, where: as for the other maps (the map is
            element-wise, so ``axis`` only matters for ``where``).

    Returns:
        Non-negative values of ``x``'s shape (not normalised).

    Example:
        >>> import actlab
        >>> actlab.alpha_relu([-1.0, 0.5, 2.0, 4.0], 1.5, 0.5).tolist()
        [0.0, 0.0, 0.25, 2.25]

    Reference: Tezekbayev et al. 2022.
    """
    u, pos = _base(x, alpha, tau, xp)
    if alpha == 2.0:
        y = xp.where(pos, u, 0.0)
    else:
        with quiet(xp):
            y = xp.where(pos, xp.pow(u, 1.0 / (alpha - 1.0)), 0.0)
    return xp.where(xp.isnan(x), x, y)
