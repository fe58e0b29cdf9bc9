"""Kernels of the element-wise fast paths: torch's own ops where they are
accurate, evaluated in cache-sized blocks where a formula takes several.

Every kernel here works on a *block*: a 1-d tensor of at most
:data:`BLOCK` entries in the entry's working dtype (float32 for bfloat16
input, float64 where a float32 result needs it). :func:`blocked` runs a
kernel over a whole tensor block by block and rounds each block once to the
output dtype, so the intermediates of a formula stay in cache and no
full-size temporary is allocated (at 10^7 entries most of the time of an
unblocked formula goes to the page faults of fresh temporaries).

Derivative kernels take ``(x, g)`` and return ``g f'(x)`` (``f'(x)`` where
``g`` is None). They are exact rewritings of the formulas in
:mod:`actlab.elementwise` with torch's native kernels (``sigmoid``,
``silu_backward``, ...), accurate to a few ULPs in the domain their table
entry declares (``tests/test_fast_paths.py`` holds them to 4 ULPs against
mpmath).

Example:
    >>> import torch
    >>> from actlab.backends.torch.fast_kernels import blocked, d_sigmoid
    >>> blocked(d_sigmoid, torch.float32, None, torch.zeros(3), None).tolist()
    [0.25, 0.25, 0.25]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ...elementwise.normal_tail import gelu_derivative_plain, gelu_plain
from ...elementwise.sigmoid_like import tanhshrink_plain

__all__ = ["BLOCK", "blocked", "scaled"]

Tensor = torch.Tensor
BLOCK = 1 << 16
"""Entries per block: 256 KiB of float32, a few intermediates fit in L2."""
SINGLE = 1 << 18
"""Up to this many entries a kernel runs on the whole tensor at once (its
temporaries are reused by the allocator; blocks would only add calls)."""

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_aten = torch.ops.aten
_GELU_TANH_A = 2.0 * math.sqrt(2.0 / math.pi)
_GELU_TANH_B = _GELU_TANH_A * 0.044715


def blocked(kernel: Callable[..., Tensor], out_dtype: torch.dtype, work: torch.dtype | None,
            x: Tensor, g: Tensor | None) -> Tensor:
    """``kernel(x, g)`` (``kernel(x)`` where ``g`` is None and the kernel is a
    forward) evaluated in ``work`` precision (None: x's dtype) a block at a
    time, each block rounded once to ``out_dtype``; shaped like ``x``."""
    n = x.numel()
    if n <= SINGLE:
        r = kernel(_to(x, work), _to(g, work))
        return r.to(out_dtype).reshape(x.shape)
    xf = x.reshape(-1)
    gf = None if g is None else g.reshape(-1)
    out = torch.empty(n, dtype=out_dtype, device=x.device)
    for i in range(0, n, BLOCK):
        j = i + BLOCK
        out[i:j] = kernel(_to(xf[i:j], work), None if gf is None else _to(gf[i:j], work))
    return out.view(x.shape)


def _to(t: Tensor | None, work: torch.dtype | None) -> Any:
    return t if t is None or work is None else t.to(work)


def scaled(d: Tensor, g: Tensor | None) -> Tensor:
    """``g * d`` (``d`` where ``g`` is None)."""
    return d if g is None else d.mul_(g)


def _ones(x: Tensor, g: Tensor | None) -> Tensor:
    return torch.ones_like(x) if g is None else g


# -- forward kernels (one native op, possibly in a wider dtype) ---------------

def gelu(x: Tensor, _: Any = None) -> Tensor:
    """x Phi(x) = x erfc(-x/sqrt 2)/2 (actlab's float64 formula for float32
    results, :func:`actlab.elementwise.normal_tail.gelu_plain`)."""
    return gelu_plain(x, xp=_backend())


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu_erfc(x: Tensor, _: Any = None) -> Tensor:
    """x erfc(-x/sqrt 2) / 2 by torch's float32 erfc, for bfloat16 results:
    the rounding of -x/sqrt 2 moves erfc by 2u^2 2^-24 relative (1e-5 at the
    last x where the result is not 0), far below a bfloat16 ULP; x is clamped
    to [-20, inf) (gelu(-inf) = -0, not -inf * 0)."""
    v = x.clamp(min=-20.0)
    return torch.special.erfc(v * -_SQRT_HALF).mul_(v * 0.5)  # (x/2 first: 2x would overflow)


def d_gelu_erfc(x: Tensor, g: Tensor | None) -> Tensor:
    """Phi(x) + x phi(x) in float32 for bfloat16 results (near the root
    -0.7518 float32's cancellation error is 1e-7 / |x - root|, and the
    nearest bfloat16 numbers are 2e-3 away); x clamped to [-20, 20]."""
    v = x.clamp(-20.0, 20.0)
    d = torch.exp(v.square().mul_(-0.5)).mul_(v).mul_(_INV_SQRT_2PI)
    return scaled(d.add_(torch.special.erfc(v * -_SQRT_HALF), alpha=0.5), g)


def _gelu_tanh_argument(v: Tensor) -> Tensor:
    """z = 2 sqrt(2/pi) (v + 0.044715 v^3) = v (a + b v^2), a fresh tensor."""
    return v.square().mul_(_GELU_TANH_B).add_(_GELU_TANH_A).mul_(v)


def gelu_tanh(x: Tensor, _: Any = None) -> Tensor:
    """x sigma(2 sqrt(2/pi) (x + 0.044715 x^3)) by torch's sigmoid (float64
    for float32 results: the rounding of z costs |z| 2^-53 relative, far
    below a float32 ULP; float32 for bfloat16 results, where z >= -87);
    |x| is clamped at 1e4 inside z and below for x (the limits 0 and inf)."""
    z = _gelu_tanh_argument(x.clamp(-1e4, 1e4))
    return torch.sigmoid_(z).mul_(x.clamp(min=-1e4))


def tanhshrink(x: Tensor, _: Any = None) -> Tensor:
    """x - tanh(x) (actlab's float64 formula for float32 results,
    :func:`actlab.elementwise.sigmoid_like.tanhshrink_plain`)."""
    return tanhshrink_plain(x, xp=_backend())


def tanhshrink_float32(x: Tensor, _: Any = None) -> Tensor:
    """x - tanh(x) in float32 for bfloat16 results: below |x| = 0.1 the series
    x^3/3 - 2x^5/15 (next term 2e-5 relative), above it the difference
    (float32's tanh cancels by at most a factor 300 there: 3e-5 relative,
    against bfloat16's 4e-3)."""
    x2 = x * x
    small = x * x2 * (1.0 / 3.0 - x2 * (2.0 / 15.0))
    return torch.where(x.abs() < 0.1, small, x - torch.tanh(x))


def _backend() -> Any:
    from . import BACKEND

    return BACKEND


def mish(x: Tensor, _: Any = None) -> Tensor:
    return F.mish(x)


def softsign(x: Tensor, _: Any = None) -> Tensor:
    return F.softsign(x)


def silu(x: Tensor, _: Any = None) -> Tensor:
    return F.silu(x)


# -- derivative kernels ---------------------------------------------------------

def d_sigmoid(x: Tensor, g: Tensor | None) -> Tensor:
    """sigma(x) sigma(-x) = s (1 - s) with s = sigma(-|x|) <= 1/2 (so 1 - s
    is accurate), by torch's sigmoid and sigmoid_backward (|x| <= 88 in
    float32, where s is normal)."""
    s = torch.sigmoid(x.abs().neg_())
    return _aten.sigmoid_backward(_ones(x, g), s)


def d_tanh(x: Tensor, g: Tensor | None) -> Tensor:
    """sech^2(x) = 4 sigma'(2x) = 4 s (1 - s), s = sigma(-2|x|) (|x| <= 44 in
    float32; the factors 2 and 4 are exact)."""
    s = torch.sigmoid(x.abs().mul_(-2.0))
    return _aten.sigmoid_backward(_ones(x, g), s).mul_(4.0)


def d_silu(x: Tensor, g: Tensor | None) -> Tensor:
    """torch's silu_backward (in float64 for float32 results: it cancels near
    the root -1.2785 and saturates early in float32)."""
    return _aten.silu_backward(_ones(x, g), x)


def d_mish(x: Tensor, g: Tensor | None) -> Tensor:
    return _aten.mish_backward(_ones(x, g), x)


def d_gelu(x: Tensor, g: Tensor | None) -> Tensor:
    """Phi(x) + x phi(x) (actlab's float64 formula for float32 results,
    :func:`actlab.elementwise.normal_tail.gelu_derivative_plain`)."""
    return scaled(gelu_derivative_plain(x, xp=_backend()), g)


def d_gelu_tanh(x: Tensor, g: Tensor | None) -> Tensor:
    """sigma(z) (1 + x z' sigma(-z)), z' = a + 3 b x^2; sigma(-z) as 1 - sigma(z),
    whose absolute error is far below the result where it loses relative
    accuracy (z > 0, where the bracket is 1 + tiny)."""
    v = x.clamp(-1e4, 1e4)
    v2 = v.square()
    s = torch.sigmoid_(v2.mul(_GELU_TANH_B).add_(_GELU_TANH_A).mul_(v))
    dz = v2.mul_(3.0 * _GELU_TANH_B).add_(_GELU_TANH_A)
    d = torch.sub(1.0, s).mul_(dz).mul_(v).add_(1.0).mul_(s)
    return scaled(d, g)


def d_elu(x: Tensor, g: Tensor | None) -> Tensor:
    return _aten.elu_backward(_ones(x, g), 1.0, 1.0, 1.0, False, x)


def d_selu(x: Tensor, g: Tensor | None) -> Tensor:
    return _aten.elu_backward(_ones(x, g), _SELU_ALPHA, _SELU_SCALE, 1.0, False, x)


def softplus_threshold(dtype: torch.dtype) -> float:
    """Where torch's softplus returns x itself: 20 in float32 (as torch's
    default), 37 in float64 (log1p(e^-37) is below half an ULP of 37)."""
    return 37.0 if dtype == torch.float64 else 20.0


def softplus(x: Tensor, _: Any = None) -> Tensor:
    return F.softplus(x, 1.0, softplus_threshold(x.dtype))


def d_softplus(x: Tensor, g: Tensor | None) -> Tensor:
    return _aten.softplus_backward(_ones(x, g), x, 1.0, softplus_threshold(x.dtype))


Kernel = Callable[..., Tensor]


def softplus_beta(beta: float, threshold: float) -> Kernel:
    """softplus(x, beta) by torch's kernel (``threshold`` where it returns x)."""
    def kernel(x: Tensor, _: Any = None) -> Tensor:
        return F.softplus(x, beta, threshold)
    return kernel


def d_softplus_beta(beta: float, threshold: float) -> Kernel:
    """sigma(beta x) by torch's softplus_backward."""
    def kernel(x: Tensor, g: Tensor | None) -> Tensor:
        return _aten.softplus_backward(_ones(x, g), x, beta, threshold)
    return kernel


def swish_beta(beta: float) -> Kernel:
    """x sigma(beta x) = silu(beta x) / beta."""
    def kernel(x: Tensor, _: Any = None) -> Tensor:
        return F.silu(x * beta).div_(beta)
    return kernel


def d_swish_beta(beta: float) -> Kernel:
    """d/dx x sigma(beta x) = silu'(beta x), by torch's silu_backward."""
    def kernel(x: Tensor, g: Tensor | None) -> Tensor:
        return _aten.silu_backward(_ones(x, g), x * beta)
    return kernel


def d_log_sigmoid(x: Tensor, g: Tensor | None) -> Tensor:
    _, buffer = _aten.log_sigmoid_forward(x)
    return _aten.log_sigmoid_backward(_ones(x, g), x, buffer)


def d_tanhshrink(x: Tensor, g: Tensor | None) -> Tensor:
    """tanh^2(x) by torch's tanh (float32's is within 1 ULP; the square adds one rounding)."""
    return scaled(torch.tanh(x).square_(), g)


def d_softsign(x: Tensor, g: Tensor | None) -> Tensor:
    """1 / (1 + |x|)^2 (two roundings and the division's: within 2.5 ULPs;
    torch's autograd of x / (1 + |x|) cancels in 1 - |x| / (1 + |x|))."""
    t = x.abs().add_(1.0).square_()
    return torch.reciprocal_(t) if g is None else torch.div(g, t)


def d_hardswish(x: Tensor, g: Tensor | None) -> Tensor:
    """(2x + 3)/6 on (-3, 3], 0 below, 1 above, NaN at NaN (2x + 3 is exact,
    so the result is rounded once; torch's x/3 + 1/2 cancels near the root
    -3/2, and its interval is [-3, 3))."""
    d = x.mul(2.0).add_(3.0).div_(6.0)
    d = torch.where(x > 3.0, 1.0, torch.where(x <= -3.0, 0.0, d))  # (where vectorises, masked_fill_ does not)
    return scaled(d, g)


def d_hardsigmoid(x: Tensor, g: Tensor | None) -> Tensor:
    """[-3 < x < 3] / 6 with 1/6 rounded to x's dtype (torch's backward uses
    float32's 1/6 for every dtype); NaN at NaN."""
    d = torch.where((x > -3.0) & (x < 3.0), 1.0 / 6.0, torch.where(torch.isnan(x), x, 0.0)).to(x.dtype)
    return scaled(d, g)
