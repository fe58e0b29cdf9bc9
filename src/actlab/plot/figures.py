"""One registry entry drawn: the function with its derivative, parameter
sweeps, and the small thumbnail of the gallery index.

Every figure is a :class:`matplotlib.figure.Figure` (save it with
:func:`actlab.plot.save_figure`). The function is drawn in the site-wide
function colour, its derivative dashed in the derivative colour.

Example:
    >>> import actlab
    >>> from actlab.plot import function_figure
    >>> fig = function_figure(actlab.get("swish"))
    >>> [line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]
    ['swish(x)', "swish'(x)"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..registry import Entry
from . import curves, style

__all__ = ["function_figure", "sweep_figure", "thumbnail_figure", "param_label", "param_text", "format_value"]

_SYMBOLS = {
    "beta": r"$\beta$",
    "alpha": r"$\alpha$",
    "lambd": r"$\lambda$",
    "negative_slope": "slope a",
    "temperature": "T",
    "weight": "a",
    "min_val": "min",
    "max_val": "max",
    "threshold": r"$\theta$",
    "value": "v",
}


_UNICODE = {"beta": "\u03b2", "alpha": "\u03b1", "lambd": "\u03bb", "threshold": "\u03b8", "negative_slope": "slope a",
            "temperature": "T"}


def param_text(name: str) -> str:
    """How a parameter is written in plain text (HTML captions): Greek letters in Unicode."""
    return _UNICODE.get(name, name)


def param_label(name: str) -> str:
    """How a parameter is written in legends (Greek letters for beta, alpha, ...)."""
    return _SYMBOLS.get(name, name)


def format_value(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _settings(params: dict[str, Any]) -> str:
    return ", ".join(f"{param_label(k)} = {format_value(v)}" for k, v in params.items() if k != "temperature" or v != 1.0)


def _draw(ax: Any, entry: Entry, c: curves.Curve, derivative: bool, label: str | None = None) -> list[np.ndarray]:
    if entry.kind == "grouped":
        pieces = curves.maxout_pieces(c.x, entry.extra.get("pieces", curves.MAXOUT_PIECES))
        for i in range(pieces.shape[-1]):
            ax.plot(c.x, pieces[:, i], color=style.REFERENCE_COLOR, linewidth=0.9, linestyle=":",
                    label="linear pieces" if i == 0 else "_nolegend_")
    ax.plot(c.x, style.break_jumps(c.y), color=style.FUNCTION_COLOR, label=label or c.ylabel, zorder=3)
    drawn = [c.y]
    if derivative and c.dy is not None:
        ax.plot(c.x, style.break_jumps(c.dy), color=style.DERIVATIVE_COLOR, linestyle="--", label=c.dlabel, zorder=2.5)
        drawn.append(c.dy)
    return drawn


@style.styled
def function_figure(
    entry: Entry,
    params: dict[str, Any] | None = None,
    derivative: bool = True,
    xlim: tuple[float, float] | None = None,
    size: tuple[float, float] = (5.2, 3.6),
):
    """The function and (by default) its derivative on one axes."""
    fig, (ax,) = style.new_figure(size=size)
    x = np.linspace(*(xlim or curves.domain(entry)), 401 if entry.kind == "loss" else 1201)
    c = curves.curve(entry, x, params)
    drawn = _draw(ax, entry, c, derivative)
    ax.set_xlim(x[0], x[-1])
    style.autoscale_y(ax, drawn, None if xlim else entry.ylim)
    settings = _settings(curves.plot_params(entry, params))
    style.decorate(ax, xlabel=c.xlabel, ylabel="value", title=entry.name, subtitle=settings or None)
    return fig


@style.styled
def sweep_figure(
    entry: Entry,
    name: str,
    values: Sequence[Any],
    params: dict[str, Any] | None = None,
    derivative: bool = True,
    xlim: tuple[float, float] | None = None,
):
    """The function for each value of parameter ``name`` (left) and, with
    ``derivative``, the derivatives (right, dashed), one colour per value."""
    fig, axes = style.new_figure(ncols=2 if derivative else 1, size=(9.6, 3.6) if derivative else (5.2, 3.6))
    x = np.linspace(*(xlim or curves.domain(entry)), 401 if entry.kind == "loss" else 1201)
    ys: list[np.ndarray] = []
    dys: list[np.ndarray] = []
    c = None
    for i, v in enumerate(values):
        color = style.SWEEP_COLORS[i % len(style.SWEEP_COLORS)]
        width = style.sweep_width(i, len(values))
        c = curves.curve(entry, x, {**(params or {}), name: v})
        label = f"{param_label(name)} = {format_value(v)}"
        axes[0].plot(x, style.break_jumps(c.y), color=color, label=label, zorder=3 + i, linewidth=width)
        ys.append(c.y)
        if derivative and c.dy is not None:
            axes[1].plot(x, style.break_jumps(c.dy), color=color, linestyle="--", label=label, zorder=3 + i,
                         linewidth=width)
            dys.append(c.dy)
    assert c is not None, "a sweep needs at least one value"
    fixed = {k: v for k, v in curves.plot_params(entry, params).items() if k != name}
    settings = _settings(fixed)
    for ax in axes:
        ax.set_xlim(x[0], x[-1])
    style.autoscale_y(axes[0], ys, None if xlim else entry.ylim)
    style.decorate(axes[0], xlabel=c.xlabel, ylabel=c.ylabel, title=f"{entry.name} for several {param_label(name)}",
                   subtitle=settings or None)
    if derivative:
        style.autoscale_y(axes[1], dys)
        style.decorate(axes[1], xlabel=c.xlabel, ylabel=c.dlabel, title="derivative")
    return fig


@style.styled
def thumbnail_figure(entry: Entry):
    """A small picture for the index: the function and its derivative, no text."""
    fig, (ax,) = style.new_figure(size=(2.4, 1.6), margins=(0.3, 0.06, 0.2, 0.06))
    x = np.linspace(*curves.domain(entry), 301)
    c = curves.curve(entry, x)
    drawn = _draw(ax, entry, c, derivative=True)
    for line in ax.get_lines():
        line.set_linewidth(1.6)
    ax.set_xlim(x[0], x[-1])
    style.autoscale_y(ax, drawn, entry.ylim)
    ax.axhline(0.0, color=style.ZERO_LINE_COLOR, linewidth=0.8, zorder=0.5)
    ax.axvline(0.0, color=style.ZERO_LINE_COLOR, linewidth=0.8, zorder=0.5)
    ax.tick_params(labelsize=6.5, length=2, pad=1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
