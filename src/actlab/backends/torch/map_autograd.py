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


def _make_function(spec: MapSpec) -> type[torch.autograd.Function]:
    forward_math, vjp_math, param_vjp, jvp_math = spec.forward, spec.vjp, spec.param_vjp, spec.jvp

    def forward(x: torch.Tensor, *values: Any) -> torch.Tensor:
        return forward_math(x, *values, xp=xp)

    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, *values = inputs
        ctx.save_for_backward(x, output)
        if jvp_math is not None:
            ctx.save_for_forward(x, output)
        ctx.values = tuple(values)

    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        x, y = ctx.saved_tensors
        gx = vjp_math(x, y, grad, *ctx.values, xp=xp) if ctx.needs_input_grad[0] else None
        rest: list[Any] = [None] * len(ctx.values)
        if param_vjp is not None and any(ctx.needs_input_grad[1:]):
            grads = param_vjp(x, y, grad, *ctx.values, xp=xp)
            for i, (v, gv) in enumerate(zip(ctx.values, grads, strict=True)):
                if gv is not None and ctx.needs_input_grad[1 + i]:
                    rest[i] = gv.to(v.dtype).sum_to_size(v.shape)
        return (gx, *rest)

    def jvp(ctx: Any, x_t: Any, *value_tangents: Any) -> torch.Tensor:
        """Forward mode from the map's own JVP (maps with a non-symmetric Jacobian declare one)."""
        x, y = ctx.saved_tensors
        assert jvp_math is not None  # registered only for maps that declare a jvp
        return torch.zeros_like(y) if x_t is None else jvp_math(x, y, x_t, *ctx.values, xp=xp)

    cls = function_class(spec.name, forward, setup_context, backward, jvp if jvp_math is not None else None)
    _FUNCTIONS[spec.name] = cls
    return cls


def apply_map(spec: MapSpec, x: torch.Tensor, values: tuple[Any, ...]) -> torch.Tensor:
    cls = _FUNCTIONS.get(spec.name) or _make_function(spec)
    return cls.apply(x, *values)


def _make_all() -> None:
    from ...registry import registry

    for entry in registry():
        spec = entry.extra.get("spec")
        if isinstance(spec, MapSpec) and spec.name not in _FUNCTIONS:
            _make_function(spec)


_make_all()
