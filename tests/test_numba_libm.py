"""The branch-free float64 functions of :mod:`actlab.backends.numba_libm`
against mpmath at 100 bits: within 1 ULP of the exact value on grids that
cover every regime (tiny and subnormal inputs, both signs near 0, the
boundaries of the ``k ln 2`` and ``2^k sqrt(1/2)`` reductions, the overflow
and underflow thresholds, subnormal results), IEEE limits at +-0, +-inf and
NaN; called through a numba loop, as the fused kernels use them."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

pytest.importorskip("numba")
mpmath = pytest.importorskip("mpmath")
import numba as nb  # noqa: E402

from actlab.backends import numba_libm  # noqa: E402

LN2 = math.log(2.0)
TINY = 2.0**-1074
MAX_ULP = 1.0
_LOOPS: dict[str, object] = {}


def _apply(name: str, x: np.ndarray) -> np.ndarray:
    """``out[i] = f(x[i])`` in a numba loop (compiled once per function and dtype)."""
    if name not in _LOOPS:
        f = getattr(numba_libm, name)

        @nb.njit(error_model="numpy")
        def loop(x, out):
            for i in range(x.size):
                out[i] = f(x[i])

        _LOOPS[name] = loop
    out = np.empty_like(x)
    _LOOPS[name](x, out)  # type: ignore[operator]
    return out


def _near(points, n: int = 4) -> np.ndarray:
    """Each point and its ``n`` float64 neighbours on both sides."""
    p = np.asarray(points, dtype=np.float64)
    out = [p]
    lo = hi = p
    with np.errstate(over="ignore"):  # the neighbour of the largest float is inf
        for _ in range(n):
            lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
            out += [lo, hi]
    return np.concatenate(out)


def _both_signs(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return np.concatenate([a, -a])


def _ulp_errors(y: np.ndarray, x: np.ndarray, exact) -> np.ndarray:
    """ULP error of each ``y`` against ``exact(mpf(x))`` (ULP of float64 at
    the exact value, 2^-1074 for subnormals); an exact value beyond float64's
    rounding threshold to infinity must give that infinity (error 0 or inf)."""
    big = mpmath.mpf(2) ** 1024 * (1 - mpmath.mpf(2) ** -54)
    errs = np.empty(x.size)
    with mpmath.workprec(100):
        for i, (xi, yi) in enumerate(zip(x.tolist(), y.tolist(), strict=True)):
            e = exact(mpmath.mpf(xi))
            if abs(e) >= big:
                errs[i] = 0.0 if yi == math.copysign(math.inf, e) else math.inf
                continue
            if not math.isfinite(yi):
                errs[i] = math.inf
                continue
            ulp = mpmath.mpf(2) ** max(mpmath.frexp(e)[1] - 53, -1074) if e != 0 else mpmath.mpf(TINY)
            errs[i] = float(abs(mpmath.mpf(yi) - e) / ulp)
    return errs


def _check(name: str, x: np.ndarray, exact) -> None:
    x = np.unique(x[np.isfinite(x)])
    y = _apply(name, x)
    errs = _ulp_errors(y, x, exact)
    worst = int(np.argmax(errs))
    assert errs[worst] <= MAX_ULP, f"{name}({x[worst]!r}) = {y[worst]!r}: {errs[worst]:.3f} ULP"


def _specials(name: str, cases: list[tuple[float, float]]) -> None:
    """Exact values, the sign of zero included (pairs: +0.0 and -0.0 are one dict key)."""
    x = np.array([c[0] for c in cases], dtype=np.float64)
    y = _apply(name, x)
    for xi, yi, want in zip(x.tolist(), y.tolist(), [c[1] for c in cases], strict=True):
        same = yi == want and math.copysign(1, yi) == math.copysign(1, want)
        assert same or (math.isnan(yi) and math.isnan(want)), f"{name}({xi!r}) = {yi!r}, want {want!r}"
    assert math.isnan(_apply(name, np.array([math.nan]))[0])


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(20261201 + seed)


NEAR_ZERO = _both_signs(np.concatenate([2.0 ** _rng(0).uniform(-1074, 0, 600),
                                        [TINY, 2.0**-1022, 2.0**-27, 2.0**-54]]))
K_BOUNDS = (np.arange(-1080, 1030, 7) + 0.5) * LN2  # where round(d / ln 2) steps


def test_lexp_whole_range():
    rng = _rng(1)
    x = np.concatenate([
        rng.uniform(-745.2, 709.8, 3000), np.linspace(-746.0, 710.0, 1500), NEAR_ZERO, _near(K_BOUNDS, 2),
        rng.uniform(-745.2, -708.3, 800),  # subnormal results
        _near([-745.1332191019411, -744.4400719213812, -708.3964185322641, 709.782712893384,  # thresholds
               -0.5 * LN2, 0.5 * LN2]),
    ])
    _check("lexp", x, mpmath.exp)
    _specials("lexp", [(0.0, 1.0), (-0.0, 1.0), (math.inf, math.inf), (-math.inf, 0.0), (1e308, math.inf),
                       (-1e308, 0.0), (709.79, math.inf), (-745.14, 0.0), (-745.13, TINY)])


def test_lexpm1_whole_range():
    rng = _rng(2)
    x = np.concatenate([
        rng.uniform(-40.0, 709.8, 2500), rng.uniform(-2.0, 2.0, 1500), NEAR_ZERO,
        _near(K_BOUNDS[K_BOUNDS > -45], 2),
        _near([-37.42994775023705, -0.5 * LN2, 0.5 * LN2, 1.5 * LN2, 709.782712893384, 54 * LN2, -54 * LN2]),
        np.linspace(-750.0, -30.0, 300),
    ])
    _check("lexpm1", x, mpmath.expm1)
    _specials("lexpm1", [(0.0, 0.0), (-0.0, -0.0), (TINY, TINY), (-TINY, -TINY), (math.inf, math.inf),
                         (-math.inf, -1.0), (1e308, math.inf), (-1e308, -1.0), (709.79, math.inf)])


def test_llog_whole_range():
    rng = _rng(3)
    sqrt_half = np.sqrt(0.5) * 2.0 ** np.arange(-1070, 1024, 9)  # where the reduction's k steps
    x = np.concatenate([
        2.0 ** rng.uniform(-1074, 1024, 3000), rng.uniform(0.25, 4.0, 1500),
        1 + NEAR_ZERO[np.abs(NEAR_ZERO) < 0.5],
        _near(sqrt_half, 2), _near([1.0, TINY, 2.0**-1022, 1.7976931348623157e308]),
        rng.uniform(0.0, 2.0**-1022, 500),  # subnormal inputs
    ])
    _check("llog", x[x > 0], mpmath.log)
    _specials("llog", [(1.0, 0.0), (0.0, -math.inf), (-0.0, -math.inf), (math.inf, math.inf),
                       (-1.0, math.nan), (-TINY, math.nan), (-math.inf, math.nan)])


def test_llog1p_whole_range():
    rng = _rng(4)
    x = np.concatenate([
        rng.uniform(-1.0, 1.0, 1500), 2.0 ** rng.uniform(-1074, 1024, 1500), NEAR_ZERO,
        -1.0 + 2.0 ** rng.uniform(-53, -1, 600),  # near -1
        _near(np.sqrt(0.5) * 2.0 ** np.arange(-1, 60, 1.0) - 1.0, 2),  # reduction boundaries of 1 + v
        _near([-1.0 + 2.0**-53, 1.7976931348623157e308, 2.0**53, 2.0**-53, -(2.0**-54)]),
    ])
    _check("llog1p", x[x > -1.0], mpmath.log1p)
    _specials("llog1p", [(0.0, 0.0), (-0.0, -0.0), (TINY, TINY), (-TINY, -TINY), (-1.0, -math.inf),
                         (-1.5, math.nan), (math.inf, math.inf), (-math.inf, math.nan)])


def test_ltanh_whole_range():
    rng = _rng(5)
    x = np.concatenate([
        _both_signs(rng.uniform(0.0, 25.0, 3000)), rng.uniform(-1.0, 1.0, 1500), NEAR_ZERO,
        _near(_both_signs([2.0**-27, 0.5 * LN2 / 2, 0.5, 1.0, 19.061547465398498, 22.0]), 3),
    ])
    _check("ltanh", x, mpmath.tanh)
    y = _apply("ltanh", x)
    assert np.array_equal(_apply("ltanh", -x), -y)  # odd
    _specials("ltanh", [(0.0, 0.0), (-0.0, -0.0), (TINY, TINY), (-TINY, -TINY), (math.inf, 1.0),
                        (-math.inf, -1.0), (1e300, 1.0), (-1e300, -1.0), (30.0, 1.0)])


@pytest.mark.parametrize("name, ref", [("lexp", np.exp), ("lexpm1", np.expm1), ("llog", np.log),
                                       ("llog1p", np.log1p), ("ltanh", np.tanh)])
def test_float32_through_float64(name, ref):
    """A loop that reads float32, computes in float64 and writes float32
    rounds once more: within 1 float32 ULP of the float64 value rounded."""
    rng = _rng(6)
    f = getattr(numba_libm, name)

    @nb.njit(error_model="numpy")
    def loop(x, out):
        for i in range(x.size):
            out[i] = np.float32(f(np.float64(x[i])))

    x = np.concatenate([rng.uniform(-80.0, 80.0, 2000), rng.uniform(-1.0, 1.0, 2000)]).astype(np.float32)
    x = x[x > -1.0] if name in ("llog", "llog1p") else x
    x = np.abs(x) if name == "llog" else x
    out = np.empty_like(x)
    loop(x, out)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    assert out.dtype == np.float32
    fin = np.isfinite(want.astype(np.float32))
    assert np.array_equal(np.isinf(out), ~fin)
    gap = np.abs(out[fin].astype(np.float64) - want[fin]) / np.spacing(np.abs(want[fin]).astype(np.float32))
    assert gap.max() <= 1.0


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            return " avx2" in fh.read()
    except OSError:
        return False


@pytest.mark.skipif(not _has_avx2(), reason="checks x86 AVX2 machine code")
@pytest.mark.parametrize("name", ["lexp", "lexpm1", "llog", "llog1p", "ltanh"])
def test_loop_vectorises(name):
    """No libm call and no exception branch is left in the loop: LLVM
    vectorises it (packed double arithmetic on ymm/zmm registers)."""
    x = np.linspace(0.5, 1.5, 64)
    _apply(name, x)
    loop = _LOOPS[name]
    asm = loop.inspect_asm(loop.signatures[0])  # type: ignore[attr-defined]
    packed = re.findall(r"\bv(?:add|sub|mul|div)pd\s+[^\n]*%[yz]mm", asm)
    assert len(packed) >= 20, f"{name}: {len(packed)} packed double ops"
