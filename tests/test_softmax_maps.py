"""Every map of the softmax family: Jacobians (J, JVP, VJP, finite
differences), gradcheck/gradgradcheck, torch.func, torch.compile, the
alternatives' formulas and Gumbel-softmax sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import actlab

torch = pytest.importorskip("torch")

MAPS = {  # name: (function, keyword arguments)
    "softmax": (actlab.softmax, {}),
    "softmax_T": (actlab.softmax, {"temperature": 0.37}),
    "softmax_beta": (actlab.softmax, {"beta": -2.5}),
    "softmin": (actlab.softmin, {"temperature": 3.0}),
    "log_softmax": (actlab.log_softmax, {}),
    "log_softmax_T": (actlab.log_softmax, {"temperature": 0.3}),
    "hardmax": (actlab.hardmax, {}),
    "sum_normalize": (actlab.sum_normalize, {}),
    "spherical_softmax": (actlab.spherical_softmax, {"eps": 0.01}),
    "taylor_softmax": (actlab.taylor_softmax, {}),
    "taylor_softmax_4": (actlab.taylor_softmax, {"order": 4, "temperature": 0.5}),
}
SMOOTH = [k for k in MAPS if k != "hardmax"]


def _point(k=5, seed=0):
    # positive entries (sum_normalize's domain), away from ties and kinks
    return np.random.default_rng(seed).uniform(0.2, 2.0, k)


@pytest.mark.parametrize("name", list(MAPS))
def test_jacobian_four_ways(name):
    f, kw = MAPS[name]
    x = _point()
    v = np.random.default_rng(1).standard_normal(5)
    jac = f.jacobian(x, **kw)
    h = 1e-6
    fd = np.stack([(f(x + h * e, **kw) - f(x - h * e, **kw)) / (2 * h) for e in np.eye(5)], axis=1)
    np.testing.assert_allclose(jac, fd, atol=1e-8)
    np.testing.assert_allclose(f.jvp(x, v, **kw), jac @ v, atol=1e-14)
    np.testing.assert_allclose(f.vjp(x, v, **kw), v @ jac, atol=1e-14)


def test_softmax_jacobian_formula():
    x = _point()
    s = actlab.softmax(x)
    np.testing.assert_allclose(actlab.softmax.jacobian(x), np.diag(s) - np.outer(s, s), atol=1e-16)
    np.testing.assert_allclose(actlab.log_softmax.jacobian(x), np.eye(5) - s[None, :], atol=1e-15)


@pytest.mark.parametrize("name", SMOOTH)
def test_gradcheck_and_gradgradcheck(name):
    f, kw = MAPS[name]
    x = torch.tensor(np.stack([_point(4, 2), _point(4, 3)]), requires_grad=True)
    fn = lambda t: f(t, **kw)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_logsumexp_gradient_is_softmax():
    x = torch.tensor([[0.3, -2.0, 1.0], [5.0, 5.0, -1.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(actlab.logsumexp, (x,))
    assert torch.autograd.gradgradcheck(lambda t: actlab.logsumexp(t, axis=0), (x,))
    (g,) = torch.autograd.grad(actlab.logsumexp(x).sum(), x)
    torch.testing.assert_close(g, actlab.softmax(x.detach()))


@pytest.mark.parametrize("name", list(MAPS))
def test_vmap_and_jacrev(name):
    f, kw = MAPS[name]
    x = torch.tensor(np.stack([_point(5, s) for s in range(3)]))
    fn = lambda t: f(t, **kw)  # noqa: E731
    torch.testing.assert_close(torch.func.vmap(fn)(x), fn(x))
    jac = torch.func.vmap(torch.func.jacrev(fn))(x)
    for i in range(3):
        torch.testing.assert_close(jac[i], torch.as_tensor(f.jacobian(x[i].numpy(), **kw)))


def test_logsumexp_vmap_and_jacrev():
    x = torch.tensor(np.stack([_point(5, s) for s in range(3)]))
    torch.testing.assert_close(torch.func.vmap(actlab.logsumexp)(x), actlab.logsumexp(x))
    torch.testing.assert_close(torch.func.vmap(torch.func.jacrev(actlab.logsumexp))(x), actlab.softmax(x))


@pytest.mark.slow
def test_torch_compile_fullgraph_every_map():
    def every(x):
        out = actlab.logsumexp(x, keepdims=True)
        for f, kw in MAPS.values():
            out = out + f(x.abs() + 0.1 if f is actlab.sum_normalize else x, **kw)
        return out

    x = torch.randn(4, 6, requires_grad=True)
    compiled = torch.compile(every, fullgraph=True)
    y = compiled(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    (g_eager,) = torch.autograd.grad(every(x).sum(), x)
    torch.testing.assert_close(y, every(x))
    torch.testing.assert_close(g, g_eager)


# -- the alternatives' formulas ------------------------------------------------


def test_alternatives_formulas():
    z = np.array([0.5, -1.5, 2.0, 0.0])
    q = z**2 + 0.1
    np.testing.assert_allclose(actlab.spherical_softmax(z, eps=0.1), q / q.sum(), rtol=1e-15)
    for n in (2, 4, 6):
        t = sum(z**k / math.factorial(k) for k in range(n + 1))
        np.testing.assert_allclose(actlab.taylor_softmax(z, order=n), t / t.sum(), rtol=1e-14)
    np.testing.assert_array_equal(actlab.hardmax([2.0, 5.0, 5.0, -1.0]), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(actlab.hardmax([[-math.inf, -math.inf]]), [[0.0, 0.0]])


def test_alternatives_do_not_overflow():
    z = np.array([1e300, -2e300, 3e299])
    np.testing.assert_allclose(actlab.spherical_softmax(z), [1 / 5.09, 4 / 5.09, 0.09 / 5.09], rtol=1e-14)
    np.testing.assert_allclose(actlab.sum_normalize([1e308, 1e308]), [0.5, 0.5])
    p = actlab.taylor_softmax([1e200, 2e200])
    np.testing.assert_allclose(p, [0.2, 0.8], rtol=1e-14)  # x^2/2 dominates
    with np.errstate(all="raise"):
        actlab.spherical_softmax([1e-200, 0.0])


def test_alternatives_errors():
    with pytest.raises(ValueError, match="order"):
        actlab.taylor_softmax([1.0], order=3)
    with pytest.raises(ValueError, match="eps"):
        actlab.spherical_softmax([1.0], eps=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        actlab.sum_normalize([1.0, -1.0])
    with pytest.raises(ValueError, match="positive sum"):
        actlab.sum_normalize([[1.0, 1.0], [0.0, 0.0]])


# -- registry -------------------------------------------------------------------


def test_registry_entries():
    names = {e.name for e in actlab.registry("simplex")}
    assert {"softmax", "softmin", "log_softmax", "hardmax", "sum_normalize", "spherical_softmax",
            "taylor_softmax"} <= names
    sm = actlab.get("softmax")
    temp = {p.name: p for p in sm.params}["temperature"]
    assert temp.sweep == (0.1, 0.5, 1.0, 2.0, 10.0)
    assert actlab.get("logsumexp").kind == "reduction"
    assert actlab.get("gumbel_softmax").kind == "stochastic"
    losses = {e.name for e in actlab.registry("loss")}
    assert {"cross_entropy", "binary_cross_entropy_with_logits", "distillation_loss",
            "spherical_cross_entropy", "taylor_cross_entropy"} <= losses
    not_normalised = {"softpick", "alpha_relu", "budget_sparsemax"}  # sum <= 1, unnormalised, sum = budget
    for e in actlab.registry("simplex"):
        if e.name in names - not_normalised:
            y = e.function(np.array([[0.5, 1.5, 1.0]]), **e.defaults())
            y = np.exp(y) if e.name == "log_softmax" else y
            np.testing.assert_allclose(np.sum(y, axis=-1), 1.0, rtol=1e-14)


# -- Gumbel-softmax ------------------------------------------------------------


def test_gumbel_argmax_frequencies_match_softmax():
    """Gumbel-max: argmax(logits + g) ~ softmax(logits); chi-square goodness of fit."""
    logits = np.array([1.0, 0.0, -0.5, 2.0, 0.3])
    n = 20000
    rng = np.random.default_rng(12345)
    y = actlab.gumbel_softmax(np.broadcast_to(logits, (n, 5)), tau=0.5, generator=rng)
    counts = np.bincount(np.argmax(y, axis=-1), minlength=5)
    expected = n * actlab.softmax(logits)
    _, pvalue = stats.chisquare(counts, expected)
    assert pvalue > 1e-3, (counts, expected)


def test_gumbel_reproducible_and_hard():
    logits = np.array([[0.1, 2.0, -1.0]] * 4)
    a = actlab.gumbel_softmax(logits, generator=np.random.default_rng(7))
    b = actlab.gumbel_softmax(logits, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-15)
    t = torch.tensor(logits, requires_grad=True)
    ys = actlab.gumbel_softmax(t, tau=0.7, generator=torch.Generator().manual_seed(0))
    yh = actlab.gumbel_softmax(t, tau=0.7, hard=True, generator=torch.Generator().manual_seed(0))
    assert torch.all((yh == 0) | (yh == 1)) and torch.all(yh.sum(-1) == 1)
    assert torch.equal(yh.argmax(-1), ys.argmax(-1))
    w = torch.randn(4, 3, dtype=torch.float64)
    (g_soft,) = torch.autograd.grad((ys * w).sum(), t)
    (g_hard,) = torch.autograd.grad((yh * w).sum(), t)
    torch.testing.assert_close(g_hard, g_soft)  # straight-through
    with pytest.raises(ValueError, match="tau"):
        actlab.gumbel_softmax(logits, tau=0.0)
    with pytest.raises(TypeError, match="generator"):
        actlab.gumbel_softmax(logits, generator="seed")
