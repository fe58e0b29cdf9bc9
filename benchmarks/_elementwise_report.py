"""Markdown of ``elementwise_speed.py``'s results (not a benchmark itself)."""

from __future__ import annotations

import math
import statistics

from _timing import fmt_ms, fmt_ratio, machine_description, markdown_table, summary_line

METHOD = """\
**Method.** One process, one thread: `torch.set_num_threads(1)` and OMP/MKL/OpenBLAS
pinned to 1 before NumPy and torch are imported; the command unsets OPENBLAS_CORETYPE
(`env -u`), which slows NumPy where it is set (the machine line shows its value in the run). Each row calls ours and theirs in turn:
the first call of each is timed apart (*first call*, the latency a user pays once in
this process for that function, dtype and size, e.g. when a path compiles) and never
enters the median; a cheap contender gets one more, discarded, warm-up call; then timed
repeats, interleaved, as many as fit in the row's budget of {budget:g} s, at least three
(one for a call longer than its share of the budget: a slow call is timed once, after its first call). A call whose first run takes over
{once:g} s is not repeated: its time is its first call (repeats shown as 0).
Times are medians; *ratio* = actlab / torch (or SciPy/NumPy), below 1 means actlab is
faster. Inputs `randn * 4` (saturating tails included), gradients `randn`.
Forward+backward is `torch.autograd.grad(f(x), x, g)`.

*Floor* is the memory-bandwidth floor of the same pass: one `x.clone()` (read n, write n)
for the forward; `x.clone()` plus `torch.mul(g, x)` (read 2n, write n) for
forward+backward; `x.copy()` for NumPy. *actlab / floor* says how many such passes our
time is worth.

**Bars** (ours / theirs at most): 1.25x where torch's op is accurate -- the
piecewise-linear family in both passes (relu, relu6, leaky_relu, hardtanh, hardsigmoid,
hardswish, softshrink, hardshrink, threshold) and the forward of sigmoid, tanh, elu,
selu and celu -- and 2x elsewhere (every forward+backward of a smooth function, gelu,
silu, swish, mish, softplus, log_sigmoid, softsign, tanhshrink). Sigmoid's forward is
held to 1.25x because only its derivative is named among the 2x cases. NumPy rows:
1.25x against `scipy.special.expit` / `log_expit` and the exact or accurate one-call
formulas, 2x against the composed ones. The MLP rows have no bar."""


def _call(case) -> str:
    parts = [repr(a) for a in case.args] + [f"{k}={v!r}" for k, v in case.kwargs]
    return f"actlab.{case.name}(x{''.join(', ' + p for p in parts)})"


def cases_table(cases) -> str:
    rows = [[c.key, f"`{_call(c)}`", f"`{c.torch_ref}`", f"{c.bar_fwd:g}x", f"{c.bar_bwd:g}x",
             f"`{c.numpy_ref}`", f"{c.numpy_bar:g}x"] for c in cases]
    return markdown_table(["row", "actlab", "torch", "bar fwd", "bar fwd+bwd", "NumPy/SciPy reference",
                           "NumPy bar"], rows)


def _groups(rows, section):
    out: dict[tuple, list] = {}
    for r in rows:
        if r["section"] == section:
            out.setdefault((r["n"], r["dtype"]), []).append(r)
    return out


def _cells(r, with_mode: bool) -> list[str]:
    if "error" in r:
        lead = [r["function"]] + ([r["mode"]] if with_mode else [])
        return lead + [f"error: {r['error']}", "", "", f"{r['bar']:g}x", r["verdict"], "", "", ""]
    lead = [r["function"]] + ([r["mode"]] if with_mode else [])
    return lead + [fmt_ms(r["theirs_ms"] / 1e3), fmt_ms(r["ours_ms"] / 1e3), fmt_ratio(r["ratio"]),
                   f"{r['bar']:g}x", r["verdict"], fmt_ratio(r["floor_ratio"]),
                   fmt_ms(r["ours_first_ms"] / 1e3), "{}/{}".format(*r["repeats"])]


