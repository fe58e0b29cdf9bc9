"""The NumPy backend's fast path behind :func:`actlab.softmax` and
:func:`actlab.log_softmax`: for float32 and float64 arrays (temperature 1)
with numba installed (the ``fast`` extra), fused row kernels of the
formulas of :mod:`actlab.simplex.shifted_exp`, one row in cache at a time:
:mod:`actlab.backends.numba_softmax` for float32 (float64 inside, rounded
once, within 1 ULP) and :mod:`actlab.backends.numpy_softmax64` for
float64 (exact shift, compensated sum; 2.5 ULPs on the mpmath rows). Rows
the kernels report (a non-finite top entry, a NaN sum) take the general
formula. Other dtypes, temperatures and inputs return None: the general
formula runs.

Example:
    >>> import numpy as np, actlab
    >>> actlab.log_softmax(np.array([[0.0, -50.0]], np.float32)).tolist()  # -log1p(e^-50) kept
    [[-1.9287498933537385e-22, -50.0]]
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["softmax_forward", "numba_rows"]

_NUMBA: list[Any] = []
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_KERNEL_DTYPES = (_F32, _F64)


def numba_rows() -> Any:
    """The float32 kernels of :mod:`actlab.backends.numba_softmax` and the
    float64 ones of :mod:`actlab.backends.numpy_softmax64` by dtype, or None
    without numba (imported on first use; each says so while numba compiles it)."""
    if not _NUMBA:
        try:
            from . import numba_softmax, numpy_softmax64
        except ImportError:  # numba is an optional extra
            _NUMBA.append(None)
        else:
            from .compile_notice import SOFTMAX_NOTICE

            _NUMBA.append({dt: SimpleNamespace(**{n: SOFTMAX_NOTICE.wrap(getattr(module, n))
                                                  for n in ("softmax_rows", "log_softmax_rows")})
                           for dt, module in ((_F32, numba_softmax), (_F64, numpy_softmax64))})
    return _NUMBA[0]


def softmax_forward(name: str, x: Any, num: float, den: float, xp: Any) -> np.ndarray | None:
    """softmax or log_softmax (``name``) of ``x`` along its last axis by the
    numba kernels, or None where they do not apply."""
    if (type(x) is not np.ndarray or x.dtype not in _KERNEL_DTYPES or num != 1.0 or den != 1.0 or x.ndim < 1
            or x.shape[-1] == 0 or x.size == 0):
        return None
    by_dtype = numba_rows()
    if by_dtype is None:
        return None
    kernels = by_dtype[x.dtype]
    k = x.shape[-1]
    x2 = np.ascontiguousarray(x.reshape(-1, k))
    y, ok = (kernels.softmax_rows if name == "softmax" else kernels.log_softmax_rows)(x2)
    if not ok.all():
        from ..simplex.softmax import log_softmax_rows, softmax_rows

        bad = ~ok
        rows = softmax_rows if name == "softmax" else log_softmax_rows
        with xp.quiet():
            y[bad] = np.asarray(rows(x2[bad], num, den, xp)).astype(x.dtype)
    return y.reshape(x.shape)
