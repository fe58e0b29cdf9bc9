"""The dense (reference) path of attention: the scores materialised.

.. math:: \\operatorname{attention}(Q, K, V) = \\operatorname{normalizer}(f\\,(Q K^\\top s + M))\\, V,

with s the scale (default :math:`1/\\sqrt{d_k}`), M the float mask (or -inf
where a boolean mask is False), and the row factor :math:`f = c \\log n / T`
(:math:`c \\log n` only with ``length_scale="log"``: SSMax, Nakanishi 2025,
arXiv:2501.19399; with entmax ASEntmax, Vasylenko et al. 2025).
On a framework with autodiff the gradient is the framework's through
actlab's maps (each with its exact VJP).

Example:
    >>> import numpy as np
    >>> from actlab._attention.plan import make_plan
    >>> from actlab._attention.dense import dense
    >>> q = k = v = np.eye(2)[None]
    >>> out, w = dense(make_plan(q, k, v, None, 0.0, False, 1.0, False, "sparsemax", None, {}))
    >>> w[0].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

import math
from typing import Any

from .normalizers import dense_weights
from .plan import Plan

__all__ = ["dense", "row_factor"]


def row_factor(plan: Plan, n: Any, params: dict[str, Any] | None = None) -> Any:
    """``c log n / T`` (with ``length_scale``) or ``1/T``: a float or ``(Bf, L, 1)``."""
    params = plan.params if params is None else params
    inv_t = 1.0 / plan.temperature
    if not plan.length_scale:
        return inv_t
    log_n = plan.xp.log(plan.xp.clip(n, min=1.0))
    return params["length_scale_factor"] * log_n * inv_t


def dense(plan: Plan) -> tuple[Any, Any]:
    """``(out, weights)``: out ``(B, L, Ev)`` and the weights ``(B, L, S)``."""
    xp, q, k, v = plan.xp, plan.q, plan.k, plan.v
    L, S = q.shape[-2], k.shape[-2]
    t = (q @ k.mT) * plan.scale
    allowed, add = plan.mask.block(0, L, 0, S, xp, q)
    if add is not None:
        t = t + add
    if allowed is None:
        allowed = xp.zeros_like(t) == 0.0
    else:
        allowed = xp.broadcast_to(allowed, tuple(t.shape))
    n = plan.mask.counts(xp, q)
    f = row_factor(plan, n)
    if not isinstance(f, float) or f != 1.0:
        t = xp.where(allowed, t, 0.0) * f  # masked entries are never inf * 0
    s = xp.where(allowed, t, -math.inf)
    w = dense_weights(plan.norm, s, allowed, n, plan.params, xp)
    drop = plan.dropout(0, L, 0, S, w)
    if drop is not None:
        w = w * drop
    return w @ v, w
