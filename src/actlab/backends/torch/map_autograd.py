"""PyTorch registration of vector maps: one ``torch.autograd.Function`` per
map, whose backward is the map's own VJP (written with differentiable torch
operations, so double backward works)."""

from __future__ import annotations

from typing import Any

import torch

from ..._simplex import MapSpec
from . import BACKEND as xp
from .elementwise_autograd import function_class

_FUNCTIONS: dict[str, type[torch.autograd.Function]] = {}
_TRACEABLE: dict[str, type[torch.autograd.Function]] = {}
"""Twins without the forward-mode rule, for torch.compile (Dynamo cannot
trace a custom ``jvp``)."""


def _make_function(spec: MapSpec) -> type[torch.autograd.Function]:
    forward_math, vjp_math, param_vjp = spec.forward, spec.vjp, spec.param_vjp
    jvp_math = spec.jvp or spec.vjp  # (every map here has a symmetric Jacobian)

    def forward(x: torch.Tensor, *values: Any) -> torch.Tensor:
        return forward_math(x, *values, xp=xp)

    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        # tensor parameters (a learned alpha) are saved too, so that an in-place
        # edit between forward and backward is detected by their version counter
        x, *values = inputs
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        ctx.save_for_backward(x, output, *tensors)
        ctx.save_for_forward(x, output, *tensors)
        ctx.layout = tuple(isinstance(v, torch.Tensor) for v in values)
        ctx.scalars = tuple(None if isinstance(v, torch.Tensor) else v for v in values)

    def saved(ctx: Any) -> tuple[Any, Any, tuple[Any, ...]]:
        x, y, *tensors = ctx.saved_tensors
        it = iter(tensors)
        return x, y, tuple(next(it) if t else s for t, s in zip(ctx.layout, ctx.scalars))

    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        x, y, values = saved(ctx)
        gx = vjp_math(x, y, grad, *values, xp=xp) if ctx.needs_input_grad[0] else None
        rest: list[Any] = [None] * len(values)
        if param_vjp is not None and any(ctx.needs_input_grad[1:]):
            grads = param_vjp(x, y, grad, *values, xp=xp)
            for i, (v, gv) in enumerate(zip(values, grads, strict=True)):
                if gv is not None and ctx.needs_input_grad[1 + i]:
                    rest[i] = gv.to(v.dtype).sum_to_size(v.shape)
        return (gx, *rest)

    def jvp(ctx: Any, x_t: Any, *value_tangents: Any) -> torch.Tensor:
        """Forward mode from the map's own JVP (tangents of tensor parameters
        are not propagated: none of the maps' parameters is learned that way)."""
        x, y, values = saved(ctx)
        return torch.zeros_like(y) if x_t is None else jvp_math(x, y, x_t, *values, xp=xp)

    cls = function_class(spec.name, forward, setup_context, backward, jvp)
    _FUNCTIONS[spec.name] = cls
    _TRACEABLE[spec.name] = function_class(spec.name, forward, setup_context, backward)
    return cls


def needs_function(x: torch.Tensor, values: tuple[Any, ...]) -> bool:
    """Autograd records (grad mode and an input that requires grad), or a
    torch.func transform runs (its forward mode needs the Function's jvp)."""
    if torch.is_grad_enabled() and (x.requires_grad or any(isinstance(v, torch.Tensor) and v.requires_grad
                                                           for v in values)):
        return True
    return not torch.compiler.is_compiling() and torch._C._functorch.is_functorch_wrapped_tensor(x)


def apply_map(spec: MapSpec, x: torch.Tensor, values: tuple[Any, ...]) -> torch.Tensor:
    table = _TRACEABLE if torch.compiler.is_compiling() else _FUNCTIONS
    cls = table.get(spec.name)
    if cls is None:
        _make_function(spec)
        cls = table[spec.name]
    return cls.apply(x, *values)


def _make_all() -> None:
    from ...registry import registry

    for entry in registry():
        spec = entry.extra.get("spec")
        if isinstance(spec, MapSpec) and spec.name not in _FUNCTIONS:
            _make_function(spec)


_make_all()
