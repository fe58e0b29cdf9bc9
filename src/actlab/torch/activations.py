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

from ..registry import get as registry_entry
from . import functional as AF
from ._activation_template import FixedActivation, activation_class
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


def _activation(name: str, fn: Any, entry: str, summary: str, call: str, result: str,
                **options: Any) -> type[FixedActivation]:
    """The module class of the functional ``fn`` (see :func:`activation_class`)."""
    return activation_class(__name__, name, fn, registry_entry(entry), summary, call, result, **options)


Sigmoid = _activation("Sigmoid", AF.sigmoid, "sigmoid", "The logistic sigmoid, as ``torch.nn.Sigmoid``",
                      "{cls}()(torch.zeros(2)).tolist()", "[0.5, 0.5]")
LogSigmoid = _activation("LogSigmoid", AF.logsigmoid, "log_sigmoid", "The log-sigmoid, as ``torch.nn.LogSigmoid``",
                         "{cls}()(torch.tensor([0.0], dtype=torch.float64)).tolist()", "[-0.6931471805599453]")
Tanh = _activation("Tanh", AF.tanh, "tanh", "The hyperbolic tangent, as ``torch.nn.Tanh``",
                   "{cls}()(torch.tensor([1.0], dtype=torch.float64)).tolist()", "[0.7615941559557649]")
Softsign = _activation("Softsign", AF.softsign, "softsign", "Softsign, as ``torch.nn.Softsign``",
                       "{cls}()(torch.tensor([-3.0, 1.0])).tolist()", "[-0.75, 0.5]")
Tanhshrink = _activation("Tanhshrink", AF.tanhshrink, "tanhshrink", "x - tanh x, as ``torch.nn.Tanhshrink``",
                         "round({cls}()(torch.tensor(1.0, dtype=torch.float64)).item(), 6)", "0.238406")
ReLU = _activation("ReLU", AF.relu, "relu", "The rectified linear unit, as ``torch.nn.ReLU(inplace=False)``",
                   "x = torch.tensor([-1.0, 2.0]); {cls}(inplace=True)(x) is x, x.tolist()", "(True, [0.0, 2.0])",
                   inplace=True)
ReLU6 = _activation("ReLU6", AF.relu6, "relu6", "ReLU capped at 6, as ``torch.nn.ReLU6``",
                    "{cls}()(torch.tensor([-1.0, 3.0, 8.0])).tolist()", "[0.0, 3.0, 6.0]", inplace=True)
SELU = _activation("SELU", AF.selu, "selu", "The scaled ELU, as ``torch.nn.SELU``",
                   "{cls}()(torch.tensor([0.0, 1.0], dtype=torch.float64)).tolist()", "[0.0, 1.0507009873554805]",
                   inplace=True)
SiLU = _activation("SiLU", AF.silu, "silu", "The sigmoid-weighted linear unit, as ``torch.nn.SiLU``",
                   "round({cls}()(torch.tensor(1.0, dtype=torch.float64)).item(), 6)", "0.731059", inplace=True)
Mish = _activation("Mish", AF.mish, "mish", "Mish, as ``torch.nn.Mish``",
                   "round({cls}()(torch.tensor(1.0, dtype=torch.float64)).item(), 6)", "0.865098", inplace=True)
Hardsigmoid = _activation("Hardsigmoid", AF.hardsigmoid, "hardsigmoid",
                          "The hard sigmoid, as ``torch.nn.Hardsigmoid`` (whose repr does not show ``inplace``)",
                          "{cls}(inplace=True), {cls}()(torch.tensor([-3.0, 0.0, 3.0])).tolist()",
                          "(Hardsigmoid(), [0.0, 0.5, 1.0])", inplace=True, show_inplace=False)
Hardswish = _activation("Hardswish", AF.hardswish, "hardswish",
                        "The hard swish, as ``torch.nn.Hardswish`` (whose repr does not show ``inplace``)",
                        "{cls}(inplace=True), {cls}()(torch.tensor([0.0, 3.0])).tolist()", "(Hardswish(), [0.0, 3.0])",
                        inplace=True, show_inplace=False)


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


_HALVES = "input: any shape with an even size along ``dim``; the output has half of it there."
GLU = _activation("GLU", AF.glu, "glu",
                  "The gated linear unit a sigmoid(b) over the halves of ``dim``, as ``torch.nn.GLU``",
                  "{cls}()(torch.tensor([[2.0, 0.0]])).tolist()", "[[1.0]]", dim=True, shape=_HALVES)
ReGLU = _activation("ReGLU", AF.reglu, "reglu", "a relu(b) over the halves of ``dim``",
                    "{cls}()(torch.tensor([[2.0, 3.0]])).tolist()", "[[6.0]]", dim=True, shape=_HALVES)
GEGLU = _activation("GEGLU", AF.geglu, "geglu", "a gelu(b) over the halves of ``dim``",
                    "{cls}()(torch.tensor([[1.0, 10.0]])).tolist()", "[[10.0]]", dim=True, shape=_HALVES)
SwiGLU = _activation("SwiGLU", AF.swiglu, "swiglu", "a silu(b) over the halves of ``dim``",
                     "{cls}()(torch.tensor([[1.0, 20.0]])).tolist()", "[[20.0]]", dim=True, shape=_HALVES)
