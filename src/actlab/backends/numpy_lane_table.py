"""The declared fast lanes of the element-wise functions on NumPy arrays.

One :class:`Lane` per (function, dtype) says how a call with the entry's
parameters is evaluated: a few NumPy/SciPy ufunc calls, in place on one
output buffer, that give actlab's values -- bit for bit for the
piecewise-linear family (the same comparisons and the same single
roundings as the formula; hardswish, as ``x hardsigmoid(x)``, within 1.7
ULPs and -0.0 for x <= -3; relu6(-0.0) is -0.0, as ``np.clip`` gives), within 4 ULPs of the
correctly rounded result for the others (NumPy's float32 tanh, expm1 and
logaddexp and SciPy's float32 expit are within 3 ULPs) -- over the lane's
``domain``. Entries outside the domain
(and NaN, where the domain is not the whole line) take actlab's own
formula, found with one ``min`` (or ``min``/``max``) pass. ``tests/
test_numpy_lanes.py`` holds every entry to 4 ULPs of the stored mpmath
references, checks the limits at +-inf, NaN and signed zero against the
function's own path, and that the public functions take these lanes.

Functions and dtypes not in the table take actlab's formula; float16
takes the float32 lane and rounds once, as every function does.

Example:
    >>> import numpy as np
    >>> from actlab.backends.numpy_lane_table import VALUE
    >>> VALUE["relu", np.dtype(np.float32)].domain
    (-inf, inf)
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special as sc

from ..elementwise.constants import SELU_SCALE_ALPHA

__all__ = ["Lane", "VALUE", "DERIVATIVE", "F32", "F64"]

INF = math.inf
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
Op = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Lane:
    """How one function is evaluated for one dtype on NumPy arrays.

    ``op(x, *values)``: the result as a new array (``x`` is a float32 or
    float64 ndarray, never written to); accurate on the closed interval
    ``domain`` of x. ``any_params``: the lane serves every parameter value
    that passes the function's checks (numbers), not only the defaults;
    ``takes(*values)``, if given, narrows that to the values it is exact for.
    """

    op: Op
    domain: tuple[float, float] = (-INF, INF)
    any_params: bool = False
    takes: Callable[..., bool] | None = None


# -- the piecewise-linear family: the formula's own comparisons -------------------------------
# np.maximum(a, b) and np.minimum(a, b) return b where a == b (so maximum(x, 0.0) is +0.0 at
# -0.0, as where(x <= 0, 0, x) is) and propagate NaN.

def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)  # (-0.0 at -0.0, as torch's; actlab's formula gives +0.0)


def _hardtanh(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if lo and hi:  # np.clip keeps x where x == 0, as the formula does (a bound of 0 takes max/min)
        return np.clip(x, lo, hi)
    y = np.maximum(x, lo)
    return np.minimum(y, hi, out=y)


def _leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    # where(x >= 0, x, a x) is max(x, a x) for 0 <= a <= 1 (other slopes: actlab's formula)
    y = np.multiply(x, slope)
    return np.maximum(x, y, out=y)


def _threshold(x: np.ndarray, threshold: float, value: float) -> np.ndarray:
    return np.where(x <= threshold, value, x)  # (NaN <= t is False: NaN stays)


def _softshrink(x: np.ndarray, lambd: float) -> np.ndarray:
    # x - clip(x): x - lambd above, x + lambd below, x - x = +0 between, NaN at NaN
    y = np.clip(x, -lambd, lambd) if lambd else np.zeros_like(x)
    return np.subtract(x, y, out=y)


def _hardshrink(x: np.ndarray, lambd: float) -> np.ndarray:
    # x [|x| > lambd] (NaN * 0 is NaN), + 0.0 makes the zeros +0.0; branch-free, unlike np.where
    y = np.abs(x)
    np.multiply(x, np.greater(y, lambd), out=y)
    return np.add(y, 0.0, out=y)


def _hardsigmoid(x: np.ndarray) -> np.ndarray:
    y = np.add(x, 3.0)  # (x + 3) / 6, not x / 6 + 0.5, which cancels near -3
    np.divide(y, 6.0, out=y)
    return np.clip(y, 0.0, 1.0, out=y)


def _hardswish(x: np.ndarray) -> np.ndarray:
    # x hardsigmoid(x): x from 3 on (times 1), within 1.7 ULPs between, -0.0 on the flat piece
    # x <= -3 (as torch's x relu6(x + 3) / 6; the formula gives +0.0); -inf (-inf * 0) is
    # outside the domain
    y = _hardsigmoid(x)
    return np.multiply(y, x, out=y)


# -- smooth functions: one accurate ufunc -------------------------------------------------------

def _tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def _softplus(x: np.ndarray, beta: float = 1.0) -> np.ndarray:  # (beta = 1)
    with np.errstate(invalid="ignore"):  # (NumPy's logaddexp flags NaN input as invalid)
        return np.logaddexp(0.0, x)  # max(x, 0) + log1p(exp(-|x|)), as actlab's


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(sc.log_expit(x))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(sc.expit(x))


def _elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    # alpha expm1(min(0, x)) + max(0, x): x above 0, alpha expm1(x) below, -0.0 at -0.0
    # (np.minimum(0.0, x) is x where x == 0); arithmetic, not np.where (which branches)
    y = np.minimum(0.0, x)
    np.expm1(y, out=y)
    if alpha != 1.0:
        np.multiply(y, alpha, out=y)
    return np.add(y, np.maximum(0.0, x), out=y)


_SELU_SCALE = 1.0507009873554804934193349852946


def _selu(x: np.ndarray) -> np.ndarray:
    y = np.minimum(0.0, x)
    np.expm1(y, out=y)
    np.multiply(y, SELU_SCALE_ALPHA, out=y)
    p = np.maximum(0.0, x)
    with np.errstate(over="ignore"):  # lambda x past the float range is inf, the right answer
        np.multiply(p, _SELU_SCALE, out=p)
    return np.add(y, p, out=y)


_CLIP = 2.0**100


def _softsign(x: np.ndarray) -> np.ndarray:
    # x / (1 + |x|); past 2^100 the quotient is already +-1 (and inf / inf is not)
    y = np.abs(x)
    if y.size and not y.max() <= _CLIP:  # (NaN fails too, harmlessly)
        x = np.clip(x, -_CLIP, _CLIP)
        np.abs(x, out=y)
    np.add(y, 1.0, out=y)
    return np.divide(x, y, out=y)


def _silu(x: np.ndarray, beta: float = 1.0) -> np.ndarray:  # (swish: beta = 1)
    y = np.asarray(sc.expit(x))
    return np.multiply(y, x, out=y)


def _swish32(x: np.ndarray, beta: float) -> np.ndarray:
    # float32: x expit(beta x) in float64 (beta x rounded there: ~1e-14 relative after expit's
    # amplification |beta x| < 104, where the result is still above float32's subnormals),
    # rounded once; below -708 expit's lost tail is far below float32's smallest number
    x64 = x.astype(np.float64)
    y = np.multiply(x64, beta)
    sc.expit(y, out=y)
    np.multiply(y, x64, out=y)
    return y.astype(np.float32)


def _mish(x: np.ndarray) -> np.ndarray:
    y = np.logaddexp(0.0, x)
    np.tanh(y, out=y)
    return np.multiply(y, x, out=y)


def _looped(name: str, derivative: bool = False) -> Op:
    """The numba loop generated from actlab's own formula (one pass; see
    :mod:`actlab.backends.numba_formula`): the formula's values, to its
    own accuracy, over the whole line."""
    def op(x: np.ndarray, *values: Any) -> np.ndarray:
        from ..registry import get
        from .numba_formula import run_on

        spec = get(name).extra["spec"]
        values = values or tuple(p.default for p in spec.params)
        seen = _LOOP_VALUES.setdefault(name, set())
        if values not in seen and len(seen) >= LOOP_VALUES_MAX:  # (no compile per new value)
            from .._backend import backend_of

            what = "derivative" if derivative else "forward"
            return spec.evaluate(spec.derivative if derivative else spec.math, x, values, backend_of(x), what)
        seen.add(values)
        return run_on(spec, x, values, derivative)

    op.__name__ = f"loop_{name}" + ("_derivative" if derivative else "")
    return op


LOOPS = importlib.util.find_spec("numba") is not None
"""Whether the generated loops are available (numba, the ``fast`` extra)."""
LOOP_VALUES_MAX = 4
"""At most this many parameter values of one function get loops of their own;
later values take actlab's formula (a value that changes every call must not
compile every call)."""
_LOOP_VALUES: dict[str, set[tuple[Any, ...]]] = {}

VALUE: dict[tuple[str, np.dtype], Lane] = {}
"""The value lanes, by (function name, dtype)."""


def _declare(name: str, lane64: Lane | None, lane32: Lane | None = None) -> None:
    for dt, lane in ((F64, lane64), (F32, lane32 if lane32 is not None else lane64)):
        if lane is not None:
            VALUE[name, dt] = lane


_PLAIN: tuple[tuple[str, Op], ...] = (("relu", _relu), ("relu6", _relu6), ("hardsigmoid", _hardsigmoid))
_WITH_PARAMS: tuple[tuple[str, Op], ...] = (("hardtanh", _hardtanh), ("threshold", _threshold),
                                            ("softshrink", _softshrink), ("hardshrink", _hardshrink))
for _name, _op in _PLAIN:
    _declare(_name, Lane(_op))
_declare("hardswish", Lane(_hardswish, (-float(np.finfo(F64).max), INF)),
         Lane(_hardswish, (-float(np.finfo(F32).max), INF)))
for _name, _op in _WITH_PARAMS:
    _declare(_name, Lane(_op, any_params=True))
_declare("leaky_relu", Lane(_leaky_relu, any_params=True, takes=lambda a: 0.0 <= a <= 1.0))
_declare("tanh", Lane(_tanh))
_declare("log_sigmoid", Lane(_log_sigmoid))
# expit loses its subnormal tail below -708 (float64) and -88 (float32); the products with x
# below it as well
_declare("sigmoid", Lane(_sigmoid, (-708.0, INF)), Lane(_sigmoid, (-88.0, INF)))
_declare("silu", Lane(_silu, (-708.0, INF)), Lane(_silu, (-80.0, INF)))
_declare("swish", VALUE["silu", F64],  # beta = 1
         Lane(_swish32, (-float(np.finfo(F32).max), float(np.finfo(F32).max)), any_params=True))
_declare("mish", Lane(_mish, (-708.0, INF)), Lane(_mish, (-80.0, INF)))
_declare("softplus", Lane(_softplus))
_declare("elu", Lane(_elu, any_params=True))
_declare("celu", Lane(_elu))  # alpha = 1: celu is elu
_declare("selu", Lane(_selu))
_declare("softsign", Lane(_softsign))
# The loops measured faster than the ufuncs above (`benchmarks/elementwise_speed.py`; SciPy's
# expit and log_expit are scalar code): one pass of actlab's formula, over the whole line.
if LOOPS:
    for _name in ("tanhshrink", "mish", "softsign", "hardswish", "sigmoid", "log_sigmoid", "softplus"):
        _declare(_name, Lane(_looped(_name)))
    VALUE["silu", F32] = Lane(_looped("silu"))
    for _name in ("elu", "celu", "selu"):
        VALUE[_name, F64] = Lane(_looped(_name))
    _declare("gelu", Lane(_looped("gelu"), any_params=True))  # (approximate: "none" or "tanh")
    _swish_loop = _looped("swish")

    def _swish(x: np.ndarray, beta: float = 1.0) -> np.ndarray:
        """swish(x, 1) is silu's lane (silu(x) == swish(x, 1.0), bit for bit); other beta its loop."""
        return VALUE["silu", x.dtype].op(x) if beta == 1.0 else _swish_loop(x, beta)

    _declare("swish", Lane(_swish, VALUE["silu", F64].domain, any_params=True), Lane(_swish, any_params=True))


