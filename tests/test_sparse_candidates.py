"""The candidate kernel of alpha-entmax for other alphas
(:mod:`actlab.backends.numba_sparse_f32_general`) agrees with the screening
kernel (:mod:`actlab.backends.numba_sparse`, a second search over a
differently screened row): values, maxima, thresholds, non-finite rows; the
float32 VJP's refined weights agree with a float64 evaluation of
``w * (g - <w, g>/sum w)`` written apart from the kernels; the dispatch."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")
from test_sparse_f32_kernels import _rows  # noqa: E402

from actlab.backends import numba_sparse, numba_sparse_f32_general, numba_sparse_f32_grad  # noqa: E402

BETAS = [0.75, 0.6, 0.3, 0.9, 2 / 3, 2.0]


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("K", [1, 2, 7, 128, 1000])
def test_candidates_match_screening_kernel(beta, K):
    x = _rows(K, 7)
    y0, m0, s0 = numba_sparse.forward_rows(x, beta, 60)
    y1, m1, s1 = numba_sparse_f32_general.forward_rows(x, beta, 60)
    assert y1.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(y1), np.isnan(y0))
    np.testing.assert_array_equal(m1, m0)
    np.testing.assert_allclose(y1, y0, rtol=4e-7, atol=1e-30)
    fin = np.isfinite(s0)
    np.testing.assert_array_equal(np.isfinite(s1), fin)
    np.testing.assert_allclose(s1[fin], s0[fin], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("n_iter", [1, 2, 3])
def test_candidates_stopped_early_still_normalised(n_iter):
    x = _rows(128, 8)[7:]
    y, _, _ = numba_sparse_f32_general.forward_rows(x, 0.75, n_iter)
    y0, _, _ = numba_sparse.forward_rows(x, 0.75, n_iter)
    fin = np.isfinite(y).all(-1)
    np.testing.assert_allclose(y[fin].astype(np.float64).sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(y, y0, rtol=1e-5, atol=1e-7)


def _vjp_float64(y: np.ndarray, g: np.ndarray, beta: float) -> np.ndarray:
    y64, g64 = y.astype(np.float64), g.astype(np.float64)
    with np.errstate(divide="ignore"):
        w = np.where(y64 > 0, np.abs(y64) ** (1.0 - beta), 0.0)
    sw = w.sum(-1, keepdims=True)
    return w * (g64 - (w * g64).sum(-1, keepdims=True) / np.where(sw > 0, sw, 1.0))


@pytest.mark.parametrize("beta", [0.5, 0.25, 0.75])
@pytest.mark.parametrize("K", [7, 128])
def test_refined_weights_within_an_ulp_of_float64(beta, K):
    x = _rows(K, 9)[7:]  # finite rows (and rows with -inf entries)
    y = numba_sparse.forward_rows(x, beta, 60)[0]
    g = np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    got = numba_sparse_f32_grad.vjp_rows(y, g, beta)
    want = _vjp_float64(y, g, beta)
    ok = np.abs(want) > 1e-30
    ulp = np.spacing(np.abs(want[ok]).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(got[ok] - want[ok]) / ulp) <= 1.0
    np.testing.assert_array_equal(got[~ok], 0.0)


def test_dispatch():
    x = np.zeros((2, 128), np.float32)
    assert numba_sparse_f32_general.takes_candidates(x, 0.75) and numba_sparse_f32_general.takes_candidates(x, 0.3)
    assert not numba_sparse_f32_general.takes_candidates(x, 0.25)  # power sums: the whole-row kernel
    assert not numba_sparse_f32_general.takes_candidates(x, 1.0) and not numba_sparse_f32_general.takes_candidates(x, 0.5)
    assert not numba_sparse_f32_general.takes_candidates(x.astype(np.float64), 0.75)
    long = np.zeros((1, numba_sparse_f32_general.CANDIDATE_MAX + 1), np.float32)
    assert not numba_sparse_f32_general.takes_candidates(long, 0.75)
