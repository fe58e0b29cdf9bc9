"""``torch.nn`` modules for the element-wise activations, with PyTorch's
class names, constructor signatures (``inplace=`` included), defaults and
``repr``. Each ``forward`` calls :mod:`actlab.torch.functional`, so the
backward is actlab's accurate derivative; bad arguments fail at
construction, naming the argument and the value.

Example:
    >>> import torch, actlab.torch as at
    >>> at.LeakyReLU(0.2, inplace=True)
    LeakyReLU(negative_slope=0.2, inplace=True)
    >>> at.Softplus(beta=2.0)(torch.tensor([0.0])).tolist()
    [0.3465735912322998]
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from . import functional as AF
from ._torch_conventions import check_number
from .parametric import Maxout, PReLU, RReLU, Swish, _check_bool

Tensor = torch.Tensor

__all__ = [
    "Sigmoid", "LogSigmoid", "Tanh", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU",
    "SELU", "CELU", "GELU", "Softplus", "Swish", "SiLU", "Mish", "Hardtanh", "Hardsigmoid",
    "Hardswish", "Softsign", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "GLU",
    "ReGLU", "GEGLU", "SwiGLU", "Maxout",
]


class _Activation(nn.Module):
    """Base: ``_repr`` names the attributes shown by ``extra_repr`` (an
    ``inplace`` attribute is shown only when True, as PyTorch does)."""

    _repr: tuple[str, ...] = ()
    _show_inplace = True  # PyTorch's Hardsigmoid and Hardswish do not show it

    def __init__(self) -> None:
        super().__init__()

    def _validate(self) -> None:
        with torch.no_grad():
            self.forward(torch.zeros(2, 2))

    def extra_repr(self) -> str:
        parts = [f"{k}={getattr(self, k)!r}" for k in self._repr]
        if getattr(self, "inplace", False) and self._show_inplace:
            parts.append("inplace=True")
        return ", ".join(parts)


class Sigmoid(_Activation):
    r""":math:`1/(1+e^{-x})`, as ``torch.nn.Sigmoid``.

    Example:
        >>> import torch, actlab.torch as at
        >>> at.Sigmoid()(torch.zeros(2)).tolist()
        [0.5, 0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return AF.sigmoid(input)


class LogSigmoid(_Activation):
    r""":math:`\log\sigma(x)`, as ``torch.nn.LogSigmoid``."""

    def forward(self, input: Tensor) -> Tensor:
        return AF.logsigmoid(input)


class Tanh(_Activation):
    r""":math:`\tanh x`, as ``torch.nn.Tanh``."""

    def forward(self, input: Tensor) -> Tensor:
        return AF.tanh(input)


class Softsign(_Activation):
    r""":math:`x/(1+|x|)`, as ``torch.nn.Softsign``."""

    def forward(self, input: Tensor) -> Tensor:
        return AF.softsign(input)


class Tanhshrink(_Activation):
    r""":math:`x - \tanh x`, as ``torch.nn.Tanhshrink``."""

    def forward(self, input: Tensor) -> Tensor:
        return AF.tanhshrink(input)


class _Inplace(_Activation):
    """A parameter-free activation with PyTorch's ``inplace`` flag."""

    fn: Any = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _check_bool(type(self).__name__, "inplace", inplace)

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, inplace=self.inplace)


class ReLU(_Inplace):
    r""":math:`\max(x, 0)`, as ``torch.nn.ReLU(inplace=False)``.

    Example:
        >>> import torch, actlab.torch as at
        >>> x = torch.tensor([-1.0, 2.0]); at.ReLU(inplace=True)(x) is x, x.tolist()
        (True, [0.0, 2.0])
    """

    fn = staticmethod(AF.relu)


class ReLU6(_Inplace):
    r""":math:`\min(\max(x, 0), 6)`, as ``torch.nn.ReLU6``."""

    fn = staticmethod(AF.relu6)


class SELU(_Inplace):
    r"""Scaled ELU (Klambauer et al. 2017), as ``torch.nn.SELU``."""

    fn = staticmethod(AF.selu)


class SiLU(_Inplace):
    r""":math:`x\sigma(x)`, as ``torch.nn.SiLU``."""

    fn = staticmethod(AF.silu)


class Mish(_Inplace):
    r""":math:`x\tanh(\mathrm{softplus}(x))` (Misra 2019), as ``torch.nn.Mish``."""

    fn = staticmethod(AF.mish)


class Hardsigmoid(_Inplace):
    r""":math:`\min(\max(x/6 + 1/2, 0), 1)`, as ``torch.nn.Hardsigmoid``."""

    fn = staticmethod(AF.hardsigmoid)
    _show_inplace = False


class Hardswish(_Inplace):
    r""":math:`x\,\mathrm{hardsigmoid}(x)` (Howard et al. 2019), as ``torch.nn.Hardswish``."""

    fn = staticmethod(AF.hardswish)
    _show_inplace = False


