"""The fast lanes of the NumPy backend (``actlab.backends.numpy_lane_table``):
the public functions take them for float64 and float32 arrays, and what
they return is within 4 ULPs of mpmath on the stored grid, keeps the
limits at +-inf, NaN and signed zero, raises no floating-point warning,
and is within 4 ULPs of actlab's float64 formula on a dense float32
sample. actlab's own formula, run in cache-sized blocks, gives the values
of the unblocked formula."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from reference_data import load, ulp_errors, worst

import actlab
from actlab.backends import numpy_fast
from actlab.backends.numpy import BACKEND
from actlab.backends.numpy_lane_table import DERIVATIVE, F32, F64, VALUE

BAR = 4.0
REFS = load()
DTYPES = (np.float64, np.float32)

# (function, dtype) pairs that must have a lane: the piecewise-linear family and the smooth
# functions whose NumPy/SciPy ufuncs are accurate
EXPECTED = {
    *((n, dt) for n in ("relu", "relu6", "leaky_relu", "hardtanh", "hardsigmoid", "hardswish", "softshrink",
                        "hardshrink", "threshold", "tanh", "elu", "celu", "selu", "softsign", "softplus",
                        "sigmoid", "log_sigmoid", "silu", "swish", "mish") for dt in (F64, F32)),
}


def _spec(name):
    return actlab.get(name).extra["spec"]


def _values(ref):
    spec = _spec(ref.name)
    return spec.checked(tuple(ref.params.get(p.name, p.default) for p in spec.params))


def _served(ref, dtype) -> bool:
    """Whether the lane of ``ref``'s function at ``dtype`` serves its parameters."""
    lane = VALUE.get((ref.name, np.dtype(dtype)))
    if lane is None:
        return False
    spec = _spec(ref.name)
    defaults = tuple(p.default for p in spec.params)
    return lane.any_params or _values(ref) == defaults


def _own(ref, x):
    return _spec(ref.name).value(x, _values(ref), BACKEND)


CASES = [(r, dt) for r in REFS for dt in DTYPES if _served(r, dt)]
IDS = [f"{r.id}-{np.dtype(dt).name}" for r, dt in CASES]


def test_the_table_declares_the_expected_lanes():
    missing = sorted((n, dt.name) for n, dt in EXPECTED if (n, dt) not in VALUE)
    assert not missing, f"no NumPy lane for {missing}"
    for (name, _), lane in VALUE.items():
        assert actlab.get(name).kind == "elementwise"
        lo, hi = lane.domain
        assert lo < hi


@pytest.mark.parametrize(("ref", "dtype"), CASES, ids=IDS)
def test_lane_is_taken_and_within_4_ulp(ref, dtype):
    """On the mpmath grid: the public function gives what its declared lane
    gives (so the lane is taken), and that is within 4 ULPs."""
    x = ref.grid(dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        y = actlab.get(ref.name).function(x, **ref.params)
        lane = VALUE[ref.name, np.dtype(dtype)]
        direct = numpy_fast.run(lane, lambda v: _own(ref, v), x, _values(ref))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, direct)
    err, at = worst(ulp_errors(y, ref.exact("value", dtype), dtype), x)
    assert err <= BAR, f"{ref.id}: {err:.3g} ULPs at x = {at!r} ({np.dtype(dtype).name})"


DCASES = [(r, dt) for r in REFS for dt in DTYPES if (r.name, np.dtype(dt)) in DERIVATIVE
          and (DERIVATIVE[r.name, np.dtype(dt)].any_params or _values(r) == tuple(p.default for p in _spec(r.name).params))]


@pytest.mark.parametrize(("ref", "dtype"), DCASES, ids=[f"{r.id}-{np.dtype(dt).name}" for r, dt in DCASES])
def test_derivative_lanes_are_taken_and_exact(ref, dtype):
    """The derivatives of the piecewise-linear family: the lane's indicator
    is the formula's, bit for bit (0 at the kinks, NaN at NaN), on the grid
    and at the special values, and within 4 ULPs of mpmath."""
    spec = _spec(ref.name)
    for x in (ref.grid(dtype), _specials(dtype)):
        with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
            warnings.simplefilter("error")
            d = actlab.get(ref.name).derivative(x, **ref.params)
        direct = numpy_fast.run(DERIVATIVE[ref.name, np.dtype(dtype)], None, x, _values(ref))  # type: ignore[arg-type]
        np.testing.assert_array_equal(d, direct)
        np.testing.assert_array_equal(d, spec.evaluate(spec.derivative, x, _values(ref), BACKEND, "derivative"))
    x = ref.grid(dtype)
    d = actlab.get(ref.name).derivative(x, **ref.params)
    err, at = worst(ulp_errors(d, ref.exact("derivative", dtype), dtype), x)
    assert d.dtype == dtype and err <= BAR, f"{ref.id}: derivative {err:.3g} ULPs at {at!r}"


def _specials(dtype) -> np.ndarray:
    fi = np.finfo(dtype)
    mags = [0.0, float(fi.smallest_subnormal), float(fi.smallest_normal), 1e-30, 0.5, 1.0, 3.0, 6.0, 20.0,
            88.72, 709.78, 745.2, 1e5, 1e30, 1e300, float(fi.max), np.inf]
    v = np.array([m for m in mags if m <= float(fi.max) or m == np.inf], dtype=dtype)
    return np.concatenate([v, -v, np.array([np.nan], dtype=dtype)])


