"""Speed and accuracy of actlab's softmax family against what a user would
otherwise call: scipy.special (NumPy), torch (PyTorch) and JAX if installed.

    python benchmarks/softmax.py              # full run, writes docs/softmax_benchmark.md
    python benchmarks/softmax.py --quick      # smoke test: small shapes, a few seconds, prints only
    python benchmarks/softmax.py --threads 0  # torch's default thread count (default here: 1)

Timings: the best of many interleaved repeats (wall clock), same inputs, one
process; ratios are ours / theirs (below 1 is faster). Accuracy: the largest
error in ULPs of the output dtype over the mpmath reference rows of
``tests/data/softmax_references.npz`` (``scripts/make_softmax_references.py``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.special as sc

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from softmax_reference_data import load, ulp_error  # noqa: E402

import actlab  # noqa: E402


def best_times(fns: dict, repeat: int, number: int) -> dict:
    """Best wall time per call of each function, the functions interleaved."""
    for f in fns.values():
        f()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            best[name] = min(best[name], (time.perf_counter() - t0) / number)
    return best


def numpy_table(shape, repeat, number):
    rng = np.random.default_rng(0)
    rows = []
    for dtype in (np.float64, np.float32):
        x = (rng.standard_normal(shape) * 10).astype(dtype)
        for name, ref in (("softmax", sc.softmax), ("log_softmax", sc.log_softmax), ("logsumexp", sc.logsumexp)):
            ours = getattr(actlab, name)
            t = best_times({"ours": lambda o=ours, v=x: o(v), "scipy": lambda r=ref, v=x: r(v, axis=-1)}, repeat, number)
            rows.append((f"{name}", np.dtype(dtype).name, f"{shape}", t["ours"], t["scipy"]))
    return rows


def torch_table(shape, repeat, number):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    x0 = torch.randn(shape) * 5
    g = torch.randn(shape)
    target = torch.randint(0, shape[-1], shape[:-1])

    def fwd_bwd(fn):
        def run():
            x = x0.detach().requires_grad_()
            y = fn(x)
            y.backward(g if y.shape == g.shape else None)
        return run

    pairs = (
        ("softmax fwd+bwd", lambda x: actlab.softmax(x), lambda x: torch.softmax(x, -1)),
        ("log_softmax fwd+bwd", lambda x: actlab.log_softmax(x), lambda x: torch.log_softmax(x, -1)),
        ("cross_entropy fwd+bwd", lambda x: actlab.cross_entropy(x, target), lambda x: F.cross_entropy(x, target)),
        ("softmax fwd", None, None),
    )
    rows = []
    for name, ours, theirs in pairs:
        if ours is None:
            t = best_times({"ours": lambda: actlab.softmax(x0), "torch": lambda: torch.softmax(x0, -1)}, repeat, number)
        else:
            t = best_times({"ours": fwd_bwd(ours), "torch": fwd_bwd(theirs)}, repeat, number)
        rows.append((name, "float32", f"{tuple(shape)}", t["ours"], t["torch"]))
    return rows


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


def speed_markdown(title, rows, other):
    lines = [f"| {title} | dtype | shape | actlab (ms) | {other} (ms) | ratio |", "|---|---|---|---|---|---|"]
    for name, dt, shape, a, b in rows:
        lines.append(f"| {name} | {dt} | {shape} | {a * 1e3:.2f} | {b * 1e3:.2f} | {a / b:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, few repeats; print only")
    ap.add_argument("--out", type=Path, default=None, help="markdown output (default docs/softmax_benchmark.md)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (0: torch's default); 1 keeps timings stable on a shared machine")
    args = ap.parse_args(argv)
    if args.quick:
        np_shape, t_shape, repeat, number = (200, 200), (16, 2000), 3, 2
    else:
        np_shape, t_shape, repeat, number = (1000, 1000), (256, 32000), 25, 3
    out = args.out or (None if args.quick else ROOT / "docs" / "softmax_benchmark.md")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    parts = [
        "# softmax family: speed and accuracy\n",
        f"Generated by `python benchmarks/softmax.py` on {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads; numpy {np.__version__}, scipy {scipy.__version__}, "
        f"torch {torch.__version__}. Best of {repeat} interleaved repeats; ratio = actlab / other "
        "(below 1: actlab is faster).\n",
        "## NumPy: actlab vs scipy.special\n",
        speed_markdown("function", numpy_table(np_shape, repeat, number), "scipy"),
        "\n## PyTorch (CPU): actlab vs torch\n",
        speed_markdown("function", torch_table(t_shape, max(3, repeat // 3), 1), "torch"),
    ]
    libs, acc, n = accuracy_table(args.quick)
    head = "| function | dtype | " + " | ".join(libs) + " |"
    lines = [head, "|---|---|" + "---|" * len(libs)]
    for (name, dt), errs in sorted(acc.items()):
        lines.append(f"| {name} | {dt} | " + " | ".join(fmt_ulp(errs.get(lib, float('nan'))) for lib in libs) + " |")
    parts += [
        f"\n## Accuracy: largest error in ULPs over {n} mpmath reference rows\n",
        "Random rows of scale 1 to 1000 (K = 2 to 1000), rows far from 0, dominant entries "
        "(`[0, -50]`, `[0, -745]`, ...), ties and K = 1; float32 rows are float32 inputs. "
        "JAX is listed when installed (its CPU backend flushes subnormal results to zero, "
        "which dominates its float64 softmax column).\n",
        "\n".join(lines),
    ]
    text = "\n".join(parts) + "\n"
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
