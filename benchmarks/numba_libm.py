"""ns per element of the branch-free float64 functions of
:mod:`actlab.backends.numba_libm` in a numba loop, against the same loop calling
libm (``math.exp``, ...) and against NumPy's ufuncs, with a check that the loop
vectorised (packed ``ymm``/``zmm`` double arithmetic in its machine code).

    python benchmarks/numba_libm.py            # 1e5 and 1e6 entries, float64 and float32
    python benchmarks/numba_libm.py --quick    # a smoke run (CI): 1e4 entries

One process, one thread, the contenders of a row called in turn, medians
(:func:`_timing.interleaved`). The float32 rows read float32, compute in
float64 and write float32 (the loop a fused float32 kernel would run); NumPy's
column there is its float32 ufunc (its own SIMD float32 code, less accurate).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "src")]

from _timing import interleaved, machine_description, pin_threads  # noqa: E402

pin_threads(1)

import argparse  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402

from actlab.backends import numba_libm  # noqa: E402

FUNCTIONS = {  # name: (ours, libm, NumPy, input sampler)
    "exp": (numba_libm.lexp, math.exp, np.exp, lambda rng, n: rng.standard_normal(n) * 10),
    "expm1": (numba_libm.lexpm1, math.expm1, np.expm1, lambda rng, n: rng.standard_normal(n) * 3),
    "log": (numba_libm.llog, math.log, np.log, lambda rng, n: np.exp(rng.uniform(-20, 20, n))),
    "log1p": (numba_libm.llog1p, math.log1p, np.log1p, lambda rng, n: np.exp(rng.uniform(-20, 5, n)) - 0.9),
    "tanh": (numba_libm.ltanh, math.tanh, np.tanh, lambda rng, n: rng.standard_normal(n) * 3),
}


def _loop(f):
    """``out[i] = f(x[i])``, computed in float64 (error_model="numpy": no
    ZeroDivisionError branch, which would stop the vectoriser)."""

    @nb.njit(error_model="numpy", nogil=True)
    def loop(x, out):
        for i in range(x.size):
            out[i] = f(np.float64(x[i]))

    return loop


def packed_ops(loop) -> int:
    """Packed double-precision AVX instructions in the loop's machine code."""
    return len(re.findall(r"\bv\w+pd\s+[^\n]*%[yz]mm", loop.inspect_asm(loop.signatures[0])))


def row(name: str, dtype: str, n: int, loops: dict, ufunc, x: np.ndarray, budget: float) -> str:
    """One table row: ns per element of the three contenders, interleaved."""
    y = {k: np.empty_like(x) for k in ("ours", "libm", "numpy")}
    fns = {"ours": lambda: loops["ours"](x, y["ours"]), "libm": lambda: loops["libm"](x, y["libm"]),
           "numpy": lambda: ufunc(x, out=y["numpy"])}
    t = interleaved(fns, budget=budget)
    ns = {k: t[k].median / n * 1e9 for k in fns}
    vec = {k: packed_ops(lp) for k, lp in loops.items()}
    return (f"| {name} | {dtype} | {n:.0e} | {ns['ours']:.2f} | {ns['libm']:.2f} | {ns['numpy']:.2f} "
            f"| {ns['libm'] / ns['ours']:.1f}x | {vec['ours']} / {vec['libm']} |")


def rows(sizes: list[int], dtypes: list[str], budget: float) -> None:
    rng = np.random.default_rng(0)
    for name, (ours, libm, ufunc, sample) in FUNCTIONS.items():
        for dtype in dtypes:
            loops = {"ours": _loop(ours), "libm": _loop(libm)}
            for n in sizes:
                print(row(name, dtype, n, loops, ufunc, sample(rng, n).astype(dtype), budget), flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per row")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1e4 entries, float64, 0.05 s a row")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.dtypes, args.budget = "10000", "float64", 0.05
    print("| function | dtype | n | ours ns/el | numba + libm ns/el | NumPy ns/el | libm / ours "
          "| packed pd ops (ours / libm) |")
    print("|---|---|---|---|---|---|---|---|")
    rows([int(s) for s in args.sizes.split(",")], args.dtypes.split(","), args.budget)
    print(f"\n{machine_description()}")


if __name__ == "__main__":
    main()
