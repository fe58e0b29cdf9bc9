"""``torch.nn`` modules with parameters or randomness: PReLU (a learned
slope), RReLU (random slopes), Swish (a fixed or learned beta) and Maxout (a
layer of affine pieces). Each calls :mod:`actlab.torch.functional`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from . import functional as AF

Tensor = torch.Tensor

__all__ = ["PReLU", "RReLU", "Swish", "Maxout"]


def _check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return value


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

    def forward(self, input: Tensor) -> Tensor:
        return AF.prelu(input, self.weight)

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

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False, *,
                 distribution: str = "uniform") -> None:
        super().__init__()
        AF.rrelu(torch.zeros(1), lower, upper, distribution=distribution)  # validate
        self.lower, self.upper, self.distribution = lower, upper, distribution
        self.inplace = _check_bool("RReLU", "inplace", inplace)

    def forward(self, input: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return AF.rrelu(input, self.lower, self.upper, self.training, self.inplace,
                        distribution=self.distribution, generator=generator)

    def extra_repr(self) -> str:
        extra = "" if self.distribution == "uniform" else f", distribution={self.distribution!r}"
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "") + extra


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
            self.beta = float(beta)  # type: ignore[assignment]

    def forward(self, input: Tensor) -> Tensor:
        beta = self.beta.to(input.dtype) if isinstance(self.beta, torch.Tensor) else self.beta
        return AF.swish(input, beta)

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
        return AF.maxout(self.linear(input), self.pieces, dim=-1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}"