class LeakyReLU(_Activation):
    r""":math:`x` for :math:`x \ge 0`, else ``negative_slope * x``, as ``torch.nn.LeakyReLU``."""

    _repr = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = check_number("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = _check_bool("LeakyReLU", "inplace", inplace)
        self._validate()

    def forward(self, input: Tensor) -> Tensor:
        return AF.leaky_relu(input, self.negative_slope, self.inplace)


class ELU(_Activation):
    r""":math:`x` for :math:`x \ge 0`, else :math:`\alpha(e^x - 1)` (Clevert et al. 2016), as ``torch.nn.ELU``."""

    _repr = ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = _check_bool("ELU", "inplace", inplace)
        self._validate()

    def forward(self, input: Tensor) -> Tensor:
        return AF.elu(input, self.alpha, self.inplace)


class CELU(ELU):
    r""":math:`\max(0,x) + \min(0, \alpha(e^{x/\alpha} - 1))` (Barron 2017), as ``torch.nn.CELU``."""

    def forward(self, input: Tensor) -> Tensor:
        return AF.celu(input, self.alpha, self.inplace)


class GELU(_Activation):
    r""":math:`x\Phi(x)`, or its tanh form with ``approximate="tanh"``
    (Hendrycks & Gimpel 2016), as ``torch.nn.GELU``.

    Example:
        >>> import torch, actlab.torch as at
        >>> at.GELU(approximate="tanh")
        GELU(approximate='tanh')
    """

    _repr = ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate
        self._validate()

    def forward(self, input: Tensor) -> Tensor:
        return AF.gelu(input, approximate=self.approximate)


class Softplus(_Activation):
    r""":math:`\frac1\beta\log(1 + e^{\beta x})`, as ``torch.nn.Softplus``.

    ``threshold`` only matters for matching PyTorch: actlab's softplus is
    exact everywhere, PyTorch returns ``x`` where :math:`\beta x` >
    ``threshold``; this module does the same (see
    :func:`actlab.torch.functional.softplus`); ``threshold=None`` keeps the
    exact value everywhere.
    """

    _repr = ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float | None = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = check_number("Softplus", "threshold", threshold, finite=False, allow_none=True)
        self._validate()

    def forward(self, input: Tensor) -> Tensor:
        return AF.softplus(input, self.beta, self.threshold)


class Hardtanh(_Activation):
    r""":math:`\min(\max(x, a), b)`, as ``torch.nn.Hardtanh`` (``min_value`` /
    ``max_value`` are PyTorch's deprecated spellings)."""

    _repr = ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None) -> None:
        super().__init__()
        if min_value is not None or max_value is not None:
            warnings.warn("keyword arguments min_value and max_value are deprecated; use min_val and max_val",
                          DeprecationWarning, stacklevel=2)
            min_val = min_val if min_value is None else min_value
            max_val = max_val if max_value is None else max_value
        if not min_val <= max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val!r}) must be <= max_val ({max_val!r})")
        self.min_val, self.max_val = min_val, max_val
        self.inplace = _check_bool("Hardtanh", "inplace", inplace)
        self._validate()

    def forward(self, input: Tensor) -> Tensor:
        return AF.hardtanh(input, self.min_val, self.max_val, self.inplace)


class Softshrink(_Activation):
    r""":math:`x \mp \lambda` for :math:`|x| > \lambda`, else 0, as ``torch.nn.Softshrink``."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd
        self._validate()

    def forward(self, input: Tensor) -> Tensor:
        return AF.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Softshrink):
    r""":math:`x` for :math:`|x| > \lambda`, else 0, as ``torch.nn.Hardshrink``."""

    def forward(self, input: Tensor) -> Tensor:
        return AF.hardshrink(input, self.lambd)


class Threshold(_Activation):
    r""":math:`x` where :math:`x >` ``threshold``, else ``value``, as ``torch.nn.Threshold``.

    Example:
        >>> import torch, actlab.torch as at
        >>> at.Threshold(0.5, -1.0)(torch.tensor([0.2, 0.7])).tolist()
        [-1.0, 0.699999988079071]
    """

    _repr = ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value = threshold, value
        self.inplace = _check_bool("Threshold", "inplace", inplace)
        self._validate()

    def forward(self, input: Tensor) -> Tensor:
        return AF.threshold(input, self.threshold, self.value, self.inplace)


class _Gated(nn.Module):
    fn: Any = None

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"{type(self).__name__}: dim must be an int, got {dim!r}")
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return type(self).fn(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GLU(_Gated):
    r""":math:`a\,\sigma(b)` over the halves of ``dim`` (Dauphin et al. 2017), as ``torch.nn.GLU``."""

    fn = staticmethod(AF.glu)


class ReGLU(_Gated):
    r""":math:`a\,\mathrm{relu}(b)` over the halves of ``dim`` (Shazeer 2020)."""

    fn = staticmethod(AF.reglu)


class GEGLU(_Gated):
    r""":math:`a\,\mathrm{gelu}(b)` over the halves of ``dim`` (Shazeer 2020)."""

    fn = staticmethod(AF.geglu)


class SwiGLU(_Gated):
    r""":math:`a\,\mathrm{silu}(b)` over the halves of ``dim`` (Shazeer 2020)."""

    fn = staticmethod(AF.swiglu)

