"""The numbers behind the figures: each registry entry evaluated on a grid,
by kind, with its derivative where the entry has one.

- "elementwise": ``f(x)`` and ``f'(x)``;
- "gated": the gate ``a * g(b)`` with ``a = 1``, and its derivative in ``b``;
- "grouped" (maxout): ``max(x, 0.5x - 1, -x)`` as three pieces of one group;
- "simplex": ``map([t, 0])_1`` and ``d map([t, 0])_1 / dt`` (for a map that
  takes non-negative scores only, such as sum normalisation: ``map([t, 1])_1``
  for t >= 0);
- "loss": the loss of scores ``[t, 0]`` with class 0 correct, and its slope;
- "reduction" (logsumexp): ``f([t, 0])`` and its derivative in t;
- "stochastic" (Gumbel-softmax): the mean of ``map([t, 0])_1`` over
  ``STOCHASTIC_DRAWS`` seeded draws, and its slope.

A map or loss whose value on ``[t, 0]`` hardly changes away from t = 0 (the
spherical softmax: ``(t^2 + eps) / (t^2 + 2 eps)`` is 1 but for a spike) is
drawn on ``[t, 1]`` instead, where its shape shows (:func:`other_score`).

Nothing here imports matplotlib.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ..registry import REQUIRED, Entry, Param

__all__ = [
    "Curve",
    "plot_params",
    "sweep_params",
    "takes_temperature",
    "curve",
    "maxout_pieces",
    "simplex_values",
    "positive_only",
    "domain",
    "loss_values",
    "MAXOUT_PIECES",
    "STOCHASTIC_DRAWS",
    "other_score",
]

MAXOUT_PIECES = ((1.0, 0.0), (0.5, -1.0), (-1.0, 0.0))
"""(slope, intercept) of the pieces maxout is drawn with, as its entry's notes
say, unless the entry gives its own in ``extra["pieces"]``."""

STOCHASTIC_DRAWS = 2000
"""Draws averaged for a random map's curve (seeded: the same picture every run)."""

_LAYOUT_PARAMS = ("axis", "pieces", "generator", "training", "reduction", "ignore_index", "weight_classes")


class Curve:
    """``x``, the values ``y`` and the derivative ``dy`` (None if unavailable)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, dy: np.ndarray | None, xlabel: str, ylabel: str, dlabel: str):
        self.x, self.y, self.dy = x, y, dy
        self.xlabel, self.ylabel, self.dlabel = xlabel, ylabel, dlabel


def plot_params(entry: Entry, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parameter values for a figure: the defaults, the first sweep value for
    a parameter without default (PReLU's weight), then ``overrides``;
    layout parameters (axis, pieces, ...) are left to the function."""
    out: dict[str, Any] = {}
    for p in entry.params:
        if p.name in _LAYOUT_PARAMS:
            continue
        if p.default is not REQUIRED:
            out[p.name] = p.default
        elif p.sweep:
            out[p.name] = p.sweep[0]
    for k, v in (overrides or {}).items():
        out[k] = v
    return out


def sweep_params(entry: Entry) -> list[Param]:
    """The parameters the gallery sweeps (two or more sweep values)."""
    return [p for p in entry.params if len(p.sweep) > 1 and p.name not in _LAYOUT_PARAMS]


def takes_temperature(entry: Entry) -> bool:
    """Whether a simplex map accepts ``temperature=``."""
    spec = entry.extra.get("spec")
    if spec is not None and hasattr(spec, "temperature"):
        return bool(spec.temperature)
    try:
        return "temperature" in inspect.signature(entry.function).parameters
    except (TypeError, ValueError):
        return False


def positive_only(entry: Entry) -> bool:
    """Whether a vector map rejects negative scores (sum normalisation does)."""
    if entry.kind != "simplex":
        return False
    try:
        entry.function(np.array([-1.0, 0.5]))
    except ValueError:
        return True
    return False


_FLAT = 0.02


