"""nll_loss, kl_div, multilabel_soft_margin_loss, normmax_loss and the
multi-label sparsemax loss.

Oracles: torch.nn.functional in float64 (values and gradients, on NumPy and
torch inputs), the entmax package's normmax_bisect_loss, Martins & Astudillo
2016's sparsemax loss written here from its closed form with a sort-based
threshold, torch.autograd.gradcheck in float64.
"""

from __future__ import annotations

import math

import entmax as E
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import actlab
import actlab.torch as at

RNG = np.random.default_rng(11)


def _t(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _grads(fa, fb, *inputs, where=None):
    """Values and gradients of two losses on the same inputs (gradients compared
    where ``where`` is True, everywhere without it)."""
    a, b = fa(*inputs), fb(*inputs)
    torch.testing.assert_close(a.detach() if isinstance(a, torch.Tensor) else torch.tensor(a), b.detach(),
                               rtol=1e-12, atol=1e-14)
    ga = torch.autograd.grad(a.sum(), [x for x in inputs if x.requires_grad])
    gb = torch.autograd.grad(b.sum(), [x for x in inputs if x.requires_grad])
    for u, v in zip(ga, gb):
        keep = torch.ones_like(u, dtype=torch.bool) if where is None or u.shape != where.shape else where
        torch.testing.assert_close(u[keep], v[keep], rtol=1e-12, atol=1e-14)


# -- nll_loss --------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 2, 3), (5,)])
def test_nll_loss_against_torch(reduction, shape):
    lp = _t(torch.log_softmax(torch.tensor(RNG.normal(size=shape)), 0 if len(shape) == 1 else 1).numpy())
    C = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    t = torch.tensor(RNG.integers(0, C, size=tshape))
    if t.ndim:
        t.view(-1)[0] = -100
    w = torch.tensor(RNG.uniform(0.5, 2.0, size=C))
    for kw, tk in (({}, t), ({"weight": w}, t), ({"ignore_index": 1}, torch.where(t == -100, 1, t))):
        _grads(lambda x, tk=tk, kw=kw: at.nll_loss(x, tk, reduction=reduction, **kw),
               lambda x, tk=tk, kw=kw: F.nll_loss(x, tk, reduction=reduction, **kw), lp)
    # the NumPy API: class axis given explicitly
    got = actlab.nll_loss(lp.detach().numpy(), t.numpy(), axis=0 if len(shape) == 1 else 1, reduction=reduction,
                          weight=w.numpy())
    np.testing.assert_allclose(got, F.nll_loss(lp.detach(), t, weight=w, reduction=reduction).numpy(), rtol=1e-13)


def test_nll_loss_module_and_errors():
    lp = torch.log_softmax(torch.tensor(RNG.normal(size=(4, 3))), 1)
    t = torch.tensor([0, 2, 1, 1])
    torch.testing.assert_close(at.NLLLoss(reduction="sum")(lp, t), torch.nn.NLLLoss(reduction="sum")(lp, t))
    with pytest.raises(TypeError, match="integer"):
        actlab.nll_loss(lp.numpy(), np.zeros((4, 3)), axis=1)
    with pytest.raises(ValueError, match="out of range"):
        actlab.nll_loss(lp.numpy(), [0, 3, 1, 1], axis=1)
    assert math.isnan(float(actlab.nll_loss(lp.numpy(), [-100] * 4, axis=1)))  # no counted row: NaN, as torch


# -- kl_div ----------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's note on 'mean'
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_against_torch(reduction, log_target):
    inp = _t(torch.log_softmax(torch.tensor(RNG.normal(size=(4, 6))), 1).numpy())
    q = torch.softmax(torch.tensor(RNG.normal(size=(4, 6))), 1)
    q[0, :2] = 0.0  # zeros in the target
    q[0] /= q[0].sum()
    tgt = _t((torch.log(q) if log_target else q).numpy())
    if log_target:
        tgt = _t(np.where(np.isfinite(tgt.detach().numpy()), tgt.detach().numpy(), -50.0))
    _grads(lambda x, y: at.kl_div(x, y, reduction=reduction, log_target=log_target),
           lambda x, y: F.kl_div(x, y, reduction=reduction, log_target=log_target), inp, tgt,
           where=q > 0)  # d/dq of q log q is -inf at q = 0 (torch: NaN, actlab: 0); compared where q > 0
    got = actlab.kl_div(inp.detach().numpy(), tgt.detach().numpy(), reduction=reduction, log_target=log_target)
    ref = F.kl_div(inp.detach(), tgt.detach(), reduction=reduction, log_target=log_target).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-15)
    mod = at.KLDivLoss(reduction=reduction, log_target=log_target)
    torch.testing.assert_close(mod(inp, tgt), torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(inp, tgt))


def test_kl_div_masked_and_zero_target():
    """0 log 0 = 0 even where the model's log-probability is -inf (torch gives NaN there)."""
    inp = _t([[-math.inf, math.log(0.5), math.log(0.5)]])
    q = torch.tensor([[0.0, 0.5, 0.5]], dtype=torch.float64)
    loss = at.kl_div(inp, q, reduction="sum")
    assert float(loss.detach()) == 0.0
    (g,) = torch.autograd.grad(loss, inp)
    assert torch.equal(g, -q)
    assert torch.autograd.gradcheck(lambda x: at.kl_div(x, q, reduction="batchmean"),
                                    (_t(np.log(RNG.dirichlet(np.ones(3), size=2))),))
    with pytest.raises(ValueError, match="reduction"):
        actlab.kl_div([0.0], [1.0], reduction="avg")


