r"""``torch.nn.functional``'s activations, maps and losses, with PyTorch's
names, argument names and defaults, computed by actlab.

Replace ``import torch.nn.functional as F`` by
``import actlab.torch.functional as F`` and each call gives PyTorch's answer
(within actlab's accuracy, which is better in the tails) with actlab's
derivative as the backward. Each function is a thin wrapper around the one
actlab definition (:mod:`actlab`): it maps PyTorch's arguments (``dim``,
``inplace``, ``threshold``, class dimension 1, ``size_average``/``reduce``)
onto it and computes nothing itself. actlab's own functions (``sparsemax``,
``entmax15``, ``entmax``, ``swish``, ``maxout``, the losses, ...) are here too,
with ``dim`` for the axis.

``inplace=True`` writes the result into ``input`` and returns ``input`` (see
:func:`actlab.torch._torch_conventions.apply_inplace`: PyTorch's semantics,
including its refusal for a leaf that requires grad, but no memory saving).

Example:
    >>> import torch
    >>> import actlab.torch.functional as AF
    >>> x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    >>> torch.allclose(AF.gelu(x, approximate="tanh"), torch.nn.functional.gelu(x, approximate="tanh"))
    True
    >>> y = x.clone(); AF.relu(y, inplace=True) is y, y.tolist()
    (True, [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0])
"""

from __future__ import annotations

import torch

from .. import elementwise as E
from ._functional_attention import scaled_dot_product_attention
from ._functional_catalogue import *  # noqa: F403
from ._functional_catalogue import __all__ as _catalogue_all
from ._functional_losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    distillation_loss,
    entmax_loss,
    linear_cross_entropy,
    linear_entmax_loss,
    linear_sparsemax_loss,
    nll_loss,
    sparsemax_loss,
)
from ._functional_simplex import (
    entmax,
    entmax15,
    gumbel_softmax,
    hardmax,
    log_softmax,
    logsumexp,
    softmax,
    softmin,
    sparsemax,
    spherical_softmax,
    taylor_softmax,
)
from ._torch_conventions import apply_inplace

Tensor = torch.Tensor

__all__ = [
    "sigmoid", "tanh", "logsigmoid", "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu",
    "rrelu_", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "softplus", "silu", "mish", "swish",
    "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "softsign", "tanhshrink", "softshrink", "hardshrink",
    "threshold", "threshold_", "glu", "reglu", "geglu", "swiglu", "maxout",
    "softmax", "log_softmax", "softmin", "logsumexp", "hardmax", "spherical_softmax", "taylor_softmax",
    "gumbel_softmax", "sparsemax", "entmax15", "entmax",
    "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "distillation_loss", "sparsemax_loss",
    "entmax_loss", "linear_cross_entropy", "linear_sparsemax_loss", "linear_entmax_loss",
    "scaled_dot_product_attention", *_catalogue_all,
]


def sigmoid(input: Tensor) -> Tensor:
    r""":math:`1/(1+e^{-x})` (:func:`actlab.sigmoid`), as ``torch.sigmoid``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    r""":math:`\tanh x` (:func:`actlab.tanh`), as ``torch.tanh``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.tanh(input)


def logsigmoid(input: Tensor) -> Tensor:
    r""":math:`\log\sigma(x) = -\mathrm{softplus}(-x)` (:func:`actlab.log_sigmoid`), as ``F.logsigmoid``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.log_sigmoid(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    r""":math:`\max(x, 0)` (:func:`actlab.relu`), as ``F.relu``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.relu, input, inplace)


