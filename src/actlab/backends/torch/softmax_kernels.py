"""Native PyTorch fast paths behind :func:`actlab.softmax` and
:func:`actlab.log_softmax`, used in plain eager mode only (never while
``torch.compile`` traces or ``torch.func`` transforms run, where the
array-API math runs instead) and tested to agree with it.

- float32 forward: PyTorch's fused kernel run in float64
  (``dtype=torch.float64``) and rounded once. For float32 input the float64
  shift ``x - max`` is exact enough and the float64 exponential far more
  accurate than float32 needs, so this is within 1 ULP. On the CPU it runs a
  block of rows at a time, so the float64 intermediate stays in cache
  instead of costing a fresh multi-megabyte allocation. Rows with a
  non-finite top entry (NaN out of the kernel) go to the general path; for
  log-softmax so do rows whose log-sum is below 2**-20, where ``log(1 + s)``
  (rather than ``log1p(s)``) would lose relative accuracy.
- float32 forward on CPU tensors with numba installed (the ``fast`` extra):
  the fused row kernels of :mod:`actlab.backends.numba_softmax` (the same
  formulas in float64, each row in cache; within 1 ULP).
- bfloat16 forward on CPU tensors: PyTorch's own kernel, which computes in
  float32 and rounds once (softmax: within 0.5 ULP plus float32's error,
  far below a bfloat16 ULP). Log-softmax: with numba, the float32 row
  kernel of :mod:`actlab.backends.numba_softmax_bf16` (within one bfloat16
  ULP); without, PyTorch's kernel with a float32 result, rounded once (its
  bfloat16 one is hundreds of ULPs off), rows whose top entry is above
  -2**-15 (there float32's ``log(1 + s)`` would carry a visible relative
  error of ``-log1p(s)``) going to the general path. Rows that come out
  NaN (a +inf entry, all -inf, NaN) go to the general path.
- backward: PyTorch's fused softmax / log-softmax backward kernels compute
  exactly our VJP formulas ``y (g - <g, y>)`` and ``g - e^y sum(g)`` (the
  latter only where no entry of ``x`` is -inf or NaN, where our rule drops
  ``g``; the numba forward kernels report their rows' minima, so for their
  inputs, unchanged since (same version counter), the backward needs no
  pass over ``x`` of its own).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import torch
from torch.utils.weak import WeakIdKeyDictionary

__all__ = ["try_native", "softmax_backward", "log_softmax_backward", "numba_rows"]

_NUMBA: list[Any] = []


def numba_rows() -> Any:
    """The kernels of :mod:`actlab.backends.numba_softmax`, or None without numba (imported on first use)."""
    if not _NUMBA:
        try:
            from .. import numba_softmax
        except ImportError:  # numba is an optional extra
            _NUMBA.append(None)
        else:  # each entry point says so while numba compiles it (fresh cache)
            from ..compile_notice import SOFTMAX_NOTICE

            _NUMBA.append(SimpleNamespace(**{n: SOFTMAX_NOTICE.wrap(getattr(numba_softmax, n))
                                             for n in numba_softmax.__all__}))
    return _NUMBA[0]


_UNMASKED = WeakIdKeyDictionary()
"""Inputs of a log-softmax forward with no -inf or NaN entry, mapped to their
version counter then: the backward skips its own pass over ``x`` for them."""


def _remember_unmasked(x: torch.Tensor, ok: Any, lo: Any) -> None:
    """Record ``x`` (by identity and version) when the kernel's row minima show no -inf and no NaN."""
    if bool(ok.all()) and bool((lo > -math.inf).all()):
        _UNMASKED[x] = x._version


