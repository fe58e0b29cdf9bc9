"""Values of sparsemax, 1.5-entmax and alpha-entmax: independent references
(SPEC's sort algorithm, bisection in float64), the ``entmax`` package, the
seed's identities, and the rules for non-finite entries, sizes and dtypes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sparse_oracles import reference, sparsemax_rows

import actlab
from actlab.simplex import sparse_forward

entmax_pkg = pytest.importorskip("entmax")

MAPS = {
    2.0: lambda x, **k: actlab.sparsemax(x, **k),
    1.5: lambda x, **k: actlab.entmax15(x, **k),
    1.25: lambda x, **k: actlab.entmax(x, alpha=1.25, **k),
    1.7: lambda x, **k: actlab.entmax(x, alpha=1.7, **k),
    3.0: lambda x, **k: actlab.entmax(x, alpha=3.0, **k),
}
SHAPES = [(1,), (7,), (3, 5), (2, 3, 40), (4, 700), (3, 5000)]


@pytest.fixture(params=["compiled", "array-api"])
def path(request, monkeypatch):
    """Run each test with the numba kernels (when installed) and without."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setattr(sparse_forward, "USE_COMPILED", request.param == "compiled")
    return request.param


def _inputs(shape, scale, seed):
    return np.random.default_rng(seed).standard_normal(shape) * scale


@pytest.mark.parametrize("alpha", list(MAPS))
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_independent_reference(alpha, shape, path):
    for i, scale in enumerate((0.05, 1.0, 30.0)):
        x = _inputs(shape, scale, i)
        want = reference(x, alpha)
        got = MAPS[alpha](x)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        got32 = MAPS[alpha](torch.tensor(x, dtype=torch.float32))
        assert got32.dtype == torch.float32
        np.testing.assert_allclose(got32.numpy(), want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.25])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_entmax_package_any_axis(alpha, dtype, path):
    x = torch.randn(4, 300, 6, dtype=dtype, generator=torch.Generator().manual_seed(3)) * 2
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=2e-6)
    for axis in (0, 1, -1):
        if alpha == 2.0:
            want = entmax_pkg.sparsemax(x, dim=axis)
        elif alpha == 1.5:
            want = entmax_pkg.entmax15(x, dim=axis)
        else:
            want = entmax_pkg.entmax_bisect(x.double(), alpha, dim=axis, n_iter=80).to(dtype)
        got = MAPS[alpha](x, axis=axis)
        torch.testing.assert_close(got, want, **tol)
        got_np = MAPS[alpha](x.numpy(), axis=axis)
        np.testing.assert_allclose(got_np, want.numpy(), **tol)


