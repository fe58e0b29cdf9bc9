"""Argument checks and the loss reduction shared by the large-output losses
(torch tensors only).

Every bad argument raises ``ValueError`` naming the argument and the value
(targets of a wrong dtype included).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ...losses._reduction import check_reduction

__all__ = [
    "check_reduction",
    "check_hidden_weight",
    "check_bias",
    "check_targets",
    "check_counts",
    "check_nonnegative",
    "reduce_rows",
    "work_dtype",
    "check_positive_int",
    "row_chunks",
    "take_rows",
    "put_rows",
]


def check_hidden_weight(hidden: Any, weight: Any, owner: str, names: tuple[str, str] = ("hidden", "weight")) -> None:
    """``hidden`` (..., d) and ``weight`` (V, d): float tensors of one dtype
    (and one device); ``names`` are the caller's names for the two."""
    hn, wn = names
    if not isinstance(hidden, torch.Tensor) or not hidden.is_floating_point():
        raise ValueError(f"{owner}(): {hn} must be a floating-point tensor, got {_describe(hidden)}")
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise ValueError(f"{owner}(): {wn} must be a floating-point tensor, got {_describe(weight)}")
    if hidden.dim() < 1:
        raise ValueError(f"{owner}(): {hn} must have at least one dimension (features), got a 0-d tensor")
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[-1]:
        raise ValueError(
            f"{owner}(): {wn} must have shape (num_classes, {hidden.shape[-1]}) to match {hn} "
            f"{tuple(hidden.shape)}, got {tuple(weight.shape)}"
        )
    if weight.shape[0] < 1:
        raise ValueError(f"{owner}(): {wn} has no rows (0 classes)")
    if weight.dtype != hidden.dtype:
        raise ValueError(f"{owner}(): {wn} dtype {weight.dtype} differs from {hn} dtype {hidden.dtype}")
    if weight.device != hidden.device:
        raise ValueError(f"{owner}(): {wn} is on {weight.device}, {hn} on {hidden.device}")


def check_bias(bias: Any, num_rows: int, dtype: torch.dtype, owner: str, name: str = "bias",
               hidden_name: str = "hidden") -> None:
    if bias is None:
        return
    if not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (num_rows,):
        raise ValueError(f"{owner}(): {name} must have shape ({num_rows},), got {_describe(bias)}")
    if bias.dtype != dtype:
        raise ValueError(f"{owner}(): {name} dtype {bias.dtype} differs from {hidden_name} dtype {dtype}")


def check_targets(target: Any, batch_shape: torch.Size, num_classes: int, ignore_index: int | None, owner: str,
                  hidden_name: str = "hidden"):
    """Integer class indices of shape ``batch_shape`` in ``[0, num_classes)``
    (or equal to ``ignore_index``). Returns the mask of counted entries.

    The range check reads the values, so it is skipped under ``torch.compile``
    and on the meta device (which has no values); an out-of-range target
    then fails in the gather that uses it, or not at all on meta."""
    if not isinstance(target, torch.Tensor):
        raise ValueError(f"{owner}(): target must be an integer tensor, got {_describe(target)}")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(f"{owner}(): target must hold integer class indices, got dtype {target.dtype}")
    if target.shape != batch_shape:
        raise ValueError(
            f"{owner}(): target shape {tuple(target.shape)} does not match {hidden_name}'s leading shape "
            f"{tuple(batch_shape)}"
        )
    keep = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)
    if not torch.compiler.is_compiling() and not target.is_meta:
        bad = keep & ((target < 0) | (target >= num_classes))
        if bool(bad.any()):
            first = int(target[bad][0])
            raise ValueError(
                f"{owner}(): target {first} is out of range for {num_classes} classes "
                f"(ignore_index={ignore_index})"
            )
    return keep


def check_counts(counts: Any, owner: str, name: str = "counts") -> torch.Tensor:
    """Positive finite class counts as a float64 tensor of shape (V,)."""
    try:
        c = torch.as_tensor(counts, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{owner}(): {name} must be a 1-d sequence of positive numbers ({err})") from None
    if c.dim() != 1 or c.numel() < 1:
        raise ValueError(f"{owner}(): {name} must be a non-empty 1-d sequence, got shape {tuple(c.shape)}")
    bad = ~(torch.isfinite(c) & (c > 0))
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(f"{owner}(): {name} must be positive and finite; {name}[{i}] = {c[i].item()}")
    return c


def check_nonnegative(value: Any, name: str, owner: str, upper: float = math.inf) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}(): {name} must be a number, got {value!r}") from None
    if not (0.0 <= v <= upper) or math.isnan(v) or math.isinf(v):
        limit = f"[0, {upper}]" if math.isfinite(upper) else "finite and >= 0"
        raise ValueError(f"{owner}(): {name} must be {limit}, got {value!r}")
    return v


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return repr(x) if not hasattr(x, "shape") else f"{type(x).__name__} of shape {x.shape}"


def reduce_rows(loss: torch.Tensor, keep: torch.Tensor, reduction: str) -> torch.Tensor:
    """PyTorch's convention for per-row losses with ignored rows: ``none``
    gives 0 on ignored rows, ``sum`` the sum, ``mean`` the sum over the
    number of counted rows (NaN when none counts, as ``F.cross_entropy``)."""
    loss = torch.where(keep, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))
    if reduction == "none":
        return loss
    total = loss.sum()
    return total if reduction == "sum" else total / keep.sum().to(loss.dtype)


def work_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the chunked losses compute in: float32 for float16/bfloat16."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def check_positive_int(value: Any, name: str, owner: str) -> int:
    """A positive ``int`` (not a bool), e.g. a byte budget or a chunk size."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}(): {name} must be a positive integer, got {value!r}")
    return value


def row_chunks(n: int, rows: torch.Tensor | None, size: int) -> list[Any]:
    """Row selections of at most ``size`` rows: index tensors into the counted
    ``rows``, or slices of all ``n`` rows when ``rows`` is None."""
    if rows is None:
        return [slice(s, min(s + size, n)) for s in range(0, n, size)]
    return [rows[s:s + size] for s in range(0, rows.numel(), size)]


def take_rows(x: torch.Tensor, sel: Any) -> torch.Tensor:
    """The rows ``sel`` (a slice or an index tensor from :func:`row_chunks`) of ``x``."""
    return x[sel] if isinstance(sel, slice) else x.index_select(0, sel)


def put_rows(dst: torch.Tensor, sel: Any, value: torch.Tensor) -> None:
    """Write ``value`` into the rows ``sel`` of ``dst``."""
    if isinstance(sel, slice):
        dst[sel] = value
    else:
        dst.index_copy_(0, sel, value)
