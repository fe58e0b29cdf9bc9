"""Vector maps (softmax, sparsemax, ...) in two dimensions: the first output
over the plane of scores ``z = [t1, t2, 0]`` and the image of those scores
on the 3-class probability simplex, coloured by the support size (how many
classes get a non-zero probability).

Softmax fills the inside of the triangle; sparse maps push whole regions of
scores onto its edges and corners (Martins & Astudillo 2016, figure 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..registry import Entry
from . import curves, style

__all__ = ["score_plane", "map_plane", "plane_figure", "draw_plane", "simplex_points", "draw_triangle", "SUPPORT_COLORS"]

SUPPORT_COLORS = {1: "#c0392b", 2: "#e6a117", 3: "#1f5fa8"}
_SQRT3_2 = np.sqrt(3.0) / 2.0


def score_plane(lo: float = -3.0, hi: float = 3.0, last: float = 0.0, n: int = 81):
    """``(t1, t2, z)``: a grid of scores ``z = [t1, t2, last]`` of shape (n, n, 3)."""
    t = np.linspace(lo, hi, n)
    t1, t2 = np.meshgrid(t, t)
    return t1, t2, np.stack([t1, t2, np.full_like(t1, last)], axis=-1)


def _apply(entry: Entry, z: np.ndarray, params: dict[str, Any] | None, temperature: float = 1.0) -> np.ndarray:
    kwargs = curves.plot_params(entry, params)
    kwargs.pop("temperature", None)
    if curves.takes_temperature(entry):
        kwargs["temperature"] = temperature
    return np.asarray(entry.function(z, **kwargs), dtype=float)


def simplex_points(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates of points of the 3-class simplex (corners e1, e2, e3
    at (0, 0), (1, 0), (1/2, sqrt(3)/2))."""
    return p[..., 1] + 0.5 * p[..., 2], _SQRT3_2 * p[..., 2]


def draw_triangle(ax: Any, p: np.ndarray, title: str, last: float = 0.0) -> None:
    """Scatter the probability vectors ``p`` (..., 3) on the simplex, coloured
    by support size, with the corners labelled."""
    p = p.reshape(-1, 3)
    support = np.count_nonzero(p > 0, axis=-1)
    ax.plot([0, 1, 0.5, 0], [0, 0, _SQRT3_2, 0], color="#444444", linewidth=1.0, zorder=1)
    for k in (3, 2, 1):
        sel = support == k
        if np.any(sel):
            xs, ys = simplex_points(p[sel])
            ax.scatter(xs, ys, s=6 if k == 3 else 14, color=SUPPORT_COLORS[k], alpha=0.55, linewidths=0,
                       label=f"support size {k}  ({int(sel.sum())} points)", zorder=2 + (3 - k))
    for (x, y), name, ha, va in (((0, 0), "$e_1$", "right", "top"), ((1, 0), "$e_2$", "left", "top"),
                                 ((0.5, _SQRT3_2), "$e_3$", "center", "bottom")):
        ax.text(x, y, name, ha=ha, va=va, fontsize=10)
    ax.set_aspect("equal")
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.1, _SQRT3_2 + 0.32)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("3-class simplex (corners: one-hot)")
    ax.set_ylabel(f"p = map([t1, t2, {last:g}])")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7.5, markerscale=1.5, frameon=False)


def draw_plane(ax: Any, fig: Any, name: str, t1: np.ndarray, t2: np.ndarray, p1: np.ndarray,
               levels: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 0.9), colorbar: bool = True) -> None:
    """``p1`` (the first output over the score plane) as an image with contours;
    the edges of the regions where it is exactly 0 or 1 are outlined."""
    extent = (t1.min(), t1.max(), t2.min(), t2.max())
    im = ax.imshow(p1, origin="lower", extent=extent, cmap="viridis", vmin=0.0, vmax=1.0,
                   aspect="equal", interpolation="nearest")
    cs = ax.contour(t1, t2, p1, levels=list(levels), colors="white", linewidths=0.8)
    ax.clabel(cs, fmt="%.2g", fontsize=7)
    ax.plot([], [], color="white", linewidth=0.8, label="contours of p$_1$")
    for val, ls, color in ((0.0, "--", "#ff8080"), (1.0, "-", "#ffd27f")):
        exact = p1 == val
        if np.any(exact) and not np.all(exact):
            ax.contour(t1, t2, exact.astype(float), levels=[0.5], colors=color, linewidths=1.3, linestyles=ls)
            ax.plot([], [], color=color, linestyle=ls, label=f"p$_1$ = {val:g} exactly beyond")
    if colorbar:
        fig.colorbar(im, ax=ax, shrink=0.85, label=f"{name}(z)$_1$")
    ax.set_xlabel("$t_1$")
    ax.set_ylabel("$t_2$")
    ax.legend(loc="lower left", fontsize=7, facecolor="#333333", labelcolor="white", framealpha=0.7)


def map_plane(entry: Entry, params: dict[str, Any] | None = None, temperature: float = 1.0, lim: float = 3.0):
    """``(t1, t2, p, last)``: the map applied to the score plane ``[t1, t2, 0]``,
    t in [-lim, lim] (``[t1, t2, 1]``, t in [0, lim], for non-negative scores; ``[t1, t2, 1]``
    for a map flat on ``[t, 0]``, see :func:`actlab.plot.curves.other_score`)."""
    last = curves.other_score(entry)
    t1, t2, z = score_plane(0.0 if curves.positive_only(entry) else -lim, lim, last)
    return t1, t2, _apply(entry, z, params, temperature), last


@style.styled
def plane_figure(entry: Entry, params: dict[str, Any] | None = None, temperature: float = 1.0, lim: float = 3.0):
    """Left: ``map([t1, t2, 0])_1`` over the score plane (with contours; flat
    regions are exact 0 or 1). Right: the image of the same scores on the simplex."""
    fig, (ax, tri) = style.new_figure(ncols=2, size=(9.6, 4.0), constrained=True)
    t1, t2, p, last = map_plane(entry, params, temperature, lim)
    draw_plane(ax, fig, entry.name, t1, t2, p[..., 0])
    suffix = f", T = {temperature:g}" if temperature != 1.0 else ""
    ax.set_title(f"{entry.name}([t1, t2, {last:g}])$_1${suffix}")
    draw_triangle(tri, p, f"{entry.name}: scores in [{t1.min():g}, {lim:g}]$^2$ on the simplex", last)
    return fig
