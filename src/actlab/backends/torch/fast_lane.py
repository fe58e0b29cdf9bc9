"""The fast lane of the element-wise functions on CPU tensors: runs the
execution declared in :mod:`.fast_paths` for a call, with the least
per-call work (no binding, no coercion: the lane is taken only for a
floating CPU tensor whose parameters are the entry's).

:func:`lane` gives, for one function, the callables the generic front door
(:mod:`actlab._activation`) tries before its own path; each returns
``NotImplemented`` when the call is not the lane's (then actlab's formula
runs, as without the lane).

Example:
    >>> import torch, actlab
    >>> actlab.sigmoid(torch.zeros(2)).tolist()
    [0.5, 0.5]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import is_
from typing import Any

import torch

from ..._activation import ElementwiseSpec, evaluate
from . import BACKEND, loop_kernels
from . import fast_kernels as K
from .fast_paths import GELU_TANH, TABLE, Execution, with_parameters

__all__ = ["lane", "select", "forward", "derivative", "LANES"]

Tensor = torch.Tensor
_DTYPES = (torch.float32, torch.float64, torch.bfloat16)
_NUMBER = (int, float)
_WHOLE = (-math.inf, math.inf)
_OWN_BACKWARD = ("fused", "loop")


def _in_domain(x: Tensor, domain: tuple[float, float]) -> bool:
    """Whether every entry of x lies in the closed ``domain`` (False with a
    NaN); one reduction per finite bound."""
    lo, hi = domain
    if hi == math.inf:
        return torch.amin(x).item() >= lo
    if lo == -math.inf:
        return torch.amax(x).item() <= hi
    mn, mx = torch.aminmax(x)
    return mn.item() >= lo and mx.item() <= hi


def _outside(x: Tensor, domain: tuple[float, float]) -> Tensor:
    """Entries outside the closed ``domain`` (NaN included)."""
    return ~((x >= domain[0]) & (x <= domain[1]))


def forward(spec: ElementwiseSpec, ex: Execution, x: Tensor, values: tuple[Any, ...]) -> Tensor:
    """The value of ``spec`` at ``x`` by ``ex`` (no autograd recording)."""
    if ex.forward == "native":
        return ex.op(x, *values)  # type: ignore[misc]
    if ex.forward == "loop":
        return loop_kernels.run(spec, x, None, values, derivative=False)
    if ex.forward == "guarded":
        y = ex.op(x)  # type: ignore[misc]
    else:
        y = K.blocked(ex.op, x.dtype, ex.work, x, None)  # type: ignore[arg-type]
    if ex.domain != _WHOLE and not _in_domain(x, ex.domain):
        bad = _outside(x, ex.domain)
        y[bad] = spec.value(x[bad], values, BACKEND)
    return y


def derivative(spec: ElementwiseSpec, ex: Execution, x: Tensor, g: Tensor | None,
               values: tuple[Any, ...]) -> Tensor:
    """``g f'(x)`` (``f'(x)`` where ``g`` is None) by ``ex``'s fused or loop backward."""
    if ex.backward == "loop":
        return loop_kernels.run(spec, x, g, values, derivative=True)
    d = K.blocked(ex.dkernel, x.dtype, ex.dwork, x, g)  # type: ignore[arg-type]
    if (ex.ddomain != _WHOLE or not ex.dnan) and not _in_domain(x, ex.ddomain):
        bad = _outside(x, ex.ddomain)
        dp = _plain_derivative(spec, x[bad], values)
        d[bad] = dp if g is None else dp * g.expand_as(x)[bad]
    return d


def _plain_derivative(spec: ElementwiseSpec, x: Tensor, values: tuple[Any, ...]) -> Tensor:
    return evaluate(spec.derivative, x, values, BACKEND, "derivative" in spec.promote32)


def _function(spec: ElementwiseSpec) -> type[torch.autograd.Function]:
    """The autograd Function of the fast lane of ``spec``: the execution's
    forward, its fused or plain backward; actlab's differentiable
    derivative when the backward itself is recorded (create_graph).

    Written with ``forward(ctx, ...)`` (no ``setup_context``): that form
    skips the per-call signature binding of ``Function.apply`` (~30 us); it
    is never used under ``torch.func`` transforms (the lane is not taken there).
    """

    def fwd(ctx: Any, x: Tensor, ex: Execution, values: tuple[Any, ...]) -> Tensor:
        ctx.save_for_backward(x)
        ctx.ex, ctx.values = ex, values
        return forward(spec, ex, x, values)

    def backward(ctx: Any, g: Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        ex, values = ctx.ex, ctx.values
        if ex.backward in _OWN_BACKWARD and not torch.is_grad_enabled():
            return derivative(spec, ex, x, g, values), None, None
        return g * _plain_derivative(spec, x, values), None, None

    name = "Fast" + spec.name.title().replace("_", "") + "Function"
    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(fwd), "backward": staticmethod(backward), "__module__": __name__,
    })


