"""The array namespace our math sees for PyTorch tensors: plain ``torch``
functions plus the few array-API names torch spells differently.

``array_api_compat.torch`` would do, but its helpers (lru-cached dtype
tables) stop ``torch.compile(fullgraph=True)``; these are traceable.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import (  # noqa: F401
    abs,
    any,
    arange,
    argmax as _argmax,
    bfloat16,
    broadcast_to,
    clip,
    concat,
    cos,
    eye,
    exp,
    expm1,
    finfo,
    float16,
    float32,
    float64,
    int64,
    isfinite,
    isinf,
    isnan,
    logical_and,
    log,
    log1p,
    maximum,
    minimum,
    moveaxis,
    pow,
    ones_like,
    reshape,
    sin,
    sign,
    sqrt,
    tanh,
    where,
    zeros_like,
)

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


def take_along_axis(x: torch.Tensor, indices: torch.Tensor, /, *, axis: int = -1) -> torch.Tensor:
    return torch.take_along_dim(x, indices, dim=axis)


def squeeze(x: torch.Tensor, /, axis: int) -> torch.Tensor:
    return torch.squeeze(x, axis)


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
