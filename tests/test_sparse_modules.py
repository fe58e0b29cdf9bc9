"""``actlab.torch.sparse`` modules: same values as the functions, a learned
alpha that stays above 1 whatever the optimiser does, its gradient against
finite differences, and the loss modules."""

from __future__ import annotations

import pytest
import torch

import actlab
from actlab.torch.sparse import Entmax, Entmax15, EntmaxLoss, Sparsemax, SparsemaxLoss


def test_modules_match_functions():
    x = torch.randn(3, 4, 9)
    torch.testing.assert_close(Sparsemax(dim=1)(x), actlab.sparsemax(x, axis=1))
    torch.testing.assert_close(Entmax15(temperature=2.0)(x), actlab.entmax15(x, temperature=2.0))
    torch.testing.assert_close(Entmax(1.3)(x), actlab.entmax(x, alpha=1.3))
    torch.testing.assert_close(Entmax(1.5, learnable=True)(x), actlab.entmax15(x), atol=1e-6, rtol=1e-5)


def test_learned_alpha_gradient_matches_finite_differences():
    x = torch.randn(5, 8, dtype=torch.float64)
    g = torch.randn(5, 8, dtype=torch.float64)
    m = Entmax(1.4, learnable=True).double()
    (m(x) * g).sum().backward()
    h = 1e-6
    with torch.no_grad():
        a = m.alpha.item()
        up = (actlab.entmax(x, alpha=a + h) * g).sum()
        down = (actlab.entmax(x, alpha=a - h) * g).sum()
    dalpha = (up - down) / (2 * h)
    dsoftplus = torch.sigmoid(m.a.detach())
    torch.testing.assert_close(m.a.grad, dalpha * dsoftplus, rtol=1e-6, atol=1e-9)


def test_learned_alpha_stays_above_one():
    torch.manual_seed(0)
    m = Entmax(1.05, learnable=True, shape=(3, 1))
    opt = torch.optim.SGD(m.parameters(), lr=50.0)
    x = torch.randn(3, 10)
    for _ in range(30):  # push alpha down as hard as possible
        opt.zero_grad()
        out = m(x)
        (-(out * torch.log(out.clamp_min(1e-30))).sum()).neg().backward()
        opt.step()
        assert (m.alpha > 1).all()
        assert torch.isfinite(out).all()


def test_invalid_module_arguments():
    with pytest.raises(ValueError, match="alpha"):
        Entmax(1.0, learnable=True)
    with pytest.raises(ValueError, match="alpha"):
        Entmax(0.9)


def test_loss_modules():
    z = torch.randn(6, 4, requires_grad=True)
    t = torch.tensor([0, 1, 2, 3, -100, 1])
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    a = SparsemaxLoss(weight=w)(z, t)
    b = actlab.sparsemax_loss(z, t, weight=w)
    torch.testing.assert_close(a, b)
    c = EntmaxLoss(1.3, reduction="none")(z, t.clamp_min(0))
    assert c.shape == (6,)
    a.backward()
    assert z.grad[4].abs().sum() == 0
