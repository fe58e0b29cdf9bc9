"""Accuracy of actlab on JAX arrays beside ``jax.nn``'s own functions, in
ULPs against the mpmath references of ``tests/data`` (the grid of
``benchmarks/accuracy.py``): float32 without 64-bit mode (JAX's default)
and float64 with it, values and ``jax.grad`` derivatives, under ``jax.jit``.

    PYTHONPATH=src python benchmarks/jax_accuracy.py           # writes docs/jax.md's table
    PYTHONPATH=src python benchmarks/jax_accuracy.py --quick   # a few functions, prints only

Each cell is the largest error over finite x, then in brackets, where it
differs, the largest where x and the exact result are normal numbers at
least 2**53 (float64) / 2**24 (float32) above the subnormal range: XLA on
the CPU flushes subnormal numbers to zero.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from reference_data import Reference, load, ulp_errors  # noqa: E402

import actlab  # noqa: E402


def _jax_nn(name: str, p: dict):
    import jax.numpy as jnp
    from jax import nn

    table = {
        "sigmoid": nn.sigmoid, "log_sigmoid": nn.log_sigmoid, "tanh": jnp.tanh, "softsign": nn.soft_sign,
        "hardsigmoid": nn.hard_sigmoid, "hardtanh": nn.hard_tanh, "relu": nn.relu, "relu6": nn.relu6,
        "leaky_relu": lambda t: nn.leaky_relu(t, p.get("negative_slope", 0.01)),
        "elu": lambda t: nn.elu(t, p.get("alpha", 1.0)), "selu": nn.selu,
        "celu": lambda t: nn.celu(t, p.get("alpha", 1.0)),
        "softplus": (lambda t: nn.softplus(p["beta"] * t) / p["beta"]) if "beta" in p else nn.softplus,
        "gelu": lambda t: nn.gelu(t, approximate=p.get("approximate", "none") == "tanh"),
        "swish": lambda t: t * nn.sigmoid(p.get("beta", 1.0) * t),
        "silu": nn.silu, "mish": nn.mish, "hardswish": nn.hard_swish,
    }
    return table.get(name)


def _score(y: np.ndarray, ref: Reference, dtype, what: str) -> tuple[float, float]:
    exact = ref.exact(what, dtype)
    err = ulp_errors(np.asarray(y), exact, dtype)
    x = ref.grid(dtype)
    edge = float(np.finfo(dtype).smallest_normal) * 2.0 ** (53 if dtype == np.float64 else 24)
    finite = np.isfinite(x)
    with np.errstate(invalid="ignore"):
        clear = finite & ((np.abs(x) >= edge) | (x == 0)) & ((np.abs(exact[0]) >= edge) | (exact[0] == 0))
    return float(err[finite].max()), float(err[clear].max())


def _pair(fn, ref: Reference, dtype):
    import jax
    import jax.numpy as jnp

    x = jnp.asarray(ref.grid(dtype))
    try:
        y = np.asarray(jax.jit(fn)(x))
        g = np.asarray(jax.jit(jax.vmap(jax.grad(fn)))(x))
    except Exception:  # noqa: BLE001 - a function that rejects the input
        return None
    if y.dtype != dtype:
        return None
    return _score(y, ref, dtype, "value"), _score(g, ref, dtype, "derivative")


def fmt(s) -> str:
    if s is None:
        return "—"
    e, clear = s

    def num(v: float) -> str:
        return "NaN" if not np.isfinite(v) else f"{v:.2f}" if v < 10 else f"{v:.2g}"

    return num(e) if e <= max(4.0, 2 * clear) else f"{num(e)} ({num(clear)})"


def table(refs: list[Reference], dtype) -> list[str]:
    lines = ["| function | actlab f | actlab f' | jax.nn f | jax.nn f' |", "|---|---|---|---|---|"]
    for ref in refs:
        e = actlab.get(ref.name)
        ours = _pair(lambda v, e=e, ref=ref: e.function(v, **ref.params), ref, dtype)
        fn = _jax_nn(ref.name, ref.params)
        theirs = _pair(fn, ref, dtype) if fn is not None else None
        cells = [f"`{ref.id}`", *(fmt(s) for s in (ours or (None, None))),
                 *(fmt(s) for s in (theirs or (None, None)))]
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sigmoid and gelu only; print, do not write")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "jax_accuracy.md")
    args = ap.parse_args(argv)
    try:
        import jax
    except ImportError:
        print("JAX is not installed: nothing to measure")
        return
    refs = load()
    if args.quick:
        refs = [r for r in refs if r.id in ("sigmoid", "gelu")]
    warnings.simplefilter("ignore")  # jax.nn's float64 requests without x64; ours is tested not to warn
    print("\nfloat32 (64-bit mode off)", flush=True)
    f32 = table(refs, np.float32)
    jax.config.update("jax_enable_x64", True)
    print("\nfloat64 (64-bit mode on)", flush=True)
    f64 = table(refs, np.float64)
    if args.quick:
        return
    import platform

    doc = [
        "# Accuracy on JAX: actlab beside jax.nn",
        "",
        "Written by `benchmarks/jax_accuracy.py` (see `docs/jax.md`). Largest error in ULPs of the output",
        "dtype over the grid of `tests/data/elementwise_references.npz`, under `jax.jit`; `f'` is",
        "`jax.grad` (for actlab: its registered derivative). A number in brackets is the largest",
        "error away from the subnormal range (x and the exact result at least 2**53 (float64) /",
        "2**24 (float32) times the smallest normal number, or zero): XLA on the CPU flushes",
        "subnormal numbers to zero, which is the whole error outside the brackets. `—`: jax.nn",
        "has no such function.",
        "",
        f"Measured with JAX {jax.__version__} on {platform.machine()} (cpu).",
        "",
        "## float32, 64-bit mode off (JAX's default)",
        "",
        *f32,
        "",
        "## float64, 64-bit mode on",
        "",
        *f64,
        "",
    ]
    args.out.write_text("\n".join(doc))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
