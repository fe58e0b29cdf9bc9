"""The vectorised float32 row kernels of the sparse maps
(:mod:`actlab.backends.numba_sparse_f32`) agree with the screening kernels
(:mod:`actlab.backends.numba_sparse`, :mod:`actlab.backends.numba_entmax_grad`)
and with the array-API search: values, thresholds, gradients, SPEC's
non-finite rows, through the public functions and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import actlab
from actlab.simplex import sparse_forward

pytest.importorskip("numba")
from actlab.backends import numba_entmax_grad, numba_sparse, numba_sparse_f32, numba_sparse_f32_grad  # noqa: E402
from actlab.backends.numba_vecmath import integer_power  # noqa: E402

BETAS = [1.0, 0.5, 0.25, 1 / 3, 0.75, 0.3, 2.0]


def _rows(K: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.concatenate([
        rng.standard_normal((40, K)),
        rng.standard_normal((10, K)) * 0.01,  # support: most of the row
        rng.standard_normal((10, K)) * 30,
        np.round(rng.standard_normal((10, K)), 1),  # ties
        np.sort(rng.standard_normal((5, K))) + 1e4,  # far from 0
    ]).astype(np.float32)
    x[0] = np.nan
    x[1, K // 2] = -np.nan  # the other sign of NaN
    x[2, 0] = np.inf
    x[3, : (K + 1) // 2] = np.inf
    x[4] = -np.inf
    x[5, : K // 2] = -np.inf
    x[6, 1:] = -np.inf
    return x


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("K", [1, 2, 7, 128, 1000])
def test_forward_matches_screening_kernel(beta, K):
    x = _rows(K)
    y0, m0, s0 = numba_sparse.forward_rows(x, beta, 60)
    y1, m1, s1 = numba_sparse_f32.forward_rows(x, beta, 60)
    assert y1.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(y1), np.isnan(y0))
    np.testing.assert_array_equal(m1, m0)
    np.testing.assert_allclose(y1, y0, rtol=4e-7, atol=1e-30)  # within an ulp or two of float32
    fin = np.isfinite(s0)
    np.testing.assert_array_equal(np.isfinite(s1), fin)
    np.testing.assert_allclose(s1[fin], s0[fin], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("K", [1, 7, 128, 1000])
def test_vjp_matches_support_kernel(beta, K):
    x = _rows(K, 1)
    y = numba_sparse.forward_rows(x, beta, 60)[0]
    g = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    want = numba_entmax_grad.vjp_rows(y, g, beta)
    got = numba_sparse_f32_grad.vjp_rows(y, g, beta)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=4e-7, atol=1e-6 * np.nanmax(np.abs(want)))


def test_dispatch():
    x = np.zeros((2, 128), np.float32)
    assert numba_sparse_f32.takes(x, 1.0) and numba_sparse_f32.takes(x, 0.25)
    assert not numba_sparse_f32.takes(x, 0.75)  # exp/log passes: the screening kernel is faster
    assert not numba_sparse_f32.takes(x.astype(np.float64), 1.0)
    assert not numba_sparse_f32.takes(np.zeros((2, numba_sparse_f32.EXACT_MAX + 1), np.float32), 1.0)
    assert numba_sparse_f32.takes(np.zeros((2, numba_sparse_f32.EXACT_MAX + 1), np.float32), 0.25)
    assert not numba_sparse_f32.takes(np.zeros((2, numba_sparse_f32.SHORT_MAX + 1), np.float32), 0.25)
    assert integer_power(0.25) == 4 and integer_power(0.75) == 0


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.25, 4 / 3, 1.75])
def test_public_float32_agrees_with_array_api(alpha, monkeypatch):
    x = torch.tensor(_rows(128, 3)[7:])  # finite rows and rows with -inf entries
    f = (lambda v: actlab.sparsemax(v)) if alpha == 2.0 else (lambda v: actlab.entmax(v, alpha=alpha))
    xr = x.clone().requires_grad_()
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(4))
    y = f(xr)
    (gx,) = torch.autograd.grad(y, xr, g)
    monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
    xs = x.clone().requires_grad_()
    ys = f(xs)
    (gs,) = torch.autograd.grad(ys, xs, g)
    torch.testing.assert_close(y, ys, rtol=3e-5, atol=3e-6)
    torch.testing.assert_close(gx, gs, rtol=1e-4, atol=1e-5)


def test_bfloat16_rows_use_float32_kernels():
    x = torch.tensor(_rows(128, 5)[7:]).bfloat16().requires_grad_()
    y = actlab.entmax(x, alpha=1.25)
    assert y.dtype == torch.bfloat16
    want = actlab.entmax(x.detach().float(), alpha=1.25).bfloat16()
    torch.testing.assert_close(y, want, rtol=0, atol=0)
    (gx,) = torch.autograd.grad(y, x, torch.ones_like(y))
    assert gx.dtype == torch.bfloat16 and bool(torch.isfinite(gx).all())
