"""The fast lanes of the NumPy backend: run the lane declared in
:mod:`.numpy_lane_table` for a call, with the least per-call work (one
type test, one dtype look-up, the default parameters tested by identity).

:func:`lanes` gives, for one function, the callables the generic front
door (:mod:`actlab._activation`) tries before its own path; each returns
``NotImplemented`` when the call is not the lane's (then actlab's formula
runs, as without the lane). The backend's ``apply_elementwise`` goes
through the same lane, so Python numbers and lists get the values of the
arrays made from them.

Example:
    >>> import numpy as np, actlab
    >>> float(actlab.sigmoid(np.array(-745.0))) > 0  # the guarded tail keeps the subnormal
    True
"""

from __future__ import annotations

from collections.abc import Callable
from operator import is_
from typing import Any

import numpy as np

from .numpy_lane_table import DERIVATIVE, F32, F64, VALUE, Lane

__all__ = ["lanes", "lane_of", "blocked_value", "BLOCK"]

_HALF = np.dtype(np.float16)
_NUMBER = (int, float)
_WHOLE = (-np.inf, np.inf)
_FLOATS = (F64, F32)


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
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return x if x.dtype in _FLOATS or x.dtype == _HALF else None


def _outside(x: np.ndarray, domain: tuple[float, float]) -> Any:
    """Entries outside the closed ``domain`` (NaN included), or None when
    there are none (one reduction per finite bound)."""
    lo, hi = domain
    if not x.size:
        return None
    if hi == np.inf:
        inside = x.min() >= lo  # (False with a NaN)
    elif lo == -np.inf:
        inside = x.max() <= hi
    else:
        inside = x.min() >= lo and x.max() <= hi
    return None if inside else ~((x >= lo) & (x <= hi))


def run(lane: Lane, own: Callable[[np.ndarray], np.ndarray], x: np.ndarray, values: tuple[Any, ...]) -> np.ndarray:
    """``lane`` at ``x``; ``own`` (actlab's formula) for the entries outside
    its domain (the lane sees its domain's bound there instead)."""
    if not x.ndim:  # (a ufunc on a 0-d array gives a scalar, which out= cannot take)
        return run(lane, own, x.reshape(1), values).reshape(())
    bad = None if lane.domain == _WHOLE else _outside(x, lane.domain)
    if bad is None:
        y = lane.op(x, *values)
    else:
        lo, hi = lane.domain
        y = lane.op(np.where(bad, lo if lo != -np.inf else hi, x), *values)
    if bad is not None:
        y[bad] = own(x[bad])
    return y


def _same(values: tuple[Any, ...], defaults: tuple[Any, ...]) -> bool:
    """Whether ``values`` are the default values (equal, of the same types)."""
    return all(type(v) is type(d) for v, d in zip(values, defaults)) and values == defaults


def _lane(spec: Any, backend: Any, table: dict[tuple[str, np.dtype], Lane],
          own: Callable[[np.ndarray, tuple[Any, ...]], np.ndarray]) -> Callable[..., Any] | None:
    by_dtype = {dt: table[spec.name, dt] for dt in _FLOATS if (spec.name, dt) in table}
    if not by_dtype:
        return None
    defaults = tuple(p.default for p in spec.params)
    # the common call: a float ndarray with the default parameters and a lane over the whole line
    direct = {dt: lane.op for dt, lane in by_dtype.items() if lane.domain == _WHOLE}

    def call(x: Any, values: tuple[Any, ...]) -> Any:
        if type(x) is np.ndarray and x.ndim and all(map(is_, values, defaults)):
            op = direct.get(x.dtype)  # (not for other byte orders: their dtypes differ)
            if op is not None:
                return op(x, *values)
        return general(x, values)

    def call_without_params(x: Any, values: tuple[Any, ...]) -> Any:
        if type(x) is np.ndarray and x.ndim:
            op = direct.get(x.dtype)
            if op is not None:
                return op(x)
        return general(x, values)

    def general(x: Any, values: tuple[Any, ...]) -> Any:
        if type(x) is not np.ndarray or not x.dtype.isnative:
            x = _float(x)
            if x is None:
                return NotImplemented
        lane = by_dtype.get(x.dtype)
        if lane is None:
            if x.dtype == _HALF:  # float32 rounded once, as every function does
                y = general(x.astype(np.float32), values)
                if y is NotImplemented:
                    return y
                with np.errstate(over="ignore"):  # (past float16's range: inf, the right answer)
                    return y.astype(np.float16)
            if x.dtype.kind not in "biu" or F64 not in by_dtype:
                return NotImplemented
            x = x.astype(np.float64)
            lane = by_dtype[F64]
        if not all(map(is_, values, defaults)) and not _same(values, defaults):
            if not lane.any_params or not all(type(v) in _NUMBER or type(v) is str for v in values):
                return NotImplemented
            values = spec.checked(values)
            if spec.prepare is not None:
                values = spec.prepare(x, *values, xp=backend)
            if lane.takes is not None and not lane.takes(*values):
                return NotImplemented
        return run(lane, lambda v: own(v, values), x, values)

    return call if defaults else call_without_params


BLOCK = 8192
"""Elements per block of actlab's own formulas on large arrays: each of their
temporaries is then 64 KiB at most (float64), stays in cache and is
recycled by the allocator instead of being fresh pages (a double-word
formula makes a hundred of them)."""
_SCALAR = (int, float, str, type(None))


def blocked_value(spec: Any, x: Any, values: tuple[Any, ...], backend: Any) -> Any:
    """``spec.value(x, values)``, a block of :data:`BLOCK` elements at a time
    for large ndarrays with scalar parameters (the same values: every entry
    is computed on its own)."""
    n = x.size
    if n < 2 * BLOCK or type(x) is not np.ndarray or not all(type(v) in _SCALAR for v in values):
        return spec.value(x, values, backend)
    flat = x.reshape(-1)
    first = spec.value(flat[:BLOCK], values, backend)
    out = np.empty(n, first.dtype)
    out[:BLOCK] = first
    for i in range(BLOCK, n, BLOCK):
        out[i:i + BLOCK] = spec.value(flat[i:i + BLOCK], values, backend)
    return out.reshape(x.shape)


_LANES: dict[Any, tuple[Callable[..., Any], Callable[..., Any]] | None] = {}


def _own_path(x: Any, values: tuple[Any, ...]) -> Any:
    return NotImplemented


def lanes(spec: Any, backend: Any) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """``(value, derivative)`` lanes of ``spec`` on ndarrays, or None (built once per function)."""
    if spec not in _LANES:
        value = _lane(spec, backend, VALUE, lambda v, values: spec.value(v, values, backend))
        deriv = _lane(spec, backend, DERIVATIVE,
                      lambda v, values: spec.evaluate(spec.derivative, v, values, backend, "derivative"))
        _LANES[spec] = None if value is None and deriv is None else (value or _own_path, deriv or _own_path)
    return _LANES[spec]


def lane_of(name: str, dtype: Any, what: str = "value") -> Lane | None:
    """The declared lane of ``name`` at ``dtype`` (``what``: "value" or "derivative"), or None."""
    return (VALUE if what == "value" else DERIVATIVE).get((name, np.dtype(dtype)))
