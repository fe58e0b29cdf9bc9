"""Speed of actlab's element-wise activations against the op a user would
otherwise call (issue 16's bars): ``torch`` / ``torch.nn.functional`` forward
and forward+backward on float32, bfloat16 and float64 tensors; NumPy arrays
against ``scipy.special`` or a plain NumPy formula; a memory-floor column
(one ``clone`` pass); the first-call latency; an MLP training step.

    env -u OPENBLAS_CORETYPE python benchmarks/elementwise_speed.py   # full run (~15 min), writes the doc
    python benchmarks/elementwise_speed.py --quick                     # smoke run, seconds, prints only
    python benchmarks/elementwise_speed.py --only gelu,silu --dtypes float32 --sizes 1e7 --out /tmp/x.md

Method: one process, one thread (``torch.set_num_threads(1)``, OMP/MKL/
OpenBLAS pinned to 1 before NumPy and torch are imported); ours and theirs
called in turn, medians of repeats that adapt to a time budget per row
(``--budget``); the first call excluded from the median and reported as the
first-call latency. No timing is asserted anywhere.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "src")]

from _timing import pin_threads  # noqa: E402

pin_threads(1)

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _elementwise_cases import Case, select  # noqa: E402
from _elementwise_report import render  # noqa: E402
from _timing import Progress, interleaved, verdict  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "..", "docs", "elementwise_speed.md")
TORCH_DTYPES = ("float32", "bfloat16", "float64")
NUMPY_DTYPES = ("float64", "float32")


def _row(section, case: Case, dtype, n, mode, bar, times, floor) -> dict:
    ours, theirs = times["ours"], times["theirs"]
    ratio = ours.median / theirs.median
    return {"section": section, "function": case.key, "dtype": dtype, "n": n, "mode": mode,
            "ours_ms": ours.median * 1e3, "theirs_ms": theirs.median * 1e3, "ratio": ratio, "bar": bar,
            "verdict": verdict(ratio, bar), "floor_ms": floor * 1e3, "floor_ratio": ours.median / floor,
            "ours_first_ms": ours.first * 1e3, "theirs_first_ms": theirs.first * 1e3,
            "repeats": [ours.n, theirs.n]}


def _error_row(section, case, dtype, n, mode, bar, exc) -> dict:
    nan = float("nan")
    return {"section": section, "function": case.key, "dtype": dtype, "n": n, "mode": mode, "ours_ms": nan,
            "theirs_ms": nan, "ratio": nan, "bar": bar, "verdict": verdict(nan, bar), "floor_ms": nan,
            "floor_ratio": nan, "ours_first_ms": nan, "theirs_first_ms": nan, "repeats": [0, 0],
            "error": f"{type(exc).__name__}: {exc}"[:160]}


ONCE_ABOVE = 5.0  # seconds: a first call longer than this is not repeated (keeps the full run ~15 min)


def _timed_row(section, case, dtype, n, mode, bar, fns, budget, floor):
    try:
        return _row(section, case, dtype, n, mode, bar, interleaved(fns, budget, once_above=ONCE_ABOVE), floor)
    except Exception as exc:  # a benchmark of any version of the code: report, never crash
        return _error_row(section, case, dtype, n, mode, bar, exc)


def _torch_group(cases, dtype, n, budget, progress) -> tuple[list[dict], dict]:
    import torch

    dt = getattr(torch, dtype)
    torch.manual_seed(0)
    x = (torch.randn(n, dtype=torch.float64 if dt == torch.float64 else torch.float32) * 4).to(dt)
    g = torch.randn(n, dtype=dt)
    xr = x.detach().requires_grad_()
    fl = interleaved({"fwd": lambda: x.clone(), "fwd+bwd": lambda: (x.clone(), torch.mul(g, x))},
                     budget, min_repeat=5)
    floor = {m: t.median for m, t in fl.items()}
    rows = []
    for case in cases:
        try:
            ours, theirs = case.ours(), case.torch()
        except Exception as exc:  # e.g. a function this version of actlab lacks
            rows += [_error_row("torch", case, dtype, n, m, b, exc)
                     for m, b in (("fwd", case.bar_fwd), ("fwd+bwd", case.bar_bwd))]
            continue
        for mode, bar in (("fwd", case.bar_fwd), ("fwd+bwd", case.bar_bwd)):
            if mode == "fwd":
                fns = {"ours": lambda f=ours: f(x), "theirs": lambda f=theirs: f(x)}
            else:
                fns = {"ours": lambda f=ours: torch.autograd.grad(f(xr), xr, g),
                       "theirs": lambda f=theirs: torch.autograd.grad(f(xr), xr, g)}
            rows.append(_timed_row("torch", case, dtype, n, mode, bar, fns, budget, floor[mode]))
            progress.step(f"torch {dtype} n={n:.0e} {case.key} {mode}: ratio {rows[-1]['ratio']:.2f}")
    return rows, floor


def _numpy_group(cases, dtype, n, budget, progress) -> tuple[list[dict], float]:
    x = (np.random.default_rng(0).standard_normal(n) * 4).astype(dtype)
    floor = interleaved({"copy": lambda: x.copy()}, budget, min_repeat=5)["copy"].median
    rows = []
    for case in cases:
        try:
            ours, theirs = case.ours(), case.numpy()
        except Exception as exc:
            rows.append(_error_row("numpy", case, dtype, n, "fwd", case.numpy_bar, exc))
            continue
        fns = {"ours": lambda f=ours: f(x), "theirs": lambda f=theirs: f(x)}
        with np.errstate(all="ignore"):
            rows.append(_timed_row("numpy", case, dtype, n, "fwd", case.numpy_bar, fns, budget, floor))
        progress.step(f"numpy {dtype} n={n:.0e} {case.key}: ratio {rows[-1]['ratio']:.2f}")
    return rows, floor


def sweep(group, cases, dtypes, sizes, budget, progress) -> tuple[list[dict], dict]:
    """Rows and floors of ``group`` (``_torch_group`` or ``_numpy_group``) over sizes x dtypes."""
    rows, floors = [], {}
    for n in sizes:
        for dtype in dtypes:
            r, floors[(dtype, n)] = group(cases, dtype, n, budget, progress)
            rows += r
    return rows, floors


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, few repeats, seconds; prints only")
    ap.add_argument("--only", default=None, help="comma-separated functions (row keys or actlab names)")
    ap.add_argument("--dtypes", default=None, help=f"torch dtypes, default {','.join(TORCH_DTYPES)}")
    ap.add_argument("--numpy-dtypes", default=None, help=f"NumPy dtypes, default {','.join(NUMPY_DTYPES)}")
    ap.add_argument("--sizes", default=None, help="element counts, default 1e5,1e7 (quick: 1e4)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds of timed repeats per row, all contenders together (default 0.6; quick 0.02)")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: torch,numpy,mlp,first")
    ap.add_argument("--out", default=None, help="markdown output (default docs/elementwise_speed.md; "
                    "never written with --quick); a .json with the raw rows is written beside it")
    return ap.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)
    cases = select(args.only)
    dtypes = args.dtypes.split(",") if args.dtypes else list(TORCH_DTYPES)
    np_dtypes = args.numpy_dtypes.split(",") if args.numpy_dtypes else list(NUMPY_DTYPES)
    sizes = _sizes(args.sizes) if args.sizes else ([10_000] if args.quick else [100_000, 10_000_000])
    budget = args.budget or (0.02 if args.quick else 0.6)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.quick:
        skip.add("first")
    total = (0 if "torch" in skip else 2 * len(cases) * len(dtypes) * len(sizes))
    total += 0 if "numpy" in skip else len(cases) * len(np_dtypes) * len(sizes)
    total += 0 if "first" in skip else len(cases)
    progress = Progress(total + (0 if "mlp" in skip else 1), quiet=args.quick)
    t0 = time.perf_counter()
    result = {"sizes": sizes, "budget": budget, "once_above": ONCE_ABOVE, "rows": [], "floors": {}, "mlp": [],
              "first": None}
    if "torch" not in skip:
        rows, floors = sweep(_torch_group, cases, dtypes, sizes, budget, progress)
        result["rows"] += rows
        result["floors"]["torch"] = floors
    if "numpy" not in skip:
        rows, floors = sweep(_numpy_group, cases, np_dtypes, sizes, budget, progress)
        result["rows"] += rows
        result["floors"]["numpy"] = floors
    if "mlp" not in skip:
        from _mlp import mlp_rows

        result["mlp"] = mlp_rows(args.quick, 3 * budget)
        progress.step("MLP training step")
    if "first" not in skip:
        from _first_call import first_call_table

        result["first"] = first_call_table([c.key for c in cases], min(sizes), progress)
    result["wall_s"] = time.perf_counter() - t0
    command = " ".join(["env -u OPENBLAS_CORETYPE python benchmarks/elementwise_speed.py",
                        *(argv if argv is not None else sys.argv[1:])])
    text = render(result, cases, command)
    print(text)
    if not args.quick:
        out = args.out or DEFAULT_OUT
        with open(out, "w") as fh:
            fh.write(text)
        with open(os.path.splitext(out)[0] + ".json", "w") as fh:
            json.dump(_jsonable(result), fh, indent=1)
        print(f"wrote {os.path.normpath(out)} in {result['wall_s']:.0f} s", file=sys.stderr)


def _jsonable(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k not in ("floors", "mlp", "first")}
    out["rows"] = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                   for r in result["rows"]]
    out["floors"] = {sec: {f"{d} {n}": v for (d, n), v in fl.items()} for sec, fl in result["floors"].items()}
    out["mlp"] = [{"activation": a, "shape": s, "torch_ms": t.median * 1e3, "actlab_ms": o.median * 1e3}
                  for a, s, t, o in result["mlp"]]
    return out


if __name__ == "__main__":
    main()
