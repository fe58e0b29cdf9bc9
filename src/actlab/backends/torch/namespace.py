"""The array namespace of the torch backend: plain ``torch`` functions plus
the few array-API names torch spells differently.

``array_api_compat.torch`` would do, but its helpers (lru-cached dtype
tables) stop ``torch.compile(fullgraph=True)``; these are traceable.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import (  # noqa: F401
    any,
    arange,
    bfloat16,
    broadcast_to,
    clip,
    concat,
    copysign,
    cos,
    cosh,
    exp,
    eye,
    finfo,
    float16,
    float32,
    float64,
    floor,
    int64,
    isfinite,
    isinf,
    isnan,
    log,
    log1p,
    log2,
    logical_and,
    maximum,
    minimum,
    ones_like,
    pow,
    reshape,
    sign,
    sin,
    sqrt,
    tanh,
    where,
    zeros_like,
)
from torch import (
    argmax as _argmax,
)


def expm1(x: torch.Tensor, /) -> torch.Tensor:
    """``torch.expm1``; under ``torch.compile`` (whose CPU code computes
    expm1 as exp(x) - 1, all relative precision lost near 0 -- seen with
    torch 2.13) by Kahan's formula (e^x - 1) x / log(e^x), accurate to a few
    ULPs with accurate exp and log (N. J. Higham, Accuracy and Stability of
    Numerical Algorithms, 2nd ed., 2002, section 1.14.1)."""
    if not torch.compiler.is_compiling():
        return torch.expm1(x)
    u = torch.exp(x)
    d = u - 1.0
    ok = (d != 0.0) & (d != -1.0) & torch.isfinite(u)
    return torch.where(ok, d * (x / torch.where(ok, torch.log(u), 1.0)), torch.where(d == 0.0, x, d))


def astype(x: torch.Tensor, dtype: torch.dtype, /, *, copy: bool = True) -> torch.Tensor:
    return x.to(dtype)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: Any = None) -> torch.Tensor:
    return torch.as_tensor(obj, dtype=dtype, device=device)


def isdtype(dtype: torch.dtype, kind: str) -> bool:
    if kind == "real floating":
        return dtype.is_floating_point
    if kind == "complex floating":
        return dtype.is_complex
    if kind == "integral":
        return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool
    if kind == "bool":
        return dtype == torch.bool
    raise ValueError(kind)


def argmax(x: torch.Tensor, /, *, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    return _argmax(x, dim=axis, keepdim=keepdims)


def moveaxis(x: torch.Tensor, source: Any, destination: Any, /) -> torch.Tensor:
    """``torch.movedim``, the same op as ``torch.moveaxis`` but with a
    ``torch.func`` batching rule (``aten::moveaxis`` has none: vmap failed)."""
    return torch.movedim(x, source, destination)


def permute_dims(x: torch.Tensor, /, axes: tuple[int, ...]) -> torch.Tensor:
    return torch.permute(x, axes)


def take_along_axis(x: torch.Tensor, indices: torch.Tensor, /, *, axis: int = -1) -> torch.Tensor:
    return torch.take_along_dim(x, indices, dim=axis)


def squeeze(x: torch.Tensor, /, axis: int) -> torch.Tensor:
    return torch.squeeze(x, axis)


_wrapped = torch._C._functorch.is_functorch_wrapped_tensor


def expand_dims(x: torch.Tensor, /, *, axis: int = 0) -> torch.Tensor:
    return torch.unsqueeze(x, axis)


def sum(x: torch.Tensor, /, *, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> torch.Tensor:  # noqa: A001
    if axis is None:
        return torch.sum(x, dtype=dtype)
    return torch.sum(x, dim=axis, keepdim=keepdims, dtype=dtype)


def max(x: torch.Tensor, /, *, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    if axis is None:
        return torch.amax(x)
    return torch.amax(x, dim=axis, keepdim=keepdims)


def abs(x: torch.Tensor, /) -> torch.Tensor:  # noqa: A001
    """|x| whose autograd derivative at 0 is +1, not torch's 0.

    The math pairs |x| with branches chosen by ``x >= 0`` (e.g. sigmoid as
    1/(1+e^-|x|) for x >= 0); differentiating such a formula (double
    backward) is right at 0 only if |x| picks the same branch there. Where
    nothing records a derivative, torch's one-pass ``abs`` (a third of the
    time of the ``where``).
    """
    # (is_compiling first: Dynamo cannot trace the functorch query)
    if torch.compiler.is_compiling() or (x.requires_grad and torch.is_grad_enabled()) or _wrapped(x):
        return torch.where(x >= 0, x, -x)
    return torch.abs(x)


def min(x: torch.Tensor, /, *, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    if axis is None:
        return torch.amin(x)
    return torch.amin(x, dim=axis, keepdim=keepdims)


def put_along_axis(x: torch.Tensor, indices: torch.Tensor, values: Any, /, *, axis: int = -1) -> torch.Tensor:
    """``x`` with ``values`` written at ``indices`` along ``axis``; out of place
    (unlike NumPy's), so it is traceable and vmap-able."""
    if isinstance(values, torch.Tensor):
        return torch.scatter(x, axis, indices, values.to(x.dtype).expand(indices.shape))
    return torch.scatter(x, axis, indices, values)


def all(x: torch.Tensor, /, *, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    if axis is None:
        return torch.all(x)
    return torch.all(x, dim=axis, keepdim=keepdims)


def sort(x: torch.Tensor, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> torch.Tensor:
    return torch.sort(x, dim=axis, descending=descending, stable=stable).values


def argsort(x: torch.Tensor, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> torch.Tensor:
    return torch.argsort(x, dim=axis, descending=descending, stable=stable)


def cumulative_sum(x: torch.Tensor, /, *, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    return torch.cumsum(x, dim=-1 if axis is None else axis, dtype=dtype)


def take(x: torch.Tensor, indices: torch.Tensor, /, *, axis: int | None = None) -> torch.Tensor:
    if axis is None:
        return torch.take(x, indices)
    return torch.index_select(x, axis, indices)
