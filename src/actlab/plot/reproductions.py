"""Figures of the reproductions (``actlab reproduce NAME``), drawn from their
rows alone, and the gallery's Reproductions page.

:func:`figure` takes an experiment's name and its rows (a record's
``"rows"``); the gallery draws every record found in a folder of
``NAME.json`` files (default: the records of the default-size runs shipped
with actlab, :data:`actlab.reproduce.RECORDS`).

Example:
    >>> from actlab.plot.reproductions import figure
    >>> rows = [{"loss": "softmax", "micro_f1": 0.65, "macro_f1": 0.46},
    ...         {"loss": "sparsemax", "micro_f1": 0.64, "macro_f1": 0.47}]
    >>> len(figure("sparsemax-multilabel", rows).axes)
    1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import style

__all__ = ["figure", "records", "DRAWERS"]

Rows = list[dict[str, Any]]


def _lines(ax: Any, xs: list[float], ys: list[float], i: int, label: str, dashed: bool = False) -> None:
    ax.plot(xs, ys, marker="o", markersize=3.5, color=style.SWEEP_COLORS[i % len(style.SWEEP_COLORS)],
            linestyle="--" if dashed else "-", label=label)


def _proportions(rows: Rows):
    ks = sorted({r["K"] for r in rows})
    fig, axes = style.new_figure(ncols=2, nrows=len(ks), size=(9.6, 3.3 * len(ks)), margins=(0.95, 0.18, 0.55, 0.38))
    for row, k in enumerate(ks):
        for col, metric in enumerate(("jsd", "mse")):
            ax = axes[2 * row + col]
            for i, loss in enumerate(("softmax", "sparsemax")):
                for prop in ("uniform", "random"):
                    pts = sorted((r["length"], r[metric]) for r in rows
                                 if r["K"] == k and r["loss"] == loss and r["proportions"] == prop)
                    if pts:
                        _lines(ax, [p[0] for p in pts], [p[1] for p in pts], i, f"{loss}, {prop}", prop == "random")
            style.decorate(ax, xlabel="document length", ylabel=metric.upper(), title=f"{metric.upper()}, K = {k}",
                           zero_lines=False, legend=row == 0 and col == 0)
    return fig


def _bars(ax: Any, groups: list[str], series: dict[str, list[float]], ylabel: str, title: str) -> None:
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    for i, (name, vals) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=name,
               color=style.SWEEP_COLORS[i % len(style.SWEEP_COLORS)])
    ax.set_xticks(x, groups)
    style.decorate(ax, xlabel="", ylabel=ylabel, title=title, zero_lines=False)


def _multilabel(rows: Rows):
    fig, (ax,) = style.new_figure(size=(6.0, 3.8))
    metrics = {"micro-F1": [100 * r["micro_f1"] for r in rows], "macro-F1": [100 * r["macro_f1"] for r in rows]}
    _bars(ax, [r["loss"] for r in rows], metrics, "F1 (%)", "Yeast, test split")
    lo = min(min(v) for v in metrics.values())
    ax.set_ylim(max(0.0, lo - 10), None)
    return fig


def _normalization(rows: Rows):
    fig, axes = style.new_figure(ncols=3, size=(14.4, 3.9))
    scale = [r for r in rows if r["part"] == "scale"]
    maps = list(dict.fromkeys(r["map"] for r in scale))
    by = {(r["map"], tuple(r["scores"])): r["p_max"] for r in scale}
    inputs = list(dict.fromkeys(tuple(r["scores"]) for r in scale))
    _bars(axes[0], maps, {f"z = {list(z)}": [by[m, z] for m in maps] for z in inputs},
          "largest probability", "the scale experiment")
    axes[0].tick_params(axis="x", labelrotation=25, labelsize=7.5)
    grad = [r for r in rows if r["part"] == "gradient"]
    for i, m in enumerate(dict.fromkeys(r["map"] for r in grad)):
        pts = [(r["scale"], r["grad_norm"]) for r in grad if r["map"] == m]
        _lines(axes[1], [p[0] for p in pts], [p[1] for p in pts], i, m)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    style.decorate(axes[1], xlabel="c (scores c [1, 2], class 0 correct)", ylabel="|d(-log p_0)/dz|",
                   title="gradient when confidently wrong", zero_lines=False)
    for i, r in enumerate(r for r in rows if r["part"] == "classifier"):
        _lines(axes[2], r["checkpoints"], r["curve"], i, f"{r['map']} ({100 * r['test_accuracy']:.0f}% test)")
    axes[2].set_xscale("log")
    style.decorate(axes[2], xlabel="epoch", ylabel="training NLL", title="linear classifier, digits",
                   zero_lines=False)
    return fig


def _language_model(rows: Rows):
    fig, axes = style.new_figure(ncols=2, size=(10.4, 3.8))
    names = [r["loss"] for r in rows]
    _bars(axes[0], names, {"validation perplexity": [r["ppl"] for r in rows]}, "perplexity", "perplexity")
    _bars(axes[1], names, {"time per epoch": [r["epoch_s"] for r in rows]}, "seconds", "time per epoch (1 thread)")
    for ax in axes:
        if ax.get_legend():
            ax.get_legend().remove()
    return fig


def _attention(rows: Rows):
    fig, (ax,) = style.new_figure(size=(6.4, 4.0))
    for i, name in enumerate(dict.fromkeys(r["normalizer"] for r in rows)):
        for scaled in (True, False):
            pts = sorted((r["d_k"], r["grad_norm"]) for r in rows if r["normalizer"] == name and r["scaled"] == scaled)
            _lines(ax, [p[0] for p in pts], [p[1] for p in pts], i,
                   f"{name} {'/ sqrt(d_k)' if scaled else 'unscaled'}", not scaled)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    style.decorate(ax, xlabel="d_k", ylabel="||dO/ds||_F", title="attention gradient vs d_k", zero_lines=False)
    return fig


DRAWERS = {
    "sparsemax-proportions": _proportions,
    "sparsemax-multilabel": _multilabel,
    "softmax-vs-normalization": _normalization,
    "large-vocabulary": _language_model,
    "attention-saturation": _attention,
}


@style.styled
def figure(name: str, rows: Rows):
    """The figure of experiment ``name`` from its rows."""
    if name not in DRAWERS:
        raise ValueError(f"no figure for experiment {name!r}; known: {', '.join(DRAWERS)}")
    if not rows:
        raise ValueError(f"{name}: no rows to draw")
    return DRAWERS[name](rows)


def records(folder: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The records in ``folder`` (default: the shipped ones), name -> path, in
    the order of :data:`DRAWERS`."""
    if folder is None:
        from ..reproduce import RECORDS

        folder = RECORDS
    folder = Path(folder)
    return {n: folder / f"{n}.json" for n in DRAWERS if (folder / f"{n}.json").is_file()}


