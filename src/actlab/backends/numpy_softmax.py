"""The NumPy backend's fast path behind :func:`actlab.softmax` and
:func:`actlab.log_softmax`: for float32 arrays (temperature 1) with numba
installed (the ``fast`` extra), the fused row kernels of
:mod:`actlab.backends.numba_softmax` -- the formulas of
:mod:`actlab.simplex.shifted_exp` in float64, one row in cache at a time,
rounded once (within 1 ULP). Rows the kernels report (a non-finite top
entry, a NaN sum) take the general formula. Other dtypes, temperatures and
inputs return None: the general formula runs.

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
_F32 = np.dtype(np.float32)


def numba_rows() -> Any:
    """The kernels of :mod:`actlab.backends.numba_softmax`, or None without
    numba (imported on first use; each says so while numba compiles it)."""
    if not _NUMBA:
        try:
            from . import numba_softmax
        except ImportError:  # numba is an optional extra
            _NUMBA.append(None)
        else:
            from .compile_notice import SOFTMAX_NOTICE

            _NUMBA.append(SimpleNamespace(**{n: SOFTMAX_NOTICE.wrap(getattr(numba_softmax, n))
                                             for n in numba_softmax.__all__}))
    return _NUMBA[0]


def softmax_forward(name: str, x: Any, num: float, den: float, xp: Any) -> np.ndarray | None:
    """softmax or log_softmax (``name``) of ``x`` along its last axis by the
    numba kernels, or None where they do not apply."""
    if (type(x) is not np.ndarray or x.dtype != _F32 or num != 1.0 or den != 1.0 or x.ndim < 1
            or x.shape[-1] == 0 or x.size == 0):
        return None
    kernels = numba_rows()
    if kernels is None:
        return None
    k = x.shape[-1]
    x2 = np.ascontiguousarray(x.reshape(-1, k))
    y, ok = (kernels.softmax_rows if name == "softmax" else kernels.log_softmax_rows)(x2)
    if not ok.all():
        from ..simplex.softmax import log_softmax_rows, softmax_rows

        bad = ~ok
        rows = softmax_rows if name == "softmax" else log_softmax_rows
        with xp.quiet():
            y[bad] = np.asarray(rows(x2[bad], num, den, xp)).astype(np.float32)
    return y.reshape(x.shape)
