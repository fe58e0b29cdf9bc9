r"""Dropout on the attention weights, the same mask whatever the tiling.

As in PyTorch's ``scaled_dot_product_attention``, each weight is kept with
probability :math:`1 - p` and then multiplied by :math:`1/(1-p)`, the rest
are 0, so the output is unbiased. The keep decision of weight
:math:`(b, i, j)` (flattened batch, query, key) is a counter-based hash of
``(seed, b, i, j)`` (Salmon et al. 2011 for the idea; the 32-bit finaliser
is Wellons' *lowbias32*), the seed two 24-bit draws from the generator once
per call. The dense path and any tile of the blocked path therefore see the
same mask, and the blocked backward regenerates it instead of storing L x S
bits. The hash runs in int64 holding 32-bit values (every product below
2**63: no overflow in any namespace).

Example:
    >>> import numpy as np
    >>> from actlab._attention.dropout import keep_scale
    >>> seed = np.array([[[12345, 678]]], dtype=np.int64)
    >>> full = keep_scale(np, seed, 0.25, 0, 4, 0, 6, np.zeros((2, 1, 1)))
    >>> tile = keep_scale(np, seed, 0.25, 1, 3, 2, 5, np.zeros((2, 1, 1)))
    >>> bool(np.array_equal(full[:, 1:3, 2:5], tile)), sorted(set(full.ravel().tolist()))
    (True, [0.0, 1.3333333333333333])
"""

from __future__ import annotations

from typing import Any

__all__ = ["draw_seed", "keep_scale"]

_M32 = 0xFFFFFFFF


def _hash(x: Any) -> Any:
    """Wellons' lowbias32 (multipliers below 2**31) on int64 values in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = (x * 0x21F0AAAD) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x735A2D97) & _M32
    return x ^ (x >> 15)


def draw_seed(xp: Any, like: Any, generator: Any) -> Any:
    """``(1, 1, 2)`` int64: two 24-bit numbers drawn from ``generator``."""
    one = xp.zeros_like(like[:1, :1, :1])
    u = xp.uniform(xp.concat([one, one], axis=-1), 0.0, 1.0, generator, "attention")
    return xp.astype(xp.floor(u * 2.0**24), xp.int64)


def keep_scale(xp: Any, seed: Any, p: float, i0: int, i1: int, j0: int, j1: int, like: Any) -> Any:
    r"""The dropout factors of queries ``i0:i1`` and keys ``j0:j1``:
    ``(B, i1-i0, j1-j0)`` of 0 and :math:`1/(1-p)` in ``like``'s dtype
    (``like``: any ``(B, ...)`` array of the working dtype and device)."""
    dev = getattr(like, "device", None)
    b = xp.reshape(xp.arange(like.shape[0], dtype=xp.int64, device=dev), (-1, 1, 1))
    i = xp.reshape(xp.arange(i0, i1, dtype=xp.int64, device=dev), (1, -1, 1))
    j = xp.reshape(xp.arange(j0, j1, dtype=xp.int64, device=dev), (1, 1, -1))
    h = _hash(seed[..., 1:2] ^ _hash(seed[..., 0:1] + b))
    h = _hash(_hash(h ^ i) ^ j)
    u = xp.astype(h >> 8, like.dtype) * 2.0**-24
    return xp.where(u >= p, xp.zeros_like(u) + 1.0 / (1.0 - p), xp.zeros_like(u))
