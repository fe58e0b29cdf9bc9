"""Figures: every registry entry drawn with labelled axes, a legend and real
data; the drawn curves agree with independent formulas; formulas render."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gallery_fakes import stand_ins  # noqa: E402

import actlab  # noqa: E402
from actlab.plot import (  # noqa: E402  # noqa: E402
    DERIVATIVE_COLOR,
    FUNCTION_COLOR,
    comparisons,
    curves,
    formula,
    function_figure,
    plane_figure,
    save_figure,
    style,
    sweep_figure,
    thumbnail_figure,
)
from actlab.plot.gallery import DRAWN_KINDS  # noqa: E402

DRAWN = [e.name for e in actlab.registry() if e.kind in DRAWN_KINDS]


@pytest.fixture(scope="module")
def fakes():
    with stand_ins() as added:
        yield added


def data_lines(ax):
    """Lines with a legend label and at least two finite points."""
    out = []
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if not line.get_label().startswith("_") and np.isfinite(y).sum() >= 2:
            out.append(line)
    return out


def check_axes(ax):
    assert ax.get_xlabel().strip(), "x axis has no label"
    assert ax.get_ylabel().strip(), "y axis has no label"
    legend = ax.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()], "no legend"
    lines = data_lines(ax)
    assert lines, "no data line"
    lo, hi = ax.get_ylim()
    for line in lines:  # something of each curve is visible
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.any((y >= lo) & (y <= hi)), f"{line.get_label()} lies outside the y limits"
    return lines


@pytest.mark.parametrize("name", DRAWN)
def test_function_figure_is_labelled_with_function_and_derivative_colours(name):
    e = actlab.get(name)
    fig = function_figure(e)
    lines = check_axes(fig.axes[0])
    colors = [line.get_color() for line in lines]
    assert FUNCTION_COLOR in colors
    if e.derivative is not None:
        assert DERIVATIVE_COLOR in colors, "the derivative is not drawn in the site-wide derivative colour"
    assert fig.axes[0].get_xlim() == pytest.approx(curves.domain(e))


@pytest.mark.parametrize("name", DRAWN)
def test_thumbnail_has_data(name):
    fig = thumbnail_figure(actlab.get(name))
    assert data_lines(fig.axes[0])


SMOOTH = [e.name for e in actlab.registry("elementwise") if e.properties is not None and e.properties.smooth]


@pytest.mark.parametrize("name", SMOOTH)
def test_drawn_derivative_matches_finite_differences_of_drawn_function(name):
    """The dashed curve is the slope of the solid one (an independent check of
    what the figure shows, not of how it is computed)."""
    e = actlab.get(name)
    lo, hi = e.extra.get("domain") or (-np.inf, np.inf)  # logit's [0, 1], log1mexp's x <= 0
    x = np.linspace(max(-4.0, lo + 0.05), min(4.0, hi - 0.05), 8001)
    c = curves.curve(e, x)
    fd = np.gradient(c.y, c.x)
    inner = slice(2, -2)
    scale = max(1.0, float(np.max(np.abs(c.dy))))
    assert np.max(np.abs(fd[inner] - c.dy[inner])) < 1e-3 * scale


@pytest.mark.parametrize("name", [e.name for e in actlab.registry() if curves.sweep_params(e) and e.kind in DRAWN_KINDS])
def test_sweep_figures_draw_one_curve_per_value(name):
    e = actlab.get(name)
    for p in curves.sweep_params(e):
        fig = sweep_figure(e, p.name, p.sweep)
        for ax in fig.axes:
            assert len(check_axes(ax)) == len(p.sweep)


def test_swish_sweep_uses_the_articles_limits():
    fig = sweep_figure(actlab.get("swish"), "beta", (0.1, 1.0, 10.0), xlim=(-5.0, 3.0))
    ax = fig.axes[0]
    assert ax.get_xlim() == (-5.0, 3.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [r"$\beta$ = 0.1", r"$\beta$ = 1", r"$\beta$ = 10"]


def test_gated_curve_is_the_gate(fakes):
    x = np.linspace(-3, 3, 13)
    c = curves.curve(actlab.get("glu"), x)
    np.testing.assert_allclose(c.y, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(c.dy, np.exp(-x) / (1 + np.exp(-x)) ** 2, rtol=1e-12)


def test_maxout_curve_is_the_max_of_the_pieces_in_its_notes():
    x = np.linspace(-4, 4, 17)
    c = curves.curve(actlab.get("maxout"), x)
    np.testing.assert_array_equal(c.y, np.maximum.reduce([-x - 1, 0.25 * x, x - 1]))
    assert set(np.unique(c.dy)) == {1.0, 0.25, -1.0}


def test_simplex_curves_match_their_two_dimensional_closed_forms(fakes):
    t = np.linspace(-4, 4, 81)
    soft = curves.curve(actlab.get("softmax"), t)
    np.testing.assert_allclose(soft.y, 1 / (1 + np.exp(-t)), rtol=1e-12)  # softmax([t, 0])_1 = sigmoid(t)
    np.testing.assert_allclose(soft.dy, np.exp(-t) / (1 + np.exp(-t)) ** 2, rtol=1e-10, atol=1e-15)
    sparse = curves.curve(actlab.get("sparsemax"), t)
    np.testing.assert_allclose(sparse.y, np.clip((t + 1) / 2, 0, 1), atol=1e-15)  # the hard sigmoid (SPEC 3)


def test_sparsemax_loss_curve_is_the_binary_huber_loss(fakes):
    t = np.linspace(-3, 3, 61)
    c = curves.curve(actlab.get("sparsemax_loss"), t)
    huber = np.where(t >= 1, 0.0, np.where(t <= -1, -t, (t - 1) ** 2 / 4))
    np.testing.assert_allclose(c.y, huber, atol=1e-12)
    away = np.abs(np.abs(t) - 1) > 0.05
    slope = np.where(t >= 1, 0.0, np.where(t <= -1, -1.0, (t - 1) / 2))
    np.testing.assert_allclose(c.dy[away], slope[away], atol=1e-6)


def test_plane_figure_shows_sparse_support(fakes):
    fig = plane_figure(actlab.get("sparsemax"))
    tri = fig.axes[1]
    labels = [t.get_text() for t in tri.get_legend().get_texts()]
    assert any(s.startswith("support size 1") for s in labels)
    assert any(s.startswith("support size 3") for s in labels)
    soft = plane_figure(actlab.get("softmax")).axes[1]
    assert [t.get_text().split("  ")[0] for t in soft.get_legend().get_texts()] == ["support size 3"]


def test_every_comparison_draws_when_its_functions_exist(fakes):
    for c in comparisons.COMPARISONS:
        if comparisons.missing(c):
            continue
        fig = comparisons.build(c)
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert ax.get_xlabel() and ax.get_ylabel(), c.slug
            assert ax.get_legend() is not None, c.slug


def test_a_comparison_with_missing_functions_is_reported():
    c = comparisons.Comparison("x", "X", "", ("sigmoid", "no_such_function"), lambda: None)
    assert comparisons.missing(c) == ["no_such_function"]
    with pytest.raises(ValueError, match="no_such_function"):
        comparisons.build(c)


@pytest.mark.parametrize("name", [e.name for e in actlab.registry()])
def test_every_formula_renders_in_mathtext(name):
    e = actlab.get(name)
    for tex in (e.latex, e.dlatex):
        assert formula.mathtext_or_none(tex) is not None, f"mathtext cannot draw {tex!r} ({name})"


def test_mathtext_rewrites():
    assert formula.to_mathtext(r"\tfrac16\sqrt2") == r"\frac{1}{6}\sqrt{2}"
    assert formula.to_mathtext(r"x\le0, x\ge1, \left(x\right)") == r"x\leq0, x\geq1, \left(x\right)"
    cases = formula.to_mathtext(r"\begin{cases}0 & x\le-3\\ x & -3<x\\ 1 & x>3\end{cases}")
    assert "cases" not in cases and cases.count("genfrac") == 2
    assert formula.mathtext_or_none(r"\begin{unknownenv}x\end{unknownenv}") is None


def test_render_formula_writes_svg_or_reports_failure(tmp_path):
    assert formula.render_formula(r"\sigma(x)=\frac{1}{1+e^{-x}}", tmp_path / "s.svg")
    assert (tmp_path / "s.svg").read_text().lstrip().startswith("<?xml")
    assert not formula.render_formula(r"\begin{matrix}a\end{matrix}", tmp_path / "bad.svg")
    assert not (tmp_path / "bad.svg").exists()


def test_break_jumps_cuts_steps_only():
    x = np.linspace(-1, 1, 201)
    step = style.break_jumps(np.where(x > 0, 1.0, 0.0))
    assert np.isnan(step).sum() == 1
    smooth = style.break_jumps(np.tanh(3 * x))
    assert not np.isnan(smooth).any()
    steep = style.break_jumps(1 / (1 + np.exp(-40 * x)))  # continuous, most of its rise within 0.1
    assert not np.isnan(steep).any()
    tie = np.where(x > 0, 1.0, 0.0)
    tie[100] = 0.5  # a jump through one sample (hardmax at a tie)
    assert np.isnan(style.break_jumps(tie)).sum() == 2


@pytest.mark.parametrize("ext,magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_save_figure_formats(tmp_path, ext, magic):
    path = save_figure(function_figure(actlab.get("tanh")), tmp_path / f"t.{ext}")
    assert open(path, "rb").read(5).startswith(magic)


def test_save_figure_rejects_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="png"):
        save_figure(function_figure(actlab.get("tanh")), tmp_path / "t.jpg")


def test_figures_leave_the_global_style_alone():
    import matplotlib

    before = dict(matplotlib.rcParams)
    function_figure(actlab.get("mish"))
    assert dict(matplotlib.rcParams) == before


def test_every_registered_kind_is_drawn_with_a_thumbnail():
    """A card without a thumbnail is a kind the gallery does not draw."""
    assert {e.kind for e in actlab.registry()} <= set(DRAWN_KINDS)


def test_logsumexp_curve_is_the_softplus_of_the_score_gap():
    """logsumexp([t, 0]) = log(1 + e^t) (NumPy's logaddexp), slope sigmoid(t) (SciPy's expit)."""
    from scipy.special import expit

    t = np.linspace(-5, 5, 201)
    c = curves.curve(actlab.get("logsumexp"), t)
    np.testing.assert_allclose(c.y, np.logaddexp(t, 0.0), rtol=1e-12)
    np.testing.assert_allclose(c.dy, expit(t), rtol=1e-12)


def test_gumbel_softmax_curve_is_its_expectation():
    """The mean of the draws against E[sigmoid((t + L) / tau)], L standard
    logistic (the difference of two Gumbel variables), by quadrature."""
    from scipy.integrate import quad
    from scipy.special import expit

    e = actlab.get("gumbel_softmax")
    t = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    c = curves.curve(e, t)
    tau = curves.plot_params(e)["tau"]
    exact = [quad(lambda u, s=s: expit((s + np.log(u / (1 - u))) / tau), 0, 1)[0] for s in t]
    np.testing.assert_allclose(c.y, exact, atol=0.04)  # 2000 draws: standard error <= 0.011


@pytest.mark.parametrize("name", ["spherical_softmax", "spherical_cross_entropy"])
def test_spherical_curves_show_their_shape(name):
    """Away from t = 0 the drawn function changes over a good part of the axes'
    height (on [t, 0] it is a flat line with a spike at 0)."""
    e = actlab.get(name)
    fig = function_figure(e)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    line = next(ln for ln in data_lines(ax) if ln.get_color() == FUNCTION_COLOR)
    x, y = (np.asarray(v, dtype=float) for v in line.get_data())
    away = (np.abs(x) > 0.5) & np.isfinite(y)
    assert np.ptp(y[away]) > 0.2 * (hi - lo)


def test_compare_figure_keeps_its_axis_labels():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from actlab.plot.compare_figure import compare_figure
    from actlab.plot.style import styled

    maps = [(n, np.asarray(actlab.get(n).function(np.array([1.0, 2.0, 3.0])))) for n in ("softmax", "sparsemax")]
    fig = compare_figure([1.0, 2.0, 3.0], maps)
    styled(FigureCanvasAgg(fig).draw)()  # with the fonts save_figure uses
    ax = fig.axes[0]
    box = fig.bbox
    for label in (ax.xaxis.label, ax.yaxis.label):
        ext = label.get_window_extent()
        assert label.get_text() and ext.y0 >= box.y0 and ext.x0 >= box.x0 and ext.y1 <= box.y1, label.get_text()


def test_index_counts_and_timing_come_from_the_run(tmp_path):
    from actlab.plot.gallery import render_gallery

    names = ["binary_cross_entropy_with_logits", "logsumexp", "gumbel_softmax"]
    result = render_gallery(tmp_path, progress=False, processes=1, entries=[actlab.get(n) for n in names])
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    n_fig = sum(1 for w in result.written.values() if "png" in w)
    assert f"{len(names)} functions in " in page and f"{n_fig} figures" in page
    assert f"Drawn in {result.seconds:.0f} s" in page and result.seconds > 0
    for n in names:  # every card has its thumbnail
        assert f'src="thumb/{n}.png"' in page and (tmp_path / "thumb" / f"{n}.png").is_file()