def _overview(rows) -> str:
    """Median ratios per section, size, dtype and mode: where the time goes."""
    keyed: dict[tuple, list] = {}
    for r in rows:
        keyed.setdefault((r["section"], r["n"], r["dtype"], r["mode"]), []).append(r)
    table = []
    for (sec, n, dt, mode), rs in keyed.items():
        ok = [r for r in rs if not math.isnan(r["ratio"])]
        med = statistics.median(r["ratio"] for r in ok) if ok else float("nan")
        fl = statistics.median(r["floor_ratio"] for r in ok) if ok else float("nan")
        worst = max(ok, key=lambda r: r["ratio"]) if ok else None
        passed = sum(r["verdict"] == "pass" for r in rs)
        table.append([sec, f"{n:.0e}", dt, mode, f"{passed}/{len(rs)}", fmt_ratio(med), fmt_ratio(fl),
                      f"{worst['function']} {fmt_ratio(worst['ratio'])}" if worst else "-"])
    return markdown_table(["section", "n", "dtype", "mode", "meet bar", "median ratio", "median actlab/floor",
                           "worst ratio"], table)


def render(result: dict, cases, command: str) -> str:
    rows = result["rows"]
    verdicts = [r["verdict"] for r in rows]
    parts = [
        "# Element-wise activations: speed",
        "",
        f"Regenerate: `{command}` ({result['wall_s'] / 60:.1f} min on this machine).",
        "",
        f"Machine: {machine_description()}.",
        "",
        METHOD.format(budget=result["budget"], once=result["once_above"]),
        "",
        f"Summary: {summary_line(verdicts)} torch: "
        f"{summary_line([r['verdict'] for r in rows if r['section'] == 'torch'])} NumPy: "
        f"{summary_line([r['verdict'] for r in rows if r['section'] == 'numpy'])}".replace("**", ""),
        "",
        "## Overview",
        "",
        _overview(rows),
        "",
        "## What is compared",
        "",
        cases_table(cases),
    ]
    header = ["function", "mode", "torch ms", "actlab ms", "ratio", "bar", "verdict", "actlab / floor",
              "actlab first call ms", "repeats (actlab/torch)"]
    for (n, dt), rs in _groups(rows, "torch").items():
        fl = result["floors"]["torch"][(dt, n)]
        parts += ["", f"## PyTorch, {dt}, {n:.0e} elements", "",
                  f"Floor: forward {fmt_ms(fl['fwd'])} ms, forward+backward {fmt_ms(fl['fwd+bwd'])} ms. "
                  + summary_line([r["verdict"] for r in rs]), "",
                  markdown_table(header, [_cells(r, True) for r in rs])]
    np_header = ["function", "SciPy/NumPy ms", "actlab ms", "ratio", "bar", "verdict", "actlab / floor",
                 "actlab first call ms", "repeats (actlab/ref)"]
    for (n, dt), rs in _groups(rows, "numpy").items():
        fl = result["floors"]["numpy"][(dt, n)]
        parts += ["", f"## NumPy, {dt}, {n:.0e} elements (forward)", "",
                  f"Floor (`x.copy()`): {fmt_ms(fl)} ms. " + summary_line([r["verdict"] for r in rs]), "",
                  markdown_table(np_header, [_cells(r, False) for r in rs])]
    if result["mlp"]:
        mrows = [[a, s, fmt_ms(t.median), fmt_ms(o.median), fmt_ratio(o.median / t.median), fmt_ms(o.first),
                  f"{o.n}/{t.n}"] for a, s, t, o in result["mlp"]]
        parts += ["", "## MLP training step", "",
                  "Linear-act-Linear-act-Linear, float32, forward + MSE loss + backward + `torch.optim.SGD` "
                  "step; the same weights and batch, torch.nn's activation modules against actlab.torch's. "
                  "No bar: the matmuls dominate, so this row shows what the activation costs in a model.", "",
                  markdown_table(["activation", "widths", "torch step ms", "actlab step ms", "ratio",
                                  "actlab first step ms", "repeats (actlab/torch)"], mrows)]
    if result["first"]:
        header, frows = result["first"]
        parts += ["", f"## First-call latency in a fresh process (float32, {min(result['sizes']):.0e} elements)",
                  "", "One child process per function: after `import torch, actlab`, the first call and the "
                  "second (steady) call, forward first, then forward+backward; actlab before torch.", "",
                  markdown_table(header, frows)]
    return "\n".join(parts) + "\n"
