"""The arguments of attention, checked and put in one shape: the *plan*.

Queries ``(..., L, E)``, keys ``(..., S, E)`` and values ``(..., S, Ev)`` are
broadcast over their leading axes (after the grouped-query expansion of the
key and value heads) and flattened to ``(B, L, E)``, ``(B, S, E)``,
``(B, S, Ev)``; the mask (boolean: True takes part; float: added to the
scores; or causal, top-left aligned as in PyTorch) is kept at its own
broadcast size and read a block at a time; per-head parameters (shape ``()``
or ``(H,)``, H the axis before L) become ``(B, 1, 1)`` arrays.

Example:
    >>> import numpy as np
    >>> from actlab._attention.plan import make_plan
    >>> q = np.zeros((2, 3, 4, 8)); k = v = np.zeros((2, 3, 5, 8))
    >>> p = make_plan(q, k, v, None, 0.0, False, None, False, "softmax", None, {})
    >>> p.q.shape, p.k.shape, round(p.scale, 6)
    ((6, 4, 8), (6, 5, 8), 0.353553)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .. import _backend, _xp
from .dropout import draw_seed, keep_scale
from .normalizers import Normalizer, get_normalizer

__all__ = ["Plan", "Mask", "make_plan", "broadcast_shapes"]

Array = Any
OWNER = "attention()"


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcasting of shapes (ValueError when they do not fit)."""
    nd = max(len(s) for s in shapes)
    out = []
    for i in range(nd):
        dims = {s[i - nd + len(s)] for s in shapes if i - nd + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise ValueError(f"{OWNER}: shapes {', '.join(map(str, shapes))} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


@dataclass
class Mask:
    """The mask, read by blocks: ``allowed`` (bool) and ``add`` (float), each
    ``(Bm, L, S)`` with Bm = 1 or B, or None; ``causal`` for PyTorch's
    ``is_causal`` (key j <= query i)."""

    allowed: Array | None
    add: Array | None
    causal: bool
    L: int
    S: int

    def block(self, i0: int, i1: int, j0: int, j1: int, xp: Any, like: Array) -> tuple[Array | None, Array | None]:
        allowed = None if self.allowed is None else self.allowed[:, i0:i1, j0:j1]
        add = None if self.add is None else self.add[:, i0:i1, j0:j1]
        if self.causal:
            dev = getattr(like, "device", None)
            rows = xp.reshape(xp.arange(i0, i1, device=dev), (1, i1 - i0, 1))
            cols = xp.reshape(xp.arange(j0, j1, device=dev), (1, 1, j1 - j0))
            allowed = cols <= rows
        return allowed, add

    def empty(self, i0: int, i1: int, j0: int, j1: int) -> bool:
        """True when the block is certainly all masked (above the causal diagonal)."""
        return self.causal and j0 > i1 - 1

    def counts(self, xp: Any, like: Array) -> Array:
        """The number of allowed keys of each query row, ``(Bm, L, 1)``, as floats."""
        if self.causal:
            rows = xp.arange(1, self.L + 1, device=getattr(like, "device", None))
            n = xp.clip(xp.astype(rows, like.dtype), max=float(self.S))
            return xp.reshape(n, (1, self.L, 1))
        if self.allowed is None:
            return xp.zeros_like(like[:1, :, :1]) + float(self.S)
        return xp.sum(xp.astype(self.allowed, like.dtype), axis=-1, keepdims=True)


@dataclass
class Plan:
    """Everything the dense and the blocked paths need."""

    xp: Any
    q: Array
    k: Array
    v: Array
    lead: tuple[int, ...]
    out_dtype: Any
    scale: float
    norm: Normalizer
    temperature: float
    mask: Mask
    dropout_p: float = 0.0
    length_scale: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    learnable: tuple[str, ...] = ()
    generator: Any = None
    seed: Any = None
    """The dropout seed (:func:`actlab._attention.dropout.draw_seed`), drawn once per call."""

    def dropout(self, i0: int, i1: int, j0: int, j1: int, like: Array) -> Array | None:
        """The dropout factors of a tile (0 or 1/(1-p)), or None without dropout."""
        if self.seed is None:
            return None
        return keep_scale(self.xp, self.seed, self.dropout_p, i0, i1, j0, j1, like)

    def arrays(self) -> tuple[Any, ...]:
        """The parameters that are arrays (None for the others), in ``learnable`` order."""
        return tuple(self.params[n] if _xp.is_array(self.params[n]) else None for n in self.learnable)


def _mask(attn_mask: Any, is_causal: bool, lead: tuple[int, ...], L: int, S: int, xp: Any, like: Array) -> Mask:
    if attn_mask is None:
        return Mask(None, None, bool(is_causal), L, S)
    if is_causal:
        raise ValueError(f"{OWNER}: give attn_mask or is_causal, not both (as torch's scaled_dot_product_attention)")
    mb = _backend.backend_of(attn_mask)
    m = attn_mask if mb is xp else xp.asarray_like(attn_mask, like)
    if m.ndim < 2:
        m = xp.reshape(m, (1,) * (2 - m.ndim) + tuple(m.shape))
    try:
        shape = broadcast_shapes(tuple(m.shape), (*lead, L, S))
    except ValueError:
        shape = ()
    if shape != (*lead, L, S):
        raise ValueError(f"attn_mask of shape {tuple(m.shape)} does not broadcast to {(*lead, L, S)}")
    if all(d == 1 for d in m.shape[:-2]):
        m = xp.broadcast_to(xp.reshape(m, (1, *m.shape[-2:])), (1, L, S))
    else:
        m = xp.reshape(xp.broadcast_to(m, (*lead, L, S)), (-1, L, S))
    if xp.isdtype(m.dtype, "bool"):
        return Mask(m, None, False, L, S)
    if not xp.isdtype(m.dtype, "real floating"):
        raise TypeError(f"attn_mask must be boolean or floating, got {m.dtype}")
    m = xp.astype(m, like.dtype) if m.dtype != like.dtype else m
    return Mask(m > -math.inf, m, False, L, S)


def _per_head(name: str, value: Any, lead: tuple[int, ...], xp: Any, like: Array) -> Any:
    """A float, or an array broadcast to ``(B, 1, 1)``."""
    if not _xp.is_array(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{OWNER}: {name} must be a number or an array, got {type(value).__name__}")
        return float(value)
    a = value if _backend.backend_of(value) is xp else xp.asarray_like(value, like)
    a = xp.astype(a, like.dtype) if a.dtype != like.dtype else a
    if a.ndim > 1 or (a.ndim == 1 and (not lead or a.shape[0] not in (1, lead[-1]))):
        heads = lead[-1] if lead else None
        raise ValueError(f"{OWNER}: {name} must be a number, a 0-d array or one value per head ({heads}), "
                         f"got shape {tuple(a.shape)}")
    a = xp.reshape(a, (-1, 1, 1))
    full = xp.broadcast_to(a, (*lead, 1, 1)) if lead else a
    return xp.reshape(full, (-1, 1, 1))


def _expand_heads(k: Array, groups: int, xp: Any) -> Array:
    """torch's ``repeat_interleave(groups, dim=-3)``: query head h reads key head h // groups."""
    e = xp.expand_dims(k, axis=-3)
    shape = (*k.shape[:-3], k.shape[-3], groups, *k.shape[-2:])
    e = xp.broadcast_to(e, shape)
    return xp.reshape(e, (*k.shape[:-3], k.shape[-3] * groups, *k.shape[-2:]))


def _options(norm: Normalizer, sink: Any, options: dict[str, Any]) -> tuple[dict[str, Any], float, bool, Any]:
    opts = dict(options)
    temperature = opts.pop("temperature", 1.0)
    length_scale = opts.pop("length_scale", None)
    factor = opts.pop("length_scale_factor", 1.0)
    if length_scale not in (None, "log"):
        raise ValueError(f"{OWNER}: length_scale must be None or 'log', got {length_scale!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"{OWNER}: temperature must be a number, got {type(temperature).__name__}")
    if temperature == 0 or not math.isfinite(temperature):
        raise ValueError(f"{OWNER}: temperature must be non-zero and finite, got {temperature!r}")
    params = dict(norm.defaults)
    if sink is not None:
        if norm.name != "softmax":
            raise ValueError(f"{OWNER}: sink goes with normalizer='softmax', not {norm.name!r}")
        params["sink"] = sink
    for key, value in opts.items():
        if key not in norm.options or key == "sink":
            raise TypeError(f"{OWNER}: normalizer {norm.name!r} got an unexpected option {key!r}"
                            f" (it takes {', '.join(norm.options) or 'none'}, temperature, length_scale)")
        params[key] = value
    if "eps" in params and norm.name == "softpick" and not (isinstance(params["eps"], (int, float)) and params["eps"] > 0):
        raise ValueError(f"{OWNER}: softpick's eps must be a positive number, got {params['eps']!r}")
    if length_scale is not None:
        params["length_scale_factor"] = factor
    return params, float(temperature), length_scale is not None, factor


def _entmax_kind(norm: Normalizer, params: dict[str, Any]) -> Normalizer:
    """entmax with a float alpha of 1, 1.5 or 2 is softmax, entmax15 or sparsemax."""
    alpha = params.get("alpha")
    if norm.name != "entmax" or _xp.is_array(alpha):
        return norm
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (alpha >= 1 and math.isfinite(alpha)):
        raise ValueError(f"{OWNER}: entmax's alpha must be a finite number >= 1 or an array, got {alpha!r}")
    special = {1.0: "softmax", 1.5: "entmax15", 2.0: "sparsemax"}.get(float(alpha))
    if special is None:
        params["alpha"] = float(alpha)
        return norm
    del params["alpha"], params["n_iter"]
    return get_normalizer(special)


def make_plan(q: Any, k: Any, v: Any, attn_mask: Any, dropout_p: float, is_causal: bool, scale: Any,
              enable_gqa: bool, normalizer: Any, sink: Any, options: dict[str, Any], generator: Any = None) -> Plan:
    """Check the arguments of :func:`actlab.attention` and build the :class:`Plan`."""
    xp, q = _xp.as_float_array(q, "query")
    _, k = _xp.as_float_array(k, "key")
    _, v = _xp.as_float_array(v, "value")
    k = k if _backend.backend_of(k) is xp else xp.asarray_like(k, q)
    v = v if _backend.backend_of(v) is xp else xp.asarray_like(v, q)
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"{OWNER}: query, key and value must have one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    for name, a in (("query", q), ("key", k), ("value", v)):
        if a.ndim < 2:
            raise ValueError(f"{OWNER}: {name} must have at least 2 axes (..., length, features), got shape {tuple(a.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{OWNER}: query (..., L, E), key (..., S, E) and value (..., S, Ev) do not fit: "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if not (isinstance(dropout_p, (int, float)) and 0.0 <= dropout_p < 1.0):
        raise ValueError(f"{OWNER}: dropout_p must be in [0, 1), got {dropout_p!r}")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if hk == 0 or hq % hk or v.shape[-3] != hk:
            raise ValueError(f"{OWNER}: with enable_gqa the query heads ({hq}) must be a multiple of the key "
                             f"and value heads ({hk}, {v.shape[-3]})")
        k, v = _expand_heads(k, hq // hk, xp), _expand_heads(v, hq // hk, xp)
    lead = broadcast_shapes(tuple(q.shape[:-2]), tuple(k.shape[:-2]), tuple(v.shape[:-2]))
    L, S, E, Ev = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    q, out_dtype = _xp.to_working(xp, q)
    k, _ = _xp.to_working(xp, k)
    v, _ = _xp.to_working(xp, v)
    flat = (-1,) if lead else (1,)
    q = xp.reshape(xp.broadcast_to(q, (*lead, L, E)), (*flat, L, E))
    k = xp.reshape(xp.broadcast_to(k, (*lead, S, E)), (*flat, S, E))
    v = xp.reshape(xp.broadcast_to(v, (*lead, S, Ev)), (*flat, S, Ev))
    if scale is None:
        scale = 1.0 / math.sqrt(E) if E > 0 else 1.0
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"{OWNER}: scale must be a finite number or None, got {scale!r}")
    norm = get_normalizer(normalizer)
    params, temperature, length_scale, _ = _options(norm, sink, options)
    norm = _entmax_kind(norm, params)
    learnable = tuple(n for n in (*norm.learnable, "length_scale_factor") if n in params)
    for name in learnable:
        if params[name] is not None:
            params[name] = _per_head(name, params[name], lead, xp, q)
    mask = _mask(attn_mask, is_causal, lead, L, S, xp, q)
    seed = draw_seed(xp, q, generator) if dropout_p > 0.0 else None
    return Plan(xp, q, k, v, lead, out_dtype, float(scale), norm, temperature, mask, float(dropout_p),
                length_scale, params, learnable, generator, seed)
