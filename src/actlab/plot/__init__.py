"""Figures of the registry's functions and the static gallery site.

Needs matplotlib (``pip install actlab[plot]``); ``import actlab`` never
imports this package. Figures are :class:`matplotlib.figure.Figure` objects
built without ``pyplot``, so they render with the Agg canvas whatever the
user's backend.

Example:
    >>> import actlab
    >>> from actlab.plot import function_figure, save_figure
    >>> fig = function_figure(actlab.get("gelu"))
    >>> fig.axes[0].get_xlabel()
    'x'
"""

from __future__ import annotations

from .comparisons import COMPARISONS, Comparison
from .figures import function_figure, sweep_figure, thumbnail_figure
from .formula import mathtext_or_none, render_formula, to_mathtext
from .gallery import GalleryResult, render_gallery
from .simplex_figures import plane_figure
from .style import DERIVATIVE_COLOR, FUNCTION_COLOR, save_figure

__all__ = [
    "function_figure",
    "sweep_figure",
    "thumbnail_figure",
    "plane_figure",
    "save_figure",
    "render_gallery",
    "GalleryResult",
    "COMPARISONS",
    "Comparison",
    "to_mathtext",
    "mathtext_or_none",
    "render_formula",
    "FUNCTION_COLOR",
    "DERIVATIVE_COLOR",
]
