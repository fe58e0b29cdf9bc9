r"""The front door of attention with a pluggable normaliser.

.. math:: \operatorname{attention}(Q, K, V) = \operatorname{normalizer}\!\left(
   \frac{Q K^\top}{\sqrt{d_k}} + M\right) V

for any normaliser of :mod:`actlab._attention.normalizers` (or a callable
``f(scores, mask) -> weights``), with PyTorch's ``scaled_dot_product_attention``
arguments and mask semantics. Plain softmax with nothing else asked for goes
to the backend's own fused kernel where it declares one (torch's SDPA); the
rest takes the dense path (scores materialised) for small problems and the
blocked path (tiles, never the L x S scores) for large ones.
"""

from __future__ import annotations

from typing import Any

from .. import _backend
from . import blocked
from .dense import dense
from .plan import Plan, make_plan

__all__ = ["attention", "attention_with_weights", "DENSE_LIMIT"]

DENSE_LIMIT = 1 << 22
"""Score entries (batch x heads x L x S) up to which the dense path is taken."""


def attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
              is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False, *,
              normalizer: Any = "softmax", sink: Any = None, path: str | None = None,
              block_size: int | None = None, generator: Any = None, **normalizer_options: Any) -> Any:
    r"""Scaled dot-product attention with the normaliser of your choice.

    .. math:: O = \operatorname{normalizer}(f\,(Q K^\top s + M))\,V,
       \quad s = 1/\sqrt{E} \text{ unless given}, \quad f = 1/T \text{ or } c\log n/T

    Args:
        query, key, value: ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``
            arrays of one backend (NumPy, torch, any array-API library).
        attn_mask: boolean (True: the key takes part) or float (added to the
            scores), broadcastable to ``(..., L, S)``.
        dropout_p: dropout on the weights, as PyTorch's: each kept with
            probability 1 - p and scaled by 1/(1-p) (``generator`` seeds it;
            the same mask on both paths).
        is_causal: key j takes part for query i when j <= i (PyTorch's
            top-left alignment); not together with ``attn_mask``.
        scale: the scores' factor, ``1/sqrt(E)`` by default.
        enable_gqa: grouped-query attention: query head h reads key/value head
            ``h // (Hq/Hk)``.
        normalizer: ``"softmax"``, ``"sparsemax"``, ``"entmax15"``,
            ``"entmax"`` (``alpha=``), ``"sigmoid"`` (``bias=``), ``"softpick"``
            (``eps=``), ``"relu"``, ``"relu2"``, ``"stick_breaking"``, another
            map of the registry, or a callable ``f(scores, mask) -> weights``.
        sink: softmax's sink logit(s): a number or one per head (0 is softmax_1).
        path: ``"dense"`` or ``"blocked"`` (default: by size).
        block_size: queries and keys per tile of the blocked path.
        normalizer_options: the normaliser's options, and ``temperature``,
            ``length_scale="log"`` with ``length_scale_factor`` (a number or
            one per head; SSMax, Nakanishi 2025, arXiv:2501.19399).

    Returns:
        ``(..., L, Ev)``, the dtype of ``query``. A query with no allowed key
        gives zeros (and zero gradients) for every normaliser.

    Example:
        >>> import numpy as np, actlab
        >>> q = k = v = np.eye(3)[None] * 4.0
        >>> actlab.attention(q, k, v, normalizer="sparsemax")[0, 0].tolist()
        [4.0, 0.0, 0.0]
        >>> actlab.attention(q, k, v, is_causal=True, normalizer="sigmoid").shape
        (1, 3, 3)

    References: Vaswani et al. 2017; Martins & Astudillo 2016; Peters et al.
    2019; Ramapuram et al. 2024; Zuhri et al. 2025; Wortsman et al. 2023;
    Tan et al. 2024; Nakanishi 2025; Vasylenko et al. 2025; Miller 2023.
    """
    out, _ = attention_with_weights(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa,
                                    normalizer=normalizer, sink=sink, path=path, block_size=block_size,
                                    generator=generator, need_weights=False, **normalizer_options)
    return out


def _plain(normalizer: Any, sink: Any, options: dict[str, Any], path: Any, need_weights: bool) -> bool:
    return isinstance(normalizer, str) and normalizer == "softmax" and sink is None and not options \
        and path is None and not need_weights


def choose_path(plan: Plan, path: str | None) -> str:
    """``"dense"`` or ``"blocked"`` (checking a requested one)."""
    if path not in (None, "dense", "blocked"):
        raise ValueError(f"attention(): path must be None, 'dense' or 'blocked', got {path!r}")
    can_block = plan.norm.blockable and plan.xp.may_branch(plan.q)
    if path == "blocked" and not can_block:
        raise ValueError(f"attention(): the blocked path takes no tracing, and the normalizers "
                         f"softmax, softpick, sigmoid, relu, relu2, stick_breaking, sparsemax, entmax15, entmax; "
                         f"got {plan.norm.name!r}")
    if path is not None:
        return path
    B, L, S = plan.q.shape[0], plan.q.shape[1], plan.k.shape[1]
    return "blocked" if can_block and B * L * S > DENSE_LIMIT else "dense"


def attention_with_weights(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
                           is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False, *,
                           normalizer: Any = "softmax", sink: Any = None, path: str | None = None,
                           block_size: int | None = None, generator: Any = None, need_weights: bool = False,
                           **normalizer_options: Any) -> tuple[Any, Any]:
    """:func:`attention` and, with ``need_weights``, the weights ``(..., L, S)`` (dense path)."""
    if attn_mask is not None and is_causal:
        raise ValueError("attention(): give attn_mask or is_causal, not both (as torch's scaled_dot_product_attention)")
    xp = _backend.backend_of(query)
    fused = None if xp is None else xp.kernels.attention_sdpa
    if fused is not None and _plain(normalizer, sink, normalizer_options, path, need_weights) and generator is None:
        return fused(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale,
                     enable_gqa=enable_gqa), None
    plan = make_plan(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, normalizer, sink,
                     normalizer_options, generator)
    xp = plan.xp
    which = "dense" if need_weights else choose_path(plan, path)
    weights = None
    if which == "dense":
        out, weights = dense(plan)
    else:
        arrays = plan.arrays()
        if plan.mask.add is not None and xp.records_grad(plan.mask.add):
            arrays = (*arrays, plan.mask.add)  # a float mask that requires grad gets its gradient
        kernel = xp.kernels.attention_autograd
        if kernel is not None and xp.records_grad(plan.q, plan.k, plan.v, *[a for a in arrays if a is not None]):
            out = kernel(blocked.forward, blocked.backward, plan, block_size, plan.q, plan.k, plan.v, arrays)
        else:
            out, _ = blocked.forward(plan, plan.q, plan.k, plan.v, arrays, block_size)
    L, S, Ev = plan.q.shape[1], plan.k.shape[1], plan.v.shape[2]
    out = xp.reshape(out, (*plan.lead, L, Ev))
    out = out if out.dtype == plan.out_dtype else xp.astype(out, plan.out_dtype)
    if weights is not None:
        weights = xp.reshape(weights, (*plan.lead, L, S))
        weights = weights if weights.dtype == plan.out_dtype else xp.astype(weights, plan.out_dtype)
    return out, weights
