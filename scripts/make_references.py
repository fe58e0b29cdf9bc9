"""Reference values of every element-wise activation and its derivative,
computed with mpmath on the exact binary inputs, for the accuracy tests.

    PYTHONPATH=src python scripts/make_references.py      # writes tests/data/elementwise_references.npz
    PYTHONPATH=src python scripts/make_references.py --catalogue   # the catalogue's functions only
                                                       # (scripts/catalogue_functions.py) -> ..._catalogue.npz

Each value is evaluated at 60 and then 80 significant digits; when the two
disagree beyond 1e-45 (relative) the precision doubles until two successive
evaluations agree, so cancellation (an interior root of a derivative, say)
never leaks into a reference. The result is stored as its correctly rounded
float64 ``hi`` plus ``frac = (exact - hi) / ulp64(hi)`` (float16), which
scores float64 results to ~0.01 ULP and float32 results exactly enough.

The grids (``x`` below) are the union of a float64 grid and a float32 grid
(``is_f32`` marks the points of the latter; float32 results are scored on
them only): |x| log-spaced from the smallest subnormal through the smallest
normal to 1e-4, densely from 1e-4 to 1e3, sparsely from 1e3 to the largest
finite number, both signs; random points in [-40, 40] and [-800, 800]; and
special points: +-0, +-inf, the smallest subnormal, the smallest normal,
thresholds of exp/log1p in each dtype (15.9, 20, 36, 88.72, 103.9, 709.78,
745.1, ...), the kinks of the piecewise functions and the roots of the
derivatives of gelu, gelu-tanh, swish/silu and mish with points packed
around them (their float neighbours, then geometrically farther).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

import mpmath as mp
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "elementwise_references.npz"
CATALOGUE_OUT = OUT.with_name("elementwise_references_catalogue.npz")
HUGE = mp.mpf(2) ** 1100  # stands for +inf: beyond every dtype's range, every limit is reached
mpf = mp.mpf


# -- mpmath building blocks (cancellation-free where it is cheap) ---------------

# An argument below -1e7 is clamped there: e^-1e7 ~ 1e-4342945 rounds to zero
# in every dtype even multiplied by x^3 for x up to 1e308, and mpmath's exp of
# astronomically large arguments is slow.
_FLOOR = mpf(-10**7)


def sig(u):
    u = max(u, _FLOOR)
    return 1 / (1 + mp.exp(-u)) if u >= 0 else (lambda e: e / (1 + e))(mp.exp(u))


def dsig(u):
    e = mp.exp(max(-abs(u), _FLOOR))
    return e / (1 + e) ** 2


def log1pexp(u):
    return u + mp.log1p(mp.exp(-u)) if u > 0 else mp.log1p(mp.exp(u))


def erfc(z):
    """mpmath's erfc, with its asymptotic series past |z| = 1e5 (mpmath
    overflows there); 12 terms give far more than 50 digits."""
    if z < -1e5:
        return 2 - erfc(-z)
    if z <= 1e5:
        return mp.erfc(z)
    s, term, w = mpf(1), mpf(1), 2 * z * z
    for n in range(1, 12):
        term *= -(2 * n - 1) / w
        s += term
    return mp.exp(-z * z) / (z * mp.sqrt(mp.pi)) * s


def ncdf(x):
    return erfc(-x / mp.sqrt(2)) / 2


def npdf(x):
    return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def gelu_tanh_arg(x):
    """2 sqrt(2/pi) (x + 0.044715 x^3), the sigmoid argument of gelu(tanh)."""
    return 2 * mp.sqrt(2 / mp.pi) * (x + mpf("0.044715") * x**3)


def tanh_softplus(x):
    return mp.tanh(log1pexp(x))


def tanhshrink(x):
    if abs(x) < mpf("1e-12"):  # x - tanh(x) cancels completely at any fixed precision
        return x**3 / 3 - 2 * x**5 / 15 + 17 * x**7 / 315
    return x - mp.tanh(x)


SELU_ALPHA = mpf("1.6732632423543772848170429916717")
SELU_SCALE = mpf("1.0507009873554804934193349852946")


def pw(cond, a, b):
    return a() if cond else b()


# name -> (value(x, **p), derivative(x, **p)); parameters arrive as mpf (exact
# binary values of the Python floats passed to actlab).
FUNCTIONS = {
    "sigmoid": (sig, dsig),
    "log_sigmoid": (lambda x: -log1pexp(-x), lambda x: sig(-x)),
    "tanh": (mp.tanh, lambda x: mp.sech(x) ** 2),
    "softsign": (lambda x: x / (1 + abs(x)), lambda x: 1 / (1 + abs(x)) ** 2),
    "hardsigmoid": (
        lambda x: min(max((x + 3) / 6, mpf(0)), mpf(1)),
        lambda x: mpf(1) / 6 if -3 < x < 3 else mpf(0),
    ),
    "hardtanh": (
        lambda x, min_val, max_val: min(max(x, min_val), max_val),
        lambda x, min_val, max_val: mpf(1 if min_val < x < max_val else 0),
    ),
    "tanhshrink": (tanhshrink, lambda x: mp.tanh(x) ** 2),
    "relu": (lambda x: max(x, mpf(0)), lambda x: mpf(1 if x > 0 else 0)),
    "relu6": (lambda x: min(max(x, mpf(0)), mpf(6)), lambda x: mpf(1 if 0 < x < 6 else 0)),
    "leaky_relu": (
        lambda x, negative_slope: x if x >= 0 else negative_slope * x,
        lambda x, negative_slope: mpf(1) if x > 0 else negative_slope,
    ),
    "prelu": (lambda x, weight: x if x >= 0 else weight * x, lambda x, weight: mpf(1) if x > 0 else weight),
    "threshold": (
        lambda x, threshold, value: x if x > threshold else value,
        lambda x, threshold, value: mpf(1 if x > threshold else 0),
    ),
    "rrelu": (
        # evaluation mode: slope (lower + upper) / 2 of the binary lower, upper
        lambda x, lower, upper: x if x >= 0 else (lower + upper) / 2 * x,
        lambda x, lower, upper: mpf(1) if x > 0 else (lower + upper) / 2,
    ),
    "softshrink": (
        lambda x, lambd: x - lambd if x > lambd else (x + lambd if x < -lambd else mpf(0)),
        lambda x, lambd: mpf(1 if abs(x) > lambd else 0),
    ),
    "hardshrink": (
        lambda x, lambd: x if abs(x) > lambd else mpf(0),
        lambda x, lambd: mpf(1 if abs(x) > lambd else 0),
    ),
    "elu": (
        lambda x, alpha: x if x > 0 else alpha * mp.expm1(x),
        lambda x, alpha: mpf(1) if x > 0 else alpha * mp.exp(x),
    ),
    "selu": (
        lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * mp.expm1(x)),
        lambda x: SELU_SCALE * (1 if x > 0 else SELU_ALPHA * mp.exp(x)),
    ),
    "celu": (
        lambda x, alpha: x if x > 0 else alpha * mp.expm1(x / alpha),
        lambda x, alpha: mpf(1) if x > 0 else mp.exp(x / alpha),
    ),
    "softplus": (lambda x, beta: log1pexp(beta * x) / beta, lambda x, beta: sig(beta * x)),
    "gelu": (
        lambda x, approximate: x * ncdf(x) if approximate == "none" else x * sig(gelu_tanh_arg(x)),
        lambda x, approximate: (
            ncdf(x) + x * npdf(x) if approximate == "none"
            else sig(gelu_tanh_arg(x))
            + x * dsig(gelu_tanh_arg(x)) * 2 * mp.sqrt(2 / mp.pi) * (1 + 3 * mpf("0.044715") * x**2)
        ),
    ),
    "swish": (
        lambda x, beta: x * sig(beta * x),
        lambda x, beta: sig(beta * x) + beta * x * dsig(beta * x),
    ),
    "silu": (lambda x: x * sig(x), lambda x: sig(x) + x * dsig(x)),
    "mish": (
        lambda x: x * tanh_softplus(x),
        lambda x: tanh_softplus(x) + x * sig(x) * mp.sech(log1pexp(x)) ** 2,
    ),
    "hardswish": (
        lambda x: mpf(0) if x <= -3 else (x if x >= 3 else x * (x + 3) / 6),
        lambda x: mpf(0) if x <= -3 else ((2 * x + 3) / 6 if x <= 3 else mpf(1)),
    ),
}

# (name, parameters) of every stored case: defaults first, then a few others
# (binary values that are not exact in float32 among them: 1.702, 0.3, 0.7).
CASES = [
    ("sigmoid", {}), ("log_sigmoid", {}), ("tanh", {}), ("softsign", {}), ("hardsigmoid", {}),
    ("hardtanh", {}), ("tanhshrink", {}), ("relu", {}), ("relu6", {}), ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}), ("prelu", {"weight": 0.25}),
    ("threshold", {"threshold": 1.0, "value": -1.0}), ("rrelu", {}), ("softshrink", {}),
    ("hardshrink", {}), ("elu", {}), ("elu", {"alpha": 0.5}), ("elu", {"alpha": 1.7}),
    ("selu", {}), ("celu", {}), ("celu", {"alpha": 2.0}), ("celu", {"alpha": 0.7}),
    ("softplus", {}), ("softplus", {"beta": 2.0}), ("softplus", {"beta": 0.3}),
    ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("swish", {}), ("swish", {"beta": 1.702}),
    ("swish", {"beta": 0.5}), ("silu", {}), ("mish", {}), ("hardswish", {}),
]

# Defaults of parameters the registry marks as required, and the parameters
# the reference needs but the public call does not take.
REQUIRED_DEFAULTS = {"prelu": {"weight": 0.25}, "threshold": {"threshold": 1.0, "value": -1.0}}


def case_id(name: str, params: dict) -> str:
    return name + "".join(f"[{k}={v}]" for k, v in sorted(params.items()))


def mp_params(name: str, params: dict) -> dict:
    full = dict(params)
    if name == "hardtanh":
        full = {"min_val": -1.0, "max_val": 1.0, **full}
    if name in ("leaky_relu",):
        full.setdefault("negative_slope", 0.01)
    if name == "rrelu":
        full = {"lower": 1.0 / 8, "upper": 1.0 / 3, **full}
    if name in ("softshrink", "hardshrink"):
        full.setdefault("lambd", 0.5)
    if name in ("elu", "celu"):
        full.setdefault("alpha", 1.0)
    if name in ("softplus", "swish"):
        full.setdefault("beta", 1.0)
    if name == "gelu":
        full.setdefault("approximate", "none")
    return {k: (v if isinstance(v, str) else mpf(v)) for k, v in full.items()}


# -- evaluation at adaptive precision and correct rounding ---------------------

def evaluate(f, x: float, params: dict):
    """f at the exact binary x, to (at least) 45 correct digits."""
    xm = HUGE if x == math.inf else -HUGE if x == -math.inf else None
    prev = None
    for dps in (60, 80, 160, 320, 640, 1280, 2560):
        with mp.workdps(dps):
            v = f(xm if xm is not None else mpf(x), **params)
            v = +v
        if mp.isnan(v):  # outside the function's domain, or no limit at +-inf
            return v
        if prev is not None and (v == prev or abs(v - prev) <= abs(v) * mpf(10) ** -45):
            return v
        prev = v
    raise RuntimeError(f"no convergence at x={x!r}")


def to_float64(v) -> float:
    """Correctly rounded float64 of an mpf (subnormals and overflow included)."""
    if v == 0:
        return 0.0
    sign, man, exp, _ = mp.mpf(v)._mpf_
    man = -man if sign else man
    if exp + man.bit_length() > 1030:
        return math.copysign(math.inf, v)
    if exp + man.bit_length() < -1080:
        return math.copysign(0.0, v)
    try:
        return float(Fraction(man) * Fraction(2) ** exp)  # Fraction -> float rounds correctly
    except OverflowError:
        return math.copysign(math.inf, v)


def ulp64(h: float) -> float:
    if h == 0 or not math.isfinite(h):
        return 5e-324
    m, e = math.frexp(abs(h))
    return math.ldexp(1.0, max(e - 53, -1074))


def round_ref(v) -> tuple[float, float]:
    if mp.isnan(v):
        return math.nan, 0.0
    hi = to_float64(v)
    if not math.isfinite(hi):
        return hi, 0.0
    with mp.workdps(60):
        frac = float((v - mpf(hi)) / mpf(ulp64(hi)))
    return hi, frac


# -- grids ------------------------------------------------------------------------

def neighbours(x: float, dtype, n: int = 2) -> list[float]:
    """x rounded to dtype and its n float neighbours on each side."""
    v = dtype(x)
    out = [v]
    lo = hi = v
    for _ in range(n):
        lo, hi = np.nextafter(lo, dtype(-np.inf)), np.nextafter(hi, dtype(np.inf))
        out += [lo, hi]
    return [float(t) for t in out]


def derivative_roots() -> list[float]:
    """x where the derivatives of gelu, gelu-tanh, silu (swish for the beta
    used) and mish vanish."""
    d = {k: v[1] for k, v in FUNCTIONS.items()}
    roots = [
        mp.findroot(lambda x: d["gelu"](x, "none"), -0.75),
        mp.findroot(lambda x: d["gelu"](x, "tanh"), -0.75),
        mp.findroot(lambda x: d["silu"](x), -1.28),
        mp.findroot(lambda x: d["mish"](x), -1.19),
    ]
    roots += [roots[2] / mpf(b) for b in (1.702, 0.5)]  # swish: the root of sigma(u)(1 + u sigma(-u)) at u = beta x
    return [float(r) for r in roots]


def special_points(dtype, extra_roots: tuple[float, ...] = ()) -> list[float]:
    fi = np.finfo(dtype)
    tiny_sub = float(np.nextafter(dtype(0), dtype(1)))
    pts = [0.0, -0.0, math.inf, -math.inf]
    mags = [tiny_sub, 2 * tiny_sub, float(fi.smallest_normal), float(fi.max), float(fi.eps), 1.0, 0.5, 3.0, 6.0,
            2.0, 10.0, 15.9424, 16.6355, 17.0, 20.0, 30.0, 36.0, 36.7368, 37.5, 40.0, 44.0, 50.0, 87.3365,
            88.72, 88.7228, 89.4, 103.2789, 103.9721, 104.0, 500.0, 708.3964, 709.78, 709.7827, 710.0, 744.44,
            745.13, 745.1332, 746.0, 1e4, 1e6, 1e10, 1e20, 1e38, 1e150, 1e154, 1e300]
    for m in mags:
        if m <= float(fi.max):
            for s in (1.0, -1.0):
                pts += neighbours(s * m, dtype, 2 if m < float(fi.max) else 0)
    for r in [*derivative_roots(), *extra_roots]:
        pts += neighbours(r, dtype, 6)
        for k in range(-16, -1):
            for s in (1.0, -1.0):
                pts.append(float(dtype(r * (1 + s * 2.0**k * 1.37))))
    return [p for p in pts if abs(p) <= float(fi.max) or math.isinf(p)]


def grid(dtype, n_tiny: int, n_main: int, n_huge: int, n_rand: int, seed: int,
         extra_roots: tuple[float, ...] = ()) -> np.ndarray:
    fi = np.finfo(dtype)
    lo = math.log10(float(np.nextafter(dtype(0), dtype(1))))
    hi = math.log10(float(fi.max))
    mags = np.concatenate([
        np.logspace(lo, -4, n_tiny, endpoint=False),
        np.logspace(-4, 3, n_main, endpoint=False),
        np.logspace(3, hi, n_huge, endpoint=False),
    ])
    rng = np.random.default_rng(seed)
    pts = np.concatenate([
        mags, -mags,
        rng.uniform(-40, 40, n_rand // 2), rng.uniform(-800, 800, n_rand - n_rand // 2),
    ]).astype(dtype)
    pts = np.concatenate([pts.astype(np.float64), np.array(special_points(dtype, extra_roots), dtype=np.float64)])
    pts = pts[np.isfinite(pts) | np.isinf(pts)]
    return pts


def build_grid(quick: bool = False, extra_roots: tuple[float, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    k = 8 if quick else 1
    g64 = grid(np.float64, 120 // k, 900 // k, 40 // k, 600 // k, 64, extra_roots)
    g32 = grid(np.float32, 70 // k, 900 // k, 30 // k, 600 // k, 32, extra_roots)
    x = np.concatenate([g32, g64])
    # unique by bit pattern (keeps -0.0 beside 0.0)
    bits = x.view(np.int64)
    _, idx = np.unique(bits, return_index=True)
    idx.sort()
    x = x[idx]
    with np.errstate(over="ignore"):
        is_f32 = x.astype(np.float32).astype(np.float64) == x
    return x, is_f32


def self_check(name: str, params: dict) -> None:
    """The closed-form derivative against mpmath's numerical derivative."""
    f, df = FUNCTIONS[name]
    with mp.workdps(40):
        for x in (-3.7, -1.3, -0.41, 0.23, 0.9, 2.6, 7.1):
            num = mp.diff(lambda t: f(t, **params), mpf(x))
            ana = df(mpf(x), **params)
            if abs(num - ana) > mpf(10) ** -25 * (1 + abs(ana)):
                raise AssertionError(f"{name}{params}: f'({x}) = {ana} but numerically {num}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--quick", action="store_true", help="a coarse grid (smoke test)")
    ap.add_argument("--catalogue", action="store_true",
                    help="the catalogue's functions (scripts/catalogue_functions.py), on a grid with their roots")
    ap.add_argument("--only", nargs="*", default=None, help="with --catalogue: these function names only, "
                    "merged into the existing file")
    args = ap.parse_args(argv)
    cases, extra, previous = CASES, (), {}
    if args.catalogue:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import catalogue_functions as cat

        FUNCTIONS.update(cat.FUNCTIONS)
        cases, extra = cat.CASES, tuple(cat.extra_roots())
        if args.out == OUT:
            args.out = CATALOGUE_OUT
        if args.only:
            cases = [c for c in cases if c[0] in args.only]
            with np.load(args.out) as z:
                previous = {k: z[k] for k in z.files}
    x, is_f32 = build_grid(args.quick, extra)
    data: dict[str, np.ndarray] = {"x": x, "is_f32": is_f32}
    meta = []
    if previous:
        assert np.array_equal(previous["x"].view(np.int64), x.view(np.int64)), "the grid changed: regenerate all"
        meta = [m for m in json.loads(str(previous["cases"])) if m["name"] not in args.only]
        data.update({k: v for k, v in previous.items() if k.split("|")[0] in {m["id"] for m in meta}})
    t0 = time.time()
    for name, params in cases:
        cid = case_id(name, params)
        mpp = mp_params(name, params)
        if args.catalogue:
            mpp = {k: mpf(v) for k, v in {**cat.DEFAULTS.get(name, {}), **params}.items()}
        self_check(name, mpp)
        call = {**REQUIRED_DEFAULTS.get(name, {}), **params}
        for what, fn in zip(("value", "derivative"), FUNCTIONS[name], strict=True):
            hi, frac = zip(*(round_ref(evaluate(fn, float(v), mpp)) for v in x), strict=True)
            data[f"{cid}|{what}|hi"] = np.array(hi, dtype=np.float64)
            data[f"{cid}|{what}|frac"] = np.array(frac, dtype=np.float16)
        meta.append({"id": cid, "name": name, "params": call})
        print(f"{cid:40s} {time.time() - t0:7.1f}s", file=sys.stderr)
    data["cases"] = np.array(json.dumps(meta))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    print(f"{len(x)} points ({int(is_f32.sum())} float32), {len(meta)} cases -> {args.out} "
          f"({args.out.stat().st_size / 1e6:.2f} MB) in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