def other_score(entry: Entry) -> float:
    """The second score of the curve ``[t, c]``: 1 for a map of non-negative
    scores, and for a map or loss that is flat on ``[t, 0]`` away from t = 0
    (its shape would be a spike there); else 0."""
    if positive_only(entry):
        return 1.0
    if entry.kind not in ("simplex", "loss"):
        return 0.0
    lo, hi = entry.xlim
    t = np.concatenate([np.linspace(lo, -0.5, 8), np.linspace(0.5, hi, 8)])
    try:
        y = simplex_values(entry, t, plot_params(entry), other=0.0)[0] if entry.kind == "simplex" \
            else loss_values(entry, t, plot_params(entry), other=0.0)
    except Exception:
        return 0.0
    y = y[np.isfinite(y)]
    span = float(y.max() - y.min()) if y.size else 1.0
    scale = max(1.0, float(np.abs(y).max())) if y.size else 1.0
    return 1.0 if span <= _FLAT * scale else 0.0


def domain(entry: Entry) -> tuple[float, float]:
    """The x range to draw: the entry's ``xlim``, cut to t >= 0 for maps of non-negative scores."""
    lo, hi = entry.xlim
    return (0.0, hi) if positive_only(entry) else (lo, hi)


def curve(entry: Entry, x: np.ndarray | None = None, params: dict[str, Any] | None = None) -> Curve:
    """The curve a figure draws for ``entry`` (see the module docstring)."""
    params = plot_params(entry, params)
    if x is None:
        x = np.linspace(*domain(entry), 1201)
    x = np.asarray(x, dtype=float)
    kind = entry.kind
    if kind == "elementwise":
        y = np.asarray(entry.function(x, **params), dtype=float)
        dy = None if entry.derivative is None else np.asarray(entry.derivative(x, **params), dtype=float)
        return Curve(x, y, dy, "x", f"{entry.name}(x)", f"{entry.name}'(x)")
    if kind == "gated":
        z = np.stack([np.ones_like(x), x], axis=-1)
        y = np.asarray(entry.function(z), dtype=float)[:, 0]
        dy = None
        if entry.derivative is not None:
            dy = np.asarray(entry.derivative(z, np.ones((x.size, 1))), dtype=float)[:, 1]
        return Curve(x, y, dy, "b  (with a = 1)", f"{entry.name}([1, b])", f"d/db {entry.name}")
    if kind == "grouped":
        pieces = entry.extra.get("pieces", MAXOUT_PIECES)
        z = maxout_pieces(x, pieces)
        y = np.asarray(entry.function(z, pieces=z.shape[-1]), dtype=float)[:, 0]
        dy = None
        if entry.derivative is not None:
            hot = np.asarray(entry.derivative(z, np.ones((x.size, 1)), pieces=z.shape[-1]), dtype=float)
            dy = hot @ np.array([s for s, _ in pieces])
        return Curve(x, y, dy, "x", f"{entry.name}(x)", f"{entry.name}'(x)")
    if kind == "simplex":
        temperature = params.pop("temperature", 1.0)
        other = other_score(entry)
        y, dy = simplex_values(entry, x, params, temperature, other=other)
        return Curve(x, y, dy, f"t  (scores z = [t, {other:g}])", f"{entry.name}(z)$_1$", f"d {entry.name}(z)$_1$ / dt")
    if kind == "loss":
        other = other_score(entry)
        y = loss_values(entry, x, params, other=other)
        h = 1e-6 * np.maximum(1.0, np.abs(x))  # central difference: error ~ h^2, far below what a plot shows
        dy = (loss_values(entry, x + h, params, other=other) - loss_values(entry, x - h, params, other=other)) / (2 * h)
        return Curve(x, y, dy, f"t  (scores z = [t, {other:g}], class 0 correct)", f"{entry.name}",
                     "dL/dt (central difference)")
    if kind == "reduction":
        z = np.stack([x, np.zeros_like(x)], axis=-1)
        y = np.asarray(entry.function(z, **params), dtype=float)
        dy = None if entry.derivative is None else np.asarray(entry.derivative(z, **params), dtype=float)[:, 0]
        return Curve(x, y, dy, "t  (scores z = [t, 0])", f"{entry.name}(z)", f"d {entry.name}(z) / dt")
    if kind == "stochastic":  # on at most 101 points, interpolated: the draws are the cost
        tc = np.linspace(x.min(), x.max(), min(x.size, 101)) if x.size > 1 else x
        yc = stochastic_mean(entry, tc, params)
        y = np.interp(x, tc, yc)
        dy = np.interp(x, tc, np.gradient(yc, tc)) if tc.size > 1 else None
        return Curve(x, y, dy, "t  (scores z = [t, 0])", f"mean {entry.name}(z)$_1$ ({STOCHASTIC_DRAWS} draws)",
                     "its slope (central difference)")
    raise ValueError(f"no figure for entries of kind {kind!r} ({entry.name})")


