"""Fuzz harness, losses: every registered loss (cross-entropy and its
spherical/Taylor variants, binary cross-entropy, distillation, the sparsemax
and entmax losses) on empty batches, fully ignored batches, masked logits,
NaN rows, every integer target dtype, Python and NumPy targets with tensor
logits, bad arguments; binary cross-entropy's gradient with respect to the
target; PyTorch's values on the same inputs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from fuzz_inputs import FUZZ, LOSSES, call_loss, loss_target, rows
from hypothesis import given

import actlab

inf, nan = math.inf, math.nan
IDS = [e.name for e in LOSSES]
CLASS_LOSSES = [e for e in LOSSES if e.name not in ("binary_cross_entropy_with_logits", "distillation_loss", "kl_div",
                                                    "multilabel_soft_margin_loss")]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("e", LOSSES, ids=IDS)
def test_empty_batch(e, reduction):
    """N = 0: mean is NaN (PyTorch's), sum 0, none empty; no warning, no crash;
    the backward runs."""
    z = torch.zeros(0, 3, dtype=torch.float64, requires_grad=True)
    t = torch.as_tensor(loss_target(e, z.detach().numpy()))
    loss = call_loss(e, z, t, reduction=reduction)
    if reduction == "mean":
        assert torch.isnan(loss)
    elif reduction == "sum":
        assert loss == 0
    else:
        assert loss.numel() == 0
    loss.sum().backward()
    assert z.grad is None or z.grad.shape == (0, 3)
    ln = call_loss(e, np.zeros((0, 3)), loss_target(e, np.zeros((0, 3))), reduction=reduction)
    assert np.asarray(ln).size <= 1


@pytest.mark.parametrize("e", CLASS_LOSSES, ids=[e.name for e in CLASS_LOSSES])
def test_every_target_ignored(e):
    """No counted row: NaN loss as in PyTorch, no RuntimeWarning, zero gradient."""
    z = np.random.default_rng(0).normal(size=(3, 4))
    assert np.isnan(call_loss(e, z, np.full(3, -100)))
    zt = torch.tensor(z, requires_grad=True)
    loss = call_loss(e, zt, torch.full((3,), -100))
    assert torch.isnan(loss)
    loss.backward()
    assert torch.all(zt.grad == 0), zt.grad


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
@pytest.mark.parametrize("e", CLASS_LOSSES, ids=[e.name for e in CLASS_LOSSES])
def test_integer_target_dtypes(e, dtype):
    z = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    want = call_loss(e, z, torch.tensor([0, 3, 1]))
    torch.testing.assert_close(call_loss(e, z, torch.tensor([0, 3, 1], dtype=dtype)), want)
    torch.testing.assert_close(call_loss(e, z, [0, 3, 1]), want)
    torch.testing.assert_close(call_loss(e, z, np.array([0, 3, 1], dtype=np.int16)), want)


@pytest.mark.parametrize("e", CLASS_LOSSES, ids=[e.name for e in CLASS_LOSSES])
def test_bad_targets_name_the_argument(e):
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"target.*\b(5|-1)\b"):
        call_loss(e, z, np.array([0, 5]))
    with pytest.raises(ValueError, match=r"target.*-1"):
        call_loss(e, torch.zeros(2, 3), torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match="reduction.*'avg'"):
        call_loss(e, z, np.array([0, 1]), reduction="avg")


@pytest.mark.parametrize("e", CLASS_LOSSES, ids=[e.name for e in CLASS_LOSSES])
def test_masked_logits_and_nan_rows(e):
    """Masked (-inf) logits of a wrong class: finite loss, zero gradient there;
    a NaN row gives a NaN loss of its own and leaves the other rows' gradients
    as they are (reduction='sum')."""
    z = torch.tensor([[0.0, -inf, 2.0], [1.0, 0.5, -inf], [nan, 0.0, 1.0]], dtype=torch.float64)
    t = torch.tensor([0, 1, 2])
    zc = z[:2].clone().requires_grad_()
    lc = call_loss(e, zc, t[:2], reduction="none")
    assert torch.isfinite(lc).all(), lc
    lc.sum().backward()
    assert torch.all(zc.grad[torch.isinf(z[:2])] == 0) and not torch.isnan(zc.grad).any()
    if e.name == "nll_loss":  # reads only the target's log-probability (as torch's): a NaN elsewhere stays out
        return
    zz = z.clone().requires_grad_()
    loss = call_loss(e, zz, t, reduction="none")
    assert torch.isnan(loss[2]) and torch.isfinite(loss[:2]).all()
    loss[:2].sum().backward()  # the NaN row is not part of this sum: it must not contribute
    torch.testing.assert_close(zz.grad[:2], zc.grad)


def test_distillation_with_masked_logits_is_quiet():
    """A class both models mask drops out (0 log 0 = 0), quietly: the loss is
    that of the rows without it (scipy.special.rel_entr, the oracle, on those);
    a class only the student masks gives +inf."""
    sc = pytest.importorskip("scipy.special")
    s = np.array([[0.0, -inf, 1.0], [0.0, -inf, -1.0]])
    t = np.array([[0.0, -inf, 2.0], [0.5, -inf, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = actlab.distillation_loss(s, t, temperature=2.0, reduction="none")
        only_student = actlab.distillation_loss(np.array([[0.0, -inf, 1.0]]), np.array([[0.0, 1.0, 2.0]]),
                                                temperature=2.0)
    keep = [0, 2]
    want = 4.0 * sc.rel_entr(sc.softmax(t[:, keep] / 2, -1), sc.softmax(s[:, keep] / 2, -1)).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert only_student == inf


def test_distillation_masked_logits_torch_gradient():
    s = torch.tensor([[0.0, -inf, 1.0]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[0.0, -inf, 2.0]], dtype=torch.float64)
    loss = actlab.distillation_loss(s, t, temperature=2.0)
    loss.backward()
    assert torch.isfinite(loss) and s.grad[0, 1] == 0 and not torch.isnan(s.grad).any()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_bce_target_gradient_is_exact(dtype):
    """d/dy of binary cross-entropy is exactly -x w (p = 1): no cancellation
    between softplus(-x) and softplus(x)."""
    x = torch.tensor([1e-3, 0.3, -2.5, 17.0, 1e-4, -40.0, 0.0, -0.0, 6e-5], dtype=dtype)
    w = torch.tensor([1.0, 0.5, 2.0, 1.0, 3.0, 1.0, 1.0, 2.0, 1.0], dtype=dtype)
    y = torch.full_like(x, 0.3, requires_grad=True)
    (g,) = torch.autograd.grad(actlab.binary_cross_entropy_with_logits(x, y, weight=w, reduction="sum"), y)
    assert torch.equal(g, -x * w), (g, -x * w)


def test_bce_gradients_at_infinite_logits_and_double_backward():
    x = torch.tensor([1e-3, inf, -inf, 3.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0.3, 0.5, 0.2, 1.0], dtype=torch.float64, requires_grad=True)
    pw = torch.tensor(2.0, dtype=torch.float64)
    ours = torch.autograd.grad(actlab.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="sum"), (x, y))
    ref = torch.autograd.grad(torch.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=pw,
                                                                                   reduction="sum"), (x, y))
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
    x2, y2 = x.detach()[[0, 3]].requires_grad_(), y.detach()[[0, 3]].requires_grad_()
    f = lambda a, b: actlab.binary_cross_entropy_with_logits(a, b, pos_weight=pw)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x2, y2)) and torch.autograd.gradgradcheck(f, (x2, y2))


@FUZZ
@given(rows(min_k=2, max_k=5, allow_nan=False))
def test_random_cross_entropy_matches_pytorch(z):
    """Same loss and gradient as torch.nn.functional.cross_entropy wherever
    PyTorch's value is finite (-inf entries of other classes allowed)."""
    t = torch.from_numpy(z)
    target = torch.arange(t.shape[0]) % t.shape[1]
    good = torch.isfinite(t[torch.arange(t.shape[0]), target]) & ~(t == inf).any(-1)
    if not bool(good.any()):
        return
    t, target = t[good], target[good]
    ours = actlab.cross_entropy(t, target, reduction="none")
    ref = torch.nn.functional.cross_entropy(t, target, reduction="none")
    ok = torch.isfinite(ref)
    scale = t.abs().nan_to_num(posinf=0.0, neginf=0.0).amax(-1)
    assert bool((((ours - ref).abs() <= 1e-12 * ref.abs() + 4e-16 * scale) | ~ok).all()), (z, ours, ref)


@pytest.mark.parametrize("weight", [[1.0, 2.0, 0.5], np.array([1.0, 2.0, 0.5]), (1, 2, 0.5)])
def test_weight_from_the_other_namespace(weight):
    z = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0, 1, 2, 1])
    want = torch.nn.functional.cross_entropy(z, t, weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64))
    torch.testing.assert_close(actlab.cross_entropy(z, t, weight=weight), want)


@pytest.mark.parametrize("bad", [-0.1, 1.5, nan, inf, "0.1", True])
def test_label_smoothing_limits(bad):
    with pytest.raises((ValueError, TypeError), match="label_smoothing"):
        actlab.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=bad)


@pytest.mark.parametrize("bad", [0.0, -1.0, inf, nan])
def test_distillation_temperature_limits(bad):
    with pytest.raises(ValueError, match="temperature"):
        actlab.distillation_loss(np.zeros((1, 3)), np.zeros((1, 3)), temperature=bad)


@pytest.mark.parametrize("alpha", [0.5, 0.999, nan, inf, -1.0])
def test_entmax_loss_alpha_limits(alpha):
    with pytest.raises(ValueError, match="alpha"):
        actlab.entmax_loss(np.zeros((2, 3)), np.array([0, 1]), alpha=alpha)
