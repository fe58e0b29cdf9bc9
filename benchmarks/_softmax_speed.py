"""Speed rows of ``softmax.py`` (not a benchmark itself): the softmax family
against torch and scipy.special, the sparse maps against ``torch.softmax``,
with issue 16's bars; timed with ``_timing.interleaved`` (medians of
interleaved repeats, the first call apart)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from _timing import fmt_ms, fmt_ratio, interleaved, markdown_table, summary_line, verdict

TORCH_SHAPES = [(256, 32000), (4096, 1000)]
QUICK_TORCH_SHAPES = [(16, 2000), (64, 100)]
SPARSE_MAPS = ("sparsemax", "entmax15", "entmax(alpha=1.25)", "entmax(alpha=1.75)")
SPARSE_CASES = [((4096, 128), "float32", SPARSE_MAPS), ((4096, 128), "bfloat16", SPARSE_MAPS),
                ((1024, 1000), "float32", ("sparsemax",))]
QUICK_SPARSE_CASES = [((64, 128), "float32", SPARSE_MAPS), ((64, 128), "bfloat16", SPARSE_MAPS),
                      ((32, 100), "float32", ("sparsemax",))]
TORCH_BAR, NUMPY_BAR, SPARSE_BAR = 1.25, 1.25, 2.0


def _row(table, function, dtype, shape, mode, bar, fns, budget) -> dict:
    base = {"table": table, "function": function, "dtype": dtype, "shape": f"{tuple(shape)}", "mode": mode,
            "bar": bar}
    try:
        t = interleaved(fns, budget)
    except Exception as exc:  # any version of the code: report the failure, never crash
        nan = float("nan")
        return {**base, "ours_ms": nan, "theirs_ms": nan, "ratio": nan, "verdict": verdict(nan, bar),
                "ours_first_ms": nan, "repeats": [0, 0], "error": f"{type(exc).__name__}: {exc}"[:160]}
    ours, theirs = t["ours"], t["theirs"]
    ratio = ours.median / theirs.median
    return {**base, "ours_ms": ours.median * 1e3, "theirs_ms": theirs.median * 1e3, "ratio": ratio,
            "verdict": verdict(ratio, bar), "ours_first_ms": ours.first * 1e3, "repeats": [ours.n, theirs.n]}


def _grad_call(fn: Callable, x, g) -> Callable[[], object]:
    """``torch.autograd.grad(fn(x), x, grad)``: ``grad`` is ``g`` for an output of x's shape, ``g[:, 0]``
    for a row reduction (logsumexp), nothing for a scalar loss."""
    import torch

    g_rows = g[:, 0].contiguous()

    def run():
        y = fn(x)
        return torch.autograd.grad(y, x, None if y.ndim == 0 else g_rows if y.ndim == 1 else g)

    return run


def torch_rows(shapes, budget, progress=print) -> list[dict]:
    """softmax, log_softmax, logsumexp, cross_entropy (+ label_smoothing=0.1): float32 fwd (no bar)
    and fwd+bwd (bar 1.25x); softmax and log_softmax also bfloat16."""
    return [r for shape in shapes for dtype in ("float32", "bfloat16")
            for r in _torch_case(shape, dtype, budget, progress)]


def _torch_case(shape, dtype, budget, progress) -> list[dict]:
    import torch
    import torch.nn.functional as F

    import actlab

    torch.manual_seed(0)
    target = torch.randint(0, shape[-1], shape[:-1])
    x = (torch.randn(shape) * 5).to(getattr(torch, dtype))
    g = torch.randn(shape, dtype=x.dtype)
    xr = x.detach().requires_grad_()
    todo = {
        "softmax": (actlab.softmax, lambda v: torch.softmax(v, -1)),
        "log_softmax": (actlab.log_softmax, lambda v: torch.log_softmax(v, -1)),
    }
    if dtype == "float32":
        todo.update({
            "logsumexp": (actlab.logsumexp, lambda v: torch.logsumexp(v, -1)),
            "cross_entropy": (lambda v: actlab.cross_entropy(v, target), lambda v: F.cross_entropy(v, target)),
            "cross_entropy(ls=0.1)": (lambda v: actlab.cross_entropy(v, target, label_smoothing=0.1),
                                      lambda v: F.cross_entropy(v, target, label_smoothing=0.1)),
        })
    rows = []
    for name, (ours, theirs) in todo.items():
        fwd = {"ours": lambda f=ours: f(x), "theirs": lambda f=theirs: f(x)}
        rows.append(_row("torch", name, dtype, shape, "fwd", None, fwd, budget))
        both = {"ours": _grad_call(ours, xr, g), "theirs": _grad_call(theirs, xr, g)}
        rows.append(_row("torch", name, dtype, shape, "fwd+bwd", TORCH_BAR, both, budget))
        progress(f"torch {name} {dtype} {shape}: fwd+bwd ratio {rows[-1]['ratio']:.2f}")
    return rows


def numpy_rows(shapes, budget, progress=print) -> list[dict]:
    """actlab.softmax, log_softmax, logsumexp vs scipy.special's, float64 and float32 (bar 1.25x)."""
    return [r for shape in shapes for dtype in ("float64", "float32")
            for r in _numpy_case(shape, dtype, budget, progress)]


