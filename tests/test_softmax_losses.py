"""Losses of the softmax family against torch.nn.functional (float64) and
mpmath, their gradients, and the torch modules."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import actlab

torch = pytest.importorskip("torch")
F = torch.nn.functional
from actlab.torch import softmax_modules as modules  # noqa: E402

G = torch.Generator().manual_seed(0)
Z = torch.randn(7, 5, dtype=torch.float64, generator=G) * 3
T = torch.tensor([0, 4, 2, -100, 1, 2, 3])
W = torch.rand(5, dtype=torch.float64, generator=G) + 0.1
Q = torch.softmax(torch.randn(7, 5, dtype=torch.float64, generator=G), -1)
OPTIONS = [{}, {"weight": W}, {"label_smoothing": 0.2}, {"weight": W, "label_smoothing": 0.3}]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kw", OPTIONS, ids=["plain", "weight", "smooth", "weight+smooth"])
@pytest.mark.parametrize("target", [T, Q], ids=["index", "prob"])
def test_cross_entropy_matches_torch(target, kw, reduction):
    z1, z2 = Z.clone().requires_grad_(), Z.clone().requires_grad_()
    ours = actlab.cross_entropy(z1, target, reduction=reduction, **kw)
    ref = F.cross_entropy(z2, target, reduction=reduction, **kw)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=1e-14)
    w = torch.rand(ours.shape, dtype=torch.float64, generator=G)
    (g1,) = torch.autograd.grad((ours * w).sum(), z1)
    (g2,) = torch.autograd.grad((ref * w).sum(), z2)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-14)


def test_cross_entropy_class_axis_and_numpy():
    z = torch.randn(3, 4, 2, dtype=torch.float64, generator=G)
    t = torch.randint(0, 4, (3, 2), generator=G)
    torch.testing.assert_close(actlab.cross_entropy(z, t, axis=1), F.cross_entropy(z, t))
    got = actlab.cross_entropy(z.numpy(), t.numpy(), axis=1, reduction="none")
    np.testing.assert_allclose(got, F.cross_entropy(z, t, reduction="none").numpy(), rtol=1e-14)
    assert float(actlab.cross_entropy(Z[0], T[0])) == pytest.approx(float(F.cross_entropy(Z[0], T[0])))


def test_cross_entropy_gradient_is_softmax_minus_target():
    z = Z.clone().requires_grad_()
    actlab.cross_entropy(z, Q, reduction="sum").backward()
    torch.testing.assert_close(z.grad, actlab.softmax(Z) - Q)
    assert torch.autograd.gradgradcheck(lambda u: actlab.cross_entropy(u, T, label_smoothing=0.1), (z,))


def test_cross_entropy_tiny_losses_are_exact():
    """A confident correct row: the loss log1p(sum e^(z_j - z_k)) keeps full relative accuracy."""
    mpmath.mp.prec = 200
    for z in ([0.0, -50.0, -60.0], [30.0, 0.0], [7.0, -700.0, 6.0 - 40]):
        exact = mpmath.log(sum(mpmath.exp(mpmath.mpf(v) - mpmath.mpf(z[0])) for v in z))
        for dt in (np.float64, np.float32):
            got = float(actlab.cross_entropy(np.array([z], dtype=dt), [0]))
            assert got == pytest.approx(float(exact), rel=4 * float(np.finfo(dt).eps))
    assert float(F.cross_entropy(torch.tensor([[0.0, -50.0]]), torch.tensor([0]))) == 0.0  # PyTorch's


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match="out of range"):
        actlab.cross_entropy(Z, torch.tensor([0, 1, 2, 3, 4, 5, 0]))
    with pytest.raises(ValueError, match="reduction"):
        actlab.cross_entropy(Z, T, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        actlab.cross_entropy(Z, T, label_smoothing=1.5)
    with pytest.raises(ValueError, match="shape"):
        actlab.cross_entropy(Z, T[:3])
    with pytest.raises(ValueError, match="weight"):
        actlab.cross_entropy(Z, T, weight=torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="integers"):
        actlab.cross_entropy(Z, torch.zeros(7, dtype=torch.bool))


def test_cross_entropy_masked_logits_no_nan():
    z = torch.tensor([[0.0, -math.inf, 1.0]], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([[0.5, 0.0, 0.5]], dtype=torch.float64)
    loss = actlab.cross_entropy(z, q)
    loss.backward()
    assert torch.isfinite(loss) and not torch.isnan(z.grad).any() and z.grad[0, 1] == 0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_torch(reduction):
    x = torch.randn(6, 3, dtype=torch.float64, generator=G) * 4
    y = torch.rand(6, 3, dtype=torch.float64, generator=G)
    w = torch.rand(6, 3, dtype=torch.float64, generator=G)
    pw = torch.rand(3, dtype=torch.float64, generator=G) * 3
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = actlab.binary_cross_entropy_with_logits(x1, y, weight=w, pos_weight=pw, reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(x2, y, weight=w, pos_weight=pw, reduction=reduction)
    torch.testing.assert_close(ours, ref)
    (g1,) = torch.autograd.grad(ours.sum(), x1)
    (g2,) = torch.autograd.grad(ref.sum(), x2)
    torch.testing.assert_close(g1, g2)


def test_bce_with_logits_stable_for_any_logit():
    mpmath.mp.prec = 200
    xs = np.array([-1000.0, -30.0, -1e-8, 0.0, 2.5, 40.0, 1000.0])
    for y in (0.0, 1.0, 0.25):
        got = actlab.binary_cross_entropy_with_logits(xs, np.full_like(xs, y), reduction="none")
        for x, g in zip(xs, got, strict=True):
            e = mpmath.exp(mpmath.mpf(x))  # -log sigma(x) = log(1 + 1/e), -log(1 - sigma(x)) = log(1 + e)
            exact = y * mpmath.log1p(1 / e) + (1 - y) * mpmath.log1p(e)
            assert g == pytest.approx(float(exact), rel=1e-14)
    inf = actlab.binary_cross_entropy_with_logits([math.inf, -math.inf], [1.0, 0.0], reduction="none")
    np.testing.assert_array_equal(inf, [0.0, 0.0])


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_distillation_matches_kl_div(temperature):
    s = torch.randn(5, 6, dtype=torch.float64, generator=G, requires_grad=True)
    t = torch.randn(5, 6, dtype=torch.float64, generator=G) * 2
    ours = actlab.distillation_loss(s, t, temperature)
    ref = temperature**2 * F.kl_div(F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1),
                                    reduction="batchmean", log_target=True)
    torch.testing.assert_close(ours, ref)
    (g,) = torch.autograd.grad(ours, s)
    expected = temperature * (torch.softmax(s / temperature, -1) - torch.softmax(t / temperature, -1)) / 5
    torch.testing.assert_close(g, expected)
    assert float(actlab.distillation_loss(t, t, temperature)) == 0.0


@pytest.mark.parametrize("name", ["spherical", "taylor"])
def test_spherical_and_taylor_cross_entropy(name):
    z = torch.randn(6, 4, dtype=torch.float64, generator=G) * 2
    t = torch.tensor([0, 3, 1, 2, 2, 0])
    if name == "spherical":
        loss = actlab.spherical_cross_entropy
        q = z**2 + 1e-6
    else:
        loss = actlab.taylor_cross_entropy
        q = 1 + z + z**2 / 2
    expected = -torch.log(q[torch.arange(6), t] / q.sum(-1))
    torch.testing.assert_close(loss(z, t, reduction="none"), expected)
    torch.testing.assert_close(loss(z, t), expected.mean())
    zz = z.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda u: loss(u, t), (zz,))
    # the cross-entropy of the map's own probabilities
    p = (actlab.spherical_softmax(z) if name == "spherical" else actlab.taylor_softmax(z))
    torch.testing.assert_close(loss(z, t, reduction="none"), -torch.log(p[torch.arange(6), t]))
    big = loss(torch.tensor([[1e200, 2e200]], dtype=torch.float64), torch.tensor([1]))
    assert float(big) == pytest.approx(-math.log(0.8))


def test_torch_modules():
    x = torch.randn(3, 4, dtype=torch.float64, generator=G)
    torch.testing.assert_close(modules.Softmax(temperature=2.0)(x), torch.softmax(x / 2, -1))
    torch.testing.assert_close(modules.LogSoftmax(axis=0)(x), torch.log_softmax(x, 0))
    torch.testing.assert_close(modules.Softmin()(x), F.softmin(x, -1))
    t = torch.tensor([0, 3, 1])
    ce = modules.CrossEntropyLoss(weight=W[:4], label_smoothing=0.1)
    torch.testing.assert_close(ce(x, t), F.cross_entropy(x, t, weight=W[:4], label_smoothing=0.1))
    assert "weight" in dict(ce.named_buffers())
    y = torch.rand(3, 4, dtype=torch.float64, generator=G)
    torch.testing.assert_close(modules.BCEWithLogitsLoss()(x, y), F.binary_cross_entropy_with_logits(x, y))
    torch.testing.assert_close(modules.DistillationLoss(2.0)(x, x), torch.tensor(0.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="temperature"):
        modules.Softmax(temperature=0.0)
