"""``torch.nn`` modules for the element-wise activations, with PyTorch's class
and parameter names. Each calls the actlab function, so its backward is
actlab's accurate derivative. ``inplace=`` is not offered: the functions
never write into their input.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .. import elementwise as F

__all__ = [
    "Sigmoid", "LogSigmoid", "Tanh", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU",
    "SELU", "CELU", "GELU", "Softplus", "Swish", "SiLU", "Mish", "Hardtanh", "Hardsigmoid",
    "Hardswish", "Softsign", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "GLU",
    "ReGLU", "GEGLU", "SwiGLU", "Maxout",
]


class _Elementwise(nn.Module):
    """Base of the parameter-free and fixed-parameter modules: ``forward``
    applies ``function`` with the constructor's arguments."""

    function: Any = None
    arg_names: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        names = self.arg_names
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} arguments")
        values = {p.name: p.default for p in type(self).function.entry.params if p.name in names}
        values.update(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{type(self).__name__} got an unexpected argument {k!r}")
            values[k] = v
        self._args = values
        for k, v in values.items():
            setattr(self, k, v)
        # validate now, not at the first forward pass
        type(self).function(torch.zeros(2, 2), **values)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return type(self).function(input, **self._args)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._args.items())


def _module(name: str, function: Any, arg_names: tuple[str, ...] = ()) -> type[nn.Module]:
    example_args = "0.0, 0.0" if name == "Threshold" else ""
    doc = (
        f"Module form of :func:`actlab.{function.__name__}`"
        + (f" (arguments: {', '.join(arg_names)}, as in ``torch.nn.{name}``)" if arg_names else "")
        + f""".

    Example:
        >>> import torch, actlab.torch as at
        >>> at.{name}({example_args})(torch.zeros(2, 4)).shape
        torch.Size([2, 4])
    """
    )
    return type(name, (_Elementwise,), {"function": staticmethod(function), "arg_names": arg_names,
                                        "__doc__": doc, "__module__": __name__})


Sigmoid = _module("Sigmoid", F.sigmoid)
LogSigmoid = _module("LogSigmoid", F.log_sigmoid)
Tanh = _module("Tanh", F.tanh)
ReLU = _module("ReLU", F.relu)
ReLU6 = _module("ReLU6", F.relu6)
LeakyReLU = _module("LeakyReLU", F.leaky_relu, ("negative_slope",))
ELU = _module("ELU", F.elu, ("alpha",))
SELU = _module("SELU", F.selu)
CELU = _module("CELU", F.celu, ("alpha",))
GELU = _module("GELU", F.gelu, ("approximate",))
Softplus = _module("Softplus", F.softplus, ("beta",))
SiLU = _module("SiLU", F.silu)
Mish = _module("Mish", F.mish)
Hardtanh = _module("Hardtanh", F.hardtanh, ("min_val", "max_val"))
Hardsigmoid = _module("Hardsigmoid", F.hardsigmoid)
Hardswish = _module("Hardswish", F.hardswish)
Softsign = _module("Softsign", F.softsign)
Tanhshrink = _module("Tanhshrink", F.tanhshrink)
Softshrink = _module("Softshrink", F.softshrink, ("lambd",))
Hardshrink = _module("Hardshrink", F.hardshrink, ("lambd",))
Threshold = _module("Threshold", F.threshold, ("threshold", "value"))


class _Gated(nn.Module):
    function: Any = None

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return type(self).function(input, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _gated(name: str, function: Any) -> type[nn.Module]:
    doc = f"Module form of :func:`actlab.{function.__name__}`: halves of ``dim``, a * gate(b)."
    return type(name, (_Gated,), {"function": staticmethod(function), "__doc__": doc, "__module__": __name__})


GLU = _gated("GLU", F.glu)
ReGLU = _gated("ReGLU", F.reglu)
GEGLU = _gated("GEGLU", F.geglu)
SwiGLU = _gated("SwiGLU", F.swiglu)


class PReLU(nn.Module):
    r"""Parametric ReLU with a learned slope: one shared (``num_parameters=1``)
    or one per channel (axis 1 of the input), as ``torch.nn.PReLU``.

    Example:
        >>> import torch, actlab.torch as at
        >>> m = at.PReLU(3)
        >>> m(-torch.ones(2, 3)).tolist()[0]
        [-0.25, -0.25, -0.25]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive integer, got {num_parameters!r}")
        if not math.isfinite(init):
            raise ValueError(f"PReLU: init must be finite, got {init!r}")
        self.num_parameters = num_parameters
        self.init = init
        self.weight = nn.Parameter(torch.full((num_parameters,), float(init), device=device, dtype=dtype))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(nn.Module):
    r"""Randomised leaky ReLU: random slopes in training, their mean in eval
    (``torch.nn.RReLU``; ``distribution="normal"`` draws from a normal law
    with the uniform law's mean and variance).

    Example:
        >>> import torch, actlab.torch as at
        >>> at.RReLU(0.1, 0.3).eval()(-torch.ones(2, dtype=torch.float64)).tolist()
        [-0.2, -0.2]
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, distribution: str = "uniform") -> None:
        super().__init__()
        F.rrelu(torch.zeros(1), lower, upper, distribution)  # validate
        self.lower, self.upper, self.distribution = lower, upper, distribution

    def forward(self, input: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return F.rrelu(input, self.lower, self.upper, self.distribution, training=self.training, generator=generator)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}, distribution={self.distribution!r}"


class Swish(nn.Module):
    r"""Swish, :math:`x\sigma(\beta x)`, with ``beta`` fixed or learned
    (``learnable=True``: a scalar parameter trained by actlab's exact
    derivative with respect to beta).

    Example:
        >>> import torch, actlab.torch as at
        >>> m = at.Swish(beta=1.0, learnable=True)
        >>> m(torch.ones(3)).sum().backward(); m.beta.grad is not None
        True
    """

    def __init__(self, beta: float = 1.0, learnable: bool = False) -> None:
        super().__init__()
        if not math.isfinite(beta):
            raise ValueError(f"Swish: beta must be finite, got {beta!r}")
        self.learnable = learnable
        if learnable:
            self.beta = nn.Parameter(torch.tensor(float(beta)))
        else:
            self.beta = float(beta)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        beta = self.beta.to(input.dtype) if isinstance(self.beta, torch.Tensor) else self.beta
        return F.swish(input, beta)

    def extra_repr(self) -> str:
        return f"learnable={self.learnable}"


class Maxout(nn.Module):
    r"""Maxout layer (Goodfellow et al. 2013): ``pieces`` affine maps of the
    input, and for each output feature the maximum of its pieces:
    :math:`y_j = \max_{i<k}(W_{ji} x + b_{ji})`.

    Args:
        in_features, out_features: sizes of the input's and output's last axis.
        pieces: k, the number of linear pieces per output feature.

    Example:
        >>> import torch, actlab.torch as at
        >>> at.Maxout(4, 3, pieces=2)(torch.zeros(5, 4)).shape
        torch.Size([5, 3])
    """

    def __init__(self, in_features: int, out_features: int, pieces: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features), ("pieces", pieces)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Maxout: {name} must be a positive integer, got {v!r}")
        self.in_features, self.out_features, self.pieces = in_features, out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces, bias=bias, device=device, dtype=dtype)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.maxout(self.linear(input), self.pieces, axis=-1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}"