def relu_(input: Tensor) -> Tensor:
    """``relu(input, inplace=True)``.

    Returns:
        ``input`` itself, written in place.
    """
    return relu(input, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    r""":math:`\min(\max(x, 0), 6)` (:func:`actlab.relu6`), as ``F.relu6``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.relu6, input, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    r""":math:`x` for :math:`x \ge 0`, else :math:`a x` (:func:`actlab.leaky_relu`), as ``F.leaky_relu``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.leaky_relu, input, inplace, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``leaky_relu(input, negative_slope, inplace=True)``.

    Returns:
        ``input`` itself, written in place.
    """
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    r"""Leaky ReLU with a learned slope ``weight`` (one, or one per channel
    on dim 1) (:func:`actlab.prelu`), as ``F.prelu``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.prelu(input, weight)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False, *, distribution: str = "uniform", generator: torch.Generator | None = None) -> Tensor:
    r"""Randomised leaky ReLU (:func:`actlab.rrelu`), as ``F.rrelu``: slopes
    drawn from ``uniform(lower, upper)`` in training (``distribution="normal"``:
    a normal law with the same mean and variance; ``generator`` makes the draw
    reproducible), their mean ``(lower + upper) / 2`` otherwise.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.rrelu, input, inplace, lower, upper, distribution, training=training,
                         generator=generator)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """``rrelu(input, lower, upper, training, inplace=True)``.

    Returns:
        ``input`` itself, written in place.
    """
    return rrelu(input, lower, upper, training, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r""":math:`x` for :math:`x \ge 0`, else :math:`\alpha(e^x - 1)` (:func:`actlab.elu`), as ``F.elu``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.elu, input, inplace, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``elu(input, alpha, inplace=True)``.

    Returns:
        ``input`` itself, written in place.
    """
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    r""":math:`\lambda\,\mathrm{elu}(x, \alpha)` with Klambauer et al. (2017)'s constants (:func:`actlab.selu`).

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.selu, input, inplace)


def selu_(input: Tensor) -> Tensor:
    """``selu(input, inplace=True)``.

    Returns:
        ``input`` itself, written in place.
    """
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r""":math:`\max(0,x) + \min(0, \alpha(e^{x/\alpha} - 1))` (:func:`actlab.celu`), as ``F.celu``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.celu, input, inplace, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``celu(input, alpha, inplace=True)``.

    Returns:
        ``input`` itself, written in place.
    """
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    r""":math:`x\Phi(x)` (``approximate="tanh"``: Hendrycks & Gimpel's tanh
    form) (:func:`actlab.gelu`), as ``F.gelu``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.gelu(input, approximate)


def softplus(input: Tensor, beta: float = 1.0, threshold: float | None = 20.0) -> Tensor:
    r""":math:`\frac1\beta\log(1 + e^{\beta x})` (:func:`actlab.softplus`), as ``F.softplus``.

    actlab's softplus is exact for every input and needs no cut-off; PyTorch
    returns ``x`` itself where :math:`\beta x` > ``threshold`` (an error of
    :math:`e^{-\beta x}/\beta`, below float32's resolution there but visible
    in float64). To give PyTorch's answer on the same call this wrapper keeps
    that cut-off (value ``x``, derivative 1); ``threshold=None`` (or ``inf``)
    gives the exact softplus everywhere, as :func:`actlab.softplus` always does.

    Example:
        >>> import math, torch, actlab.torch.functional as AF
        >>> x = torch.tensor([25.0], dtype=torch.float64)
        >>> AF.softplus(x).item() == torch.nn.functional.softplus(x).item() == 25.0
        True
        >>> AF.softplus(x, threshold=None).item() == 25.0 + math.log1p(math.exp(-25.0))  # exact
        True

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    y = E.softplus(input, beta)
    if threshold is None:
        return y
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"softplus(): threshold must be a number or None, got {threshold!r}")
    return torch.where(input * beta > threshold, input.to(y.dtype), y)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    r""":math:`x\sigma(x)` (:func:`actlab.silu`), as ``F.silu``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.silu, input, inplace)


def swish(input: Tensor, beta: float | Tensor = 1.0) -> Tensor:
    r""":math:`x\sigma(\beta x)` (:func:`actlab.swish`; ``beta`` may be a tensor, learned).

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.swish(input, beta)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    r""":math:`x\tanh(\mathrm{softplus}(x))` (:func:`actlab.mish`), as ``F.mish``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.mish, input, inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    r""":math:`\min(\max(x, a), b)` (:func:`actlab.hardtanh`), as ``F.hardtanh``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.hardtanh, input, inplace, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``hardtanh(input, min_val, max_val, inplace=True)``.

    Returns:
        ``input`` itself, written in place.
    """
    return hardtanh(input, min_val, max_val, inplace=True)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    r""":math:`\min(\max(x/6 + 1/2, 0), 1)` (:func:`actlab.hardsigmoid`), as ``F.hardsigmoid``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.hardsigmoid, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    r""":math:`x\,\mathrm{hardsigmoid}(x)` (:func:`actlab.hardswish`), as ``F.hardswish``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.hardswish, input, inplace)


def softsign(input: Tensor) -> Tensor:
    r""":math:`x/(1+|x|)` (:func:`actlab.softsign`), as ``F.softsign``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.softsign(input)


