"""The lane of the sparse maps on CPU tensors
(:func:`actlab.backends.torch.sparse_kernels.lane`: the numba kernels called
directly, in one autograd Function): gradients by finite differences
(``gradcheck`` and ``gradgradcheck`` in float64), forward mode against central
differences, the same values as the generic path, and the cases it leaves to
the generic path."""

from __future__ import annotations

import pytest
import torch
import torch.autograd.forward_ad as fwAD

import actlab
from actlab.simplex import sparse_forward

pytest.importorskip("numba")
from actlab.backends.torch import sparse_kernels  # noqa: E402

MAPS = {
    "sparsemax": actlab.sparsemax,
    "entmax15": actlab.entmax15,
    "entmax(1.25)": lambda v: actlab.entmax(v, alpha=1.25),
    "entmax(1.75)": lambda v: actlab.entmax(v, alpha=1.75),
}


def _x(dtype=torch.float64, shape=(3, 7), seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("name", MAPS)
def test_gradcheck_and_gradgradcheck(name):
    x = _x().requires_grad_()
    torch.autograd.gradcheck(MAPS[name], (x,))
    torch.autograd.gradgradcheck(MAPS[name], (x,))


@pytest.mark.parametrize("name", MAPS)
def test_forward_mode_matches_central_differences(name):
    x, t = _x(seed=1), _x(seed=2)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(MAPS[name](fwAD.make_dual(x, t))).tangent
    eps = 1e-6
    want = (MAPS[name](x + eps * t) - MAPS[name](x - eps * t)) / (2 * eps)
    torch.testing.assert_close(tangent, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", MAPS)
def test_same_values_and_gradients_as_the_generic_path(name, monkeypatch):
    x = _x(torch.float32, (16, 128), 3).requires_grad_()
    g = _x(torch.float32, (16, 128), 4)
    y = MAPS[name](x)
    (gx,) = torch.autograd.grad(y, x, g)
    monkeypatch.setattr(sparse_kernels, "lane", lambda *a: None)
    y0 = MAPS[name](x)
    (g0,) = torch.autograd.grad(y0, x, g)
    torch.testing.assert_close(y, y0, rtol=0, atol=0)
    torch.testing.assert_close(gx, g0, rtol=0, atol=0)


def test_lane_takes_and_leaves(monkeypatch):
    x = torch.zeros(2, 5)
    assert sparse_kernels.lane("sparsemax", x, ()) is not None
    assert sparse_kernels.lane("entmax", x, (1.75, 50)) is not None
    assert sparse_kernels.lane("entmax", x, (0.5, 50)) is None  # dense entmax
    assert sparse_kernels.lane("entmax", x, (1.0, 50)) is None  # softmax
    assert sparse_kernels.lane("entmax", x, (torch.tensor([[1.5]]), 50)) is None  # array alpha
    assert sparse_kernels.lane("softmax", x, ()) is None
    assert sparse_kernels.lane("sparsemax", x.bfloat16(), ()) is None
    assert sparse_kernels.lane("sparsemax", x.to("meta"), ()) is None
    assert sparse_kernels.lane("sparsemax", torch.zeros(2, 0), ()) is None
    monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)
    assert sparse_kernels.lane("sparsemax", x, ()) is None


def test_non_contiguous_and_expanded_gradients():
    x = _x(torch.float32, (128, 6), 5).t().requires_grad_()  # rows of 128, strided
    y = actlab.entmax(x, alpha=1.75)
    y.sum().backward()  # an expanded (stride 0) cotangent
    torch.testing.assert_close(x.grad, torch.zeros_like(x), rtol=0, atol=1e-6)
    torch.testing.assert_close(y.sum(-1), torch.ones(6), rtol=1e-6, atol=1e-6)
