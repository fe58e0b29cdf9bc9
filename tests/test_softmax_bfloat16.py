"""bfloat16 softmax and log-softmax on CPU tensors (PyTorch's kernels, float32
inside): values within one bfloat16 ULP of the exact result, gradients within
a bfloat16 rounding error bound of the float64 VJP, and the rows those
kernels get wrong (+inf, all -inf, NaN, a dominant log-softmax entry) from
the general path.

Oracle: the float64 softmax of the same (exactly representable) inputs,
written here apart from the library (``x - max``, ``exp``, ``log1p`` of the
sum without the top term).
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import actlab  # noqa: E402

BF16_ULP = 2.0**-8  # relative spacing bound of bfloat16 (8 significant bits)


def _reference(x: torch.Tensor, log: bool) -> torch.Tensor:
    z = x.double()
    m = z.amax(-1, keepdim=True)
    d = z - m
    e = torch.exp(d)
    top = d.argmax(-1, keepdim=True)
    s = e.scatter(-1, top, 0.0).sum(-1, keepdim=True)  # the sum without the top term (exactly 1)
    return d - torch.log1p(s) if log else e / (1.0 + s)


def _inputs() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    scales = torch.tensor([0.1, 1.0, 5.0, 20.0, 100.0]).repeat(40)[:, None]
    x = (torch.randn(200, 257, generator=g, dtype=torch.float64) * scales).bfloat16()
    x[::9, 3] += 40.0  # dominant entries: log-softmax at the top near -1e-17
    return x


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_bfloat16_values_within_one_ulp(name):
    x = _inputs()
    y = getattr(actlab, name)(x, axis=-1)
    assert y.dtype == torch.bfloat16
    ref = _reference(x, name == "log_softmax")
    err = (y.double() - ref).abs() / (ref.abs() * BF16_ULP).clamp_min(2.0**-133)
    assert float(err.max()) <= 1.0


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_bfloat16_gradient_within_rounding_bound(name):
    x = _inputs()
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(8)).bfloat16()
    xr = x.clone().requires_grad_()
    (got,) = torch.autograd.grad(getattr(actlab, name)(xr, axis=-1), xr, g)
    assert got.dtype == torch.bfloat16
    y = _reference(x, name == "log_softmax")
    gd = g.double()
    if name == "softmax":
        ref = y * (gd - (gd * y).sum(-1, keepdim=True))
        scale = y * (gd.abs() + (gd * y).abs().sum(-1, keepdim=True))
    else:
        p = torch.exp(y)
        ref = gd - p * gd.sum(-1, keepdim=True)
        scale = gd.abs() + p * gd.abs().sum(-1, keepdim=True)
    # a few bfloat16 roundings of the terms and one of the result; where y is
    # subnormal it is itself rounded to the quantum 2^-133 (times |g| <= 8 here)
    tol = 4 * BF16_ULP * scale + BF16_ULP * ref.abs() + 8 * 2.0**-133
    assert bool(((got.double() - ref).abs() <= tol).all())


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_bfloat16_non_finite_rows(name):
    x = torch.zeros(4, 5, dtype=torch.bfloat16)
    x[0, 1] = math.inf
    x[1, :] = -math.inf
    x[2, 2] = math.nan
    x[3, 0] = -math.inf
    y = getattr(actlab, name)(x, axis=-1)
    ref = getattr(actlab, name)(x.float(), axis=-1).bfloat16()
    assert torch.equal(torch.isnan(y), torch.isnan(ref))
    ok = ~torch.isnan(ref)
    assert torch.equal(y[ok], ref[ok])


def test_bfloat16_other_axis_and_temperature_take_float32():
    x = _inputs()[:20]
    for kw in ({"axis": 0}, {"axis": -1, "temperature": 3.0}):
        y = actlab.softmax(x, **kw)
        assert y.dtype == torch.bfloat16
        ref = actlab.softmax(x.float(), **kw).bfloat16()
        assert float((y.float() - ref.float()).abs().max()) <= float(ref.float().abs().max()) * BF16_ULP


def test_bfloat16_log_softmax_long_rows_and_dominant_tops():
    """Long rows (the float32 partial sums) and tops whose rest sums to about
    2^-6, both sides of where the row is summed again without its top."""
    g = torch.Generator().manual_seed(9)
    x = torch.randn(24, 20000, generator=g, dtype=torch.float64)
    for i, gap in enumerate(torch.linspace(9.0, 16.0, 12).tolist()):
        x[12 + i, 0] = x[12 + i].max() + gap
    x = x.bfloat16()
    y = actlab.log_softmax(x, axis=-1)
    ref = _reference(x, True)
    err = (y.double() - ref).abs() / (ref.abs() * BF16_ULP).clamp_min(2.0**-133)
    assert float(err.max()) <= 1.0