_wrapped = torch._C._functorch.is_functorch_wrapped_tensor


def lane(spec: ElementwiseSpec) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """``(value, derivative)`` lanes of ``spec``, or None if the table has no
    entry for it. ``value(x, values)`` and ``derivative(x, values)`` return
    ``NotImplemented`` when the call is not theirs."""
    if not any((spec.name, dt) in TABLE for dt in _DTYPES):
        return None
    function = _function(spec)
    defaults = tuple(p.default for p in spec.params)
    by_dtype = {dt: TABLE.get((spec.name, dt)) for dt in _DTYPES}

    def pick(x: Any, values: tuple[Any, ...]) -> tuple[Execution | None, tuple[Any, ...]]:
        if type(x) is not torch.Tensor or not x.is_cpu or (
                not torch.compiler.is_compiling() and _wrapped(x)):
            return None, values  # (torch.func transforms: actlab's Function, whose jvp is actlab's)
        if all(map(is_, values, defaults)):  # the defaults themselves (a call without parameters)
            return by_dtype.get(x.dtype), values
        return select(spec, x.dtype, values, x)

    def value(x: Any, values: tuple[Any, ...]) -> Any:
        if type(x) is torch.Tensor and x.dtype == torch.float16:
            y = value(x.float(), values)  # float32 rounded once (autograd sees the casts)
            return y if y is NotImplemented else y.to(torch.float16)
        ex, values = pick(x, values)
        if ex is None:
            return NotImplemented
        native = ex.forward == "native"
        if not native and (x.numel() == 0 or not BACKEND.may_branch(x)):
            return NotImplemented
        if not (x.requires_grad and torch.is_grad_enabled()):
            return forward(spec, ex, x, values)
        if ex.backward == "native":
            return ex.op(x, *values)  # type: ignore[misc]
        if not BACKEND.may_branch(x):
            return NotImplemented
        return function.apply(x, ex, values)

    def deriv(x: Any, values: tuple[Any, ...]) -> Any:
        if type(x) is torch.Tensor and x.dtype == torch.float16:
            d = deriv(x.float(), values)
            return d if d is NotImplemented else d.to(torch.float16)
        ex, values = pick(x, values)
        if ex is None or ex.backward not in _OWN_BACKWARD or x.numel() == 0 or not BACKEND.may_branch(x):
            return NotImplemented
        if x.requires_grad and torch.is_grad_enabled():
            return NotImplemented  # recorded: actlab's differentiable formula
        return derivative(spec, ex, x, None, values)

    return value, deriv


def select(spec: ElementwiseSpec, dtype: torch.dtype, values: tuple[Any, ...],
           x: Any = None) -> tuple[Execution | None, tuple[Any, ...]]:
    """The execution the lane takes for ``spec`` at ``dtype`` with the raw
    parameter ``values``, and the values it passes on (checked, prepared
    against ``x``); ``(None, values)`` where the lane is not taken."""
    defaults = tuple(p.default for p in spec.params)
    ex = TABLE.get((spec.name, dtype))
    if all(type(v) is type(d) for v, d in zip(values, defaults)) and values == defaults:
        return ex, values
    if spec.name == "gelu" and values == ("tanh",) and type(values[0]) is str:
        return GELU_TANH.get(dtype), values
    if all(type(v) in _NUMBER for v in values):
        values = spec.checked(values)
        if ex is None or not ex.any_params:
            return with_parameters(spec.name, dtype, values), values
        if spec.prepare is not None:
            values = spec.prepare(x, *values, xp=BACKEND)
        return ex, values
    return None, values


LANES: dict[str, tuple[Callable[..., Any], Callable[..., Any]] | None] = {}


def lanes_of(spec: ElementwiseSpec) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The lanes of ``spec`` (built once)."""
    if spec.name not in LANES:
        LANES[spec.name] = lane(spec)
    return LANES[spec.name]
