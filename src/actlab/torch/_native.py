"""Native PyTorch fast paths behind :func:`actlab.softmax` and
:func:`actlab.log_softmax`, used in plain eager mode only (never while
``torch.compile`` traces or ``torch.func`` transforms run, where the
array-API math runs instead) and tested to agree with it.

- float32 forward: PyTorch's fused kernel run in float64 and rounded once.
  For float32 input the float64 shift ``x - max`` is exact enough and the
  float64 exponential far more accurate than float32 needs, so this is
  within 1 ULP. Rows with a non-finite top entry (NaN out of the kernel) go
  back to the general path; for log-softmax so do rows whose log-sum is
  below 2**-20, where ``log(1 + s)`` (rather than ``log1p(s)``) would lose
  relative accuracy.
- backward: PyTorch's fused softmax / log-softmax backward kernels compute
  exactly our VJP formulas ``y (g - <g, y>)`` and ``g - e^y sum(g)`` (the
  latter only when no output is -inf, where our rule drops ``g``).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["try_native", "softmax_backward", "log_softmax_backward"]

_SMALL_LSE = 2.0**-20


def _eligible(x: torch.Tensor, xp: Any) -> bool:
    return x.dtype == torch.float32 and x.ndim >= 1 and x.shape[-1] > 0 and xp.data_dependent_ok(x)


def try_native(name: str, x: torch.Tensor, num: float, den: float, xp: Any) -> torch.Tensor | None:
    """The fused-kernel result, or None when the general path must run."""
    if not _eligible(x, xp) or num != 1.0 or den != 1.0:
        return None
    from ..simplex.softmax import log_softmax_rows, softmax_rows

    x64 = x.double()
    if name == "softmax":
        y = torch.softmax(x64, -1).float()
        bad = torch.isnan(y).any(-1)
        rows = softmax_rows
    else:
        y64 = torch.log_softmax(x64, -1)
        y = y64.float()
        bad = torch.isnan(y).any(-1) | (y.amax(-1) > -_SMALL_LSE)
        rows = log_softmax_rows
    if bool(bad.any()):
        y[bad] = rows(x[bad], num, den, xp)
    return y


def softmax_backward(y: torch.Tensor, g: torch.Tensor, xp: Any) -> torch.Tensor | None:
    if y.dtype != g.dtype or y.shape != g.shape or not xp.data_dependent_ok(y) or not xp.data_dependent_ok(g):
        return None
    return torch._softmax_backward_data(g, y, -1, y.dtype)


def log_softmax_backward(y: torch.Tensor, g: torch.Tensor, xp: Any) -> torch.Tensor | None:
    if y.dtype != g.dtype or y.shape != g.shape or not xp.data_dependent_ok(y) or not xp.data_dependent_ok(g):
        return None
    if bool(torch.isneginf(y).any()):
        return None
    return torch._log_softmax_backward_data(g, y, -1, y.dtype)
