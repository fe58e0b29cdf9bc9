"""The fast paths agree with the array-API definition: the numba kernels
(optional extra) with the pure array-API search, the in-place torch kernels
with the array-API VJP, the eager screening with the static (traced) sort
algorithm, and NumPy, PyTorch and array_api_strict with each other."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import actlab
from actlab.simplex import sparse_forward, threshold
from actlab.simplex.entmax import entmax_weights

BETAS = [1.0, 0.5, 0.25, 0.3, 0.75, 2.0]


def _cases():
    rng = np.random.default_rng(11)
    yield rng.standard_normal((6, 9))
    yield rng.standard_normal((4, 3000)) * 0.01      # support: most of the row
    yield rng.standard_normal((3, 4000)) * 3
    yield np.round(rng.standard_normal((5, 700)), 1)  # many ties
    yield np.sort(rng.standard_normal((2, 5000)))     # ascending rows
    yield rng.standard_normal((3, 1)) * 5


@pytest.mark.parametrize("beta", BETAS)
def test_compiled_kernels_match_array_api(beta, monkeypatch):
    pytest.importorskip("numba")
    from actlab.backends.numpy import BACKEND as anp

    for x in _cases():
        fast, tau_fast = sparse_forward.forward(x, beta, 60, anp, with_threshold=True)
        monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
        slow, tau_slow = sparse_forward.forward(x, beta, 60, anp, with_threshold=True)
        monkeypatch.setattr(sparse_forward, "USE_COMPILED", True)
        np.testing.assert_allclose(fast, slow, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(tau_fast, tau_slow, rtol=1e-11, atol=1e-13)
        x32 = x.astype(np.float32)
        f32 = sparse_forward.forward(x32, beta, 60, anp)
        monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
        s32 = sparse_forward.forward(x32, beta, 60, anp)
        monkeypatch.setattr(sparse_forward, "USE_COMPILED", True)
        assert f32.dtype == np.float32
        np.testing.assert_allclose(f32, s32, rtol=3e-5, atol=3e-6)


@pytest.mark.parametrize("beta", [1.0, 0.5, 0.3])
def test_vjp_kernels_match_array_api(beta, monkeypatch):
    from actlab.backends.torch import BACKEND as tx
    from actlab.simplex.entmax import entmax_vjp_math

    y = sparse_forward.forward(torch.randn(7, 500, dtype=torch.float64) * 2, beta, 60, tx)
    g = torch.randn(7, 500, dtype=torch.float64)
    w = entmax_weights(y, beta, tx)
    want = w * (g - (w * g).sum(-1, keepdim=True) / w.sum(-1, keepdim=True))
    got = entmax_vjp_math(y, g, beta, tx)  # compiled, or the in-place kernel
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
    torch.testing.assert_close(entmax_vjp_math(y, g, beta, tx), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_eager_search_matches_static_sort(beta, monkeypatch):
    from actlab.backends.torch import BACKEND as tx

    monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
    for x in _cases():
        xt = torch.tensor(x)
        eager = sparse_forward.forward(xt, beta, 60, tx)
        monkeypatch.setattr(threshold, "static_required", lambda v, xp: True)
        static = sparse_forward.forward(xt, beta, 60, tx)
        monkeypatch.undo()
        monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
        torch.testing.assert_close(eager, static, rtol=1e-11, atol=1e-14)


def test_array_api_strict_matches_numpy():
    xps = pytest.importorskip("array_api_strict")
    x = np.random.default_rng(2).standard_normal((3, 50)) * 2
    for f in (actlab.sparsemax, actlab.entmax15, lambda v, **k: actlab.entmax(v, alpha=1.4, **k)):
        got = f(xps.asarray(x), axis=0)
        assert type(got).__module__.startswith("array_api_strict")
        np.testing.assert_allclose(np.asarray(got), f(x, axis=0), rtol=1e-11, atol=1e-14)


def test_non_contiguous_and_batched_tensors():
    x = torch.randn(5, 6, 40, dtype=torch.float64)
    for f in (actlab.sparsemax, actlab.entmax15):
        a = f(x.transpose(0, 2), axis=0)
        b = f(x.transpose(0, 2).contiguous(), axis=0)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(f(x, axis=1).sum(1), torch.ones(5, 40, dtype=torch.float64))
