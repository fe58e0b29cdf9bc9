"""softmax, softmin, log_softmax, logsumexp: accuracy against mpmath
references (tests/data, from scripts/make_softmax_references.py), the
non-finite rules of SPEC section 2, properties, limits and errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from softmax_reference_data import load, ulp_error

import actlab
from actlab.simplex.logsumexp import logsumexp_rows, logsumexp_shifted
from actlab.simplex.shifted_exp import unshifted_ok
from actlab.simplex.softmax import (
    log_softmax_rows,
    log_softmax_shifted,
    softmax_rows,
    softmax_shifted,
    softmax_unshifted,
)

torch = pytest.importorskip("torch")
from actlab.backends.numpy import BACKEND as nb  # noqa: E402
from actlab.backends.torch import BACKEND as tns  # noqa: E402

ROWS = load()
INF, NAN = math.inf, math.nan
ULP_BAR = 4.0


def _kwargs(row):
    if row["num"] == 1.0 and row["den"] == 1.0:
        return {}
    return {"temperature": row["den"]} if row["num"] == 1.0 else {"beta": row["num"]}


def _max_ulp(fn, name, backend):
    """The worst error of ``fn(x, **kw)`` over the reference rows, per dtype."""
    worst = {}
    for r in ROWS:
        kw = _kwargs(r)
        if name == "logsumexp" and kw:
            continue
        x = r["x"] if backend == "numpy" else torch.from_numpy(r["x"])
        y = fn(x, **kw)
        y = np.asarray(y) if backend == "numpy" else y.numpy()
        e = float(np.max(ulp_error(y, r[name], r["x"].dtype)))
        key = r["x"].dtype.name
        worst[key] = max(worst.get(key, 0.0), e)
    return worst


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_within_4_ulp_of_mpmath(name, backend):
    worst = _max_ulp(getattr(actlab, name), name, backend)
    assert set(worst) == {"float64", "float32"}
    assert max(worst.values()) <= ULP_BAR, worst


@pytest.mark.parametrize("name, rows", [("softmax", softmax_rows), ("log_softmax", log_softmax_rows)])
def test_torch_general_path_within_4_ulp(name, rows):
    """The array-API math on tensors, bypassing the native float32 fast path."""
    worst = _max_ulp(lambda t, **kw: rows(t, *_scale(kw), tns), name, "torch")
    assert max(worst.values()) <= ULP_BAR, worst


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_exact_shift_and_unshifted_paths_each_within_4_ulp(name):
    """Both kernels on every row each applies to: the exact shift (what
    torch.compile and vmap run, and float64 softmax / log_softmax) and the
    unshifted fast path (float32 rows, float64 logsumexp, within its range)."""
    shifted = {"softmax": softmax_shifted, "log_softmax": log_softmax_shifted,
               "logsumexp": lambda x, num, den, xp: logsumexp_shifted(x, xp)[..., 0]}[name]
    unshifted = {"softmax": softmax_unshifted, "log_softmax": None,
                 "logsumexp": lambda x, xp: logsumexp_rows(x, xp)[..., 0]}[name]
    checked = 0
    for r in ROWS:
        kw = _kwargs(r)
        if name == "logsumexp" and kw:
            continue
        x, dt = r["x"], r["x"].dtype
        y = np.asarray(shifted(x, *_scale(kw), nb)).astype(dt)
        assert np.max(ulp_error(y, r[name], dt)) <= ULP_BAR
        if unshifted and not kw and unshifted_ok(x, nb) and (dt == np.float32 or name == "logsumexp"):
            y = np.asarray(unshifted(x, nb)).astype(dt)
            assert np.max(ulp_error(y, r[name], dt)) <= ULP_BAR
            checked += 1
    assert checked >= 40 or unshifted is None


def _scale(kw):
    if "temperature" in kw:
        return 1.0, kw["temperature"]
    return kw.get("beta", 1.0), 1.0


def test_native_fast_path_agrees_with_general_path():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 300, generator=g) * torch.tensor([1.0, 30.0, 300.0]).repeat(22)[:64, None]
    x[0, :] = torch.tensor(0.0)
    x[1, 1:] = -80.0  # dominant row: log-softmax near -1e-35 at the top
    x[2, 5] = -INF
    x[3, 7] = INF
    x[4, 0] = NAN
    for public, rows in ((actlab.softmax, softmax_rows), (actlab.log_softmax, log_softmax_rows)):
        fast, general = public(x), rows(x, 1.0, 1.0, tns)
        assert torch.equal(torch.isnan(fast), torch.isnan(general))
        ok = ~torch.isnan(general) & torch.isfinite(general)
        assert torch.equal(fast[~ok & ~torch.isnan(general)], general[~ok & ~torch.isnan(general)])
        rel = ((fast - general).abs() / general.abs().clamp_min(1e-38))[ok]
        assert float(rel.max()) <= 2.0**-23  # within 1 float32 ULP of each other
    assert torch.logsumexp(torch.tensor([0.0, -50.0]), 0) == 0.0  # what the native float32 kernel gives
    assert float(actlab.log_softmax(x)[1, 0]) < 0.0


def test_array_api_strict_backend():
    xps = pytest.importorskip("array_api_strict")
    r = next(r for r in ROWS if r["x"].dtype == np.float64 and len(r["x"]) == 100)
    x = xps.asarray(r["x"])
    for name in ("softmax", "log_softmax"):
        y = getattr(actlab, name)(x)
        assert type(y).__module__.startswith("array_api_strict")
        assert np.max(ulp_error(np.asarray(y), r[name], np.float64)) <= ULP_BAR
    assert np.max(ulp_error(np.asarray(actlab.logsumexp(x)), r["logsumexp"], np.float64)) <= ULP_BAR


def test_dominant_entry_and_published_values():
    assert float(actlab.logsumexp([0.0, -50.0])) == pytest.approx(1.9287498479639178e-22, rel=1e-15)
    assert float(actlab.log_softmax([0.0, -50.0])[0]) == pytest.approx(-1.9287498479639178e-22, rel=1e-15)
    # seed 003: softmax is not scale-invariant, sum normalisation is
    np.testing.assert_allclose(actlab.softmax([1.0, 2.0]), [0.2689, 0.7311], atol=5e-5)
    np.testing.assert_allclose(actlab.softmax([10.0, 20.0]), [4.54e-5, 0.99995], rtol=1e-3)
    np.testing.assert_allclose(actlab.sum_normalize([1.0, 2.0]), actlab.sum_normalize([10.0, 20.0]), rtol=0, atol=0)


def test_temperature_beta_and_base():
    x = np.array([0.5, -1.25, 3.0])
    np.testing.assert_allclose(actlab.softmax(x, temperature=-2.0), actlab.softmin(x, temperature=2.0), rtol=1e-15)
    np.testing.assert_allclose(actlab.softmax(x, beta=0.25), actlab.softmax(x, temperature=4.0), rtol=1e-15)
    b = 10.0  # b^z / sum b^z with beta = ln b
    np.testing.assert_allclose(actlab.softmax(x, beta=math.log(b)), b**x / np.sum(b**x), rtol=1e-14)
    np.testing.assert_array_equal(actlab.softmax(x, beta=0.0), np.full(3, 1 / 3))
    np.testing.assert_allclose(actlab.log_softmax(x, beta=0.0), np.full(3, -math.log(3)), rtol=1e-15)


@pytest.mark.parametrize("x", [[0.0, 1.0, 1.0, -2.0], [3.0, -1.0, 2.5], [-5.0, -5.0]])
def test_small_temperature_tends_to_hardmax(x):
    hard = actlab.hardmax(x)
    for t in (1e-2, 1e-4, 1e-8):
        y = actlab.softmax(x, temperature=t)
        assert np.max(np.abs(y - hard)) <= math.exp(-0.49 / t) + 1e-15
    np.testing.assert_array_equal(actlab.softmax(x, temperature=1e-300), hard)


NONFINITE = [  # x, softmax, log_softmax, logsumexp (SPEC section 2)
    ([1.0, -INF, 1.0], [0.5, 0.0, 0.5], [-math.log(2), -INF, -math.log(2)], 1 + math.log(2)),
    ([1.0, INF, INF], [0.0, 0.5, 0.5], [-INF, -math.log(2), -math.log(2)], INF),
    ([-INF, -INF, -INF], [0.0, 0.0, 0.0], [-INF, -INF, -INF], -INF),
    ([1.0, NAN, 2.0], [NAN, NAN, NAN], [NAN, NAN, NAN], NAN),
    ([INF, NAN, -INF], [NAN, NAN, NAN], [NAN, NAN, NAN], NAN),
    ([1e308, -1e308], [1.0, 0.0], [0.0, -INF], 1e308),
    ([-1e308, -INF], [1.0, 0.0], [0.0, -INF], -1e308),
    ([7.0], [1.0], [0.0], 7.0),
    ([-INF], [0.0], [-INF], -INF),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_nonfinite_rules(dtype, backend):
    finite_row = [0.25, -3.0, 1.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x, p, lp, lse in NONFINITE:
            if dtype == "float32" and abs(x[0]) == 1e308:
                continue
            rows = np.array([x, [finite_row[i % 3] for i in range(len(x))]], dtype=dtype)
            xin = rows if backend == "numpy" else torch.from_numpy(rows)
            got = [np.asarray(f(xin)) for f in (actlab.softmax, actlab.log_softmax, actlab.logsumexp)]
            np.testing.assert_allclose(got[0][0], p, rtol=1e-6)
            np.testing.assert_allclose(got[1][0], lp, rtol=1e-6)
            np.testing.assert_allclose(got[2][0], lse, rtol=1e-6)
            assert np.all(np.isfinite(got[0][1])), "a bad row leaked into its neighbour"


@pytest.mark.parametrize("fn", [actlab.softmax, actlab.log_softmax, actlab.logsumexp])
def test_nonfinite_gradients_are_zero_not_nan(fn):
    x = torch.tensor([[1.0, -INF, 2.0], [-INF, -INF, -INF], [3.0, 3.0, -INF]], dtype=torch.float64,
                     requires_grad=True)
    y = fn(x)
    y.backward(torch.ones_like(y))
    assert not torch.isnan(x.grad).any()
    assert torch.all(x.grad[x.detach() == -INF] == 0)
    assert torch.all(x.grad[1] == 0)


def test_sizes_and_dimensions():
    assert actlab.softmax(np.zeros((2, 0))).shape == (2, 0)
    np.testing.assert_array_equal(actlab.logsumexp(np.zeros((2, 0))), [-INF, -INF])
    assert actlab.softmax([[5.0]]).tolist() == [[1.0]]
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    np.testing.assert_allclose(actlab.softmax(x, axis=1), np.moveaxis(actlab.softmax(np.moveaxis(x, 1, -1)), -1, 1))
    assert actlab.logsumexp(x, axis=0, keepdims=True).shape == (1, 4, 5)
    assert actlab.softmax(x.astype(np.float16)).dtype == np.float16
    # a 0-d input is one class, as SciPy (the oracle) and torch.softmax(t, 0) take it
    import scipy.special as sc

    assert actlab.softmax(1.0) == sc.softmax(1.0) == 1.0
    assert actlab.logsumexp(np.float64(1.5)) == sc.logsumexp(np.float64(1.5)) == 1.5
    assert actlab.logsumexp(np.float64(1.5), keepdims=True).shape == ()


def test_blocked_numpy_path_matches_unblocked():
    x = np.random.default_rng(1).standard_normal((300, 700)) * 50
    from actlab.simplex.shifted_exp import by_rows

    for name, rows in (("softmax", softmax_rows), ("log_softmax", log_softmax_rows)):
        np.testing.assert_array_equal(by_rows(lambda b, r=rows: r(b, 1.0, 1.0, nb), x, nb), rows(x, 1.0, 1.0, nb))
        # the public function: with numba, the fused float64 kernel (backends/numpy_softmax64); each
        # is within 4 ULPs of mpmath (test_within_4_ulp_of_mpmath), so within 8 of each other
        np.testing.assert_array_max_ulp(getattr(actlab, name)(x), rows(x, 1.0, 1.0, nb), maxulp=8)
    np.testing.assert_array_equal(actlab.logsumexp(x), logsumexp_rows(x, nb)[:, 0])


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: actlab.softmax([1.0], temperature=0.0), ValueError, "temperature"),
        (lambda: actlab.softmax([1.0], temperature=math.inf), ValueError, "temperature"),
        (lambda: actlab.softmax([1.0], temperature=math.nan), ValueError, "temperature"),
        (lambda: actlab.log_softmax([1.0], beta=math.inf), ValueError, "beta"),
        (lambda: actlab.softmax([1.0], temperature=2.0, beta=1.0), ValueError, "not both"),
        (lambda: actlab.softmax([1.0], temperature="2"), TypeError, "temperature"),
        (lambda: actlab.softmax([1.0, 2.0], axis=1), ValueError, "axis"),
        (lambda: actlab.softmax([1 + 2j]), TypeError, "complex"),
        (lambda: actlab.hardmax([1.0], beta=2.0), TypeError, "beta"),
        (lambda: actlab.logsumexp([1.0], axis=3), ValueError, "axis"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


floats = st.floats(-1e4, 1e4, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(st.lists(floats, min_size=1, max_size=30), st.sampled_from([0.1, 1.0, 3.0, -0.7]))
def test_sums_to_one_and_log_consistency(x, t):
    x = np.asarray(x)
    p = actlab.softmax(x, temperature=t)
    assert np.all(p >= 0) and abs(np.sum(p) - 1.0) <= 8 * len(x) * 2.0**-53
    lp = actlab.log_softmax(x, temperature=t)
    assert np.all(lp <= 0)
    np.testing.assert_allclose(np.exp(lp), p, rtol=1e-12, atol=1e-300)
    lse = actlab.logsumexp(x / t)
    m = np.max(x / t)
    assert m <= lse <= m + math.log(len(x)) * (1 + 1e-15) + 1e-300


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-4000, 4000), min_size=1, max_size=20), st.integers(-10**6, 10**6))
def test_shift_invariance_is_exact(k, c):
    x = np.asarray(k, dtype=np.float64) / 16  # dyadic: x + c is exact
    for name in ("softmax", "log_softmax"):
        np.testing.assert_array_equal(getattr(actlab, name)(x + c), getattr(actlab, name)(x))
    assert actlab.logsumexp(x + c) - c == pytest.approx(float(actlab.logsumexp(x)), abs=1e-9)
