"""What a compiled kernel would buy the float64 formulas that need
double-word arithmetic: actlab's eager derivative of silu, gelu and mish in
float64 (a few hundred eager passes over the data) against the same
function under ``torch.compile`` (Inductor: one fused loop), one thread.

    python benchmarks/compiled_formula.py           # 1e5 elements, prints a table (minutes: each compile)
    python benchmarks/compiled_formula.py --quick   # eager only, 1e3 elements (a smoke run)

Printed per function: the eager time, the first compiled call (the compile,
in this process; Inductor's on-disk cache shortens a later process's first
call but does not remove the trace), the compiled time, and the largest
relative difference between the two results. Nothing is written: the
figures back the float64 notes of docs/speed.md.
"""

from __future__ import annotations

import argparse
import os
import time
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

import actlab  # noqa: E402

CASES = {
    "silu'": lambda t: actlab.silu.derivative(t),
    "gelu'": lambda t: actlab.gelu.derivative(t),
    "mish'": lambda t: actlab.mish.derivative(t),
}


def _median_ms(fn, x, n: int) -> float:
    fn(x)
    times = timeit.repeat(lambda: fn(x), number=1, repeat=n)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="eager only, 1e3 elements")
    ap.add_argument("--size", type=float, default=1e5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    n = 1000 if args.quick else int(args.size)
    x = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 4
    print(f"torch {torch.__version__}, float64, {n} elements, one thread")
    print("| function | eager ms | first compiled call s | compiled ms | speed-up | max rel. difference |")
    print("|---|---|---|---|---|---|")
    for name, fn in CASES.items():
        eager = _median_ms(fn, x, 3 if args.quick else 7)
        if args.quick:
            print(f"| {name} | {eager:.3g} | - | - | - | - |")
            continue
        torch._dynamo.reset()
        compiled = torch.compile(fn, dynamic=True, fullgraph=True)
        t0 = time.perf_counter()
        y = compiled(x)
        first = time.perf_counter() - t0
        fast = _median_ms(compiled, x, 21)
        ref = fn(x)
        diff = float(((y - ref).abs() / ref.abs().clamp_min(1e-300)).max())
        print(f"| {name} | {eager:.3g} | {first:.3g} | {fast:.3g} | {eager / fast:.3g}x | {diff:.2g} |")


if __name__ == "__main__":
    main()