# where the lane's zero has the other sign than the formula's (both are exact zeros)
ZERO_SIGN_DIFFERS = {"relu6": "-0.0 at -0.0 (np.clip)", "hardswish": "-0.0 for x <= -3 (x times 0, as torch's)",
                     "celu": "-0.0 at -0.0 (elu's)", "elu": "+0.0 where alpha expm1(x) underflows",
                     "log_sigmoid": "-0.0 past 745 (log_expit)", "silu": "-0.0 at -0.0 (x times the gate)",
                     "swish": "-0.0 at -0.0", "mish": "-0.0 at -0.0"}


@pytest.mark.parametrize(("ref", "dtype"), CASES, ids=IDS)
def test_special_values_match_the_formula(ref, dtype):
    """+-0, subnormals, the exp thresholds, +-max, +-inf and NaN: the lane's
    result is within 4 ULPs of actlab's formula (equal where that is
    infinite or NaN), with no warning; zeros keep the formula's sign except
    where noted."""
    x = _specials(dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        y = actlab.get(ref.name).function(x, **ref.params)
    want = _own(ref, x)
    fin = np.isfinite(want)
    np.testing.assert_array_equal(y[~fin], want[~fin])
    np.testing.assert_array_max_ulp(y[fin], want[fin], maxulp=4)
    zero = fin & (want == 0)
    if ref.name not in ZERO_SIGN_DIFFERS:
        assert np.array_equal(np.signbit(y[zero]), np.signbit(want[zero])), (x[zero], y[zero], want[zero])


def _ulps32(y: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|y - exact| in float32 ULPs at ``exact`` (a float64 value)."""
    _, e = np.frexp(np.abs(exact))
    ulp = np.ldexp(1.0, np.maximum(e - 24, -149))
    return np.abs(y.astype(np.float64) - exact) / ulp


@pytest.mark.parametrize("name", sorted(n for n, dt in VALUE if dt == F32 and n != "threshold"))
def test_float32_lanes_on_a_dense_sample(name):
    """Random float32 bit patterns and dense ranges (beyond the grid): within
    4 ULPs of actlab's float64 formula (a second oracle, itself within a few
    float64 ULPs)."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, 40_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([bits[np.isfinite(bits)], rng.uniform(-30, 30, 40_000).astype(np.float32),
                        rng.uniform(-110, 0, 20_000).astype(np.float32)])
    spec = _spec(name)
    defaults = tuple(p.default for p in spec.params)
    y = actlab.get(name).function(x)
    with np.errstate(over="ignore"):
        exact = spec.value(x.astype(np.float64), defaults, BACKEND)
        beyond = np.abs(exact) > float(np.finfo(np.float32).max)  # rounds to +-inf in float32
    keep = np.isfinite(exact) & ~beyond
    assert np.array_equal(np.isinf(y[beyond]), np.ones(beyond.sum(), bool))
    err = _ulps32(y[keep], exact[keep])
    i = int(np.argmax(err))
    assert err[i] <= BAR, f"{name}: {err[i]:.3g} float32 ULPs at x = {x[keep][i]!r}"


@pytest.mark.parametrize("name", ["relu", "hardswish", "elu", "silu", "tanh"])
def test_input_kinds_take_the_same_lane(name):
    """0-d arrays, NumPy scalars, integers, float16, non-native byte order,
    strided arrays and Python numbers give the values of the float arrays."""
    f = getattr(actlab, name)
    x = np.array([-800.0, -3.5, -1.0, -0.0, 0.0, 0.25, 3.0, 50.0])
    y = f(x)
    for i, v in enumerate(x):
        assert f(np.array(v)).shape == ()
        np.testing.assert_array_equal(f(np.array(v)), y[i])
        np.testing.assert_array_equal(f(np.float64(v)), y[i])
        np.testing.assert_array_equal(f(float(v)), y[i])
    np.testing.assert_array_equal(f(np.arange(-3, 4)), f(np.arange(-3, 4).astype(np.float64)))
    np.testing.assert_array_equal(f(x.astype(">f8")), y)
    np.testing.assert_array_equal(f(np.repeat(x, 2)[::2]), y)
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(f(x32.astype(np.float16)), f(x32.astype(np.float16).astype(np.float32)).astype(np.float16))
    assert f(np.zeros((0, 3))).shape == (0, 3)


def test_parameters_outside_the_lane_take_the_formula():
    """leaky_relu with a slope above 1 is not max(x, a x): the formula's
    where(x >= 0, x, a x) serves it (checked against that expression)."""
    x = np.linspace(-5, 5, 101)
    np.testing.assert_array_equal(actlab.leaky_relu(x, 2.0), np.where(x >= 0, x, 2.0 * x))
    np.testing.assert_array_equal(actlab.leaky_relu(x, 0.3), np.where(x >= 0, x, 0.3 * x))
    np.testing.assert_array_equal(actlab.hardtanh(x, 0.0, 2.0), np.where(x <= 0, 0.0, np.where(x >= 2, 2.0, x)))
    np.testing.assert_array_equal(actlab.threshold(x, 0.5, -1.0), np.where(x > 0.5, x, -1.0))


@pytest.mark.parametrize("name", ["gelu", "tanhshrink", "swish"])
def test_blocked_formula_gives_the_unblocked_values(name):
    """The own formula run a block at a time on a large array (shape and
    layout kept) gives the values of one call over the whole array."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, 7000)) * 30)[:, ::1]
    values = (1.5,) if name == "swish" else tuple(p.default for p in _spec(name).params)
    for a in (x, x.astype(np.float32), x.T):
        got = numpy_fast.blocked_value(_spec(name), a, values, BACKEND)
        want = _spec(name).value(np.ascontiguousarray(a), values, BACKEND)
        assert got.shape == a.shape and got.dtype == a.dtype
        np.testing.assert_array_equal(got, want)
