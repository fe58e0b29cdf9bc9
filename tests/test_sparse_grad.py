"""Derivatives of the sparse maps: gradcheck / gradgradcheck in float64 (x and
a learned alpha), the public VJP/JVP/Jacobian against finite differences and
the closed forms, zero gradients at -inf, functorch transforms and
torch.compile."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import actlab

MAPS = {
    "sparsemax": actlab.sparsemax,
    "entmax15": actlab.entmax15,
    "entmax1.3": lambda x, **k: actlab.entmax(x, alpha=1.3, **k),
    "entmax2.5": lambda x, **k: actlab.entmax(x, alpha=2.5, **k),
}


def _x(shape=(3, 6), seed=0, scale=1.5):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).requires_grad_()


@pytest.mark.parametrize("name", list(MAPS))
def test_gradcheck_and_gradgradcheck(name):
    f = MAPS[name]
    x = _x()
    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))
    assert gradcheck(lambda v: f(v, axis=0, temperature=0.7), (x,))


def test_learned_alpha_gradient():
    x = _x((4, 5), seed=1)
    for alpha in (torch.tensor(1.35, dtype=torch.float64), torch.tensor([[1.2], [1.6], [2.0], [3.1]], dtype=torch.float64)):
        a = alpha.clone().requires_grad_()
        assert gradcheck(lambda v, b: actlab.entmax(v, alpha=b), (x, a))
        assert gradgradcheck(lambda v, b: actlab.entmax(v, alpha=b), (x, a))


@pytest.mark.parametrize("name", ["sparsemax", "entmax15", "entmax1.3"])
def test_public_vjp_jvp_jacobian_closed_form(name):
    f = MAPS[name]
    alpha = {"sparsemax": 2.0, "entmax15": 1.5, "entmax1.3": 1.3}[name]
    x = np.random.default_rng(2).standard_normal((2, 7)) * 2
    p = f(x)
    w = np.where(p > 0, p ** (2 - alpha), 0.0)
    J = np.stack([np.diag(wi) - np.outer(wi, wi) / wi.sum() for wi in w])
    fn = f if name != "entmax1.3" else actlab.entmax
    kw = {} if name != "entmax1.3" else {"alpha": 1.3}
    np.testing.assert_allclose(fn.jacobian(x, **kw), J, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(x.shape)
    np.testing.assert_allclose(fn.vjp(x, g, **kw), np.einsum("ni,nij->nj", g, J), atol=1e-12)
    np.testing.assert_allclose(fn.jvp(x, g, **kw), np.einsum("nij,nj->ni", J, g), atol=1e-12)
    # finite differences of the map itself
    h = 1e-6
    fd = (f(x + h * g) - f(x - h * g)) / (2 * h)
    np.testing.assert_allclose(fn.jvp(x, g, **kw), fd, atol=1e-7)


@pytest.mark.parametrize("name", list(MAPS))
def test_zero_gradient_at_minus_inf_and_masked_rows(name):
    f = MAPS[name]
    x = torch.tensor([[1.0, -torch.inf, 0.2, 0.1], [-torch.inf] * 4], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([[0.3, 5.0, -1.0, 2.0], [1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    f(x).backward(g)
    assert torch.isfinite(x.grad).all()
    assert x.grad[0, 1] == 0 and (x.grad[1] == 0).all()
    xn = torch.tensor([[1.0, torch.nan, 0.0]], requires_grad=True)
    f(xn).backward(torch.ones(1, 3))
    assert torch.isnan(xn.grad).all()


def test_grad_without_numba_kernels_matches(monkeypatch):
    from actlab.simplex import sparse_forward

    x = _x((5, 40), seed=4)
    g = torch.randn(5, 40, dtype=torch.float64)
    for f in MAPS.values():
        a = torch.autograd.grad(f(x), x, g)[0]
        monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
        b = torch.autograd.grad(f(x), x, g)[0]
        monkeypatch.setattr(sparse_forward, "USE_COMPILED", True)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_vmap_and_jacrev():
    x = _x((4, 6), seed=5).detach()
    for name, f in MAPS.items():
        alpha = {"sparsemax": 2.0, "entmax15": 1.5, "entmax1.3": 1.3, "entmax2.5": 2.5}[name]
        batched = torch.func.vmap(f)(x)
        torch.testing.assert_close(batched, f(x), rtol=1e-10, atol=1e-12)
        jac = torch.func.jacrev(f)(x[0])
        p = f(x[0])
        w = torch.where(p > 0, p.clamp_min(1e-300) ** (2 - alpha), 0)
        torch.testing.assert_close(jac, torch.diag(w) - torch.outer(w, w) / w.sum(), rtol=1e-9, atol=1e-10)
        jv = torch.func.vmap(torch.func.jacrev(f))(x)
        assert jv.shape == (4, 6, 6)


@pytest.mark.slow
def test_torch_compile_fullgraph_with_grad():
    torch._dynamo.reset()

    def all_maps(x, a):
        return (actlab.sparsemax(x), actlab.entmax15(x, axis=0), actlab.entmax(x, alpha=1.3, n_iter=12),
                actlab.entmax(x, alpha=a, n_iter=12))

    compiled = torch.compile(all_maps, fullgraph=True, backend="eager")
    x = _x((3, 8), seed=6)
    a = torch.tensor(1.6, dtype=torch.float64, requires_grad=True)
    outs = compiled(x, a)
    refs = all_maps(x, a)
    for o, r in zip(outs, refs, strict=True):
        torch.testing.assert_close(o, r, rtol=1e-9, atol=1e-11)
    sum(o.square().sum() for o in outs).backward()
    gx, ga = x.grad.clone(), a.grad.clone()
    x.grad = a.grad = None
    sum(o.square().sum() for o in refs).backward()
    torch.testing.assert_close(gx, x.grad, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(ga, a.grad, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.99, -0.1, 2.0])
def test_entmax_weights_of_tiny_outputs_stay_finite(beta):
    """w = y^(1 - beta) is formed as y * y^(-beta) (the rounded exponent 1 - beta
    would cost |log y| eps/2), except where y^(-beta) overflows (tiny y: the
    subnormal range for beta near 1, below 1e-154 for alpha = 3); every path
    gives the finite power (mpmath: exact powers of the stored y)."""
    import mpmath

    from actlab.backends.numpy import BACKEND as NP
    from actlab.simplex.entmax import entmax_weights

    y = np.array([5e-324, 1e-310, 2.2250738585072014e-308, 1e-200, 1e-160, 0.3, 1.0])
    exact = np.array([float(mpmath.power(mpmath.mpf(v), 1 - mpmath.mpf(beta))) for v in y])  # (inf past the range)
    torch = pytest.importorskip("torch")
    from actlab.backends.torch.sparse_kernels import entmax_weights as torch_weights

    for got in (entmax_weights(y, beta, NP), torch_weights(torch.from_numpy(y), beta).numpy()):
        fin = np.isfinite(exact)
        assert np.all(np.isfinite(got[fin]))
        np.testing.assert_allclose(got[fin], exact[fin], rtol=1e-13)