# -- derivatives of the piecewise-linear family ------------------------------------------------
# The indicator [lo < x < hi] (0 at the kinks, NaN at NaN, as actlab's) as products of
# np.heaviside(d, 0) of differences that are 0 exactly at the kinks and cannot overflow.

def _d_relu(x: np.ndarray) -> np.ndarray:
    return np.heaviside(x, 0.0)


def _between(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    d = np.subtract(x, lo)
    np.heaviside(d, 0.0, out=d)
    u = np.subtract(hi, x)
    np.heaviside(u, 0.0, out=u)
    return np.multiply(d, u, out=d)


def _d_relu6(x: np.ndarray) -> np.ndarray:
    return _between(x, 0.0, 6.0)


def _d_hardtanh(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return _between(x, lo, hi)


def _d_hardsigmoid(x: np.ndarray) -> np.ndarray:
    d = _between(x, -3.0, 3.0)
    return np.divide(d, 6.0, out=d)


def _d_shrink(x: np.ndarray, lambd: float) -> np.ndarray:
    d = np.abs(x)
    np.subtract(d, lambd, out=d)
    return np.heaviside(d, 0.0, out=d)


def _d_threshold(x: np.ndarray, threshold: float, value: float) -> np.ndarray:
    d = np.subtract(x, threshold)
    return np.heaviside(d, 0.0, out=d)


DERIVATIVE: dict[tuple[str, np.dtype], Lane] = {}
"""The derivative lanes, by (function name, dtype)."""

_MODEST = 1e270  # |bound| <= 2^897: x - bound rounds to +-max rather than overflowing
for _dt in (F64, F32):
    DERIVATIVE["relu", _dt] = Lane(_d_relu)
    DERIVATIVE["relu6", _dt] = Lane(_d_relu6)
    DERIVATIVE["hardsigmoid", _dt] = Lane(_d_hardsigmoid)
    DERIVATIVE["hardtanh", _dt] = Lane(_d_hardtanh)  # (-1, 1)
    DERIVATIVE["softshrink", _dt] = DERIVATIVE["hardshrink", _dt] = Lane(_d_shrink, any_params=True)
    DERIVATIVE["threshold", _dt] = Lane(_d_threshold, any_params=True,
                                        takes=lambda t, v: abs(t) <= _MODEST)