def draw_record(path: str | os.PathLike[str]):
    """The figure of a record file (see :func:`actlab.reproduce.write_record`)."""
    from ..reproduce import read_record

    record = read_record(path)
    return figure(str(record.get("experiment") or Path(path).stem), record["rows"])


def page_body(found: dict[str, Path], result: Any, esc: Any, figure_html: Any) -> str:
    """The HTML of the gallery's Reproductions page."""
    from ..reproduce import read_record

    parts = ['<p class="lead">The articles\' experiments rerun with actlab\'s own maps and losses '
             "(<code>actlab reproduce NAME</code>); each figure is drawn from the run's record. The paper's "
             "result and how the run differs are beside it; the tables are in docs/reproductions.md.</p>"]
    if not found:
        parts.append('<p class="note">No reproduction records found.</p>')
    for name, path in found.items():
        try:
            record = read_record(path)
        except (OSError, ValueError) as exc:
            parts.append(f'<p class="note error">{esc(name)}: {esc(exc)}</p>')
            continue
        parts.append(f'<section><h2 id="{esc(name)}">{esc(record.get("title", name))}</h2>'
                     f"<p><code>actlab reproduce {esc(name)}</code></p>")
        parts.append(figure_html(f"fig/repro-{name}", record.get("title", name), result, ""))
        parts.append(f'<p><b>The paper:</b> {esc(record.get("paper", ""))}</p>'
                     f'<p><b>This run:</b> {esc(record.get("protocol", ""))}</p></section>')
    return "\n".join(parts)
