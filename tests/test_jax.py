"""JAX: every function, map and loss on JAX arrays and inside ``jit``,
``grad``, ``vmap``, ``jacfwd``/``jacrev``, with actlab's derivatives as the
custom JVP rules; the sparse maps' shape-static search under ``jit``; no
warning without 64-bit mode. Accuracy against mpmath: ``test_jax_accuracy.py``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import actlab  # noqa: E402
from actlab._backend import backend_of  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6)) * 2.0
X[1, 2] = X[1, 4]  # a tie
F32 = X.astype(np.float32)

# maps: (name, keyword arguments)
MAPS = [
    ("softmax", {}), ("softmax", {"temperature": 0.5}), ("softmin", {}), ("log_softmax", {}),
    ("spherical_softmax", {}), ("taylor_softmax", {}), ("sparsemax", {}), ("entmax15", {}),
    pytest.param("entmax", {"alpha": 1.3}, marks=pytest.mark.slow),  # bisection: long compiles
    pytest.param("entmax", {"alpha": 2.5}, marks=pytest.mark.slow),
]
MAP_IDS = ["softmax", "softmax-T", "softmin", "log_softmax", "spherical", "taylor", "sparsemax", "entmax15",
           "entmax-1.3", "entmax-2.5"]


@pytest.fixture(autouse=True)
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_jax_arrays_and_tracers_resolve_to_the_jax_backend():
    b = backend_of(jnp.zeros(2))
    assert b.name == "jax" and b.flushes_subnormals and b.kernels.erfc is not None
    seen = []
    jax.jit(lambda v: seen.append(backend_of(v)) or v)(jnp.zeros(2))
    jax.grad(lambda v: seen.append(backend_of(v)) or v)(1.0)
    assert all(s is b for s in seen) and len(seen) == 2
    assert b.may_branch(jnp.zeros(1))
    jax.jit(lambda v: seen.append(b.may_branch(v)) or v)(jnp.zeros(2))
    assert seen[-1] is False


def test_gelu_grad_is_actlabs_derivative():
    g = jax.grad(actlab.gelu)(-10.0)
    assert g.dtype == jnp.float32
    np.testing.assert_allclose(float(g), actlab.gelu.derivative(np.float32(-10.0)), rtol=1e-6)
    assert float(g) != 0.0  # the autodiff of a float32 formula underflows here


def test_float32_without_x64_computes_in_float64_and_stays_float32():
    assert not jax.config.jax_enable_x64
    for name in ("gelu", "mish", "softplus", "tanh"):
        f = getattr(actlab, name)
        y = f(jnp.asarray(F32))
        assert y.dtype == jnp.float32
        # the float64 result rounded once (NumPy's own float32 lanes, e.g. np.tanh, may differ by an ULP)
        ref = f(F32.astype(np.float64)).astype(np.float32)
        np.testing.assert_array_max_ulp(np.asarray(y), ref, maxulp=1)
        np.testing.assert_array_max_ulp(np.asarray(jax.jit(f)(jnp.asarray(F32))), ref, maxulp=1)
    assert not jax.config.jax_enable_x64  # the scope did not leak


@pytest.mark.parametrize("name", [e.name for e in actlab.registry("elementwise")])
def test_elementwise_jit_grad_vmap_agree_with_numpy(name):
    kw = {"prelu": {"weight": 0.25}, "threshold": {"threshold": 0.5, "value": -1.0}}.get(name, {})
    f = lambda v: actlab.get(name).function(v, **kw)  # noqa: E731
    d = lambda v: actlab.get(name).derivative(v, **kw)  # noqa: E731
    x = F32.ravel()
    ref, dref = f(x), d(x)
    xj = jnp.asarray(x)
    np.testing.assert_allclose(np.asarray(f(xj)), ref, rtol=2e-7, atol=1e-30)
    np.testing.assert_allclose(np.asarray(jax.jit(f)(xj)), ref, rtol=2e-7, atol=1e-30)
    grads = jax.jit(jax.vmap(jax.grad(f)))(xj)
    np.testing.assert_allclose(np.asarray(grads), dref, rtol=2e-7, atol=1e-30)
    np.testing.assert_allclose(np.asarray(d(xj)), dref, rtol=2e-7, atol=1e-30)


def test_parameters_as_arrays_get_their_partial_derivatives():
    x = jnp.asarray(F32[0])
    b = jnp.float32(1.5)
    gb = jax.grad(lambda beta: actlab.swish(x, beta).sum())(b)
    np.testing.assert_allclose(float(gb), actlab.swish.derivative(F32[0], 1.5, wrt="beta").sum(), rtol=1e-5)
    xc = jnp.asarray(F32[:, :3].T)  # (N, C) with C = 3 channels on axis 1
    w = jnp.full((3,), 0.25, jnp.float32)
    gw = jax.grad(lambda a: actlab.prelu(xc, a).sum())(w)
    assert gw.shape == (3,)
    np.testing.assert_allclose(np.asarray(gw), np.minimum(F32[:, :3].T, 0.0).sum(0), rtol=1e-6)


def _wsum(name, kw, w):
    f = getattr(actlab, name)
    return lambda v: jnp.sum(w * f(v, **kw))


@pytest.mark.parametrize(("name", "kw"), MAPS, ids=MAP_IDS)
def test_maps_under_jit_grad_vmap_jacobians_agree_with_numpy(name, kw):
    f = getattr(actlab, name)
    x, xj = F32, jnp.asarray(F32)
    ref = f(x, **kw)
    np.testing.assert_allclose(np.asarray(f(xj, **kw)), ref, rtol=3e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda v: f(v, **kw))(xj)), ref, rtol=3e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(jax.vmap(lambda v: f(v, **kw))(xj)), ref, rtol=3e-6, atol=1e-7)
    w = RNG.normal(size=x.shape).astype(np.float32)
    g = jax.jit(jax.grad(_wsum(name, kw, jnp.asarray(w))))(xj)
    np.testing.assert_allclose(np.asarray(g), f.vjp(x, w, **kw), rtol=1e-4, atol=1e-6)
    jac = f.jacobian(x[0], **kw)
    np.testing.assert_allclose(np.asarray(jax.jacfwd(lambda v: f(v, **kw))(xj[0])), jac, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.jacrev(lambda v: f(v, **kw)))(xj[0])), jac, rtol=1e-4,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["sparsemax", "entmax15"])
def test_sparse_maps_under_jit_keep_the_numpy_support(name):
    f = getattr(actlab, name)
    x = RNG.normal(size=(64, 700)).astype(np.float32) * 3  # long rows: the block search in NumPy
    y, yj = f(x), np.asarray(jax.jit(f)(jnp.asarray(x)))
    np.testing.assert_array_equal(yj > 0, y > 0)
    np.testing.assert_allclose(yj, y, rtol=1e-5, atol=1e-7)
    tau, k = actlab.sparsemax_threshold(x) if name == "sparsemax" else actlab.entmax_threshold(x, 1.5)
    tj, kj = jax.jit(actlab.sparsemax_threshold if name == "sparsemax" else
                     (lambda v: actlab.entmax_threshold(v, 1.5)))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(tj), tau, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(kj), k)


@pytest.mark.parametrize(("name", "kw"), MAPS, ids=MAP_IDS)
def test_check_grads_of_each_map_in_float64(name, kw):
    f = getattr(actlab, name)
    with jax.enable_x64(True):
        x = jnp.asarray(X[:2])
        check_grads(jax.jit(lambda v: f(v, **kw)), (x,), order=1, modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)


def test_check_grads_of_logsumexp_and_elementwise():
    with jax.enable_x64(True):
        x = jnp.asarray(X[:2])
        check_grads(jax.jit(lambda v: actlab.logsumexp(v, axis=-1)), (x,), order=1, modes=("fwd", "rev"))
        for name in ("gelu", "softplus"):
            check_grads(jax.jit(actlab.get(name).function), (x,), order=1, modes=("fwd", "rev"))


@pytest.mark.slow
def test_check_grads_second_order():
    with jax.enable_x64(True):
        x = jnp.asarray(X[:2])
        for name in ("mish", "sigmoid", "elu", "silu"):
            check_grads(jax.jit(actlab.get(name).function), (x,), order=2, modes=("fwd", "rev"))


def test_logsumexp_log_softmax_cross_entropy_on_jax_arrays():
    xj = jnp.asarray(F32)
    t = np.array([0, 3, 5])
    np.testing.assert_allclose(np.asarray(actlab.logsumexp(xj, axis=-1)), actlab.logsumexp(F32, axis=-1), rtol=1e-7)
    np.testing.assert_allclose(np.asarray(actlab.log_softmax(xj)), actlab.log_softmax(F32), rtol=1e-6)
    for loss in (actlab.cross_entropy, actlab.sparsemax_loss, actlab.entmax_loss):
        ref = loss(F32, t)
        val = jax.jit(lambda z, loss=loss: loss(z, jnp.asarray(t)))(xj)
        np.testing.assert_allclose(float(val), float(ref), rtol=1e-5)
        g = jax.grad(lambda z, loss=loss: loss(z, jnp.asarray(t)))(xj)
        p = {"cross_entropy": actlab.softmax, "sparsemax_loss": actlab.sparsemax,
             "entmax_loss": actlab.entmax15}[loss.__name__](F32)
        expected = (p - np.eye(6, dtype=np.float32)[t]) / 3
        np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-4, atol=1e-6)
    y = (RNG.random(F32.shape) > 0.5).astype(np.float32)
    np.testing.assert_allclose(
        float(jax.jit(actlab.binary_cross_entropy_with_logits)(xj, jnp.asarray(y))),
        float(actlab.binary_cross_entropy_with_logits(F32, y)), rtol=1e-6)
    np.testing.assert_allclose(float(actlab.distillation_loss(xj, xj[::-1], temperature=2.0)),
                               float(actlab.distillation_loss(F32, F32[::-1], temperature=2.0)), rtol=1e-5)


def test_learned_alpha_is_a_custom_vjp():
    x = jnp.asarray(F32)
    a = jnp.full((3, 1), 1.4, jnp.float32)
    ga = jax.grad(lambda al: actlab.entmax(x, al).sum() + (actlab.entmax(x, al) ** 2).sum())(a)
    eps = 1e-3
    fd = (np.sum(actlab.entmax(F32, 1.4 + eps) ** 2, axis=-1) - np.sum(actlab.entmax(F32, 1.4 - eps) ** 2, axis=-1)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(ga)[:, 0], fd, rtol=2e-2, atol=1e-3)


def test_non_finite_rows_under_jit():
    x = jnp.asarray([[0.0, -jnp.inf, 1.0], [-jnp.inf, -jnp.inf, -jnp.inf], [jnp.inf, 0.0, jnp.inf]])
    for name in ("softmax", "sparsemax", "entmax15"):
        f = getattr(actlab, name)
        np.testing.assert_allclose(np.asarray(jax.jit(f)(x)), f(np.asarray(x)), rtol=3e-7, atol=0)
        g = jax.grad(lambda v, f=f: f(v)[0, 0])(x)
        assert not np.isnan(np.asarray(g)).any()


def test_random_draws_from_a_jax_key():
    key = jax.random.key(0)
    x = -jnp.ones(5)
    y = jax.jit(lambda v, k: actlab.rrelu(v, training=True, generator=k))(x, key)
    assert np.all((np.asarray(y) <= -1 / 8) & (np.asarray(y) >= -1 / 3))
    s = jax.jit(lambda v, k: actlab.gumbel_softmax(v, generator=k, hard=True))(jnp.asarray(F32), key)
    np.testing.assert_array_equal(np.asarray(s).sum(-1), 1.0)
    g = jax.grad(lambda v: actlab.gumbel_softmax(v, generator=key, hard=True)[:, 0].sum())(jnp.asarray(F32))
    assert np.abs(np.asarray(g)).sum() > 0  # straight-through
    with pytest.raises(ValueError, match="jax.random.key"):
        jax.jit(lambda v: actlab.rrelu(v, training=True))(x)
    np.testing.assert_array_equal(np.asarray(actlab.rrelu(x, training=True, generator=3)),
                                  actlab.rrelu(np.asarray(x), training=True, generator=3))


def test_gated_units_and_maxout():
    xj = jnp.asarray(F32)
    for name in ("glu", "reglu", "geglu", "swiglu"):
        f = getattr(actlab, name)
        np.testing.assert_allclose(np.asarray(jax.jit(f)(xj)), f(F32), rtol=1e-6, atol=1e-7)
        assert jax.grad(lambda v, f=f: f(v).sum())(xj).shape == xj.shape
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda v: actlab.maxout(v, pieces=2))(xj)),
                                  actlab.maxout(F32, pieces=2))


def test_error_free_sums_stay_exact_under_jit():
    # XLA folds (c + b) - c to b for a constant c: TwoSum and the double-word
    # subtraction from a constant must still be exact (checked in rationals)
    from fractions import Fraction

    from actlab._xp import two_sum
    from actlab.elementwise.double_word import DW

    with jax.enable_x64(True):
        q = jnp.asarray(np.random.default_rng(3).uniform(0.1, 3.0, size=257))
        xp = backend_of(q)
        s, e = jax.jit(lambda v: two_sum(1.0, v))(q)
        d = jax.jit(lambda v: (lambda w: (w.hi, w.lo))(1.0 - DW.of(v, xp)))(q)
        for qi, si, ei, hi, lo in zip(*(np.asarray(a).tolist() for a in (q, s, e, *d))):
            assert Fraction(si) + Fraction(ei) == 1 + Fraction(qi)
            assert Fraction(hi) + Fraction(lo) == 1 - Fraction(qi)
