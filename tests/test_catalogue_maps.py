"""sparsegen_lin, sparsehourglass, alpha_relu, softpick, normmax,
budget_sparsemax and entmax with 0 < alpha < 1.

Oracles: the ``entmax`` package (normmax_bisect, budget_bisect, entmax_bisect;
values and gradients, and its own test cases), the authors' sort-based
formulas of Laha et al. 2018 re-written here in NumPy (independent of
actlab's threshold search), the naive softpick formula of Zuhri et al. 2025 in
float64 and mpmath at 50 digits, mpmath for alpha-ReLU, finite differences
and torch.autograd.gradcheck in float64.
"""

from __future__ import annotations

import math
import warnings

import entmax as E
import mpmath
import numpy as np
import pytest
import torch

import actlab
import actlab.torch as at

RNG = np.random.default_rng(7)
NEW_MAPS = ("sparsegen_lin", "sparsehourglass", "alpha_relu", "softpick", "normmax", "budget_sparsemax")


def _t(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


# -- independent references ----------------------------------------------------------------------

def sort_sparsemax(z, lam=0.0):
    """Laha et al.'s sparsegen-lin by sorting (Martins & Astudillo's Algorithm 1 with 1 - lam)."""
    zs = np.sort(z)[::-1]
    k = np.arange(1, z.size + 1)
    cs = np.cumsum(zs)
    kz = k[1 - lam + k * zs > cs].max()
    tau = (cs[kz - 1] - 1 + lam) / kz
    return np.maximum(z - tau, 0) / (1 - lam)


def hourglass_ref(z, q):
    """The authors' code: scale by (1 + Kq)/(|sum z| + Kq), then sparsemax."""
    return sort_sparsemax((1 + z.size * q) / (abs(z.sum()) + z.size * q) * z)


def test_registered_and_listed():
    names = {e.name for e in actlab.registry("simplex")}
    assert set(NEW_MAPS) <= names
    for n in NEW_MAPS:
        e = actlab.get(n)
        assert e.latex and e.dlatex and e.reference and e.derivative is not None


# -- sparsegen-lin and sparsehourglass ------------------------------------------------------------

@pytest.mark.parametrize("lam", [-3.0, -0.5, 0.0, 0.4, 0.9])
def test_sparsegen_lin_sort_reference(lam):
    for _ in range(10):
        z = RNG.normal(size=7) * 2
        np.testing.assert_allclose(actlab.sparsegen_lin(z, lam), sort_sparsemax(z, lam), rtol=1e-13, atol=1e-15)
    assert actlab.sparsegen_lin([0.0, 1.0], 0.0).tolist() == actlab.sparsemax([0.0, 1.0]).tolist()


@pytest.mark.parametrize("q", [0.01, 0.5, 3.0])
def test_sparsehourglass_authors_formula(q):
    for _ in range(10):
        z = RNG.normal(size=6) * 3
        np.testing.assert_allclose(actlab.sparsehourglass(z, q), hourglass_ref(z, q), rtol=1e-12, atol=1e-15)
    z = np.array([1.0, 2.0, -np.inf, 5.0])  # masked entry: out of the sum and of K
    np.testing.assert_allclose(actlab.sparsehourglass(z, q)[[0, 1, 3]], hourglass_ref(z[[0, 1, 3]], q), rtol=1e-13)


def test_sparsehourglass_limits():
    z = RNG.uniform(0.1, 2.0, size=5)
    np.testing.assert_allclose(actlab.sparsehourglass(z, 1e9), actlab.sparsemax(z), atol=1e-7)


# -- alpha-ReLU ------------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha,tau", [(1.5, 0.0), (1.25, 0.3), (2.0, -0.5), (3.0, 1.0)])
def test_alpha_relu_mpmath(alpha, tau):
    mpmath.mp.dps = 50
    x = np.concatenate([RNG.normal(size=20) * 4, [0.0, 1e-300, -1e300, 1e6]])
    y = actlab.alpha_relu(x, alpha, tau)
    g = actlab.alpha_relu.vjp(x, np.ones_like(x), alpha, tau)
    for xi, yi, gi in zip(x, y, g):
        u = (mpmath.mpf(alpha) - 1) * mpmath.mpf(xi) - mpmath.mpf(tau)
        ref = u ** (1 / (mpmath.mpf(alpha) - 1)) if u > 0 else mpmath.mpf(0)
        dref = u ** ((2 - mpmath.mpf(alpha)) / (mpmath.mpf(alpha) - 1)) if u > 0 else mpmath.mpf(0)
        assert abs(yi - float(ref)) <= 4 * np.spacing(float(ref)) + 1e-300
        assert abs(gi - float(dref)) <= 4 * np.spacing(float(dref)) + 1e-300


def test_alpha_relu_is_entmax_with_its_threshold():
    """With tau set to entmax's own threshold alpha-ReLU reproduces entmax (Tezekbayev et al.'s premise)."""
    z = RNG.normal(size=(4, 6))
    tau, _ = actlab.entmax_threshold(z, alpha=1.5)
    for row, t in zip(z, tau[:, 0]):
        np.testing.assert_allclose(actlab.alpha_relu(row, 1.5, float(t)), actlab.entmax15(row), rtol=1e-12, atol=1e-15)


# -- softpick --------------------------------------------------------------------------------------

def softpick_naive(x, eps=1e-6):
    e = np.exp(x) - 1
    return np.maximum(e, 0) / (np.abs(e).sum(-1, keepdims=True) + eps)


def test_softpick_naive_and_mpmath():
    x = RNG.normal(size=(5, 8)) * 3
    np.testing.assert_allclose(actlab.softpick(x), softpick_naive(x), rtol=1e-13, atol=0)
    mpmath.mp.dps = 50
    for row in (np.array([1e-8, -2e-9, 3.0, 700.0, 709.0]), np.array([1e-300, 5e-324, -1.0, 0.0])):
        y = actlab.softpick(row)
        ex = [mpmath.expm1(mpmath.mpf(v)) for v in row]
        den = mpmath.fsum(abs(v) for v in ex) + mpmath.mpf("1e-6")
        for yi, ei in zip(y, ex):
            ref = float(max(ei, 0) / den)
            assert abs(yi - ref) <= 4 * np.spacing(ref) + 1e-320, (yi, ref)


def test_softpick_masks_and_limits():
    x = np.array([[2.0, -np.inf, 1.0, -1.0], [-np.inf] * 4, [1e308, 2.0, np.inf, np.inf], [np.nan, 0, 1, 2]])
    y = actlab.softpick(x)
    ref = np.zeros(4)
    ref[[0, 2, 3]] = softpick_naive(x[0][[0, 2, 3]])  # a -inf key is left out of the denominator
    np.testing.assert_allclose(y[0], ref, rtol=1e-14)
    assert y[1].tolist() == [0.0] * 4 and y[2].tolist() == [0.0, 0.0, 0.5, 0.5] and np.isnan(y[3]).all()
    m = np.array([True, False, True, True])
    np.testing.assert_array_equal(actlab.softpick(x[0], where=m), y[0])


def test_softpick_is_the_attention_normaliser():
    from actlab._attention.normalizers import dense_weights, get_normalizer

    s = torch.tensor(RNG.normal(size=(2, 3, 5)) * 2)
    allowed = torch.tensor(RNG.uniform(size=(2, 3, 5)) < 0.7)
    s = s.masked_fill(~allowed, -math.inf)
    n = allowed.sum(-1, keepdim=True).double()
    w = dense_weights(get_normalizer("softpick"), s, allowed, n, {"eps": 1e-6}, actlab._backend.backend_of(s))
    e = np.where(allowed, np.expm1(np.where(allowed, s.numpy(), 0.0)), 0.0)
    ref = np.maximum(e, 0) / (np.abs(e).sum(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-13, atol=0)


# -- the entmax package as oracle ------------------------------------------------------------------

def test_entmax_package_test_cases():
    x = np.array([0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(actlab.normmax(x), [0.0, 0.0239, 0.1746, 0.3254, 0.4761], atol=5e-5)
    np.testing.assert_allclose(actlab.normmax(x, 1000.0), [0.0, 0.0, 0.3330, 0.3334, 0.3336], atol=5e-5)
    np.testing.assert_allclose(actlab.budget_sparsemax(x, 2), [0.0, 0.125, 0.375, 0.625, 0.875], atol=1e-15)
    np.testing.assert_allclose(actlab.budget_sparsemax(2 * x, 3), [0.0, 0.25, 0.75, 1.0, 1.0], atol=1e-15)
    for c in (1, 2, 3, 4, 5):
        np.testing.assert_allclose(actlab.budget_sparsemax(c * x, 1), actlab.sparsemax(c * x), atol=1e-15)


@pytest.mark.parametrize("name,kw,oracle", [
    ("normmax", {"alpha": 2.0}, lambda x: E.normmax_bisect(x, alpha=2.0, n_iter=100)),
    ("normmax", {"alpha": 1.5}, lambda x: E.normmax_bisect(x, alpha=1.5, n_iter=100)),
    ("normmax", {"alpha": 4.0}, lambda x: E.normmax_bisect(x, alpha=4.0, n_iter=100)),
    ("budget_sparsemax", {"budget": 2.0}, lambda x: E.budget_bisect(x, budget=2.0, n_iter=100)),
    ("budget_sparsemax", {"budget": 3.5}, lambda x: E.budget_bisect(x, budget=3.5, n_iter=100)),
    ("entmax", {"alpha": 0.5}, lambda x: E.entmax_bisect(x, alpha=0.5, n_iter=100)),
    ("entmax", {"alpha": 0.9}, lambda x: E.entmax_bisect(x, alpha=0.9, n_iter=100)),
])
def test_against_entmax_package(name, kw, oracle):
    fn = getattr(actlab, name)
    x = _t(RNG.normal(size=(6, 7)) * 1.5)
    y = fn(x, **kw)
    yr = oracle(x)
    torch.testing.assert_close(y, yr, rtol=1e-10, atol=1e-12)
    g = torch.tensor(RNG.normal(size=(6, 7)))
    (gx,) = torch.autograd.grad((y * g).sum(), x)
    (gr,) = torch.autograd.grad((yr * g).sum(), x)
    torch.testing.assert_close(gx, gr, rtol=1e-8, atol=1e-10)


# -- gradients: gradcheck, finite differences, the public vjp/jvp ----------------------------------

CASES = [
    ("sparsegen_lin", (0.3,)), ("sparsehourglass", (0.5,)), ("alpha_relu", (1.5, 0.2)), ("softpick", (1e-6,)),
    ("normmax", (2.0, 50)), ("normmax", (3.0, 50)), ("budget_sparsemax", (2.0, 50)), ("entmax", (0.6, 50)),
]


@pytest.mark.parametrize("name,args", CASES)
def test_gradcheck_float64(name, args):
    fn = getattr(actlab, name)
    x = _t(RNG.normal(size=(3, 5)) * 1.5)
    assert torch.autograd.gradcheck(lambda v: fn(v, *args), (x,))
    assert torch.autograd.gradcheck(lambda v: fn(v, *args, axis=0), (x,))


@pytest.mark.parametrize("name,args", CASES)
def test_numpy_vjp_jvp_finite_differences(name, args):
    fn = getattr(actlab, name)
    x = RNG.normal(size=(2, 5)) * 1.5
    v, g = RNG.normal(size=x.shape), RNG.normal(size=x.shape)
    h = 1e-6
    fd = (fn(x + h * v, *args) - fn(x - h * v, *args)) / (2 * h)
    np.testing.assert_allclose(fn.jvp(x, v, *args), fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.sum(fn.vjp(x, g, *args) * v), np.sum(g * fd), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name,args", CASES)
def test_masked_entries_and_warnings(name, args):
    fn = getattr(actlab, name)
    x = np.array([[1.0, -np.inf, 0.3, -0.7, 2.0], [-np.inf] * 5, [1e308, -1e308, 5e-324, -np.inf, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(x, *args)
    assert y[0, 1] == 0 and np.all(y[1] == 0) and np.all(np.isfinite(y[:, 1:]))
    t = _t(x)
    (gx,) = torch.autograd.grad((fn(t, *args) * torch.arange(5.0, dtype=torch.float64)).sum(), t)
    assert torch.all(torch.isfinite(gx)) and gx[0, 1] == 0 and torch.all(gx[1] == 0)


def test_torch_modules_and_compat_names():
    x = torch.tensor(RNG.normal(size=(3, 6)))
    torch.testing.assert_close(at.Normmax(1.5)(x), E.normmax_bisect(x, alpha=1.5, n_iter=100), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(at.BudgetSparsemax(2.0, dim=0)(x), E.budget_bisect(x, budget=2.0, dim=0, n_iter=100),
                               rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(at.entmax_bisect(x, 1.3, ensure_sum_one=False), E.entmax_bisect(x, 1.3, n_iter=100),
                               rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(at.sparsemax(x, 1, k=2), E.sparsemax(x, 1, k=2))
    torch.testing.assert_close(at.entmax15(x, -1, k=3), E.entmax15(x, -1, k=3))
    for cls, bad in ((at.SparsegenLin, {"lam": 1.0}), (at.Sparsehourglass, {"q": 0.0}), (at.AlphaReLU, {"alpha": 1.0}),
                     (at.Softpick, {"eps": -1.0}), (at.Normmax, {"alpha": 1.0}), (at.BudgetSparsemax, {"budget": 0})):
        with pytest.raises(ValueError, match=next(iter(bad))):
            cls(**bad)
    with pytest.raises(ValueError, match="lam"):
        actlab.sparsegen_lin([1.0, 2.0], 1.5)
    assert actlab.budget_sparsemax([1.0, 2.0, -np.inf], 3.0).tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="k"):
        at.sparsemax(x, 1, k=0)


@pytest.mark.slow
def test_jax_through_the_backend_layer():
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        _jax_cases(jax)


def _jax_cases(jax):
    import jax.numpy as jnp

    x = RNG.normal(size=(2, 5))
    g = RNG.normal(size=(2, 5))
    for name, args in CASES:
        fn = getattr(actlab, name)
        yj = fn(jnp.asarray(x), *args)
        np.testing.assert_allclose(np.asarray(yj), fn(x, *args), rtol=1e-12, atol=1e-15)
        gj = jax.grad(lambda v, fn=fn, args=args: jnp.sum(fn(v, *args) * g))(jnp.asarray(x))
        np.testing.assert_allclose(np.asarray(gj), fn.vjp(x, g, *args), rtol=1e-10, atol=1e-13)
