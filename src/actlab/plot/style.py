"""The look shared by every figure: colours, axes furniture, saving.

Figures are built with :class:`matplotlib.figure.Figure` directly (no
``pyplot``, no global state), so they render with the Agg canvas whatever
backend the user has and can be made in worker processes.

A function is always drawn in :data:`FUNCTION_COLOR` and its derivative in
:data:`DERIVATIVE_COLOR` (dashed), on every page of the gallery; a sweep over
a parameter uses :data:`SWEEP_COLORS` in order.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "FUNCTION_COLOR",
    "DERIVATIVE_COLOR",
    "SWEEP_COLORS",
    "REFERENCE_COLOR",
    "FORMATS",
    "new_figure",
    "decorate",
    "autoscale_y",
    "break_jumps",
    "save_figure",
    "note_axes",
    "styled",
    "sweep_width",
]

FUNCTION_COLOR = "#1f5fa8"  # a deep blue: the function, everywhere
DERIVATIVE_COLOR = "#d9480f"  # an orange-red, dashed: its derivative, everywhere
REFERENCE_COLOR = "#6c757d"  # grey: reference curves (hinge, hardmax, ...)
SWEEP_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
ZERO_LINE_COLOR = "#c8c8c8"
FORMATS = ("png", "svg", "pdf")

_RC = {
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 10.0,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "lines.linewidth": 2.0,
    "svg.fonttype": "path",
    "svg.hashsalt": "actlab",  # reproducible SVG ids
}


def styled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` with the house rcParams (without touching the global ones)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
            return fn(*args, **kwargs)

    return wrapper


def new_figure(
    ncols: int = 1,
    size: tuple[float, float] | None = None,
    nrows: int = 1,
    constrained: bool = False,
    margins: tuple[float, float, float, float] = (0.72, 0.18, 0.55, 0.38),
):
    """A ``(fig, axes)`` pair; ``axes`` is a list. Call it under :func:`styled`.

    ``margins`` (left, right, bottom, top) are in inches: fixed margins draw
    several times faster than matplotlib's constrained layout, which is used
    only when asked for (figures with colour bars).
    """
    from matplotlib.figure import Figure

    w, h = size or (5.2 * ncols, 3.6 * nrows)
    if constrained:
        fig = Figure(figsize=(w, h), layout="constrained")
    else:
        left, right, bottom, top = margins
        fig = Figure(figsize=(w, h))
        fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                            wspace=0.3 if ncols > 1 else 0.2, hspace=0.45)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(nrows * ncols)]
    return fig, axes


def decorate(
    ax: Any,
    *,
    xlabel: str = "x",
    ylabel: str = "y",
    title: str | None = None,
    subtitle: str | None = None,
    legend: bool = True,
    zero_lines: bool = True,
    legend_loc: str = "best",
) -> None:
    """Labelled axes, light zero lines behind the data, a legend, a light grid;
    ``subtitle`` (parameter settings, say) goes right of a left-aligned title."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left" if subtitle else "center")
    if subtitle:
        ax.set_title(subtitle, loc="right", fontsize=8.5, color="#555555")
    if zero_lines:
        ax.axhline(0.0, color=ZERO_LINE_COLOR, linewidth=0.9, zorder=0.5)
        ax.axvline(0.0, color=ZERO_LINE_COLOR, linewidth=0.9, zorder=0.5)
    ax.grid(True, color="#eeeeee", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc=legend_loc, frameon=True, framealpha=0.9, edgecolor="#dddddd")


def autoscale_y(ax: Any, curves: Sequence[np.ndarray], ylim: tuple[float, float] | None = None) -> None:
    """Set y limits: ``ylim`` if given, else the finite range of ``curves``
    with a margin (and at least a unit-wide window, so flat lines show); a
    narrow spike is cut at the 10-90 percent range of the curves."""
    if ylim is not None:
        ax.set_ylim(*ylim)
        return
    finite = [c[np.isfinite(c)] for c in curves]
    finite = [c for c in finite if c.size]
    if not finite:
        return
    lo = min(float(c.min()) for c in finite)
    hi = max(float(c.max()) for c in finite)
    # A narrow spike (a singularity at one point) would flatten everything else:
    # then show the 10-90 percent range of each curve, the spike running off the axes.
    rlo = min(float(np.percentile(c, 10)) for c in finite)
    rhi = max(float(np.percentile(c, 90)) for c in finite)
    if hi - lo > 4.0 * max(rhi - rlo, 1.0):
        lo, hi = rlo - 0.5 * (rhi - rlo), rhi + 0.5 * (rhi - rlo)
    span = hi - lo
    if span < 1.0:
        mid = 0.5 * (lo + hi)
        lo, hi, span = mid - 0.5, mid + 0.5, 1.0
    ax.set_ylim(lo - 0.08 * span, hi + 0.08 * span)


def sweep_width(i: int, n: int) -> float:
    """Line width of the i-th of n overlaid curves: the first drawn widest, so
    curves that coincide stay visible underneath the later ones."""
    return 1.6 + 1.6 * (n - 1 - i) / max(n - 1, 1)


def break_jumps(y: np.ndarray, rel: float = 0.05, contrast: float = 8.0) -> np.ndarray:
    """``y`` with NaN at the sample after a jump, so a discontinuity is not
    drawn as a vertical segment. A jump is a step larger than ``rel`` times
    the curve's range and ``contrast`` times the steps around it: its direct
    neighbours, or those two samples away (a jump may pass through one
    sample on the way, such as a tie's 1/2 between 0 and 1). A steep but
    continuous curve has neighbouring steps of similar size."""
    y = np.asarray(y, dtype=float)
    fin = y[np.isfinite(y)]
    if y.size < 6 or fin.size < 2:
        return y
    span = float(fin.max() - fin.min())
    if span == 0.0:
        return y
    with np.errstate(invalid="ignore"):
        d = np.abs(np.diff(y))
        pad = np.concatenate([[0.0, 0.0], d, [0.0, 0.0]])
        near1 = np.maximum(pad[1:-3], pad[3:-1])
        near2 = np.maximum(pad[:-4], pad[4:])
        jumps = (d > rel * span) & (d > contrast * np.minimum(near1, near2))
    out = y.copy()
    out[1:][jumps] = np.nan
    return out


def note_axes(ax: Any, text: str) -> None:
    """Replace an axes' content by a centred note (for a figure that could not be drawn)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color="#8a1c1c", transform=ax.transAxes)


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> str:
    """Save ``fig`` to ``path``; the format is the extension (png, svg, pdf)."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(f"output file must end in one of {['.' + f for f in FORMATS]}, got {path!r}")
    meta = {"Software": None} if ext == "png" else {"Date": None} if ext in ("svg",) else {"CreationDate": None}
    styled(fig.savefig)(path, dpi=dpi, format=ext, metadata=meta, facecolor="white")
    return path