def test_long_rows_screening_matches_sort():
    """Rows long enough for the block screening, and inputs whose support is
    most of the row (small scale) or one entry (large scale)."""
    g = torch.Generator().manual_seed(5)
    for scale in (1e-3, 1.0, 1e3):
        x = torch.randn(3, 20000, dtype=torch.float64, generator=g) * scale
        torch.testing.assert_close(actlab.sparsemax(x), entmax_pkg.sparsemax(x, -1), rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(actlab.entmax15(x), entmax_pkg.entmax15(x, -1), rtol=1e-9, atol=1e-12)


def test_seed_identities():
    np.testing.assert_allclose(actlab.sparsemax([-2.0, 0.0, 0.5]), [0.0, 0.25, 0.75], atol=1e-15)
    np.testing.assert_allclose(actlab.entmax15([-2.0, 0.0, 0.5]), [0.0, 0.3260, 0.6740], atol=5e-5)
    t = np.linspace(-3, 3, 121)
    two = actlab.sparsemax(np.stack([t, np.zeros_like(t)], axis=-1))[:, 0]
    np.testing.assert_allclose(two, np.clip((t + 1) / 2, 0, 1), atol=1e-15)


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.7])
def test_limits_and_non_finite_rows(alpha, path):
    inf, nan = math.inf, math.nan
    f = MAPS[alpha]
    x = np.array([
        [1.0, -inf, 0.5, -inf],     # -inf gets 0
        [-inf, -inf, -inf, -inf],   # all -inf: zeros
        [inf, 0.0, inf, 3.0],       # +inf entries share the mass
        [1.0, nan, 0.0, 2.0],       # NaN: its row only
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = f(x)
    np.testing.assert_allclose(y[0], reference(np.array([1.0, -1e300, 0.5, -1e300]), alpha), atol=1e-15)
    np.testing.assert_array_equal(y[1], 0.0)
    np.testing.assert_allclose(y[2], [0.5, 0.0, 0.5, 0.0], rtol=1e-15, atol=0)
    assert np.isnan(y[3]).all()
    yt = f(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(yt.numpy(), y, atol=1e-6)


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.7])
def test_sizes_one_and_zero(alpha):
    f = MAPS[alpha]
    np.testing.assert_array_equal(f(np.array([[3.5], [-1e30]])), [[1.0], [1.0]])
    assert f(np.zeros((3, 0))).shape == (3, 0)
    assert f(torch.zeros(2, 0)).shape == (2, 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_in_float32(dtype):
    x = torch.randn(64, 300, generator=torch.Generator().manual_seed(0)) * 3
    for f in (actlab.sparsemax, actlab.entmax15, lambda v: actlab.entmax(v, alpha=1.3)):
        y = f(x.to(dtype))
        assert y.dtype == dtype
        eps = torch.finfo(dtype).eps
        assert (y.float().sum(-1) - 1).abs().max() <= 4 * eps
        torch.testing.assert_close(y.float(), f(x.to(dtype).float()), atol=eps, rtol=eps)


def test_temperature_and_alpha_limits():
    x = np.array([0.3, -1.2, 2.0, 0.1])
    np.testing.assert_allclose(actlab.sparsemax(x, temperature=0.5), actlab.sparsemax(2 * x), atol=1e-15)
    np.testing.assert_allclose(actlab.entmax(x, alpha=2.0), actlab.sparsemax(x), atol=1e-15)
    np.testing.assert_allclose(actlab.entmax(x, alpha=1.5), actlab.entmax15(x), atol=1e-15)
    np.testing.assert_allclose(actlab.entmax(x, alpha=1.999999), actlab.sparsemax(x), atol=1e-5)
    softmax = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    np.testing.assert_allclose(actlab.entmax(x, alpha=1.0 + 1e-7), softmax, rtol=1e-5)


def test_alpha_one_is_softmax():
    pytest.importorskip("actlab.simplex.softmax")
    x = np.array([0.3, -1.2, 2.0, 0.1])
    np.testing.assert_allclose(actlab.entmax(x, alpha=1.0), np.exp(x) / np.exp(x).sum(), rtol=1e-14)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: actlab.entmax([1.0, 2.0], alpha=0.0), "alpha must be"),
        (lambda: actlab.entmax([1.0, 2.0], alpha=math.nan), "nan"),
        (lambda: actlab.entmax([1.0, 2.0], alpha=torch.tensor([[1.0]])), "alpha must be > 1"),
        (lambda: actlab.sparsemax([1.0, 2.0], temperature=0.0), "temperature"),
        (lambda: actlab.entmax15([1.0, 2.0], axis=3), "axis"),
        (lambda: actlab.entmax([1.0, 2.0], n_iter=0), "n_iter"),
        (lambda: actlab.entmax_threshold([1.0, 2.0], alpha=1.0), "alpha"),
    ],
)
def test_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_thresholds_and_support():
    x = np.random.default_rng(1).standard_normal((5, 9)) * 2
    tau, k = actlab.sparsemax_threshold(x)
    np.testing.assert_allclose(np.maximum(x - tau, 0), sparsemax_rows(x), atol=1e-14)
    np.testing.assert_array_equal(k[:, 0], (sparsemax_rows(x) > 0).sum(-1))
    for alpha in (1.5, 1.3):
        tau, k = actlab.entmax_threshold(x, alpha=alpha, axis=-1)
        b = alpha - 1
        p = np.maximum(b * x - tau, 0) ** (1 / b)
        np.testing.assert_allclose(p, reference(x, alpha), atol=1e-12)
    tau_t, k_t = actlab.sparsemax_threshold(torch.tensor(x.T), axis=0)
    np.testing.assert_allclose(tau_t.numpy()[0], actlab.sparsemax_threshold(x)[0][:, 0], atol=1e-14)
    assert k_t.shape == (1, 5)