def _numpy_case(shape, dtype, budget, progress) -> list[dict]:
    import scipy.special as sc

    import actlab

    x = (np.random.default_rng(0).standard_normal(shape) * 10).astype(dtype)
    rows = []
    for name in ("softmax", "log_softmax", "logsumexp"):
        ours, ref = getattr(actlab, name), getattr(sc, name)
        fns = {"ours": lambda o=ours: o(x), "theirs": lambda r=ref: r(x, axis=-1)}
        rows.append(_row("numpy", name, dtype, shape, "fwd", NUMPY_BAR, fns, budget))
        progress(f"numpy {name} {dtype} {shape}: ratio {rows[-1]['ratio']:.2f}")
    return rows


def sparse_rows(cases, budget, progress=print) -> list[dict]:
    """``(shape, dtype, map names)`` cases: sparsemax, entmax15, entmax alpha=1.25/1.75, fwd+bwd,
    vs torch.softmax fwd+bwd on the same input (bar 2x)."""
    import torch

    import actlab

    maps = {"sparsemax": actlab.sparsemax, "entmax15": actlab.entmax15,
            "entmax(alpha=1.25)": lambda v: actlab.entmax(v, alpha=1.25),
            "entmax(alpha=1.75)": lambda v: actlab.entmax(v, alpha=1.75)}
    rows = []
    for shape, dtype, names in cases:
        torch.manual_seed(0)
        x = torch.randn(shape).to(getattr(torch, dtype)).requires_grad_()
        g = torch.randn(shape, dtype=x.dtype)
        soft = _grad_call(lambda v: torch.softmax(v, -1), x, g)
        for name in names:
            fns = {"ours": _grad_call(maps[name], x, g), "theirs": soft}
            rows.append(_row("sparse", name, dtype, shape, "fwd+bwd", SPARSE_BAR, fns, budget))
            progress(f"sparse {name} {dtype} {shape}: ratio {rows[-1]['ratio']:.2f}")
    return rows


def _cells(r) -> list[str]:
    lead = [r["function"], r["dtype"], r["shape"], r["mode"]]
    bar = "-" if r["bar"] is None else f"{r['bar']:g}x"
    if "error" in r:
        return lead + [f"error: {r['error']}", "", "", bar, r["verdict"], "", ""]
    return lead + [fmt_ms(r["theirs_ms"] / 1e3), fmt_ms(r["ours_ms"] / 1e3), fmt_ratio(r["ratio"]), bar,
                   r["verdict"], fmt_ms(r["ours_first_ms"] / 1e3), "{}/{}".format(*r["repeats"])]


def speed_table(rows, other: str) -> str:
    header = ["function", "dtype", "shape", "mode", f"{other} ms", "actlab ms", "ratio", "bar", "verdict",
              "actlab first call ms", "repeats (actlab/other)"]
    return summary_line([r["verdict"] for r in rows]) + "\n\n" + markdown_table(header, [_cells(r) for r in rows])