# -- multilabel_soft_margin_loss -------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_soft_margin_against_torch(reduction):
    x = _t(RNG.normal(size=(5, 4)) * 10)
    y = torch.tensor(RNG.integers(0, 2, size=(5, 4)), dtype=torch.float64)
    w = torch.tensor(RNG.uniform(0.5, 2.0, size=4))
    for kw in ({}, {"weight": w}):
        _grads(lambda v, kw=kw: at.multilabel_soft_margin_loss(v, y, reduction=reduction, **kw),
               lambda v, kw=kw: F.multilabel_soft_margin_loss(v, y, reduction=reduction, **kw), x)
        got = actlab.multilabel_soft_margin_loss(x.detach().numpy(), y.numpy(), reduction=reduction,
                                                 **{k: v.numpy() for k, v in kw.items()})
        np.testing.assert_allclose(got, F.multilabel_soft_margin_loss(x.detach(), y, reduction=reduction, **kw).numpy(),
                                   rtol=1e-13)
    m = at.MultiLabelSoftMarginLoss(weight=w, reduction=reduction)
    torch.testing.assert_close(m(x, y), torch.nn.MultiLabelSoftMarginLoss(weight=w, reduction=reduction)(x, y))
    # far tails: torch's float64 value and actlab's agree; no overflow, no cancellation to 0
    big = torch.tensor([[-800.0, 800.0]], dtype=torch.float64)
    assert float(at.multilabel_soft_margin_loss(big, torch.tensor([[0.0, 1.0]], dtype=torch.float64))) == 0.0
    assert float(actlab.multilabel_soft_margin_loss([[-40.0]], [[0.0]])) == pytest.approx(math.exp(-40), rel=1e-15)


# -- normmax loss ----------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0])
def test_normmax_loss_against_entmax_package(alpha):
    x = _t(RNG.normal(size=(6, 5)))
    t = torch.tensor(RNG.integers(0, 5, size=6))
    _grads(lambda v: actlab.normmax_loss(v, t, alpha, reduction="none"),
           lambda v: E.normmax_bisect_loss(v, t, alpha=alpha, n_iter=100), x)
    torch.testing.assert_close(at.NormmaxLoss(alpha, reduction="sum")(x, t),
                               E.NormmaxBisectLoss(alpha, n_iter=100, reduction="sum")(x, t), rtol=1e-12, atol=1e-12)
    q = torch.softmax(torch.tensor(RNG.normal(size=(6, 5))), 1)
    assert torch.autograd.gradcheck(lambda v: actlab.normmax_loss(v, q, alpha), (x,))
    assert float(actlab.normmax_loss(x.detach(), actlab.normmax(x.detach(), alpha), alpha)) == pytest.approx(0.0, abs=1e-14)


# -- multi-label sparsemax loss --------------------------------------------------------------------

def sparsemax_loss_ref(z, q):
    """Martins & Astudillo 2016, eq. (17) with a label-proportion target: sort-based tau."""
    zs = np.sort(z)[::-1]
    k = np.arange(1, z.size + 1)
    kz = k[1 + k * zs > np.cumsum(zs)].max()
    tau = (zs[:kz].sum() - 1) / kz
    S = z > tau
    return -q @ z + 0.5 * np.sum(z[S] ** 2 - tau**2) + 0.5 * q @ q, np.maximum(z - tau, 0) - q


def test_multilabel_sparsemax_loss():
    z = RNG.normal(size=(5, 6)) * 2
    y = RNG.integers(0, 2, size=(5, 6))
    y[:, 0] = 1
    got = actlab.sparsemax_loss(z, y, multilabel=True, reduction="none")
    zt = _t(z)
    loss = at.sparsemax_loss(zt, torch.tensor(y), multilabel=True, reduction="sum")
    (g,) = torch.autograd.grad(loss, zt)
    for i in range(5):
        ref, gref = sparsemax_loss_ref(z[i], y[i] / y[i].sum())
        assert got[i] == pytest.approx(ref, rel=1e-12, abs=1e-14)
        np.testing.assert_allclose(g[i].numpy(), gref, rtol=1e-12, atol=1e-14)
    assert torch.autograd.gradcheck(lambda v: at.sparsemax_loss(v, torch.tensor(y), multilabel=True), (zt,))
    # the loss is 0 exactly when sparsemax(z) equals the label proportions
    assert float(actlab.sparsemax_loss([[2.0, 2.0, -5.0]], [[1, 1, 0]], multilabel=True)) == 0.0
    with pytest.raises(ValueError, match="positive label"):
        actlab.sparsemax_loss(z, np.zeros((5, 6)), multilabel=True)
    with pytest.raises(ValueError, match="shape"):
        actlab.sparsemax_loss(z, y[:, :3], multilabel=True)


def test_losses_registered():
    names = {e.name for e in actlab.registry("loss")}
    assert {"nll_loss", "kl_div", "multilabel_soft_margin_loss", "normmax_loss"} <= names
