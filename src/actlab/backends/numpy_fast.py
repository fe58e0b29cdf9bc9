"""Fast lanes of the NumPy backend: SciPy's logistic ufuncs where they are
as accurate as actlab's formulas, one pass instead of several.

On the stored mpmath grid (``tests/data``), ``scipy.special.log_expit`` is
within 1.3 ULP everywhere in float64 and float32, so it serves
:func:`actlab.log_sigmoid` directly; ``scipy.special.expit`` is within 1.9
ULP for x >= -708 (float64) and x >= -88 (float32) but loses the subnormal
tail below (up to 1e15 ULP), so :func:`actlab.sigmoid` takes it *guarded*:
one extra ``min`` pass, and actlab's own formula for the entries below the
bound (and NaN). ``tests/test_accuracy.py`` holds both to 4 ULP through the
public functions.

Example:
    >>> import numpy as np, actlab
    >>> float(actlab.sigmoid(np.array(-745.0))) > 0  # the guarded tail keeps the subnormal
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as sc

__all__ = ["lanes"]

_SIGMOID_FROM = {np.dtype(np.float64): -708.0, np.dtype(np.float32): -88.0}
"""Below these, expit's result is not within 4 ULP (its subnormal tail)."""


_HALF = np.dtype(np.float16)


def _float(x: Any) -> Any:
    """``x`` as the float ndarray the function's own path would compute on
    (NumPy scalars as 0-d arrays, integers and booleans as float64), or None
    for what the lane does not take (subclasses such as np.matrix, other
    dtypes), so every input kind of the same numbers gets the same result."""
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if type(x) is not np.ndarray:
        return None
    if x.dtype.kind in "biu":
        return x.astype(np.float64)
    return x if x.dtype in _SIGMOID_FROM or x.dtype == _HALF else None


def _sigmoid(spec: Any, backend: Any) -> Callable[..., Any]:
    def value(x: Any, values: tuple[Any, ...]) -> Any:
        x = _float(x)
        if x is None:
            return NotImplemented
        if x.dtype == _HALF:  # float32 rounded once, as every function does
            return value(x.astype(np.float32), values).astype(np.float16)
        y = np.asarray(sc.expit(x))
        if x.size and not x.min() >= _SIGMOID_FROM[x.dtype]:  # (NaN fails the test too)
            bad = ~(x >= _SIGMOID_FROM[x.dtype])
            y[bad] = spec.value(x[bad], values, backend)
        return y

    return value


def _log_sigmoid(spec: Any, backend: Any) -> Callable[..., Any]:
    def value(x: Any, values: tuple[Any, ...]) -> Any:
        x = _float(x)
        if x is None:
            return NotImplemented
        if x.dtype == _HALF:
            return np.asarray(sc.log_expit(x.astype(np.float32))).astype(np.float16)
        return np.asarray(sc.log_expit(x))

    return value


def _own_path(x: Any, values: tuple[Any, ...]) -> Any:
    return NotImplemented


_LANES = {"sigmoid": _sigmoid, "log_sigmoid": _log_sigmoid}


def lanes(spec: Any, backend: Any) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """``(value, derivative)`` lanes of ``spec`` on ndarrays, or None."""
    make = _LANES.get(spec.name)
    return None if make is None else (make(spec, backend), _own_path)
