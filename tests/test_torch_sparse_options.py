"""The ``entmax`` package's options on actlab's torch wrappers: the partial-sort
budget ``k=`` of sparsemax / entmax15 (and the Sparsemax / Entmax15 modules),
and ``ensure_sum_one`` of entmax_bisect / sparsemax_bisect.

Oracles: the sort-based algorithms written here in NumPy float64 (Martins &
Astudillo 2016, Algorithm 1; its 1.5-entmax analogue, Peters, Niculae &
Martins 2019), the ``entmax`` package itself (same ``k``; its bisection with
many iterations), and the definition of the simplex: sums computed exactly
(math.fsum) on the returned values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import actlab.torch as at
import actlab.torch.functional as AF
from actlab.simplex import sparse_forward

RNG = np.random.default_rng(20261203)
entmax_pkg = pytest.importorskip("entmax")


@pytest.fixture(params=["compiled", "array-api"])
def path(request, monkeypatch):
    """Both eager searches: the compiled row kernels (CPU) and the array-API one."""
    if request.param == "array-api":
        monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
    return request.param


def _sort_reference(x, beta):
    """Sparsemax (beta 1) or 1.5-entmax (beta 1/2) of the rows of ``x`` by a full sort, float64."""
    out = np.zeros_like(x)
    for i, row in enumerate(x):
        if beta == 1.0:
            z = np.sort(row)[::-1]
            rho = np.arange(1, z.size + 1)
            cs = np.cumsum(z)
            k = rho[1 + rho * z > cs][-1]
            out[i] = np.maximum(row - (cs[k - 1] - 1) / k, 0.0)
        else:
            z = np.sort(row / 2)[::-1]
            rho = np.arange(1, z.size + 1)
            mean = np.cumsum(z) / rho
            ss = np.cumsum(z * z) - rho * mean * mean
            tau = mean - np.sqrt(np.clip((1 - ss) / rho, 0, None))
            k = rho[tau <= z][-1]
            out[i] = np.maximum(row / 2 - tau[k - 1], 0.0) ** 2
    return out


# -- k= ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,beta", [("sparsemax", 1.0), ("entmax15", 0.5)])
@pytest.mark.parametrize("K", [40, 3000])
def test_k_gives_the_same_result(name, beta, K, path):
    fn = getattr(AF, name)
    x = torch.tensor(RNG.normal(scale=3.0 if K == 40 else 1.0, size=(6, K)), requires_grad=True)
    ref = _sort_reference(x.detach().numpy(), beta)
    support = (ref > 0).sum(-1)
    smin, smax = int(support.min()), int(support.max())
    assert smax >= 2
    g = torch.tensor(RNG.normal(size=(6, K)))
    base = fn(x, -1)
    gbase, = torch.autograd.grad(base, x, g)
    np.testing.assert_allclose(base.detach().numpy(), ref, rtol=0, atol=1e-13)
    pkg = getattr(entmax_pkg, name)
    # smaller than the support, equal to it, larger, the whole row, beyond the row, and 1
    for k in sorted({1, max(smin - 1, 1), smax - 1, smax, smax + 1, K, K + 7}):
        y = fn(x, -1, k)
        gy, = torch.autograd.grad(y, x, g)
        assert torch.equal(y, base) and torch.equal(gy, gbase), k
        np.testing.assert_allclose(y.detach().numpy(), pkg(x.detach(), -1, k=k).numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["sparsemax", "entmax15"])
def test_k_in_traced_code_and_other_dims(name):
    fn = getattr(AF, name)
    x = torch.tensor(RNG.normal(size=(4, 30, 3)))
    eager = fn(x, 1)
    for k in (1, 3, 30, 100):
        torch.testing.assert_close(fn(x, 1, k), eager, rtol=0, atol=0)
        traced = torch.func.vmap(lambda r, k=k: fn(r, 0, k))(x)  # the full-sort path, axis not last
        torch.testing.assert_close(traced, eager, rtol=0, atol=1e-15)
    meta = fn(torch.empty(4, 30, device="meta"), -1, 3)
    assert meta.shape == (4, 30) and meta.device.type == "meta"


def test_k_modules():
    x = torch.tensor(RNG.normal(size=(5, 12)))
    assert torch.equal(at.Sparsemax(k=1)(x), at.Sparsemax()(x))
    assert torch.equal(at.Entmax15(dim=0, k=np.int64(4))(x), AF.entmax15(x, 0))
    assert "k=2" in repr(at.Sparsemax(k=2)) and "k=" not in repr(at.Sparsemax())


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4", 1.0])
def test_k_validated(bad):
    x = torch.zeros(2, 3)
    for call in (lambda: AF.sparsemax(x, -1, bad), lambda: AF.entmax15(x, -1, bad),
                 lambda: at.Sparsemax(k=bad), lambda: at.Entmax15(k=bad)):
        with pytest.raises((TypeError, ValueError), match=f"k must be an integer.*got {bad!r}"):
            call()


# -- ensure_sum_one --------------------------------------------------------------------------------

def _hard_rows(dtype):
    fi = torch.finfo(dtype)
    g = torch.Generator().manual_seed(7)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    rows = {
        "near ties, 1e5": 1.0 + 1e-3 * randn(2, 100000),
        "all equal, 12345": torch.zeros(2, 12345, dtype=torch.float64),
        "all equal, 3000": torch.zeros(2, 3000, dtype=torch.float64),  # the short-row float32 kernel
        "randn, 2e4": randn(2, 20000),
        "huge offset": 1e30 + 1e24 * randn(2, 1000),
        "near the float max": fi.max * (1.0 - 1e-3 * torch.rand(2, 500, generator=g, dtype=torch.float64)),
        "one dominant": torch.cat([torch.full((2, 1), 50.0, dtype=torch.float64), 1e-3 * randn(2, 5000)], -1),
        "wide range": 1e4 * randn(2, 3000),
        "subnormal spread": fi.tiny * randn(2, 3000),
        "a few finite, many -inf": torch.where(torch.rand(2, 3000, generator=g) < 0.99, -math.inf, randn(2, 3000)),
    }
    return {k: v.to(dtype) for k, v in rows.items()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("alpha", [0.5, 1.25, 1.5, 2.0, 3.0, 10.0])
def test_ensure_sum_one_on_hard_rows(dtype, alpha, path):
    eps = torch.finfo(dtype).eps
    for name, x in _hard_rows(dtype).items():
        y = AF.entmax_bisect(x, alpha, -1, 50, True)
        assert torch.equal(AF.entmax_bisect(x, alpha, -1, 50, False), y), name
        for row in y.double().tolist():
            assert abs(math.fsum(row) - 1.0) <= 8 * eps, (name, math.fsum(row) - 1.0)
        assert bool((y >= 0).all()), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sparsemax_bisect_is_exact_sparsemax(dtype, path):
    for name, x in _hard_rows(dtype).items():
        y = AF.sparsemax_bisect(x, -1, 50, False)
        assert torch.equal(y, AF.sparsemax(x, -1)) and torch.equal(y, AF.sparsemax_bisect(x)), name


def test_against_the_package_bisection():
    """Many bisection steps of the package give the map; a few leave its
    unnormalised iterate off the simplex, which actlab does not reproduce."""
    x = torch.tensor(RNG.normal(scale=2.0, size=(8, 50)))
    for alpha in (1.25, 1.5, 2.0, 3.0):
        ref = entmax_pkg.entmax_bisect(x, alpha, -1, 200, True)
        torch.testing.assert_close(AF.entmax_bisect(x, alpha, -1, 50, False), ref, rtol=0, atol=1e-12)
    rough = entmax_pkg.entmax_bisect(x, 1.25, -1, 8, False)
    assert (rough.sum(-1) - 1.0).abs().max() > 1e-4
    ours = AF.entmax_bisect(x, 1.25, -1, 8, False)
    assert (ours.sum(-1) - 1.0).abs().max() <= 8 * torch.finfo(torch.float64).eps


@pytest.mark.parametrize("bad", [1, 0, None, "yes", 1.0])
def test_ensure_sum_one_validated(bad):
    x = torch.zeros(2, 3)
    with pytest.raises(TypeError, match=f"ensure_sum_one must be a bool, got {bad!r}"):
        AF.entmax_bisect(x, 1.5, -1, 50, bad)
    with pytest.raises(TypeError, match=f"ensure_sum_one must be a bool, got {bad!r}"):
        AF.sparsemax_bisect(x, -1, 50, bad)
    assert torch.equal(AF.entmax_bisect(x, 1.5, -1, 50, np.bool_(False)), AF.entmax_bisect(x))


def test_sparsemax_loss_takes_the_packages_k():
    """``sparsemax_loss(X, target, k)`` and ``SparsemaxLoss(k=...)`` as in the
    entmax package: checked, and the loss is the same for every k."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 40, generator=g, dtype=torch.float64)
    t = torch.randint(0, 40, (6,), generator=g)
    ref = AF.sparsemax_loss(x, t)
    for k in (1, 3, 40, 100):
        assert torch.equal(AF.sparsemax_loss(x, t, k=k), ref)
        assert torch.equal(at.SparsemaxLoss(k=k)(x, t), ref)
    for bad in (0, -1, 2.5, True):
        with pytest.raises((TypeError, ValueError), match="k"):
            at.SparsemaxLoss(k=bad)
        with pytest.raises((TypeError, ValueError), match="k"):
            AF.sparsemax_loss(x, t, k=bad)
