"""``torch.nn`` modules for the catalogue activations (what transformers,
timm, MetaFormer, BigVGAN, SIREN, Apertus and gpt-oss use), each calling the
actlab function, so the backward is actlab's derivative. The trainable ones
hold their parameters as ``nn.Parameter``: ``StarReLU`` (scale, bias),
``Snake`` and ``SnakeBeta`` (one alpha/beta per channel, dim 1), ``XIELU``
(alpha_p, alpha_n through softplus, as transformers), ``DyT`` (alpha, and a
per-channel weight and bias on the last dim), ``PolyReLU`` and ``PolyNorm``
(three coefficients and a bias). Bad arguments fail at
construction, naming the argument and the value.

Example:
    >>> import torch, actlab.torch as at
    >>> at.Snake(3)(torch.zeros(2, 3, 5)).shape
    torch.Size([2, 3, 5])
    >>> at.XIELU()
    XIELU(alpha_p_init=0.8, alpha_n_init=0.8, beta=0.5, eps=-1e-06)
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .. import elementwise as E
from ._activation_template import FixedActivation, _number, activation_class

Tensor = torch.Tensor

__all__ = [
    "ReLU2", "StarReLU", "Squareplus", "SparsePlus", "SparseSigmoid", "HardMish", "QuickGELU", "GELU10",
    "Laplace", "Exponential", "SqrtSoftplus", "GoLU", "Sine", "Snake", "SnakeBeta", "XIELU", "DyT",
    "ClampedSwiGLU", "PolyReLU", "PolyNorm",
]


def _count(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return value


def _activation(name: str, fn: Any, summary: str, call: str, result: str, **arg_docs: str) -> type[FixedActivation]:
    """The module class of the registered function ``fn`` (see :func:`activation_class`)."""
    return activation_class(__name__, name, fn, fn.entry, summary, call, result, arg_docs=arg_docs)


ReLU2 = _activation("ReLU2", E.relu2, "Squared ReLU (Primer; transformers' ``relu2``)",
                    "{cls}()(torch.tensor([-1.0, 3.0])).tolist()", "[0.0, 9.0]")
SparsePlus = _activation("SparsePlus", E.sparse_plus, "The 2-D sparsemax's softplus",
                         "{cls}()(torch.tensor([-2.0, 0.0, 2.0])).tolist()", "[0.0, 0.25, 2.0]")
SparseSigmoid = _activation("SparseSigmoid", E.sparse_sigmoid, "The 2-D sparsemax's sigmoid",
                            "{cls}()(torch.tensor([-2.0, 0.0, 2.0])).tolist()", "[0.0, 0.5, 1.0]")
HardMish = _activation("HardMish", E.hard_mish, "timm's hard mish",
                       "{cls}()(torch.tensor([-1.0, 0.0, 1.0])).tolist()", "[-0.5, 0.0, 1.0]")
QuickGELU = _activation("QuickGELU", E.quick_gelu, "x sigmoid(1.702 x) with an accurate sigmoid (CLIP)",
                        "round({cls}()(torch.tensor(1.0)).item(), 4)", "0.8458")
GELU10 = _activation("GELU10", E.gelu_10, "GELU clipped at 10 (transformers' ``gelu_10``)",
                     "{cls}()(torch.tensor([0.0, 20.0])).tolist()", "[0.0, 10.0]")
Exponential = _activation("Exponential", E.exponential, "e^x (Keras' ``exponential``)",
                          "{cls}()(torch.tensor([0.0, 1.0], dtype=torch.float64)).tolist()",
                          "[1.0, 2.718281828459045]")
SqrtSoftplus = _activation("SqrtSoftplus", E.sqrt_softplus, "sqrt(softplus(x)) (transformers' ``sqrtsoftplus``)",
                           "round({cls}()(torch.tensor(0.0)).item(), 4)", "0.8326")
GoLU = _activation("GoLU", E.golu, "The Gompertz linear unit x exp(-exp(-x))",
                   "round({cls}()(torch.tensor(1.0)).item(), 4)", "0.6922")
Squareplus = _activation("Squareplus", E.squareplus, "(x + sqrt(x^2 + b))/2, a softplus-like algebraic rectifier",
                         "{cls}(b=4.0)(torch.tensor([0.0, 1.5])).tolist()", "[1.0, 2.0]",
                         b="the curvature near 0 (the value at 0 is sqrt(b)/2)")
Laplace = _activation("Laplace", E.laplace, "MEGA's Laplace function Phi((x - mu)/sigma)",
                      "{cls}(mu=1.0, sigma=0.5)(torch.tensor([1.0])).tolist()", "[0.5]",
                      mu="the centre, where the output is 1/2", sigma="the width")
Sine = _activation("Sine", E.sine, "SIREN's sin(w0 x) (w0 = 30 in SIREN's first layer)",
                   "{cls}(0.5)(torch.tensor([torch.pi], dtype=torch.float64)).tolist()", "[1.0]",
                   w0="the frequency")


class StarReLU(nn.Module):
    """StarReLU s relu(x)^2 + b with a learned scalar scale and bias
    (MetaFormer's module), :func:`actlab.star_relu`.

    Example:
        >>> import torch, actlab.torch as at
        >>> [p.shape for p in at.StarReLU().parameters()]
        [torch.Size([1]), torch.Size([1])]
    """

    def __init__(self, scale_value: float = 0.8944271909999159, bias_value: float = -0.4472135954999579,
                 scale_learnable: bool = True, bias_learnable: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.scale = nn.Parameter(torch.full((1,), _number("StarReLU", "scale_value", scale_value), **kw),
                                  requires_grad=bool(scale_learnable))
        self.bias = nn.Parameter(torch.full((1,), _number("StarReLU", "bias_value", bias_value), **kw),
                                 requires_grad=bool(bias_learnable))

    def forward(self, input: Tensor) -> Tensor:
        return E.star_relu(input, self.scale, self.bias)


def _per_channel(p: Tensor, x: Tensor) -> Tensor:
    """A (C,) parameter shaped to broadcast over dim 1 of x."""
    if x.dim() < 2:
        return p
    return p.reshape(1, -1, *([1] * (x.dim() - 2)))


class Snake(nn.Module):
    """Snake x + sin^2(alpha x)/alpha with one learned alpha per channel
    (dim 1, as BigVGAN's ``Snake``), :func:`actlab.snake`.

    Args:
        in_features: number of channels C.
        alpha: initial alpha (> 0).
        alpha_trainable: learn alpha.
    """

    def __init__(self, in_features: int, alpha: float = 1.0, alpha_trainable: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = _count("Snake", "in_features", in_features)
        a = _number("Snake", "alpha", alpha, positive=True)
        self.alpha = nn.Parameter(torch.full((in_features,), a, device=device, dtype=dtype),
                                  requires_grad=bool(alpha_trainable))

    def forward(self, input: Tensor) -> Tensor:
        return E.snake(input, _per_channel(self.alpha, input))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"


class SnakeBeta(Snake):
    """Snake-beta x + sin^2(alpha x)/beta, alpha and beta learned per channel
    (BigVGAN's ``SnakeBeta``), :func:`actlab.snake_beta`."""

    def __init__(self, in_features: int, alpha: float = 1.0, beta: float = 1.0, alpha_trainable: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_features, alpha, alpha_trainable, device, dtype)
        b = _number("SnakeBeta", "beta", beta, positive=True)
        self.beta = nn.Parameter(torch.full((in_features,), b, device=device, dtype=dtype),
                                 requires_grad=bool(alpha_trainable))

    def forward(self, input: Tensor) -> Tensor:
        return E.snake_beta(input, _per_channel(self.alpha, input), _per_channel(self.beta, input))


class XIELU(nn.Module):
    """xIELU with learned alpha_p = softplus(a_p) and alpha_n = beta +
    softplus(a_n), initialised so that they start at ``alpha_p_init`` and
    ``alpha_n_init`` (transformers' ``XIELUActivation``; Huang & Schlag
    2024), :func:`actlab.xielu`. beta and eps are fixed."""

    def __init__(self, alpha_p_init: float = 0.8, alpha_n_init: float = 0.8, beta: float = 0.5,
                 eps: float = -1e-6, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.alpha_p_init = _number("XIELU", "alpha_p_init", alpha_p_init, positive=True)
        self.alpha_n_init = _number("XIELU", "alpha_n_init", alpha_n_init)
        self.beta = _number("XIELU", "beta", beta)
        self.eps = _number("XIELU", "eps", eps)
        if self.eps > 0:
            raise ValueError(f"XIELU: eps must be <= 0, got {eps!r}")
        if self.alpha_n_init <= self.beta:
            raise ValueError(f"XIELU: alpha_n_init must exceed beta = {beta!r}, got {alpha_n_init!r}")
        kw = {"device": device, "dtype": dtype}

        def inverse_softplus(v: float) -> float:
            return v + math.log(-math.expm1(-v))  # log(expm1(v)), without overflow

        self.alpha_p = nn.Parameter(torch.full((1,), inverse_softplus(self.alpha_p_init), **kw))
        self.alpha_n = nn.Parameter(torch.full((1,), inverse_softplus(self.alpha_n_init - self.beta), **kw))

    def forward(self, input: Tensor) -> Tensor:
        ap = nn.functional.softplus(self.alpha_p)
        an = self.beta + nn.functional.softplus(self.alpha_n)
        return E.xielu(input, ap, an, self.beta, self.eps)

    def extra_repr(self) -> str:
        return f"alpha_p_init={self.alpha_p_init}, alpha_n_init={self.alpha_n_init}, beta={self.beta}, eps={self.eps}"


class DyT(nn.Module):
    """Dynamic Tanh w tanh(alpha x) + b (Zhu et al. 2025): a learned scalar
    alpha and a per-channel weight and bias on the last dim,
    :func:`actlab.dyt`."""

    def __init__(self, num_features: int, alpha_init_value: float = 0.5, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_features = _count("DyT", "num_features", num_features)
        kw = {"device": device, "dtype": dtype}
        self.alpha = nn.Parameter(torch.full((1,), _number("DyT", "alpha_init_value", alpha_init_value), **kw))
        self.weight = nn.Parameter(torch.ones(num_features, **kw))
        self.bias = nn.Parameter(torch.zeros(num_features, **kw))

    def forward(self, input: Tensor) -> Tensor:
        return E.dyt(input, self.alpha, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}"


class ClampedSwiGLU(nn.Module):
    """gpt-oss's clamped SwiGLU, :func:`actlab.clamped_swiglu`: halves
    (linear, gate) of ``dim`` (or gpt-oss's even/odd layout with
    ``interleaved=True``); autograd runs through the swish gate's registered
    derivative and the clamps."""

    def __init__(self, dim: int = -1, alpha: float = 1.702, limit: float = 7.0, interleaved: bool = False) -> None:
        super().__init__()
        self.dim = dim
        self.alpha = _number("ClampedSwiGLU", "alpha", alpha, positive=True)
        self.limit = _number("ClampedSwiGLU", "limit", limit, positive=True)
        if not isinstance(interleaved, bool):
            raise TypeError(f"ClampedSwiGLU: interleaved must be a bool, got {interleaved!r}")
        self.interleaved = interleaved

    def forward(self, input: Tensor) -> Tensor:
        return E.clamped_swiglu(input, self.dim, self.alpha, self.limit, self.interleaved)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, alpha={self.alpha}, limit={self.limit}, interleaved={self.interleaved}"


class PolyReLU(nn.Module):
    """PolyReLU of order 3 (Zhuo et al. 2024, PolyCom): ``weight[0] r^3 +
    weight[1] r^2 + weight[2] r + bias``, r = relu(x), the coefficients
    learned (initialised to 1/3, the bias to 0), in PolyCom's order;
    :func:`actlab.poly_relu` with a1 = weight[2], a2 = weight[1], a3 = weight[0]."""

    def __init__(self, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((3,), 1.0 / 3.0, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(1, device=device, dtype=dtype))

    def forward(self, input: Tensor) -> Tensor:
        w = self.weight
        return E.poly_relu(input, w[2:3], w[1:2], w[0:1], self.bias)


class PolyNorm(nn.Module):
    """PolyNorm of order 3 (Zhuo et al. 2024, PolyCom): ``weight[0] N(x^3) +
    weight[1] N(x^2) + weight[2] N(x) + bias`` with N(v) = v / sqrt(mean(v^2)
    + eps) over the last dim. A layer, not an element-wise function (N
    normalises over the hidden dimension); computed with torch operations and
    torch's autograd.

    Example:
        >>> import torch, actlab.torch as at
        >>> at.PolyNorm()(torch.ones(2, 4)).tolist()[0]
        [0.9999995827674866, 0.9999995827674866, 0.9999995827674866, 0.9999995827674866]
    """

    def __init__(self, eps: float = 1e-6, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.eps = _number("PolyNorm", "eps", eps, positive=True)
        self.weight = nn.Parameter(torch.full((3,), 1.0 / 3.0, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(1, device=device, dtype=dtype))

    def _norm(self, v: Tensor) -> Tensor:
        return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, input: Tensor) -> Tensor:
        w = self.weight
        return w[0] * self._norm(input**3) + w[1] * self._norm(input**2) + w[2] * self._norm(input) + self.bias

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
