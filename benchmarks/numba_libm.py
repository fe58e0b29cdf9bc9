"""ns per element of the branch-free float64 functions of
:mod:`actlab.backends.numba_libm` in a numba loop, against the same loop calling
libm (``math.exp``, ...) and against NumPy's ufuncs, with a check that the loop
vectorised (packed ``ymm``/``zmm`` double arithmetic in its machine code).

    python benchmarks/numba_libm.py            # 1e5 and 1e6 entries, float64 and float32
    python benchmarks/numba_libm.py --quick    # a smoke run (CI): 1e4 entries
    python benchmarks/numba_libm.py --sizes 0 --accuracy 40000   # only the ULP table

One process, one thread, the contenders of a row called in turn, medians
(:func:`_timing.interleaved`). The float32 rows read float32, compute in
float64 and write float32 (the loop a fused float32 kernel would run); NumPy's
column there is its float32 ufunc (its own SIMD float32 code, less accurate).
``--accuracy N``: the max and mean error in float64 ULPs (of the exact value,
2^-1074 for subnormals) against mpmath at 100 bits, N random points a regime.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "src")]

from _timing import interleaved, machine_description, pin_threads  # noqa: E402

pin_threads(1)

import argparse  # noqa: E402
import functools  # noqa: E402
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


@functools.cache
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


def _regimes(rng, n: int) -> dict[str, dict[str, np.ndarray]]:
    sign = rng.choice([-1.0, 1.0], n)
    return {
        "exp": {"[-745.2, 709.78]": rng.uniform(-745.2, 709.78, n), "(-1, 1)": rng.uniform(-1, 1, n),
                "subnormal results": rng.uniform(-745.2, -708.4, n)},
        "expm1": {"[-40, 709.78]": rng.uniform(-40, 709.78, n), "(-1, 1)": rng.uniform(-1, 1, n),
                  "tiny": 2.0 ** rng.uniform(-1074, -1, n) * sign},
        "log": {"all binades": 2.0 ** rng.uniform(-1074, 1024, n), "[0.5, 2]": rng.uniform(0.5, 2, n),
                "subnormal inputs": rng.uniform(2.0**-1074, 2.0**-1022, n)},
        "log1p": {"(-1, 1)": rng.uniform(-1, 1, n), "tiny": 2.0 ** rng.uniform(-1074, -1, n) * sign,
                  "[1, 2^1024)": 2.0 ** rng.uniform(0, 1024, n)},
        "tanh": {"(-25, 25)": rng.uniform(-25, 25, n), "(-1, 1)": rng.uniform(-1, 1, n),
                 "tiny": 2.0 ** rng.uniform(-1074, 0, n) * sign},
    }


def ulp_errors(y: np.ndarray, x: np.ndarray, exact) -> np.ndarray:
    """|y - exact(x)| in ULPs of the exact value (finite results only)."""
    import mpmath

    out = np.empty(x.size)
    with mpmath.workprec(100):
        for i, (xi, yi) in enumerate(zip(x.tolist(), y.tolist(), strict=True)):
            e = exact(mpmath.mpf(xi))
            ulp = mpmath.mpf(2) ** max(mpmath.frexp(e)[1] - 53, -1074) if e != 0 else mpmath.mpf(2) ** -1074
            out[i] = float(abs(mpmath.mpf(yi) - e) / ulp)
    return out


def accuracy(n: int) -> None:
    import mpmath

    exact = {"exp": mpmath.exp, "expm1": mpmath.expm1, "log": mpmath.log, "log1p": mpmath.log1p,
             "tanh": mpmath.tanh}
    print("\n| function | inputs | points | max ULP | mean ULP |\n|---|---|---|---|---|")
    for name, grids in _regimes(np.random.default_rng(1), n).items():
        loop = _loop(FUNCTIONS[name][0])
        for label, x in grids.items():
            y = np.empty_like(x)
            loop(x, y)
            e = ulp_errors(y, x, exact[name])
            print(f"| {name} | {label} | {n} | {e.max():.3f} | {e.mean():.3f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per row")
    ap.add_argument("--accuracy", type=int, default=0, metavar="N", help="ULP table, N points a regime")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1e4 entries, float64, 0.05 s a row")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.dtypes, args.budget, args.accuracy = "10000", "float64", 0.05, 100
    sizes = [int(s) for s in args.sizes.split(",") if int(s) > 0]
    if sizes:
        timings(sizes, args.dtypes.split(","), args.budget)
    if args.accuracy:
        accuracy(args.accuracy)
    print(f"\n{machine_description()}")


def timings(sizes: list[int], dtypes: list[str], budget: float) -> None:
    print("| function | dtype | n | ours ns/el | numba + libm ns/el | NumPy ns/el | libm / ours "
          "| packed pd ops (ours / libm) |")
    print("|---|---|---|---|---|---|---|---|")
    rows(sizes, dtypes, budget)


if __name__ == "__main__":
    main()
