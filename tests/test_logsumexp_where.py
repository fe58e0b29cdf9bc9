"""logsumexp with b / return_sign / axis=None / where, and where= masks on
softmax and log_softmax.

Oracles: SciPy's own test cases for ``scipy.special.logsumexp`` (restated from
scipy/special/tests/test_logsumexp.py), scipy.special.logsumexp itself on random
input, jax.nn (logsumexp, softmax, log_softmax with ``where``), mpmath at 50
digits, torch.autograd.gradcheck in float64.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.special as ss
import torch

import actlab

RNG = np.random.default_rng(20261201)


# -- SciPy's test cases ---------------------------------------------------------------------------

def test_scipy_cases_plain():
    assert actlab.logsumexp(np.array([]), axis=None) == -np.inf
    a = np.arange(200.0)
    np.testing.assert_allclose(actlab.logsumexp(a), np.log(np.sum(np.exp(a))), rtol=1e-15)
    np.testing.assert_allclose(actlab.logsumexp([1000.0, 1000.0]), 1000.0 + math.log(2.0), rtol=1e-15)
    np.testing.assert_allclose(actlab.logsumexp(np.full((1000,), 10000.0)), 10000.0 + math.log(1000), rtol=1e-15)
    x = np.full(1000000, 1e-40)
    logX = np.stack([np.log(x), np.log(x)])
    X = np.stack([x, x])
    np.testing.assert_allclose(np.exp(actlab.logsumexp(logX, axis=None)), X.sum(), rtol=1e-12)
    np.testing.assert_allclose(np.exp(actlab.logsumexp(logX, axis=0)), X.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(np.exp(actlab.logsumexp(logX, axis=1)), X.sum(axis=1), rtol=1e-12)
    assert actlab.logsumexp([np.inf]) == np.inf
    assert actlab.logsumexp([-np.inf]) == -np.inf
    assert np.isnan(actlab.logsumexp([np.nan]))
    assert actlab.logsumexp([-np.inf, -np.inf]) == -np.inf
    a = np.array([[1e10, 1e-10], [-1e10, -np.inf]])
    np.testing.assert_allclose(actlab.logsumexp(a, axis=-1), [1e10, -1e10])
    np.testing.assert_allclose(actlab.logsumexp(a, axis=-1, keepdims=True), [[1e10], [-1e10]])
    np.testing.assert_allclose(actlab.logsumexp(a, axis=(-1, -2)), 1e10)
    np.testing.assert_allclose(actlab.logsumexp([0.0, -40.0]), np.logaddexp(0.0, -40.0), rtol=1e-16)


def test_scipy_cases_b_and_sign():
    a, b = np.arange(200.0), np.arange(200.0, 0.0, -1.0)
    np.testing.assert_allclose(actlab.logsumexp(a, b=b), np.log(np.sum(b * np.exp(a))), rtol=1e-15)
    np.testing.assert_allclose(actlab.logsumexp([1000.0, 1000.0], b=[1.2, 1.2]), 1000 + math.log(2 * 1.2), rtol=1e-15)
    x, b = np.full(100000, 1e-40), np.linspace(1, 1000, 100000)
    logX, X, B = np.stack([np.log(x)] * 2), np.stack([x] * 2), np.stack([b] * 2)
    np.testing.assert_allclose(np.exp(actlab.logsumexp(logX, b=B, axis=None)), np.sum(B * X), rtol=1e-12)
    np.testing.assert_allclose(np.exp(actlab.logsumexp(logX, b=B, axis=0)), np.sum(B * X, axis=0), rtol=1e-12)
    r, s = actlab.logsumexp([1.0, 1.0, 1.0], b=[1.0, -1.0, -1.0], return_sign=True)
    assert r == pytest.approx(1.0, rel=1e-15) and s == -1.0
    r, s = actlab.logsumexp([1.0, 1.0], b=[1.0, -1.0], return_sign=True)
    assert r == -np.inf and s == 0
    r, s = actlab.logsumexp(np.ones((1, 2, 3, 4)), axis=2, b=np.ones((1, 2, 3, 4)), return_sign=True)
    assert r.shape == s.shape == (1, 2, 4)
    r, s = actlab.logsumexp(np.ones((1, 2, 3, 4)), axis=(1, 3), b=np.ones((1, 2, 3, 4)), return_sign=True)
    assert r.shape == s.shape == (1, 3)
    assert actlab.logsumexp([1.0, 10000.0], b=[1.0, 0.0]) == pytest.approx(1.0, rel=1e-15)
    assert actlab.logsumexp(np.zeros((4, 1, 2, 1)), b=np.ones((3, 1, 5)), axis=None) == pytest.approx(math.log(120))
    np.testing.assert_allclose(actlab.logsumexp([2, 1], b=[1, -1]), math.log(math.exp(2) - math.exp(1)), rtol=1e-15)
    assert np.isnan(actlab.logsumexp([1.0, 2.0], b=[1.0, -1.0]))  # negative sum without return_sign


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (2, 1)])
def test_against_scipy_random(axis):
    a = RNG.normal(scale=30.0, size=(3, 4, 5))
    b = RNG.uniform(-1.0, 2.0, size=(3, 4, 5))
    for kw in ({}, {"b": np.abs(b)}, {"b": b, "return_sign": True}):
        for keepdims in (False, True):
            got = actlab.logsumexp(a, axis=axis, keepdims=keepdims, **kw)
            ref = ss.logsumexp(a, axis=axis, keepdims=keepdims, **kw)
            if kw.get("return_sign"):
                np.testing.assert_allclose(got[0], ref[0], rtol=1e-12)
                np.testing.assert_array_equal(got[1], ref[1])
            else:
                np.testing.assert_allclose(got, ref, rtol=1e-14)


def test_weighted_mpmath():
    """b >= 0 takes the accurate path: a few ULPs of the 50-digit value."""
    mpmath.mp.dps = 50
    for _ in range(20):
        a = RNG.normal(scale=20.0, size=7)
        b = RNG.uniform(0.0, 3.0, size=7)
        ref = float(mpmath.log(mpmath.fsum(mpmath.mpf(bi) * mpmath.exp(mpmath.mpf(ai)) for ai, bi in zip(a, b))))
        got = float(actlab.logsumexp(a, b=b))
        assert abs(got - ref) <= 4 * np.spacing(abs(ref)), (got, ref)


# -- jax.nn --------------------------------------------------------------------------------------

jax = pytest.importorskip("jax")


@pytest.fixture
def jnp():
    """jax.numpy with 64-bit mode on for the test only (the flag is global)."""
    with jax.enable_x64(True):
        import jax.numpy as jnp

        yield jnp


@pytest.mark.slow
def test_where_against_jax(jnp):
    x = RNG.normal(size=(4, 6)) * 5
    m = RNG.uniform(size=(4, 6)) < 0.6
    m[0] = False  # a fully masked row
    m[1, 0] = True
    b = RNG.uniform(0.5, 2.0, size=(4, 6))
    np.testing.assert_allclose(actlab.softmax(x, where=m), np.asarray(jax.nn.softmax(jnp.asarray(x), where=m)),
                               rtol=1e-14, atol=0)
    np.testing.assert_array_equal(np.isinf(actlab.log_softmax(x, where=m)), ~m)
    ref = np.asarray(jax.nn.log_softmax(jnp.asarray(x), where=m))
    np.testing.assert_allclose(np.where(m, actlab.log_softmax(x, where=m), 0), np.where(m, ref, 0), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(actlab.logsumexp(x, where=m), np.asarray(jax.nn.logsumexp(jnp.asarray(x), axis=-1, where=m)),
                               rtol=1e-14)
    got = actlab.logsumexp(x, axis=None, b=b - 1.0, where=m, return_sign=True)
    ref = jax.nn.logsumexp(jnp.asarray(x), axis=None, b=jnp.asarray(b - 1.0), where=m, return_sign=True)
    np.testing.assert_allclose(got[0], np.asarray(ref[0]), rtol=1e-12)
    assert float(got[1]) == float(ref[1])


@pytest.mark.slow
def test_where_on_jax_arrays_and_grad(jnp):
    x = jnp.asarray(RNG.normal(size=(3, 5)))
    m = np.array([[True, False, True, True, False], [False] * 5, [True] * 5])
    ours = jax.grad(lambda v: jnp.sum(actlab.softmax(v, where=m)[:, 0] + actlab.logsumexp(v, where=m)))(x)
    theirs = jax.grad(lambda v: jnp.sum(jax.nn.softmax(v, where=m)[:, 0] + jnp.where(
        m.any(-1), jax.nn.logsumexp(v, axis=-1, where=m), 0.0)))(x)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-13, atol=1e-15)


# -- gradients, masks, warnings ------------------------------------------------------------------

def test_gradcheck_b_and_where():
    x = torch.tensor(RNG.normal(size=(2, 4)), requires_grad=True)
    b = torch.tensor(RNG.uniform(-1.0, 2.0, size=(2, 4)), requires_grad=True)
    m = torch.tensor(RNG.uniform(size=(2, 4)) < 0.7)
    m[:, 0] = True
    assert torch.autograd.gradcheck(lambda x, b: actlab.logsumexp(x, b=b, return_sign=True)[0], (x, b))
    assert torch.autograd.gradcheck(lambda x, b: actlab.logsumexp(x, b=b.abs() + 0.1, where=m), (x, b))
    assert torch.autograd.gradcheck(lambda x: actlab.softmax(x, where=m, temperature=0.7), (x,))
    assert torch.autograd.gradcheck(lambda x: torch.where(m, actlab.log_softmax(x, where=m, axis=0), 0.0), (x,))
    assert torch.autograd.gradcheck(lambda x: actlab.logsumexp(x, axis=(0, 1)), (x,))


def test_fully_masked_rows_zero_gradient():
    x = torch.tensor([[1.0, np.nan, np.inf], [0.5, 2.0, -1.0]], dtype=torch.float64, requires_grad=True)
    m = torch.tensor([[False, False, False], [True, False, True]])
    y = actlab.softmax(x, where=m)
    assert torch.equal(y[0], torch.zeros(3, dtype=torch.float64)) and y[1, 1] == 0
    lse = actlab.logsumexp(x, where=m)
    assert lse[0] == -math.inf
    (g,) = torch.autograd.grad(y[:, 0].sum() + lse[1] + actlab.log_softmax(x, where=m)[1, 0], x)
    assert torch.all(torch.isfinite(g)) and torch.all(g[0] == 0) and g[1, 1] == 0


def test_mask_errors_and_limits():
    with pytest.raises(TypeError, match="where"):
        actlab.softmax([1.0, 2.0], where=[1.0, 0.0])
    with pytest.raises(ValueError, match="broadcast"):
        actlab.softmax([[1.0, 2.0]], where=[True, False, True])
    with pytest.raises(TypeError, match="where"):
        actlab.spherical_softmax([1.0, 2.0], where=[True, False])
    big = np.array([1e308, -1e308, 5e-324, -np.inf])
    m = np.array([True, True, True, False])
    assert actlab.softmax(big, where=m).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert actlab.logsumexp(big, b=[2.0, 1.0, 1.0, 0.0]) == pytest.approx(1e308 + math.log(2))
    assert actlab.logsumexp(big, b=[-1.0, 1.0, 1.0, 1.0], return_sign=True)[1] == -1.0
    np.testing.assert_allclose(actlab.softmax([1.0, 2.0, 3.0], where=[True, True, False], beta=0.0), [0.5, 0.5, 0.0])
