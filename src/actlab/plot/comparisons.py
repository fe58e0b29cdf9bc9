"""The comparison figures the source articles draw, rebuilt from the registry.

Each :class:`Comparison` names the functions it needs; when one is not
registered (yet) the gallery shows a note instead of the figure.
``optional`` functions are drawn when present.

Example:
    >>> from actlab.plot.comparisons import COMPARISONS, missing
    >>> [c.slug for c in COMPARISONS][:3]
    ['sigmoid-tanh', 'swish-beta', 'softplus-mish']
    >>> missing(COMPARISONS[0])
    []
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..registry import get as _get
from ..registry import registry as _all_entries
from . import curves, style
from .figures import sweep_figure
from .simplex_figures import draw_plane, draw_triangle, map_plane

__all__ = ["Comparison", "COMPARISONS", "missing", "present", "build", "side_by_side_figure"]


@dataclass(frozen=True)
class Comparison:
    slug: str
    title: str
    caption: str
    needs: tuple[str, ...]
    draw: Callable[[], Any]
    optional: tuple[str, ...] = ()
    source: str = ""


def _known() -> set[str]:
    return {e.name for e in _all_entries()}


def missing(c: Comparison) -> list[str]:
    """The functions ``c`` needs that are not registered."""
    known = _known()
    return [n for n in c.needs if n not in known]


def present(names: Sequence[str]) -> list[str]:
    known = _known()
    return [n for n in names if n in known]


def build(c: Comparison):
    """The figure of ``c``; ValueError naming what is missing if it cannot be drawn."""
    lacking = missing(c)
    if lacking:
        raise ValueError(f"{c.title}: needs {', '.join(lacking)}, not registered yet")
    return c.draw()


@style.styled
def side_by_side_figure(names: Sequence[str], xlim: tuple[float, float], title: str, ylim=None):
    """Functions (left, solid) and their derivatives (right, dashed), one colour per function."""
    fig, (ax, dax) = style.new_figure(ncols=2, size=(9.6, 3.6))
    x = np.linspace(*xlim, 1201)
    ys, dys = [], []
    c = None
    for i, name in enumerate(names):
        c = curves.curve(_get(name), x)
        color = style.SWEEP_COLORS[i % len(style.SWEEP_COLORS)]
        width = style.sweep_width(i, len(names))
        ax.plot(x, style.break_jumps(c.y), color=color, label=c.ylabel, zorder=3 + i, linewidth=width)
        ys.append(c.y)
        if c.dy is not None:
            dax.plot(x, style.break_jumps(c.dy), color=color, linestyle="--", label=c.dlabel, zorder=3 + i, linewidth=width)
            dys.append(c.dy)
    assert c is not None
    for a in (ax, dax):
        a.set_xlim(*xlim)
    style.autoscale_y(ax, ys, ylim)
    style.autoscale_y(dax, dys)
    style.decorate(ax, xlabel=c.xlabel, ylabel="value", title=title)
    style.decorate(dax, xlabel=c.xlabel, ylabel="derivative", title="derivatives")
    return fig


def _vector(z: Any) -> str:
    return "[" + ", ".join(f"{float(v):g}" for v in z) + "]"


def _maps_1d(names: Sequence[str]):
    return side_by_side_figure(present(names), (-4.0, 4.0), " vs ".join(present(names)) + " on z = [t, 0]")


@style.styled
def _maps_2d(names: Sequence[str]):
    names = present(names)
    fig, axes = style.new_figure(ncols=len(names), nrows=2, size=(4.2 * len(names), 7.6), constrained=True)
    for i, name in enumerate(names):
        t1, t2, p, _ = map_plane(_get(name))
        draw_plane(axes[i], fig, name, t1, t2, p[..., 0], colorbar=i == len(names) - 1)
        axes[i].set_title(f"{name}([t1, t2, 0])$_1$")
        draw_triangle(axes[len(names) + i], p, f"{name} on the simplex")
    return fig


@style.styled
def _losses():
    fig, (ax,) = style.new_figure(size=(6.4, 4.0))
    t = np.linspace(-3.0, 3.0, 601)
    sp = curves.loss_values(_get("sparsemax_loss"), t)
    huber = np.where(t <= -1.0, -4.0 * t, np.maximum(1.0 - t, 0.0) ** 2) / 4.0
    hinge = np.maximum(1.0 - t, 0.0)
    logistic = np.logaddexp(0.0, -t)  # softmax cross-entropy of [t, 0]: log(1 + e^-t)
    ax.plot(t, sp, color=style.SWEEP_COLORS[0], label="sparsemax loss", linewidth=3.2, alpha=0.75, zorder=3)
    ax.plot(t, huber, color="black", linestyle=(0, (4, 3)), linewidth=1.3, label="modified Huber / 4", zorder=4)
    ax.plot(t, hinge, color=style.SWEEP_COLORS[1], label="hinge  max(0, 1-t)", zorder=2)
    ax.plot(t, logistic, color=style.SWEEP_COLORS[2], label="logistic  log(1+e$^{-t}$) (softmax CE)", zorder=2)
    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(-0.2, 4.0)
    style.decorate(ax, xlabel="t = z$_1$ - z$_2$  (class 1 correct)", ylabel="loss",
                   title="binary losses: sparsemax loss is a Huber loss")
    return fig


@style.styled
def _normalisation():
    softmax, norm = _get("softmax").function, _get("sum_normalize").function
    fig, axes = style.new_figure(ncols=2, size=(9.6, 3.6))
    for ax, z in zip(axes, ([1.0, 2.0], [10.0, 20.0]), strict=True):
        rows = (("softmax", softmax(np.array(z))), ("x / sum(x)", norm(np.array(z))))
        for j, (label, p) in enumerate(rows):
            pos = np.arange(2) + (j - 0.5) * 0.36
            bars = ax.bar(pos, np.asarray(p), width=0.34, color=style.SWEEP_COLORS[j], label=label, zorder=3)
            ax.bar_label(bars, labels=[f"{v:.3g}" for v in np.asarray(p)], fontsize=8, padding=2)
        ax.set_xticks([0, 1], [f"class 1 (z = {z[0]:g})", f"class 2 (z = {z[1]:g})"])
        ax.set_ylim(0, 1.15)
        style.decorate(ax, xlabel="class", ylabel="probability", title=f"scores {_vector(z)}", zero_lines=False,
                       legend_loc="upper left")
    return fig


_TEMPERATURE_Z = np.array([2.0, 1.0, 0.1])


@style.styled
def _temperature():
    softmax = _get("softmax").function
    fig, (ax, bx) = style.new_figure(ncols=2, size=(9.6, 3.6))
    temps = np.logspace(-1, 1, 201)
    p = np.stack([np.asarray(softmax(_TEMPERATURE_Z, temperature=float(T))) for T in temps])
    for i in range(p.shape[1]):
        ax.plot(temps, p[:, i], color=style.SWEEP_COLORS[i], label=f"class {i + 1} (z = {_TEMPERATURE_Z[i]:g})")
    ax.axhline(1 / 3, color=style.REFERENCE_COLOR, linestyle=":", linewidth=1, label="uniform 1/3")
    ax.set_xscale("log")
    ax.set_xlim(temps[0], temps[-1])
    ax.set_ylim(-0.03, 1.03)
    style.decorate(ax, xlabel="temperature T (log scale)", ylabel="softmax(z / T)", zero_lines=False,
                   title=f"softmax(z/T), z = {_vector(_TEMPERATURE_Z)}")
    shown = (0.1, 0.5, 1.0, 2.0, 10.0)
    for j, T in enumerate(shown):
        q = np.asarray(softmax(_TEMPERATURE_Z, temperature=T))
        bx.bar(np.arange(3) + (j - 2) * 0.16, q, width=0.15, color=style.SWEEP_COLORS[j], label=f"T = {T:g}", zorder=3)
    bx.set_xticks(range(3), [f"class {i + 1}" for i in range(3)])
    bx.set_ylim(0, 1.05)
    style.decorate(bx, xlabel="class", ylabel="probability", title="low T: one-hot; high T: uniform", zero_lines=False)
    return fig


_TIE_Z = np.array([1.0, 3.0, 3.0, 0.0])


@style.styled
def _hardmax():
    softmax, hardmax = _get("softmax").function, _get("hardmax").function
    fig, (ax,) = style.new_figure(size=(6.4, 3.8))
    betas = np.logspace(-2, 2, 241)
    p = np.stack([np.asarray(softmax(_TIE_Z * b)) for b in betas])
    h = np.asarray(hardmax(_TIE_Z))
    for i in range(p.shape[1]):
        color = style.SWEEP_COLORS[i]
        ax.plot(betas, p[:, i], color=color, linewidth=style.sweep_width(i, p.shape[1]),  # ties stay visible
                label=f"softmax($\\beta$z)$_{i + 1}$, z$_{i + 1}$ = {_TIE_Z[i]:g}")
        ax.axhline(h[i], color=color, linestyle=":", linewidth=1.2)
    ax.plot([], [], color=style.REFERENCE_COLOR, linestyle=":", label="hardmax(z) (dotted)")
    ax.set_xscale("log")
    ax.set_xlim(betas[0], betas[-1])
    ax.set_ylim(-0.03, 0.6)
    style.decorate(ax, xlabel=r"$\beta$ = 1/T (log scale)", ylabel="probability", zero_lines=False,
                   title="softmax($\\beta$z) $\\to$ hardmax(z) as $\\beta\\to\\infty$ (tie shared)", legend_loc="center right")
    return fig


_SUPPORT_Z = np.array([3.0, 2.5, 2.2, 1.6, 1.0, 0.7, 0.3, -0.2, -0.8, -1.5])


@style.styled
def _support():
    fig, (ax,) = style.new_figure(size=(6.4, 3.8))
    temps = np.logspace(-1.5, 1.5, 241)
    for i, name in enumerate(present(("sparsemax", "entmax15", "softmax"))):
        entry = _get(name)
        sizes = [np.count_nonzero(np.asarray(entry.function(_SUPPORT_Z, temperature=float(T))) > 0) for T in temps]
        ax.step(temps, sizes, where="mid", color=style.SWEEP_COLORS[i], label=name, zorder=3)
    ax.set_xscale("log")
    ax.set_xlim(temps[0], temps[-1])
    ax.set_ylim(0, _SUPPORT_Z.size + 1)
    style.decorate(ax, xlabel="temperature T (log scale)", ylabel="support size |S(z/T)|", zero_lines=False,
                   title=f"non-zero probabilities of {_SUPPORT_Z.size} scores", legend_loc="upper left")
    return fig


@style.styled
def _attention_saturation():
    from .._attention.saturation import saturation_rows

    names = present(("softmax", "sparsemax", "entmax15"))
    rows = saturation_rows(normalizers=tuple(names))
    fig, (ax, bx) = style.new_figure(ncols=2, size=(9.6, 3.8))
    for i, name in enumerate(names):
        for scaled in (True, False):
            r = [x for x in rows if x["normalizer"] == name and x["scaled"] == scaled]
            d = [x["d_k"] for x in r]
            kw = {"color": style.SWEEP_COLORS[i], "marker": "o", "markersize": 3.5,
                  "linestyle": "-" if scaled else "--"}
            ax.plot(d, [x["grad_norm"] for x in r], label=name if scaled else None, **kw)
            bx.plot(d, [x["max_weight"] for x in r], **kw)
    bx.plot([], [], color=style.REFERENCE_COLOR, label="scores / sqrt(d$_k$)")
    bx.plot([], [], color=style.REFERENCE_COLOR, linestyle="--", label="unscaled scores")
    for a in (ax, bx):
        a.set_xscale("log", base=2)
    ax.set_yscale("log")
    bx.set_ylim(0, 1.02)
    style.decorate(ax, xlabel="d$_k$ (log scale)", ylabel="||dO/ds||$_F$ (mean over queries)", zero_lines=False,
                   title="gradient through the weights", legend_loc="lower left")
    style.decorate(bx, xlabel="d$_k$ (log scale)", ylabel="largest weight (mean)", zero_lines=False,
                   title="saturation: one key takes the weight", legend=False)
    bx.legend(loc="lower right", bbox_to_anchor=(1.0, 0.14), frameon=True, framealpha=0.9, edgecolor="#dddddd")
    return fig

COMPARISONS: tuple[Comparison, ...] = (
    Comparison("sigmoid-tanh", "Sigmoid beside tanh",
               "Both squash to a bounded range; tanh is zero-centred and steeper: tanh(x) = 2 sigmoid(2x) - 1, "
               "so its derivative peaks at 1 where the sigmoid's peaks at 0.25.",
               ("sigmoid", "tanh"), lambda: side_by_side_figure(("sigmoid", "tanh"), (-6.0, 6.0), "sigmoid and tanh"),
               source="LeCun et al. 1998, Efficient BackProp"),
    Comparison("swish-beta", "Swish for beta = 0.1, 1, 10",
               "Small beta makes Swish almost linear (x/2), beta = 1 is SiLU, large beta approaches ReLU. "
               "Limits x in [-5, 3], y in [-2, 3].",
               ("swish",), lambda: sweep_figure(_get("swish"), "beta", (0.1, 1.0, 10.0), xlim=(-5.0, 3.0)),
               source="Ramachandran, Zoph & Le 2017"),
    Comparison("softplus-mish", "Softplus beside Mish",
               "Softplus is a smooth ReLU; Mish = x tanh(softplus(x)) dips below zero (minimum about -0.31) "
               "and is not monotone.",
               ("softplus", "mish"), lambda: side_by_side_figure(("softplus", "mish"), (-5.0, 5.0), "softplus and mish"),
               source="Misra 2019"),
    Comparison("maps-1d", "Softmax beside sparsemax in one dimension",
               "On z = [t, 0], softmax's first output is the sigmoid of t; sparsemax's is the hard sigmoid "
               "clip((t+1)/2, 0, 1), exactly 0 or 1 outside [-1, 1]; 1.5-entmax lies between.",
               ("softmax", "sparsemax"), lambda: _maps_1d(("softmax", "entmax15", "sparsemax")),
               optional=("entmax15",), source="Martins & Astudillo 2016"),
    Comparison("maps-2d", "Softmax beside sparsemax in two dimensions",
               "Top: the first output over scores [t1, t2, 0]; sparsemax is piecewise linear with whole regions "
               "saturated at 0 or 1. Bottom: where those scores land on the simplex, coloured by how many "
               "classes keep a non-zero probability.",
               ("softmax", "sparsemax"), lambda: _maps_2d(("softmax", "entmax15", "sparsemax")),
               optional=("entmax15",), source="Martins & Astudillo 2016"),
    Comparison("losses", "The sparsemax loss beside Huber, hinge and logistic losses",
               "With two classes and t = z1 - z2 the sparsemax loss is 0 for t >= 1, -t for t <= -1 and "
               "(t-1)^2/4 between: the modified Huber loss divided by 4. Linear for large errors like the hinge, "
               "quadratic near the margin.",
               ("sparsemax_loss",), _losses, source="Martins & Astudillo 2016"),
    Comparison("normalisation", "Softmax vs sum normalisation on [1, 2] and [10, 20]",
               "Dividing by the sum is scale-invariant: both score vectors give [1/3, 2/3]. Softmax is "
               "shift-invariant instead: ten times larger scores give a much more confident [4.5e-5, 0.99995].",
               ("softmax", "sum_normalize"), _normalisation, source="Bridle 1990"),
    Comparison("temperature", "The temperature effect, T = 0.1 .. 10",
               "softmax(z/T) for z = [2, 1, 0.1]: T -> 0 approaches one-hot, large T the uniform distribution "
               "(distillation uses T > 1 for soft labels).",
               ("softmax",), _temperature, source="Hinton, Vinyals & Dean 2015"),
    Comparison("hardmax-limit", "The hardmax limit",
               "softmax(beta z) for z = [1, 3, 3, 0] as beta grows: the two tied maxima share the mass, "
               "1/2 each, which is hardmax(z).",
               ("softmax", "hardmax"), _hardmax, source="Goodfellow, Bengio & Courville 2016, 6.2.2.3"),
    Comparison("support", "Support size against temperature",
               "How many of ten scores keep a non-zero probability under map(z/T): sparse maps select fewer "
               "classes as T falls; softmax always keeps all ten.",
               ("sparsemax",), _support, optional=("entmax15", "softmax"), source="Martins & Astudillo 2016"),
    Comparison("attention-saturation", "Why attention divides the scores by sqrt(d_k)",
               "Random unit-variance queries and keys (64 keys): q.k has variance d_k, so unscaled scores spread "
               "as sqrt(d_k), one key takes nearly all the weight and the gradient of the attention output with "
               "respect to the scores shrinks (exactly 0 for sparsemax once one key holds it all). Divided by "
               "sqrt(d_k) both stay put at every d_k.",
               ("softmax", "sparsemax"), _attention_saturation, optional=("entmax15",),
               source="Vaswani et al. 2017, section 3.2.1"),
)
