"""Speed and accuracy of actlab's softmax family against what a user would
otherwise call: torch (PyTorch) and scipy.special (NumPy); the sparse maps
against ``torch.softmax``; issue 16's bars; accuracy against mpmath, with JAX
if installed.

    env -u OPENBLAS_CORETYPE python benchmarks/softmax.py   # full run, writes docs/softmax_benchmark.md
    python benchmarks/softmax.py --quick      # smoke test: small shapes, a few seconds, prints only
    python benchmarks/softmax.py --threads 2  # torch threads (default 1)

Timings: one process, one thread, ours and theirs called in turn, medians of
repeats adapted to a time budget per row, the first call apart (see
``_timing.interleaved``); ratios are ours / theirs (below 1 is faster).
Accuracy: the largest error in ULPs of the output dtype over the mpmath
reference rows of ``tests/data/softmax_references.npz``
(``scripts/make_softmax_references.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "src"), str(ROOT / "tests")]

from _timing import pin_threads  # noqa: E402

pin_threads(1)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.special as sc  # noqa: E402
from _softmax_speed import (  # noqa: E402
    QUICK_SPARSE_CASES,
    QUICK_TORCH_SHAPES,
    SPARSE_CASES,
    TORCH_SHAPES,
    numpy_rows,
    sparse_rows,
    speed_table,
    torch_rows,
)
from _timing import machine_description, summary_line  # noqa: E402
from softmax_reference_data import load, ulp_error  # noqa: E402

import actlab  # noqa: E402


def accuracy_table(quick: bool = False):
    """Max ULP error per (function, dtype) and library over the reference rows (T = 1)."""
    import torch

    libs = {
        "actlab (NumPy)": {
            "softmax": actlab.softmax, "log_softmax": actlab.log_softmax, "logsumexp": actlab.logsumexp},
        "actlab (PyTorch)": {
            "softmax": lambda x: actlab.softmax(torch.from_numpy(x)).numpy(),
            "log_softmax": lambda x: actlab.log_softmax(torch.from_numpy(x)).numpy(),
            "logsumexp": lambda x: actlab.logsumexp(torch.from_numpy(x)).numpy()},
        "torch": {
            "softmax": lambda x: torch.softmax(torch.from_numpy(x), -1).numpy(),
            "log_softmax": lambda x: torch.log_softmax(torch.from_numpy(x), -1).numpy(),
            "logsumexp": lambda x: torch.logsumexp(torch.from_numpy(x), -1).numpy()},
        "scipy.special": {
            "softmax": lambda x: sc.softmax(x, axis=-1), "log_softmax": lambda x: sc.log_softmax(x, axis=-1),
            "logsumexp": lambda x: sc.logsumexp(x, axis=-1)},
    }
    try:
        if quick:
            raise ImportError  # JAX compiles per shape: too slow for a smoke test
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.nn
        import jax.scipy.special as jsp

        libs["jax"] = {
            "softmax": lambda x: np.asarray(jax.nn.softmax(x, axis=-1)),
            "log_softmax": lambda x: np.asarray(jax.nn.log_softmax(x, axis=-1)),
            "logsumexp": lambda x: np.asarray(jsp.logsumexp(x, axis=-1))}
    except ImportError:
        pass
    refs = [r for r in load() if r["num"] == 1.0 and r["den"] == 1.0]
    if quick:
        refs = refs[::6]
    table = {}
    for lib, fns in libs.items():
        for name, fn in fns.items():
            for r in refs:
                with np.errstate(all="ignore"):
                    e = float(np.max(ulp_error(fn(r["x"]), r[name], r["x"].dtype)))
                key = (name, r["x"].dtype.name)
                table.setdefault(key, {})[lib] = max(table.get(key, {}).get(lib, 0.0), e)
    return list(libs), table, len(refs)


def fmt_ulp(v: float) -> str:
    return f"{v:.2f}" if v < 100 else f"{v:.1e}"


METHOD = """\
**Method.** One process, one thread (`torch.set_num_threads`, and OMP/MKL/OpenBLAS pinned to 1
before NumPy and torch are imported; the command unsets OPENBLAS_CORETYPE, which slows NumPy where
it is set). Each row calls actlab and the other library in turn: the first call of each is timed
apart (*first call*: what the first use in this process costs, e.g. a compile) and never enters the
median; cheap calls get one discarded warm-up; then interleaved repeats, as many as fit in the row's
budget of {budget:g} s (at least three; one for
a call longer than its half of the budget). Times are medians; *ratio* = actlab / other, below 1 means
actlab is faster. Inputs `randn * 5` (NumPy: `* 10`), gradients `randn`, targets uniform;
forward+backward is `torch.autograd.grad(f(x), x, g)` (no `g` for a scalar loss).

