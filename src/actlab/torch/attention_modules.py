r"""``MultiheadAttention`` with a pluggable normaliser and learnable normaliser parameters.

A subclass of ``torch.nn.MultiheadAttention``: the same constructor, forward
signature and parameter names (a ``torch.nn.MultiheadAttention`` state dict
loads into it), with the attention weights computed by
:func:`actlab.attention`:

.. math:: \operatorname{head}_h = \operatorname{normalizer}\!\left(
   \frac{Q W^Q_h (K W^K_h)^\top}{\sqrt{d_h}} + M\right) V W^V_h

Learnable per-head parameters, created where asked for: ``sink`` (softmax's
sink logit, Miller 2023; ``sink=0.0`` starts at softmax_1), ``alpha``
(entmax's, stored as :math:`\alpha = 1 + \operatorname{softplus}(a)` so it
stays above 1; Peters et al. 2019), ``bias`` (sigmoid attention's,
Ramapuram et al. 2024) and, with ``length_scale="log"``, the factor ``s`` of
:math:`s \log n` (SSMax, Nakanishi 2025; ASEntmax, Vasylenko et al. 2025).
They are absent from a torch state dict and keep their initial values when
one is loaded.

Example:
    >>> import torch, actlab.torch as at
    >>> ref = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    >>> mha = at.MultiheadAttention(16, 4, batch_first=True, normalizer="entmax", alpha=1.5)
    >>> mha.load_state_dict(ref.state_dict())
    <All keys matched successfully>
    >>> x = torch.randn(2, 5, 16)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    (torch.Size([2, 5, 16]), torch.Size([2, 5, 5]))
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._attention import attention_with_weights

__all__ = ["MultiheadAttention"]

_LEARNED = {"sink": "normalizer_sink", "alpha": "normalizer_alpha", "bias": "normalizer_bias",
            "length_scale_factor": "length_scale_factor"}


def _softplus_inverse(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class MultiheadAttention(nn.MultiheadAttention):
    """``torch.nn.MultiheadAttention`` whose weights come from ``normalizer``.

    Args:
        embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim, batch_first, device, dtype: as
            in PyTorch.
        normalizer: any normaliser of :func:`actlab.attention`.
        sink, alpha, bias_logit: initial values of the learnable per-head
            sink (softmax), alpha (entmax) and bias (sigmoid); None: not used
            (sigmoid then takes ``-log n``).
        length_scale: ``"log"`` for SSMax/ASEntmax, with a learnable per-head
            factor started at ``length_scale_factor``.
        learnable: False keeps those parameters fixed (buffers).
        normalizer_options: other options of the normaliser (``temperature``,
            ``eps``, ...).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None, *,
                 normalizer: Any = "softmax", sink: float | None = None, alpha: float | None = None,
                 bias_logit: float | None = None, length_scale: str | None = None,
                 length_scale_factor: float = 1.0, learnable: bool = True, **normalizer_options: Any) -> None:
        super().__init__(embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim,
                         batch_first, device, dtype)
        self.normalizer, self.length_scale = normalizer, length_scale
        self.normalizer_options = dict(normalizer_options)
        inits = {"sink": sink, "alpha": None if alpha is None else _softplus_inverse(float(alpha) - 1.0),
                 "bias": bias_logit, "length_scale_factor": length_scale_factor if length_scale else None}
        self._learned: list[str] = []
        for option, value in inits.items():
            if value is None:
                continue
            t = torch.full((num_heads,), float(value), device=device, dtype=dtype)
            name = _LEARNED[option]
            if learnable:
                self.register_parameter(name, nn.Parameter(t))
            else:
                self.register_buffer(name, t)
            self._learned.append(option)

    def normalizer_arguments(self) -> dict[str, Any]:
        """The options passed to :func:`actlab.attention` (learned values included)."""
        opts = dict(self.normalizer_options)
        for option in self._learned:
            value = getattr(self, _LEARNED[option])
            opts[option] = 1.0 + F.softplus(value) if option == "alpha" else value
        if self.length_scale:
            opts["length_scale"] = self.length_scale
        return opts

    def _load_from_state_dict(self, state_dict: Any, prefix: str, local_metadata: Any, strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str]) -> None:
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        own = {prefix + _LEARNED[o] for o in self._learned}
        missing_keys[:] = [k for k in missing_keys if k not in own]  # a torch state dict has none of them

    def _mask(self, attn_mask: Any, key_padding_mask: Any, n: int, L: int, S: int, like: torch.Tensor) -> Any:
        """PyTorch's MHA masks (True = masked out, or added floats) as one SDPA-style mask."""
        def as_float(m: torch.Tensor) -> torch.Tensor:
            if m.dtype == torch.bool:
                return torch.zeros(m.shape, dtype=like.dtype, device=like.device).masked_fill(m, -math.inf)
            return m.to(like.dtype)

        parts = []
        if attn_mask is not None:
            m = attn_mask if attn_mask.dim() == 2 else attn_mask.reshape(n, self.num_heads, L, S)
            parts.append(m)
        if key_padding_mask is not None:
            parts.append(key_padding_mask.reshape(n, 1, 1, S))
        if not parts:
            return None
        if all(p.dtype == torch.bool for p in parts):
            masked = parts[0] if len(parts) == 1 else parts[0] | parts[1]
            return ~masked
        return sum(as_float(p) for p in parts)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,  # type: ignore[override]
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if not self.batch_first or unbatched:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        n, L, E = query.shape
        if self._qkv_same_embed_dim:
            wq, wk, wv = self.in_proj_weight.chunk(3)
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        bq = bk = bv = None
        if self.in_proj_bias is not None:
            bq, bk, bv = self.in_proj_bias.chunk(3)
        q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
        pad = 0
        if self.bias_k is not None and self.bias_v is not None:
            k = torch.cat([k, self.bias_k.expand(n, 1, E)], dim=1)
            v = torch.cat([v, self.bias_v.expand(n, 1, E)], dim=1)
            pad += 1
        H, hd = self.num_heads, E // self.num_heads
        q, k, v = (x.reshape(n, -1, H, hd).transpose(1, 2) for x in (q, k, v))
        if self.add_zero_attn:
            k = torch.cat([k, k.new_zeros(n, H, 1, hd)], dim=2)
            v = torch.cat([v, v.new_zeros(n, H, 1, hd)], dim=2)
            pad += 1
        S = k.shape[2]
        if pad and attn_mask is not None:
            attn_mask = F.pad(attn_mask, (0, pad))
        if pad and key_padding_mask is not None:
            key_padding_mask = F.pad(key_padding_mask, (0, pad))
        causal = is_causal and attn_mask is None and key_padding_mask is None
        mask = self._mask(attn_mask, key_padding_mask, n, L, S, q)
        if is_causal and not causal and attn_mask is None:  # key padding and a causal mask together
            keep = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
            mask = keep & mask if mask.dtype == torch.bool else mask.masked_fill(~keep, -math.inf)
        out, w = attention_with_weights(q, k, v, mask, self.dropout if self.training else 0.0, causal,
                                        normalizer=self.normalizer, need_weights=need_weights,
                                        **self.normalizer_arguments())
        out = self.out_proj(out.transpose(1, 2).reshape(n, L, E))
        if not self.batch_first or unbatched:
            out = out.transpose(0, 1)
        if w is not None and average_attn_weights:
            w = w.mean(dim=1)
        if unbatched:
            out = out.squeeze(1)
            w = None if w is None else w.squeeze(0)
        return out, w