def maxout_pieces(x: np.ndarray, pieces=MAXOUT_PIECES) -> np.ndarray:
    """The linear pieces ``(slope, intercept)`` evaluated at x, stacked on the last axis."""
    return np.stack([s * x + b for s, b in pieces], axis=-1)


def stochastic_mean(entry: Entry, t: np.ndarray, params: dict[str, Any] | None = None) -> np.ndarray:
    """The mean of ``map([t, 0])_1`` over :data:`STOCHASTIC_DRAWS` draws of a
    seeded generator, the same draws at every t (common random numbers: the
    curve is smooth in t and so is its slope)."""
    out = np.empty(np.shape(t))
    for i, s in enumerate(np.ravel(t)):
        z = np.broadcast_to(np.array([s, 0.0]), (STOCHASTIC_DRAWS, 2))
        y = entry.function(np.array(z), generator=np.random.default_rng(0), **(params or {}))
        out.flat[i] = float(np.asarray(y, dtype=float)[:, 0].mean())
    return out


def simplex_values(
    entry: Entry, t: np.ndarray, params: dict[str, Any] | None = None, temperature: float = 1.0,
    other: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``map([t, c])_1`` and its derivative in t (None if the VJP fails); ``c``
    is ``other`` (default :func:`other_score`: 0, or 1 for a map of
    non-negative scores or one flat on ``[t, 0]``)."""
    params = dict(params or {})
    if takes_temperature(entry):
        params["temperature"] = temperature
    c = other_score(entry) if other is None else other
    z = np.stack([t, np.full_like(t, c)], axis=-1)
    y = np.asarray(entry.function(z, **params), dtype=float)[:, 0]
    dy = None
    if entry.derivative is not None:
        g = np.zeros_like(z)
        g[:, 0] = 1.0
        try:
            dy = np.asarray(entry.derivative(z, g, **params), dtype=float)[:, 0]
        except Exception:  # an entry whose derivative has another signature
            dy = None
    return y, dy


def loss_values(entry: Entry, t: np.ndarray, params: dict[str, Any] | None = None,
                other: float = 0.0) -> np.ndarray:
    """The loss of scores ``[t, other]`` with class 0 correct, one value per t.

    Tries class-index targets with ``reduction="none"``, then probability
    targets, then one row at a time; raises ValueError if none works.
    """
    params = dict(params or {})
    z = np.stack([t, np.full_like(t, other)], axis=-1)
    n = t.size
    index = np.zeros(n, dtype=np.int64)
    onehot = np.zeros((n, 2))
    onehot[:, 0] = 1.0
    errors = []
    for target in (index, onehot):
        for extra in ({"reduction": "none"}, {}):
            try:
                y = np.asarray(entry.function(z, target, **params, **extra), dtype=float)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if y.shape == (n,):
                return y
            if y.shape == (n, 1):
                return y[:, 0]
    try:  # a binary loss of one logit per row (labels 1): the logit is the margin t
        y = np.asarray(entry.function(t, np.ones(n), reduction="none", **params), dtype=float)
        if y.shape == (n,):
            return y
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    try:
        return np.array([float(entry.function(z[i : i + 1], index[i : i + 1], **params)) for i in range(n)])
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    raise ValueError(f"cannot evaluate the loss {entry.name} on scores [t, 0]: {errors[-1]}")