**Bars**: forward+backward within 1.25x of torch for softmax, log_softmax, logsumexp and
cross_entropy (the forward rows are shown for information, no bar); NumPy within 1.25x of
scipy.special; the sparse maps' forward+backward within 2x of `torch.softmax`'s on the same input."""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, few repeats; print only")
    ap.add_argument("--out", type=Path, default=None, help="markdown output (default docs/softmax_benchmark.md)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: stable timings)")
    ap.add_argument("--budget", type=float, default=None, help="seconds of timed repeats per row (default 1.0)")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: torch,numpy,sparse,accuracy")
    args = ap.parse_args(argv)
    shapes = QUICK_TORCH_SHAPES if args.quick else TORCH_SHAPES
    sparse_cases = QUICK_SPARSE_CASES if args.quick else SPARSE_CASES
    budget = args.budget or (0.02 if args.quick else 1.0)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    out = args.out or (None if args.quick else ROOT / "docs" / "softmax_benchmark.md")
    progress = (lambda msg: None) if args.quick else (lambda msg: print(msg, file=sys.stderr, flush=True))

    import torch

    torch.set_num_threads(max(args.threads, 1))
    t0 = time.perf_counter()
    sections, rows = [], []
    if "torch" not in skip:
        r = torch_rows(shapes, budget, progress)
        sections += ["## PyTorch (CPU): actlab vs torch\n", speed_table(r, "torch")]
        rows += r
    if "numpy" not in skip:
        r = numpy_rows(shapes, budget, progress)
        sections += ["\n## NumPy: actlab vs scipy.special\n", speed_table(r, "scipy")]
        rows += r
    if "sparse" not in skip:
        r = sparse_rows(sparse_cases, budget, progress)
        sections += ["\n## Sparse maps (PyTorch): actlab forward+backward vs torch.softmax's\n",
                     speed_table(r, "torch.softmax")]
        rows += r
    if "accuracy" not in skip:
        sections += accuracy_section(args.quick)
    wall = time.perf_counter() - t0
    command = " ".join(["env -u OPENBLAS_CORETYPE python benchmarks/softmax.py",
                        *(argv if argv is not None else sys.argv[1:])])
    parts = [
        "# softmax family: speed and accuracy\n",
        f"Regenerate: `{command}` ({wall / 60:.1f} min on this machine).\n",
        f"Machine: {machine_description()}.\n",
        METHOD.format(budget=budget) + "\n",
        "Summary: " + summary_line([r["verdict"] for r in rows]).replace("**", "") + " "
        + " ".join(f"{t}: " + summary_line([r["verdict"] for r in rows if r["table"] == t]).replace("**", "")
                   for t in ("torch", "numpy", "sparse")) + "\n",
        *sections,
    ]
    text = "\n".join(parts) + "\n"
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)


def accuracy_section(quick: bool) -> list[str]:
    libs, acc, n = accuracy_table(quick)
    head = "| function | dtype | " + " | ".join(libs) + " |"
    lines = [head, "|---|---|" + "---|" * len(libs)]
    for (name, dt), errs in sorted(acc.items()):
        lines.append(f"| {name} | {dt} | " + " | ".join(fmt_ulp(errs.get(lib, float('nan'))) for lib in libs) + " |")
    return [
        f"\n## Accuracy: largest error in ULPs over {n} mpmath reference rows\n",
        "Random rows of scale 1 to 1000 (K = 2 to 1000), rows far from 0, dominant entries "
        "(`[0, -50]`, `[0, -745]`, ...), ties and K = 1; float32 rows are float32 inputs. "
        "JAX is listed when installed (its CPU backend flushes subnormal results to zero, "
        "which dominates its float64 softmax column).\n",
        "\n".join(lines),
    ]


if __name__ == "__main__":
    main()
