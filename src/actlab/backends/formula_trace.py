"""A backend whose arrays are symbols: running an element-wise formula on it
records the formula as a graph of scalar operations.

The math of every element-wise function is written once, against the array
API, and receives its backend as ``xp``. Given :data:`TRACER` as ``xp`` and a
:class:`Symbol` as ``x``, the same code builds, instead of arrays, the
expression graph of one entry: each ``xp.exp``, ``+``, ``xp.where`` is a
:class:`Symbol` naming its operation, its operands and its dtype (NumPy's
promotion rules; Python numbers are weak, they take the other operand's
dtype, as in the array API). A code generator
(:mod:`actlab.backends.numba_formula`) turns the graph into one loop: one
pass over memory, every intermediate in a register.

The tracer declares what such a loop can do: no native kernels (the
formulas then take their own arithmetic; ``erfc`` and ``erfcx`` are
elementary operations of the graph), no branching on values (a formula
that asks for a value raises :class:`Untraceable` and keeps its array
path), no float32 shortcuts (``accurate_float32`` is False: float32 results
are computed in float64 and rounded once, as on NumPy).

Example:
    >>> import numpy as np
    >>> from actlab.backends.formula_trace import TRACER, Symbol
    >>> y = TRACER.exp(-Symbol.input(np.float64)) * 2.0
    >>> y.op, y.dtype.name, y.args[1]
    ('mul', 'float64', 2.0)
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._backend import Backend, Kernels

__all__ = ["Symbol", "Untraceable", "TRACER", "trace"]

_BOOL = np.dtype(bool)
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_COUNTER = itertools.count()

_PREDICATES = ("isfinite", "isnan", "isinf")


class Untraceable(TypeError):
    """The formula needs something a symbol cannot give (a value to branch
    on, an operation outside the graph's vocabulary): it keeps its array path."""


class _UnknownOperation(Untraceable, AttributeError):
    """An ``xp`` attribute the tracer does not have (``hasattr`` reads False)."""


def _operand(v: Any) -> Any:
    if isinstance(v, Symbol) or isinstance(v, (bool, int, float)):
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if isinstance(v, (np.floating, np.integer)):
        return float(v)
    raise Untraceable(f"an operand the tracer cannot hold: {type(v).__name__}")


def _result_dtype(*vs: Any) -> np.dtype:
    """NumPy's promotion among the symbols; numbers are weak (float64 alone)."""
    dts = [v.dtype for v in vs if isinstance(v, Symbol)]
    floats = [d for d in dts if d != _BOOL]
    if floats:
        return np.result_type(*floats)
    if dts and all(isinstance(v, (bool, Symbol)) for v in vs):
        return _BOOL
    return _F64


class Symbol:
    """One entry of an array, as an operation on other entries.

    ``op`` names the operation ("input", "mul", "where", "exp", "cast", ...),
    ``args`` are its operands (symbols or Python numbers), ``dtype`` the NumPy
    dtype of the result. Shape-free: a formula sees ``shape == ()``.
    """

    __slots__ = ("op", "args", "dtype", "serial", "__weakref__")
    __array_priority__ = 1000  # (NumPy scalars on the left defer to the symbol)

    def __init__(self, op: str, args: tuple[Any, ...], dtype: np.dtype) -> None:
        self.op, self.args, self.dtype = op, args, np.dtype(dtype)
        self.serial = next(_COUNTER)

    @classmethod
    def input(cls, dtype: Any, index: int = 0) -> Symbol:
        return cls("input", (index,), np.dtype(dtype))

    def __repr__(self) -> str:
        return f"Symbol({self.op}, {self.dtype.name}, #{self.serial})"

    shape: tuple[int, ...] = ()
    ndim = 0
    size = 1

    # -- what a symbol cannot answer ------------------------------------------
    def __bool__(self) -> bool:
        raise Untraceable("the formula branches on a value")

    def __float__(self) -> float:
        raise Untraceable("the formula reads a value")

    __int__ = __index__ = __float__  # type: ignore[assignment]

    def __len__(self) -> int:
        raise Untraceable("the formula asks for a length")

    def __getitem__(self, key: Any) -> Any:
        raise Untraceable("the formula indexes an array")

    __hash__ = object.__hash__

    # -- arithmetic --------------------------------------------------------------
    def _binary(self, op: str, other: Any, swap: bool = False) -> Symbol:
        other = _operand(other)
        a, b = (other, self) if swap else (self, other)
        dt = _BOOL if op in _COMPARISONS else _result_dtype(a, b)
        if op in _LOGICAL and dt != _BOOL:
            raise Untraceable(f"'{op}' of non-boolean operands")
        return Symbol(op, (a, b), dt)

    def __add__(self, o: Any) -> Symbol: return self._binary("add", o)
    def __radd__(self, o: Any) -> Symbol: return self._binary("add", o, True)
    def __sub__(self, o: Any) -> Symbol: return self._binary("sub", o)
    def __rsub__(self, o: Any) -> Symbol: return self._binary("sub", o, True)
    def __mul__(self, o: Any) -> Symbol: return self._binary("mul", o)
    def __rmul__(self, o: Any) -> Symbol: return self._binary("mul", o, True)
    def __truediv__(self, o: Any) -> Symbol: return self._binary("div", o)
    def __rtruediv__(self, o: Any) -> Symbol: return self._binary("div", o, True)
    def __pow__(self, o: Any) -> Symbol: return self._binary("pow", o)
    def __rpow__(self, o: Any) -> Symbol: return self._binary("pow", o, True)
    def __lt__(self, o: Any) -> Symbol: return self._binary("lt", o)
    def __le__(self, o: Any) -> Symbol: return self._binary("le", o)
    def __gt__(self, o: Any) -> Symbol: return self._binary("gt", o)
    def __ge__(self, o: Any) -> Symbol: return self._binary("ge", o)
    def __eq__(self, o: Any) -> Symbol: return self._binary("eq", o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Symbol: return self._binary("ne", o)  # type: ignore[override]
    def __and__(self, o: Any) -> Symbol: return self._binary("and", o)
    def __rand__(self, o: Any) -> Symbol: return self._binary("and", o, True)
    def __or__(self, o: Any) -> Symbol: return self._binary("or", o)
    def __ror__(self, o: Any) -> Symbol: return self._binary("or", o, True)

    def __neg__(self) -> Symbol: return Symbol("neg", (self,), self.dtype)
    def __pos__(self) -> Symbol: return self
    def __abs__(self) -> Symbol: return Symbol("abs", (self,), self.dtype)

    def __invert__(self) -> Symbol:
        if self.dtype != _BOOL:
            raise Untraceable("'~' of a non-boolean symbol")
        return Symbol("not", (self,), _BOOL)


_COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")
_LOGICAL = ("and", "or")


class _Namespace:
    """The array-API functions an element-wise formula calls, on symbols."""

    float32, float64, float16 = _F32, _F64, np.dtype(np.float16)
    e, pi, inf, nan = np.e, np.pi, np.inf, np.nan
    finfo = staticmethod(np.finfo)
    __name__ = "actlab.backends.formula_trace"

    def __getattr__(self, name: str) -> Any:  # every other array-API function
        if name.startswith("__"):
            raise AttributeError(name)
        raise _UnknownOperation(f"xp.{name} is not an element-wise operation the tracer knows")

    # element-wise unary functions
    def _unary(self, op: str, x: Any) -> Symbol:
        x = _symbol(x)
        return Symbol(op, (x,), _BOOL if op in _PREDICATES else x.dtype)

    def exp(self, x: Any) -> Symbol: return self._unary("exp", x)
    def expm1(self, x: Any) -> Symbol: return self._unary("expm1", x)
    def log(self, x: Any) -> Symbol: return self._unary("log", x)
    def log1p(self, x: Any) -> Symbol: return self._unary("log1p", x)
    def tanh(self, x: Any) -> Symbol: return self._unary("tanh", x)
    def sqrt(self, x: Any) -> Symbol: return self._unary("sqrt", x)
    def sin(self, x: Any) -> Symbol: return self._unary("sin", x)
    def cos(self, x: Any) -> Symbol: return self._unary("cos", x)
    def cosh(self, x: Any) -> Symbol: return self._unary("cosh", x)
    def sinh(self, x: Any) -> Symbol: return self._unary("sinh", x)
    def abs(self, x: Any) -> Symbol: return self._unary("abs", x)
    def floor(self, x: Any) -> Symbol: return self._unary("floor", x)
    def ceil(self, x: Any) -> Symbol: return self._unary("ceil", x)
    def trunc(self, x: Any) -> Symbol: return self._unary("trunc", x)
    def sign(self, x: Any) -> Symbol: return self._unary("sign", x)
    def isfinite(self, x: Any) -> Symbol: return self._unary("isfinite", x)
    def isnan(self, x: Any) -> Symbol: return self._unary("isnan", x)
    def isinf(self, x: Any) -> Symbol: return self._unary("isinf", x)
    def negative(self, x: Any) -> Symbol: return -_symbol(x)
    def square(self, x: Any) -> Symbol: return _symbol(x) * _symbol(x)
    def logical_not(self, x: Any) -> Symbol: return ~_symbol(x)

    def copysign(self, x: Any, y: Any) -> Symbol: return _pair("copysign", x, y)
    def maximum(self, x: Any, y: Any) -> Symbol: return _pair("maximum", x, y)
    def minimum(self, x: Any, y: Any) -> Symbol: return _pair("minimum", x, y)
    def logical_and(self, x: Any, y: Any) -> Symbol: return _pair("and", x, y)
    def logical_or(self, x: Any, y: Any) -> Symbol: return _pair("or", x, y)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if isinstance(cond, bool):
            return a if cond else b
        cond, a, b = _symbol(cond), _operand(a), _operand(b)
        if cond.dtype != _BOOL:
            raise Untraceable("where() with a non-boolean condition")
        return Symbol("where", (cond, a, b), _result_dtype(a, b))

    def clip(self, x: Any, min: Any = None, max: Any = None) -> Symbol:  # noqa: A002 (the array API's names)
        x = _symbol(x)
        if min is not None:
            x = Symbol("clip_min", (x, _operand(min)), _result_dtype(x, _operand(min)))
        if max is not None:
            x = Symbol("clip_max", (x, _operand(max)), _result_dtype(x, _operand(max)))
        return x

    def astype(self, x: Any, dtype: Any, copy: bool = True) -> Symbol:
        x, dt = _symbol(x), np.dtype(dtype)
        return x if x.dtype == dt else Symbol("cast", (x,), dt)

    def zeros_like(self, x: Any, dtype: Any = None) -> Symbol:
        return self._full(x, 0.0, dtype)

    def ones_like(self, x: Any, dtype: Any = None) -> Symbol:
        return self._full(x, 1.0, dtype)

    def full_like(self, x: Any, fill_value: Any, dtype: Any = None) -> Symbol:
        return self._full(x, _operand(fill_value), dtype)

    def _full(self, x: Any, value: Any, dtype: Any) -> Symbol:
        dt = np.dtype(dtype) if dtype is not None else _symbol(x).dtype
        return Symbol("const", (value,), dt)

    def asarray(self, v: Any, dtype: Any = None, **_: Any) -> Any:
        if isinstance(v, Symbol):
            return v if dtype is None else self.astype(v, dtype)
        if isinstance(v, (bool, int, float, np.generic)):
            return Symbol("const", (float(v),), np.dtype(dtype) if dtype is not None else _F64)
        raise Untraceable("asarray of a non-scalar")


def _pair(op: str, x: Any, y: Any) -> Symbol:
    """A binary function of two operands, at least one a symbol."""
    return x._binary(op, y) if isinstance(x, Symbol) else _symbol(y)._binary(op, x, swap=True)


def _symbol(x: Any) -> Symbol:
    if not isinstance(x, Symbol):
        raise Untraceable(f"expected a symbol, got {type(x).__name__}")
    return x


class TraceBackend(Backend):
    """The backend of :class:`Symbol` arrays (see the module docstring)."""

    name = "trace"
    kernels = Kernels(erfc=lambda x: _NS._unary("erfc", x), erfcx=lambda x: _NS._unary("erfcx", x))
    accurate_float32 = False
    warns_on_overflow = False
    flushes_subnormals = False

    def may_branch(self, x: Any) -> bool:
        return False

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        yield

    def __getattr__(self, name: str) -> Any:
        return getattr(self.namespace, name)


_Namespace.bool = _BOOL  # type: ignore[attr-defined]  # (xp.bool, set here: in the class it would shadow the type)
_NS: _Namespace = _Namespace()
TRACER = TraceBackend(_NS)


def trace(fn: Any, dtype: Any, *params: Any) -> Symbol:
    """``fn(x, *params, xp=TRACER)`` on a symbolic ``x`` of ``dtype``: the graph
    of one entry of the result (a symbol; a number result becomes a constant)."""
    x = Symbol.input(dtype)
    y = fn(x, *params, xp=TRACER)
    if not isinstance(y, Symbol):
        y = Symbol("const", (_operand(y),), np.dtype(dtype))
    return y
