"""The sparsemax and entmax losses: SPEC's formula, the seed's binary Huber
identity, the zero-loss condition, the ``entmax`` package, PyTorch's
reduction / ignore_index / weight conventions, gradients ``p - q`` and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sparse_oracles import reference, sparsemax_rows
from torch.autograd import gradcheck, gradgradcheck

import actlab

entmax_pkg = pytest.importorskip("entmax")


def _spec_sparsemax_loss(z, q):
    """SPEC 3: -<q,z> + 1/2 sum_S (z_j^2 - tau^2) + 1/2 ||q||^2, row by row."""
    out = []
    for zi, qi in zip(z, q, strict=True):
        p = sparsemax_rows(zi)
        s = p > 0
        tau = (zi[s].sum() - 1) / s.sum()
        out.append(-qi @ zi + 0.5 * (zi[s] ** 2 - tau**2).sum() + 0.5 * qi @ qi)
    return np.array(out)


def test_sparsemax_loss_matches_spec_formula():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 5)) * 2
    t = rng.integers(0, 5, 6)
    onehot = np.eye(5)[t]
    np.testing.assert_allclose(actlab.sparsemax_loss(z, t, reduction="none"), _spec_sparsemax_loss(z, onehot),
                               atol=1e-12)
    q = rng.dirichlet(np.ones(5), 6)
    np.testing.assert_allclose(actlab.sparsemax_loss(z, q, reduction="none"), _spec_sparsemax_loss(z, q), atol=1e-12)


def test_binary_huber_and_zero_loss_condition():
    t = np.linspace(-3, 3, 241)
    z = np.stack([t, np.zeros_like(t)], axis=-1)
    loss = actlab.sparsemax_loss(z, np.zeros(t.size, dtype=int), reduction="none")
    want = np.where(t >= 1, 0.0, np.where(t <= -1, -t, (t - 1) ** 2 / 4))
    np.testing.assert_allclose(loss, want, atol=1e-14)
    rng = np.random.default_rng(1)
    z = rng.standard_normal((200, 4)) * 2
    k = rng.integers(0, 4, 200)
    loss = actlab.sparsemax_loss(z, k, reduction="none")
    margin = z[np.arange(200), k] - np.where(np.eye(4)[k] > 0, -np.inf, z).max(-1)
    assert (loss >= 0).all()
    assert ((loss <= 1e-15) == (margin >= 1)).all()


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.3])
def test_matches_entmax_package_and_gradient(alpha):
    g = torch.Generator().manual_seed(2)
    z = (torch.randn(8, 6, dtype=torch.float64, generator=g) * 2).requires_grad_()
    t = torch.randint(0, 6, (8,), generator=g)
    ours = actlab.entmax_loss(z, t, alpha=alpha, reduction="none")
    if alpha == 2.0:
        ref = entmax_pkg.sparsemax_loss(z, t)
    elif alpha == 1.5:
        ref = entmax_pkg.entmax15_loss(z, t)
    else:
        ref = entmax_pkg.entmax_bisect_loss(z, t, alpha=alpha, n_iter=100)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    (grad,) = torch.autograd.grad(ours.sum(), z)
    p = torch.tensor(reference(z.detach().numpy(), alpha))
    torch.testing.assert_close(grad, p - torch.eye(6, dtype=torch.float64)[t], rtol=1e-9, atol=1e-11)
    assert gradcheck(lambda v: actlab.entmax_loss(v, t, alpha=alpha), (z,))
    assert gradgradcheck(lambda v: actlab.entmax_loss(v, t, alpha=alpha), (z,))


def test_distribution_targets_gradient_and_zero_at_target():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(5, 4, dtype=torch.float64, generator=g).requires_grad_()
    q = torch.softmax(torch.randn(5, 4, dtype=torch.float64, generator=g) * 3, -1)
    for alpha in (2.0, 1.5, 1.7):
        loss = actlab.entmax_loss(z, q, alpha=alpha, reduction="sum")
        (grad,) = torch.autograd.grad(loss, z)
        torch.testing.assert_close(grad, actlab.entmax(z.detach(), alpha=alpha) - q, rtol=1e-9, atol=1e-11)
        p = actlab.entmax(z.detach(), alpha=alpha)
        at_target = actlab.entmax_loss(z.detach(), p, alpha=alpha, reduction="none")
        torch.testing.assert_close(at_target, torch.zeros(5, dtype=torch.float64), atol=1e-12, rtol=0)
    assert gradcheck(lambda v: actlab.sparsemax_loss(v, q), (z,))


def test_alpha_one_is_cross_entropy():
    pytest.importorskip("actlab.simplex.softmax")
    z = torch.randn(6, 5, dtype=torch.float64)
    t = torch.randint(0, 5, (6,))
    torch.testing.assert_close(actlab.entmax_loss(z, t, alpha=1.0), torch.nn.functional.cross_entropy(z, t))


def test_reduction_ignore_index_weight_like_torch():
    g = torch.Generator().manual_seed(4)
    z = torch.randn(7, 5, 3, dtype=torch.float64, generator=g)  # classes on axis 1
    t = torch.randint(0, 5, (7, 3), generator=g)
    t[0, 1] = t[3, 2] = -100
    w = torch.rand(5, dtype=torch.float64, generator=g) + 0.1
    rows = actlab.sparsemax_loss(z, t.clamp_min(0), reduction="none")
    assert rows.shape == (7, 3)
    keep = (t != -100).double()
    wr = w[t.clamp_min(0)] * keep
    mean = actlab.sparsemax_loss(z, t, weight=w)
    torch.testing.assert_close(mean, (rows * wr).sum() / wr.sum())
    torch.testing.assert_close(actlab.sparsemax_loss(z, t, weight=w, reduction="sum"), (rows * wr).sum())
    none = actlab.sparsemax_loss(z, t, weight=w, reduction="none")
    torch.testing.assert_close(none, rows * wr)
    # the same conventions as cross_entropy's (checked with its own numbers)
    ce_rows = torch.nn.functional.cross_entropy(z, t.clamp_min(0), reduction="none")
    torch.testing.assert_close(torch.nn.functional.cross_entropy(z, t, weight=w), (ce_rows * wr).sum() / wr.sum())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: actlab.sparsemax_loss([[0.0, 1.0]], [2]), "target 2 is out of range"),
        (lambda: actlab.sparsemax_loss([[0.0, 1.0]], [-3]), "target -3"),
        (lambda: actlab.entmax_loss([[0.0, 1.0]], [0], alpha=0.5), "alpha"),
        (lambda: actlab.entmax_loss([[0.0, 1.0]], [0], alpha=float("nan")), "alpha"),
        (lambda: actlab.sparsemax_loss([[0.0, 1.0]], [[0.5, 0.6]]), "summing to 1"),
        (lambda: actlab.sparsemax_loss([[0.0, 1.0]], [0], reduction="avg"), "reduction"),
        (lambda: actlab.sparsemax_loss([[0.0, 1.0]], [0], weight=np.ones(3)), "weight"),
        (lambda: actlab.sparsemax_loss([[0.0, 1.0]], [0, 1]), "shape"),
    ],
)
def test_invalid_targets_and_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_minus_inf_logits():
    z = torch.tensor([[0.0, -torch.inf, 1.0]], requires_grad=True)
    loss = actlab.sparsemax_loss(z, torch.tensor([2]))
    loss.backward()
    assert torch.isfinite(loss) and z.grad[0, 1] == 0
    assert actlab.sparsemax_loss(z.detach(), torch.tensor([1])) == torch.inf