def tanhshrink(input: Tensor) -> Tensor:
    r""":math:`x - \tanh x` (:func:`actlab.tanhshrink`), as ``F.tanhshrink``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.tanhshrink(input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    r""":math:`x \mp \lambda` for :math:`|x| > \lambda`, else 0 (:func:`actlab.softshrink`), as ``F.softshrink``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.softshrink(input, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    r""":math:`x` for :math:`|x| > \lambda`, else 0 (:func:`actlab.hardshrink`), as ``F.hardshrink``.

    Returns:
        A tensor of ``input``'s shape, dtype and device.
    """
    return E.hardshrink(input, lambd)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    r""":math:`x` for :math:`x >` ``threshold``, else ``value`` (:func:`actlab.threshold`), as ``F.threshold``.

    Returns:
        A tensor of ``input``'s shape, dtype and device (``input`` itself when ``inplace``).
    """
    return apply_inplace(E.threshold, input, inplace, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """``threshold(input, threshold, value, inplace=True)``.

    Returns:
        ``input`` itself, written in place.
    """
    return apply_inplace(E.threshold, input, True, threshold, value)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    r""":math:`a\,\sigma(b)`, ``a, b`` the halves of ``dim`` (:func:`actlab.glu`), as ``F.glu``.

    Returns:
        A tensor of ``input``'s shape with ``dim`` halved, its dtype and device.
    """
    return E.glu(input, axis=dim)


def reglu(input: Tensor, dim: int = -1) -> Tensor:
    r""":math:`a\,\mathrm{relu}(b)` over the halves of ``dim`` (:func:`actlab.reglu`; Shazeer 2020).

    Returns:
        A tensor of ``input``'s shape with ``dim`` halved, its dtype and device.
    """
    return E.reglu(input, axis=dim)


def geglu(input: Tensor, dim: int = -1) -> Tensor:
    r""":math:`a\,\mathrm{gelu}(b)` over the halves of ``dim`` (:func:`actlab.geglu`; Shazeer 2020).

    Returns:
        A tensor of ``input``'s shape with ``dim`` halved, its dtype and device.
    """
    return E.geglu(input, axis=dim)


def swiglu(input: Tensor, dim: int = -1) -> Tensor:
    r""":math:`a\,\mathrm{silu}(b)` over the halves of ``dim`` (:func:`actlab.swiglu`; Shazeer 2020).

    Returns:
        A tensor of ``input``'s shape with ``dim`` halved, its dtype and device.
    """
    return E.swiglu(input, axis=dim)


def maxout(input: Tensor, pieces: int, dim: int = -1) -> Tensor:
    r"""Maximum over groups of ``pieces`` consecutive entries of ``dim``
    (:func:`actlab.maxout`; Goodfellow et al. 2013).

    Returns:
        A tensor of ``input``'s shape with ``dim`` divided by ``pieces``, its dtype and device.
    """
    return E.maxout(input, pieces, axis=dim)
