r"""``scaled_dot_product_attention`` with PyTorch's signature and a pluggable normaliser.

.. math:: \operatorname{normalizer}\!\left(\frac{Q K^\top}{\sqrt{E}} + M\right) V

The arguments and mask semantics are ``torch.nn.functional``'s (boolean
mask: True takes part; float mask: added; ``is_causal`` top-left aligned;
``enable_gqa``), so it is a drop-in; actlab's extras are keyword-only. Plain
softmax with nothing else asked for calls PyTorch's own kernel.

Example:
    >>> import torch, actlab.torch.functional as AF
    >>> q = k = v = torch.randn(1, 2, 5, 8)
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> bool(torch.equal(AF.scaled_dot_product_attention(q, k, v, is_causal=True), ref))
    True
    >>> AF.scaled_dot_product_attention(q, k, v, normalizer="entmax15").shape
    torch.Size([1, 2, 5, 8])
"""

from __future__ import annotations

from typing import Any

import torch

from .._attention import attention

__all__ = ["scaled_dot_product_attention"]


def scaled_dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False, *,
                                 normalizer: Any = "softmax", sink: Any = None, **normalizer_options: Any
                                 ) -> torch.Tensor:
    r"""``torch.nn.functional.scaled_dot_product_attention`` with ``normalizer=``.

    Args:
        query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa:
            as in PyTorch.
        normalizer: ``"softmax"`` (``temperature``; ``sink``: one logit per
            head, a tensor that may require grad; ``sink=0.0`` is softmax_1,
            Miller 2023), ``"sparsemax"`` (Martins & Astudillo 2016),
            ``"entmax15"``, ``"entmax"`` (``alpha``: a float or one per head,
            learnable; Peters et al. 2019), ``"sigmoid"`` (``bias``, default
            ``-log n``; Ramapuram et al. 2024), ``"softpick"`` (Zuhri et al.
            2025), ``"relu"``, ``"relu2"`` (Wortsman et al. 2023),
            ``"stick_breaking"`` (Tan et al. 2024), the registry's other maps,
            or a callable ``f(scores, mask) -> weights``.
        normalizer_options: the normaliser's options; ``length_scale="log"``
            with ``length_scale_factor`` (SSMax, Nakanishi 2025; with entmax
            ASEntmax, Vasylenko et al. 2025); ``path`` (``"dense"`` or
            ``"blocked"``) and ``block_size``.

    Returns:
        ``(..., L, Ev)``. Rows with no allowed key are zeros, with zero gradients.
    """
    return attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa,
                     normalizer=normalizer, sink=sink, **normalizer_options)