def _numba_forward(name: str, x: torch.Tensor, key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(y, bad)`` from the numba kernels for a CPU float32 tensor, (N, K)
    (``key``: the caller's tensor, recorded when it has no masked entry)."""
    nbk = numba_rows() if x.device.type == "cpu" else None
    if nbk is None:
        return None
    x2 = x.detach().reshape(-1, x.shape[-1]).contiguous()
    if name == "softmax":
        y, ok = nbk.softmax_rows(x2.numpy())
    else:
        y, ok, lo = nbk.log_softmax_rows_min(x2.numpy())
        _remember_unmasked(key, ok, lo)
    return torch.from_numpy(y), ~torch.from_numpy(ok)

_SMALL_LSE = 2.0**-20
_BLOCK = 1 << 19
"""float64 elements per block on the CPU (4 MiB: few parallel regions, still cache-sized)."""


_BF16_TOP = -(2.0**-15)


def _eligible(x: torch.Tensor, xp: Any) -> bool:
    return (x.dtype == torch.float32 or (x.dtype == torch.bfloat16 and x.device.type == "cpu")) and (
        x.ndim >= 1 and x.shape[-1] > 0 and xp.may_branch(x))


def _bfloat16(name: str, x2: torch.Tensor, key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y, bad)`` from PyTorch's own kernel (float32 inside) for bfloat16 rows."""
    if name == "softmax":
        y = torch.softmax(x2, -1)
        return y, torch.isnan(y.sum(-1))
    if numba_rows() is not None:
        from ..numba_softmax_bf16 import log_softmax_rows_bf16_min

        yb, ok, lo = log_softmax_rows_bf16_min(x2.detach().contiguous().view(torch.uint16).numpy())
        _remember_unmasked(key, ok, lo)
        return torch.from_numpy(yb).view(torch.bfloat16), ~torch.from_numpy(ok)
    y32 = torch.log_softmax(x2, -1, dtype=torch.float32)
    top = y32.amax(-1)
    return y32.to(torch.bfloat16), torch.isnan(top) | (top > _BF16_TOP)


def _blocks(name: str, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y, bad)`` from torch's fused kernel run in float64, a block of rows at a time."""
    kernel = torch.softmax if name == "softmax" else torch.log_softmax
    n, k = x2.shape
    y = torch.empty_like(x2)
    step = max(1, _BLOCK // k) if x2.device.type == "cpu" else max(n, 1)
    flags = []
    for i in range(0, n, step):
        yb = kernel(x2[i : i + step], -1, dtype=torch.float64)
        if name == "softmax":
            flags.append(torch.isnan(yb.sum(-1)))
        else:
            top = yb.amax(-1)
            flags.append(torch.isnan(top) | (top > -_SMALL_LSE))
        y[i : i + step] = yb
    return y, torch.cat(flags) if len(flags) > 1 else flags[0]


def try_native(name: str, x: torch.Tensor, num: float, den: float, xp: Any) -> torch.Tensor | None:
    """The fused-kernel result, or None when the general path must run."""
    if not _eligible(x, xp) or num != 1.0 or den != 1.0:
        return None
    from ...simplex.softmax import log_softmax_rows, softmax_rows

    k = x.shape[-1]
    x2 = x.reshape(-1, k)
    if x.dtype == torch.bfloat16:
        y, bad = _bfloat16(name, x2, x)
    else:
        fused = _numba_forward(name, x2, x)
        y, bad = fused if fused is not None else _blocks(name, x2)
    if bool(bad.any()):
        rows = softmax_rows if name == "softmax" else log_softmax_rows
        y[bad] = rows(x2[bad].float(), num, den, xp).to(y.dtype)  # (float32 input: exact in float64)
    return y.reshape(x.shape)


def softmax_backward(y: torch.Tensor, g: torch.Tensor, xp: Any) -> torch.Tensor | None:
    if y.dtype != g.dtype or y.shape != g.shape or not xp.may_branch(y) or not xp.may_branch(g):
        return None
    return torch._softmax_backward_data(g, y, -1, y.dtype)


def log_softmax_backward(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, masked: float,
                         xp: Any) -> torch.Tensor | None:
    """torch's log_softmax backward ``g - exp(y) sum g``, where no entry of
    ``x`` is ``masked`` (-inf, or +inf for a negative temperature) or NaN;
    None otherwise (the array-API formula then drops the masked entries)."""
    if y.dtype != g.dtype or y.shape != g.shape or not xp.may_branch(y) or not xp.may_branch(g):
        return None
    known = masked < 0 and _UNMASKED.get(x) == x._version  # the forward kernel saw every entry
    if x.numel() and not known:  # a reduction, no boolean temporary; NaN compares False
        edge = x.amin() if masked < 0 else x.amax()
        if not bool(edge > masked if masked < 0 else edge < masked):
            return None
    return torch._log_softmax_backward_data(g, y, -1, y.dtype)
