r"""The normalisers of attention: each turns a row of scores into weights.

For a query row with scores :math:`s` over its :math:`n` allowed keys (the
masked keys get weight 0 and a row with no allowed key gives zeros):

- ``"softmax"``: :math:`p_j = e^{s_j} / \sum_k e^{s_k}`; with a sink logit
  :math:`c` (one per head, learnable), :math:`p_j = e^{s_j} / (e^{c} +
  \sum_k e^{s_k})`; :math:`c = 0` is softmax_1 (Miller 2023, "Attention is
  off by one");
- ``"sparsemax"``, ``"entmax15"``, ``"entmax"`` (``alpha``, a float or one
  per head, learnable): Martins & Astudillo 2016; Peters et al. 2019;
- any other map of the registry (``spherical_softmax``, ``taylor_softmax``,
  ``sum_normalize``, ``hardmax``, ``softmin``) with its own options;
- ``"sigmoid"``: :math:`p_j = \sigma(s_j + b)`, :math:`b = -\log n` unless
  ``bias`` is given (Ramapuram et al. 2024, arXiv:2409.04431);
- ``"softpick"``: :math:`p_j = \operatorname{relu}(e^{s_j} - 1) / (\sum_k
  |e^{s_k} - 1| + \epsilon)`, :math:`\epsilon = 10^{-6}`, with
  :math:`e^{s} - 1` formed by ``expm1`` (Zuhri et al. 2025, arXiv:2504.20966);
- ``"relu"``: :math:`\operatorname{relu}(s_j)/n`, ``"relu2"``:
  :math:`\operatorname{relu}(s_j)^2/n` (Wortsman et al. 2023, arXiv:2309.08586);
- ``"stick_breaking"``: :math:`p_j = \sigma(s_j) \prod_{k > j} (1 - \sigma(s_k))`
  over the allowed keys after :math:`j` (with a causal mask: the keys between
  key :math:`j` and the query), in log space (Tan et al. 2024, arXiv:2410.17980).

This module holds the dense formulas (the scores materialised); the blocked
path of :mod:`actlab._attention.blocked` computes the same weights a block of
keys at a time.

Example:
    >>> import numpy as np
    >>> from actlab._attention.normalizers import get_normalizer
    >>> get_normalizer("softpick").kind
    'softpick'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..elementwise import log_sigmoid, sigmoid
from ..registry import get, registry
from ..simplex.softpick import softpick, softpick_terms

__all__ = ["Normalizer", "get_normalizer", "names", "dense_weights", "softpick_terms", "SIMPLE"]

Array = Any

REFERENCES = {
    "softmax": "Vaswani et al. 2017; sink: Miller 2023, 'Attention is off by one'",
    "sparsemax": "Martins & Astudillo 2016",
    "entmax15": "Peters, Niculae & Martins 2019",
    "entmax": "Peters, Niculae & Martins 2019",
    "sigmoid": "Ramapuram et al. 2024, arXiv:2409.04431",
    "softpick": "Zuhri et al. 2025, arXiv:2504.20966",
    "relu": "Wortsman et al. 2023, arXiv:2309.08586",
    "relu2": "Wortsman et al. 2023, arXiv:2309.08586",
    "stick_breaking": "Tan et al. 2024, arXiv:2410.17980",
}

SIMPLE = ("sigmoid", "relu", "relu2")
"""Normalisers whose weight of a key needs only its own score (and n)."""

_NOT_WEIGHTS = ("log_softmax", "gumbel_softmax", "softmin", "sum_normalize")
"""Maps that are not attention normalisers: log-probabilities, random draws,
softmin (a masked key's -inf would take all the mass) and the plain
normalisation (defined for non-negative input only)."""


@dataclass(frozen=True)
class Normalizer:
    """A normaliser: its name, how the blocked path treats it (``kind``), the
    options it takes and which of them may be learnable arrays."""

    name: str
    kind: str
    options: tuple[str, ...] = ()
    learnable: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()
    reference: str = ""
    function: Callable[..., Any] | None = None

    @property
    def blockable(self) -> bool:
        return self.kind in ("softmax", "softpick", "simple", "threshold", "stick")


def _own(name: str) -> Normalizer:
    table = {
        "softmax": Normalizer("softmax", "softmax", ("sink",), ("sink",), (("sink", None),)),
        "sparsemax": Normalizer("sparsemax", "threshold"),
        "entmax15": Normalizer("entmax15", "threshold"),
        "entmax": Normalizer("entmax", "threshold", ("alpha", "n_iter"), ("alpha",),
                             (("alpha", 1.5), ("n_iter", 100))),
        "sigmoid": Normalizer("sigmoid", "simple", ("bias",), ("bias",), (("bias", None),)),
        "softpick": Normalizer("softpick", "softpick", ("eps",), (), (("eps", 1e-6),)),
        "relu": Normalizer("relu", "simple"),
        "relu2": Normalizer("relu2", "simple"),
        "stick_breaking": Normalizer("stick_breaking", "stick"),
    }
    n = table[name]
    return Normalizer(n.name, n.kind, n.options, n.learnable, n.defaults, REFERENCES[name])


_OWN = ("softmax", "sparsemax", "entmax15", "entmax", "sigmoid", "softpick", "relu", "relu2", "stick_breaking")


def names() -> list[str]:
    """Every normaliser name: actlab's own and the registry's other maps."""
    maps = [e.name for e in registry() if e.kind == "simplex" and e.name not in _OWN and e.name not in _NOT_WEIGHTS]
    return [*_OWN, *maps]


def get_normalizer(name: Any) -> Normalizer:
    """The normaliser called ``name`` (a callable ``f(scores, mask)`` is wrapped).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if callable(name) and not isinstance(name, str):
        return Normalizer(getattr(name, "__name__", "callable"), "callable", function=name)
    if not isinstance(name, str):
        raise TypeError(f"attention(): normalizer must be a name or a callable f(scores, mask), got {type(name).__name__}")
    if name in _OWN:
        return _own(name)
    if name in names():
        e = get(name)
        opts = tuple(p.name for p in e.params if p.name != "temperature")
        return Normalizer(name, "map", opts, (), tuple((p.name, p.default) for p in e.params if p.name in opts),
                          e.reference, e.function)
    raise ValueError(f"attention(): unknown normalizer {name!r}; known: {', '.join(names())}, or a callable")


def _stick(s: Array, allowed: Array, xp: Any) -> Array:
    """Stick-breaking weights in log space along the last axis (keys)."""
    k = s.shape[-1]
    safe = xp.where(allowed, s, 0.0)
    log_keep = xp.where(allowed, log_sigmoid(-safe), 0.0)
    rev = xp.arange(k - 1, -1, -1, device=_device(s))
    suffix = xp.take(xp.cumulative_sum(xp.take(log_keep, rev, axis=-1), axis=-1), rev, axis=-1)
    # the exclusive suffix sum (over k > j): the inclusive one shifted by a key
    zero = xp.zeros_like(suffix[..., :1])
    after = xp.concat([suffix[..., 1:], zero], axis=-1) if k > 1 else zero
    logw = xp.where(allowed, log_sigmoid(safe) + after, -math.inf)
    return xp.exp(logw)


def _device(x: Array) -> Any:
    return getattr(x, "device", None)


def dense_weights(norm: Normalizer, s: Array, allowed: Array, n: Array, params: dict[str, Any], xp: Any) -> Array:
    """The weights of ``norm`` for the scores ``s`` (..., L, S): masked entries
    hold -inf and ``allowed`` is False there; ``n`` (..., L, 1) counts the
    allowed keys of each row; ``params`` holds the normaliser's options
    (per-head arrays already broadcast to (..., 1, 1))."""
    kind = norm.kind if norm.kind in ("map", "callable") else norm.name
    if kind == "softmax" and params.get("sink") is None:
        from ..simplex import softmax

        return softmax(s, axis=-1)
    if kind == "softmax":
        c = params["sink"]
        m = xp.detach(xp.clip(xp.max(s, axis=-1, keepdims=True), min=c))
        e = xp.exp(s - m)
        return e / (xp.sum(e, axis=-1, keepdims=True) + xp.exp(c - m))
    if kind in ("sparsemax", "entmax15", "entmax"):
        from ..simplex.entmax import entmax, entmax15
        from ..simplex.sparsemax import sparsemax

        if kind == "entmax":
            # rows with no allowed key: entmax's alpha-gradient divides by an
            # empty support's sum there, so they see zeros and are zeroed after
            live = n > 0.0
            w = entmax(xp.where(live, s, 0.0), params["alpha"], params["n_iter"], axis=-1)
            return xp.where(live, w, 0.0)
        return (sparsemax if kind == "sparsemax" else entmax15)(s, axis=-1)
    if kind == "map":
        assert norm.function is not None
        live = n > 0.0
        w = norm.function(xp.where(live, s, 0.0), **{o: params[o] for o in norm.options}, axis=-1)
        return xp.where(live, w, 0.0)
    if kind == "callable":
        assert norm.function is not None
        return norm.function(s, allowed)
    safe = xp.where(allowed, s, 0.0)
    nn = xp.clip(n, min=1.0)
    if kind == "sigmoid":
        b = params.get("bias")
        b = -xp.log(nn) if b is None else b
        return xp.where(allowed, sigmoid(safe + b), 0.0)
    if kind in ("relu", "relu2"):
        r = xp.where(allowed, xp.clip(safe, min=0.0), 0.0)
        return (r if kind == "relu" else r * r) / nn
    if kind == "softpick":  # the map is the one definition
        return softpick(xp.where(allowed, s, -math.inf), params["eps"], axis=-1)
    if kind == "stick_breaking":
        return _stick(s, allowed, xp)
    raise AssertionError(kind)
