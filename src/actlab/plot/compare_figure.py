"""The bar chart of ``actlab compare --plot``: several vector maps applied to
the same scores, one group of bars per class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import style

__all__ = ["compare_figure"]


@style.styled
def compare_figure(scores: Sequence[float], maps: Sequence[tuple[str, np.ndarray]], temperature: float = 1.0):
    """Bars of ``p_i`` for each map in ``maps`` (``[(name, probabilities), ...]``)."""
    k, m = len(scores), len(maps)
    fig, (ax,) = style.new_figure(size=(max(5.2, 1.0 + 0.45 * k * m + 0.4 * k), 3.8),
                                  margins=(0.72, 0.18, 0.85, 0.38))  # two-line tick labels, then the axis label
    width = 0.8 / max(m, 1)
    for j, (name, p) in enumerate(maps):
        pos = np.arange(k) + (j - (m - 1) / 2) * width
        bars = ax.bar(pos, p, width=width * 0.95, color=style.SWEEP_COLORS[j % len(style.SWEEP_COLORS)], label=name, zorder=3)
        if k * m <= 24:
            ax.bar_label(bars, labels=[f"{v:.2g}" for v in p], fontsize=7, padding=1.5)
    ax.set_xticks(range(k), [f"{i + 1}\nz={s:g}" for i, s in enumerate(scores)])
    ax.set_ylim(0, 1.12)
    t = f", T = {temperature:g}" if temperature != 1.0 else ""
    style.decorate(ax, xlabel="class i (score z_i)", ylabel="probability p_i", zero_lines=False,
                   title=f"maps on z = [{', '.join(f'{s:g}' for s in scores)}]{t}", legend_loc="upper left")
    return fig
