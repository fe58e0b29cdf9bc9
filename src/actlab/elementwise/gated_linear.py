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
from .self_gated import gelu, silu, swish
from .sigmoid_like import sigmoid

__all__ = ["glu", "reglu", "geglu", "swiglu", "clamped_swiglu"]


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


# -- gpt-oss's clamped SwiGLU ------------------------------------------------------------

def _check_clamp(alpha: Any, limit: Any) -> tuple[float, float]:
    for pname, v in (("alpha", alpha), ("limit", limit)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise ValueError(f"clamped_swiglu(): {pname} must be a positive finite number, got {v!r}")
    return float(alpha), float(limit)


def _clamped_halves(x: Any, axis: Any, interleaved: bool):
    if not isinstance(interleaved, bool):
        raise TypeError(f"clamped_swiglu(): interleaved must be a bool, got {interleaved!r}")
    if not interleaved:
        xp, up, gate = split_halves(x, axis, "clamped_swiglu")
        return xp, up, gate
    xp, x = as_float_array(x)
    if x.ndim == 0:
        raise ValueError("clamped_swiglu(): x must have at least one axis, got a 0-d array")
    axis = check_axis(axis, x.ndim, "clamped_swiglu")
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"clamped_swiglu(): the size of axis {axis} must be even, got {n}")
    gate = x[_axis_slice(x.ndim, axis, slice(0, n, 2))]
    up = x[_axis_slice(x.ndim, axis, slice(1, n, 2))]
    return xp, up, gate


def clamped_swiglu(x: Any, /, axis: int = -1, alpha: float = 1.702, limit: float = 7.0,
                   interleaved: bool = False) -> Any:
    r"""gpt-oss's clamped SwiGLU: :math:`(\mathrm{clip}(a, -l, l) + 1)\,
    g\,\sigma(\alpha g)` with :math:`g = \min(b, l)`, alpha = 1.702, l = 7.

    The halves are (a, b) = (linear, gate) as in :func:`swiglu`; with
    ``interleaved=True`` the gate is x[..., 0::2] and the linear part
    x[..., 1::2], gpt-oss's own layout. The gate is :func:`swish` with
    beta = alpha (accurate sigmoid, alpha g in a double word).

    Args:
        x: input; the size of ``axis`` must be even.
        axis: the axis to split (default -1).
        alpha: the swish slope (default 1.702).
        limit: the clamp (default 7).
        interleaved: gpt-oss's even/odd layout instead of halves.

    ``clamped_swiglu.vjp(x, grad, axis, alpha, limit, interleaved)`` is the
    gradient of ``sum(grad * clamped_swiglu(x))``; the clamps pass no gradient
    past the limits.

    Example:
        >>> import actlab
        >>> actlab.clamped_swiglu([[1.0, 20.0]]).round(4).tolist()  # (1 + 1) * 7 sigma(1.702 * 7)
        [[13.9999]]

    Reference: OpenAI 2025, gpt-oss-120b & gpt-oss-20b model card (arXiv 2508.10925);
    Shazeer 2020, GLU Variants Improve Transformer.
    """
    alpha, limit = _check_clamp(alpha, limit)
    xp, up, gate = _clamped_halves(x, axis, interleaved)
    (up, dtype), (gate, _) = to_working(xp, up), to_working(xp, gate)
    g = swish(xp.clip(gate, max=limit), alpha)
    y = _times(xp, xp.clip(up, min=-limit, max=limit) + 1.0, g)
    if y.dtype != dtype:
        with xp.quiet():
            y = xp.astype(y, dtype)
    return y


def _clamped_vjp(x: Any, grad: Any, /, axis: int = -1, alpha: float = 1.702, limit: float = 7.0,
                 interleaved: bool = False) -> Any:
    """Gradient of <grad, clamped_swiglu(x)> with respect to x, in x's layout."""
    alpha, limit = _check_clamp(alpha, limit)
    xp, up, gate = _clamped_halves(x, axis, interleaved)
    axis = check_axis(axis, up.ndim, "clamped_swiglu")
    gc = xp.clip(gate, max=limit)
    upc = xp.clip(up, min=-limit, max=limit) + 1.0
    d_up = xp.where((up > -limit) & (up < limit), _times(xp, grad, swish(gc, alpha)), 0.0)
    d_gate = xp.where(gate < limit, _times(xp, grad, _times(xp, upc, swish.derivative(gc, alpha))), 0.0)
    if not interleaved:
        return xp.concat([d_up, d_gate], axis=axis)
    ax = axis % up.ndim + 1
    stacked = xp.concat([xp.expand_dims(d_gate, axis=ax), xp.expand_dims(d_up, axis=ax)], axis=ax)
    shape = list(up.shape)
    shape[axis] = 2 * shape[axis]
    return xp.reshape(stacked, tuple(shape))


clamped_swiglu.vjp = _clamped_vjp  # type: ignore[attr-defined]
_clamped_vjp.__name__ = _clamped_vjp.__qualname__ = "clamped_swiglu.vjp"
clamped_swiglu.entry = register(  # type: ignore[attr-defined]
    Entry(
        name="clamped_swiglu",
        kind="gated",
        family="gated linear",
        function=clamped_swiglu,
        params=(Param("axis", -1, "an axis of x"), Param("alpha", 1.702, "> 0"), Param("limit", 7.0, "> 0"),
                Param("interleaved", False, choices=(False, True))),
        latex=r"(\operatorname{clip}(a,-l,l)+1)\otimes g\,\sigma(\alpha g),\ g=\min(b,l)",
        dlatex=r"\partial_a = [|a|<l]\,g\sigma(\alpha g),\ \partial_b = [b<l]\,(a_l+1)\,\mathrm{swish}'(g)",
        properties=None,
        reference="OpenAI 2025, gpt-oss model card (arXiv 2508.10925); Shazeer 2020.",
        derivative=_clamped_vjp,
        notes="Drawn with a = 1: 2 swish(min(b, 7), 1.702).",
        extra={"gate": swish},
    )
)
