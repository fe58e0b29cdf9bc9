"""Gated linear units: split an axis into halves a, b and return a * g(b)
(Dauphin et al. 2017; Shazeer 2020), with g = sigmoid, relu, gelu or silu.

The gate is the element-wise function itself, so on PyTorch tensors the
gradient flows through its registered derivative.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from .._xp import as_float_array, to_working
from ..registry import Entry, Param, register
from .rectifiers import relu
from .self_gated import gelu, silu
from .sigmoid_like import sigmoid

__all__ = ["glu", "reglu", "geglu", "swiglu"]


def _axis_slice(ndim: int, axis: int, sl: slice) -> tuple[slice, ...]:
    idx = [slice(None)] * ndim
    idx[axis] = sl
    return tuple(idx)


def check_axis(axis: Any, ndim: int, owner: str) -> int:
    """``axis`` as a Python int in ``[-ndim, ndim)`` (NumPy integers accepted);
    TypeError for a non-integer, ValueError out of range, both naming it."""
    try:
        if isinstance(axis, bool):
            raise TypeError
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{owner}(): axis must be an integer, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"{owner}(): axis {axis} is out of range for x with {ndim} axes")
    return axis


def split_halves(x: Any, axis: Any, owner: str) -> tuple[Any, Any, Any]:
    """``(xp, a, b)``: the two halves of ``x`` along ``axis`` (its size must be even)."""
    xp, x = as_float_array(x)
    if x.ndim == 0:
        raise ValueError(f"{owner}(): x must have at least one axis, got a 0-d array")
    axis = check_axis(axis, x.ndim, owner)
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"{owner}(): the size of axis {axis} must be even to split it in halves, got {n}")
    h = n // 2
    return xp, x[_axis_slice(x.ndim, axis, slice(0, h))], x[_axis_slice(x.ndim, axis, slice(h, n))]


def _times(xp: Any, a: Any, g: Any) -> Any:
    """``a * g`` with IEEE's value, NaN for inf * 0 (the limit is undefined),
    and no floating-point warning: an overflow is the right answer, the
    invalid inf * 0 is formed as NaN directly."""
    undefined = ((g == 0) & ((a == math.inf) | (a == -math.inf))) | (
        (a == 0) & ((g == math.inf) | (g == -math.inf)))
    with xp.quiet():
        return xp.where(undefined, math.nan, xp.where(undefined, 0.0, a) * xp.where(undefined, 0.0, g))


def _make(name: str, gate: Any, gate_name: str, latex: str, reference: str):
    def f(x: Any, /, axis: int = -1) -> Any:
        xp, a, b = split_halves(x, axis, name)
        (a, dtype), (b, _) = to_working(xp, a), to_working(xp, b)  # half precision: computed in float32
        y = _times(xp, a, gate(b))
        if y.dtype != dtype:
            with xp.quiet():
                y = xp.astype(y, dtype)
        return y

    def vjp(x: Any, grad: Any, /, axis: int = -1) -> Any:
        """Gradient with respect to x of <grad, f(x)>: [grad * g(b), grad * a * g'(b)]."""
        xp, a, b = split_halves(x, axis, name)
        axis = check_axis(axis, a.ndim, name)
        return xp.concat([_times(xp, grad, gate(b)), _times(xp, grad, _times(xp, a, gate.derivative(b)))],
                         axis=axis)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (
        f"{name.upper()}: split ``axis`` into halves a, b and return ``a * {gate_name}(b)``.\n\n"
        f"    Formula: :math:`{latex}`. The size of ``axis`` must be even.\n\n"
        f"    Args:\n        x: input.\n        axis: the axis to split (default -1).\n\n"
        f"    Returns:\n        ``a * {gate_name}(b)``: the shape of ``x`` with ``axis`` halved, its array type and\n"
        f"        floating dtype.\n\n"
        f"    ``{name}.vjp(x, grad, axis)`` is the gradient of ``sum(grad * {name}(x))``.\n\n"
        f"    Example:\n        >>> import actlab\n"
        f"        >>> actlab.{name}([[2.0, 1.0, 0.0, 3.0]]).shape\n        (1, 2)\n\n"
        f"    Reference: {reference}\n"
    )
    f.vjp = vjp  # type: ignore[attr-defined]
    vjp.__name__ = vjp.__qualname__ = f"{name}.vjp"
    f.entry = register(  # type: ignore[attr-defined]
        Entry(
            name=name,
            kind="gated",
            family="gated linear",
            function=f,
            params=(Param("axis", -1, "an axis of x"),),
            latex=latex,
            dlatex=rf"\partial_a = {gate_name}(b),\ \partial_b = a\,{gate_name}'(b)",
            properties=None,
            reference=reference,
            derivative=vjp,
            notes=f"Drawn as the gate a * {gate_name}(b) with a = 1.",
            extra={"gate": gate},
        )
    )
    return f


glu = _make("glu", sigmoid, "sigmoid", r"a\otimes\sigma(b)", "Dauphin et al. 2017; PyTorch GLU.")
reglu = _make("reglu", relu, "relu", r"a\otimes\max(b,0)", "Shazeer 2020, GLU Variants Improve Transformer.")
geglu = _make("geglu", gelu, "gelu", r"a\otimes\mathrm{GELU}(b)", "Shazeer 2020, GLU Variants Improve Transformer.")
swiglu = _make("swiglu", silu, "silu", r"a\otimes\mathrm{SiLU}(b)", "Shazeer 2020, GLU Variants Improve Transformer.")
