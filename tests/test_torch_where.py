"""``where=`` masks on the torch-signature wrappers: ``actlab.torch.functional``'s
softmax, log_softmax and logsumexp, and the Softmax / LogSoftmax modules.

Oracles: jax.nn.softmax / log_softmax / logsumexp with ``where`` (64-bit mode);
SciPy's softmax, log_softmax and logsumexp applied to the unmasked entries of
each row only (a float64 reference written apart from actlab's masking);
torch.autograd.gradcheck in float64; the definition of a mask (the masked
entries' values, even NaN or inf, cannot change the result or its gradient).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as ss
import torch

import actlab.torch as at
import actlab.torch.functional as AF

RNG = np.random.default_rng(20261202)


def _case(shape=(5, 7), scale=4.0):
    x = RNG.normal(scale=scale, size=shape)
    m = RNG.uniform(size=shape) < 0.6
    m[0] = False  # a fully masked row
    m[1] = True  # a row with no mask
    m[2, :] = False
    m[2, 3] = True  # a single live entry
    return x, m


def _reference(x, m, which):
    """SciPy on the live entries of each row of 2-d ``x`` (float64)."""
    if which == "logsumexp":
        return np.array([ss.logsumexp(r[k]) if k.any() else -np.inf for r, k in zip(x, m)])
    out = np.full_like(x, 0.0 if which == "softmax" else -np.inf)
    for i, (r, k) in enumerate(zip(x, m)):
        if k.any():
            out[i, k] = (ss.softmax if which == "softmax" else ss.log_softmax)(r[k])
    return out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_against_scipy_on_live_entries(dtype):
    x, m = _case()
    xt, mt = torch.tensor(x, dtype=dtype), torch.tensor(m)
    rtol = 1e-14 if dtype == torch.float64 else 2e-6
    xr = xt.double().numpy()  # the rounded input the reference sees
    np.testing.assert_allclose(AF.softmax(xt, -1, where=mt).double(), _reference(xr, m, "softmax"), rtol=rtol, atol=0)
    got = AF.log_softmax(xt, -1, where=mt).double().numpy()
    ref = _reference(xr, m, "log_softmax")
    np.testing.assert_array_equal(np.isneginf(got), ~m)
    np.testing.assert_allclose(got[m], ref[m], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(AF.logsumexp(xt, -1, where=mt).double(), _reference(xr, m, "logsumexp"), rtol=rtol)


def test_other_dims_broadcast_mask_and_tuple_dims():
    x = RNG.normal(size=(3, 6, 4))
    m = RNG.uniform(size=(6, 1)) < 0.5  # broadcast over dims 0 and 2
    m[0] = True
    xt, mt = torch.tensor(x), torch.tensor(m)
    full = np.broadcast_to(m, x.shape)
    got = AF.softmax(xt, dim=1, where=mt).numpy()
    for i in range(3):
        np.testing.assert_allclose(got[i].T, _reference(x[i].T, full[i].T, "softmax"), rtol=1e-14, atol=0)
    got = AF.logsumexp(xt, dim=(0, 2), keepdim=True, where=mt)
    assert got.shape == (1, 6, 1)
    ref = [ss.logsumexp(x[:, j][full[:, j]]) if full[:, j].any() else -np.inf for j in range(6)]
    np.testing.assert_allclose(got.reshape(6).numpy(), ref, rtol=1e-14)


def test_masked_values_never_reach_the_result():
    """NaN, +inf and -inf at masked entries change neither the result nor the gradient."""
    x, m = _case()
    clean = torch.tensor(np.where(m, x, 0.0), requires_grad=True)
    dirty_np = np.where(m, x, RNG.choice([np.nan, np.inf, -np.inf, 1e308], size=x.shape))
    dirty = torch.tensor(dirty_np, requires_grad=True)
    mt = torch.tensor(m)
    g = torch.tensor(RNG.normal(size=x.shape))
    for f in (AF.softmax, AF.log_softmax, at.softmax, at.log_softmax):
        a, b = f(clean, -1, where=mt), f(dirty, -1, where=mt)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        ga, = torch.autograd.grad(torch.where(mt, a, 0.0), clean, g)
        gb, = torch.autograd.grad(torch.where(mt, b, 0.0), dirty, g)
        torch.testing.assert_close(ga, gb, rtol=0, atol=0)
        assert torch.isfinite(gb).all() and (gb[~mt] == 0).all()
    a, b = AF.logsumexp(clean, -1, where=mt), AF.logsumexp(dirty, -1, where=mt)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    gb, = torch.autograd.grad(torch.where(torch.isfinite(b), b, 0.0).sum(), dirty)
    assert torch.isfinite(gb).all() and (gb[~mt] == 0).all()


def test_all_masked_row_gives_zeros_and_zero_gradient():
    x = torch.tensor(RNG.normal(size=(2, 5)), requires_grad=True)
    m = torch.tensor([[False] * 5, [True, False, True, True, False]])
    y = AF.softmax(x, -1, where=m)
    assert (y[0] == 0).all() and y[1].sum().item() == pytest.approx(1.0, abs=1e-15)
    g, = torch.autograd.grad(y, x, torch.ones_like(y) + torch.arange(5.0, dtype=torch.float64))
    assert (g[0] == 0).all() and torch.isfinite(g).all()
    ly = AF.log_softmax(x, -1, where=m)
    assert torch.isneginf(ly[0]).all()
    g, = torch.autograd.grad(ly.where(m, 0.0).sum(), x)
    assert (g[0] == 0).all() and (g[~m] == 0).all() and torch.isfinite(g).all()
    lse = AF.logsumexp(x, -1, where=m)
    assert lse[0].item() == -math.inf
    g, = torch.autograd.grad(lse[1], x)
    assert (g[0] == 0).all() and (g[~m] == 0).all()
    torch.testing.assert_close(g[1], y[1].detach(), rtol=1e-15, atol=0)  # the gradient of LSE is the softmax


def test_gradcheck_float64():
    x, m = _case((4, 6), scale=2.0)
    xt, mt = torch.tensor(x, requires_grad=True), torch.tensor(m)
    live = mt.any(-1)
    assert torch.autograd.gradcheck(lambda v: AF.softmax(v, -1, where=mt), (xt,))
    assert torch.autograd.gradcheck(lambda v: AF.softmax(v, 0, where=mt, temperature=0.7), (xt,))
    assert torch.autograd.gradcheck(lambda v: AF.log_softmax(v, -1, where=mt).where(mt, 0.0), (xt,))
    assert torch.autograd.gradgradcheck(lambda v: AF.softmax(v, -1, where=mt), (xt,))
    assert torch.autograd.gradcheck(lambda v: AF.logsumexp(v, -1, where=mt).where(live, 0.0), (xt,))
    assert torch.autograd.gradcheck(lambda v: AF.logsumexp(v, (0, 1), where=mt), (xt,))


def test_modules_take_where():
    x, m = _case()
    xt, mt = torch.tensor(x), torch.tensor(m)
    torch.testing.assert_close(at.Softmax(dim=-1)(xt, where=mt), torch.tensor(_reference(x, m, "softmax")),
                               rtol=1e-14, atol=0)
    got = at.LogSoftmax(dim=1)(xt, where=mt)
    torch.testing.assert_close(got.where(mt, 0.0), torch.tensor(_reference(x, m, "log_softmax")).where(mt, 0.0),
                               rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(at.Softmax(dim=-1)(xt), AF.softmax(xt, -1), rtol=0, atol=0)  # where stays optional


def test_dtype_cast_with_where():
    x, m = _case()
    y = AF.softmax(torch.tensor(x, dtype=torch.float32), -1, dtype=torch.float64, where=torch.tensor(m))
    assert y.dtype == torch.float64
    np.testing.assert_allclose(y, _reference(x.astype(np.float32).astype(np.float64), m, "softmax"), rtol=1e-14)


def test_mask_from_numpy_and_lists():
    x, m = _case((3, 4))
    xt = torch.tensor(x)
    torch.testing.assert_close(AF.softmax(xt, -1, where=m), AF.softmax(xt, -1, where=torch.tensor(m)), rtol=0, atol=0)
    torch.testing.assert_close(AF.logsumexp(xt, -1, where=m.tolist()), AF.logsumexp(xt, -1, where=torch.tensor(m)),
                               rtol=0, atol=0)


def test_meta_device():
    x = torch.empty(3, 5, device="meta", dtype=torch.float32)
    m = torch.ones(3, 5, dtype=torch.bool, device="meta")
    for f in (AF.softmax, AF.log_softmax):
        y = f(x, -1, where=m)
        assert y.shape == x.shape and y.device.type == "meta" and y.dtype == torch.float32
    y = AF.logsumexp(x, -1, where=m)
    assert y.shape == (3,) and y.device.type == "meta"
    assert AF.logsumexp(x, (0, 1), where=m).shape == ()
    xg = torch.empty(3, 5, device="meta", requires_grad=True)
    g, = torch.autograd.grad(AF.softmax(xg, -1, where=m).sum(), xg)
    assert g.shape == (3, 5) and g.device.type == "meta"


def test_bad_masks():
    x = torch.zeros(3, 4)
    with pytest.raises(TypeError, match="where must be a boolean"):
        AF.softmax(x, -1, where=torch.ones(3, 4))
    with pytest.raises(ValueError, match="does not broadcast"):
        AF.log_softmax(x, -1, where=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="where is on device cpu, input on meta"):
        AF.softmax(x.to("meta"), -1, where=torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="where must be a boolean"):
        AF.logsumexp(x, -1, where="all")


# -- jax.nn ----------------------------------------------------------------------------------------

@pytest.fixture
def jnp():
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        import jax.numpy as jnp

        yield jnp


@pytest.mark.slow
def test_against_jax_nn(jnp):
    import jax

    x, m = _case((6, 9), scale=6.0)
    x[3, 2] = np.inf if m[3, 2] else x[3, 2]
    xt, mt = torch.tensor(x), torch.tensor(m)
    jx = jnp.asarray(x)
    np.testing.assert_allclose(AF.softmax(xt, -1, where=mt), np.asarray(jax.nn.softmax(jx, where=m)),
                               rtol=1e-14, atol=0)
    ours, theirs = AF.log_softmax(xt, -1, where=mt).numpy(), np.asarray(jax.nn.log_softmax(jx, where=m))
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs) | ~m)
    np.testing.assert_allclose(ours[m], theirs[m], rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(AF.logsumexp(xt, 1, where=mt), np.asarray(jax.nn.logsumexp(jx, axis=1, where=m)),
                               rtol=1e-14)
    np.testing.assert_allclose(AF.logsumexp(xt, (0, 1), where=mt),
                               np.asarray(jax.nn.logsumexp(jx, axis=(0, 1), where=m)), rtol=1e-14)


@pytest.mark.slow
def test_gradients_against_jax(jnp):
    import jax

    x, m = _case((4, 6), scale=3.0)
    live = m.any(-1)
    w = RNG.normal(size=x.shape)

    def theirs(v):
        s = jnp.sum(jnp.asarray(w) * jax.nn.softmax(v, where=m))
        ls = jnp.sum(jnp.where(m, jnp.asarray(w) * jax.nn.log_softmax(v, where=m), 0.0))
        lse = jnp.sum(jnp.where(live, jax.nn.logsumexp(v, axis=-1, where=m), 0.0))
        return s + ls + lse

    xt, mt, wt = torch.tensor(x, requires_grad=True), torch.tensor(m), torch.tensor(w)
    ours = (wt * AF.softmax(xt, -1, where=mt)).sum() + (wt * AF.log_softmax(xt, -1, where=mt)).where(mt, 0.0).sum() \
        + AF.logsumexp(xt, -1, where=mt).where(torch.tensor(live), 0.0).sum()
    g, = torch.autograd.grad(ours, xt)
    np.testing.assert_allclose(g.numpy(), np.asarray(jax.grad(theirs)(jnp.asarray(x))), rtol=1e-12, atol=1e-14)
