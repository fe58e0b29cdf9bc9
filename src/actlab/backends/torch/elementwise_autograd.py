"""PyTorch registration of element-wise derivatives.

One ``torch.autograd.Function`` subclass per element-wise function, built on
first use: ``forward`` evaluates the function's math, ``backward`` its
derivative (and the partial derivatives for parameters given as tensors that
require grad). The backward is written with differentiable torch operations,
so double backward works.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from ..._activation import ElementwiseSpec, evaluate
from . import BACKEND as xp

_FUNCTIONS: dict[str, type[torch.autograd.Function]] = {}
_TRACEABLE: dict[str, type[torch.autograd.Function]] = {}
"""The same Functions without the ``jvp`` rule: torch.compile cannot trace a
Function that defines one (forward mode is not needed under compile)."""


def sum_to_shape(g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Reduce a broadcast gradient ``g`` back to ``shape`` (the inverse of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.dim() - len(shape)
    if lead:
        g = g.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if dims:
        g = g.sum(dim=dims, keepdim=True)
    return g


def function_class(name: str, forward: Any, setup_context: Any, backward: Any,
                   jvp: Any = None) -> type[torch.autograd.Function]:
    """A ``torch.autograd.Function`` subclass from its static methods
    (``generate_vmap_rule`` on, so ``torch.func`` transforms work; ``jvp``,
    if given, is the forward-mode rule)."""
    # torch's Function.apply binds the arguments with inspect.signature(forward)
    # on every call; a stored __signature__ makes that lookup immediate (~25 us)
    forward.__signature__ = inspect.signature(forward)
    return type(
        f"{name.title().replace('_', '')}Function",
        (torch.autograd.Function,),
        {
            "forward": staticmethod(forward),
            "setup_context": staticmethod(setup_context),
            "backward": staticmethod(backward),
            "generate_vmap_rule": True,
            **({"jvp": staticmethod(jvp)} if jvp is not None else {}),
            "__module__": __name__,
        },
    )


def _function_for(spec: ElementwiseSpec) -> type[torch.autograd.Function]:
    """The autograd Function of ``spec`` (made for every registered function at
    import, so ``torch.compile`` never sees a class being created)."""
    table = _TRACEABLE if torch.compiler.is_compiling() else _FUNCTIONS
    cls = table.get(spec.name)
    if cls is not None:
        return cls
    _make_function(spec)
    return table[spec.name]


def _make_function(spec: ElementwiseSpec) -> type[torch.autograd.Function]:
    # The closures hold plain functions and constants only: torch.compile
    # cannot trace through an ElementwiseSpec object.
    math, derivative = spec.math, spec.derivative
    promote_fwd, promote_der = "forward" in spec.promote32, "derivative" in spec.promote32
    partials = tuple(spec.param_derivatives.get(p.name) for p in spec.params)

    def forward(x: torch.Tensor, *values: Any) -> torch.Tensor:
        return evaluate(math, x, values, xp, promote_fwd)

    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, *values = inputs
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        ctx.save_for_backward(x, *tensors)
        ctx.save_for_forward(x, *tensors)
        ctx.layout = [isinstance(v, torch.Tensor) for v in values]
        ctx.scalars = [None if isinstance(v, torch.Tensor) else v for v in values]

    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        x, *tensors = ctx.saved_tensors
        it = iter(tensors)
        values = tuple(next(it) if t else s for t, s in zip(ctx.layout, ctx.scalars))
        gx = None
        if ctx.needs_input_grad[0]:
            gx = grad * evaluate(derivative, x, values, xp, promote_der)
        gparams: list[Any] = []
        for i, (partial, v) in enumerate(zip(partials, values)):
            if isinstance(v, torch.Tensor) and ctx.needs_input_grad[1 + i] and partial is not None:
                d = evaluate(partial, x, values, xp, promote_der)
                gparams.append(sum_to_shape(grad * d, v.shape))
            else:
                gparams.append(None)
        return (gx, *gparams)

    def jvp(ctx: Any, x_t: Any, *value_tangents: Any) -> torch.Tensor:
        """Forward mode from the same derivatives: f'(x) x_t + sum of the
        parameter partials times their tangents."""
        x, *tensors = ctx.saved_tensors
        it = iter(tensors)
        values = tuple(next(it) if t else s for t, s in zip(ctx.layout, ctx.scalars))
        out = None if x_t is None else x_t * evaluate(derivative, x, values, xp, promote_der)
        for partial, v, v_t in zip(partials, values, value_tangents):
            if isinstance(v, torch.Tensor) and v_t is not None and partial is not None:
                term = v_t * evaluate(partial, x, values, xp, promote_der)
                out = term if out is None else out + term
        return torch.zeros_like(x) if out is None else out

    cls = function_class(spec.name, forward, setup_context, backward, jvp)
    _FUNCTIONS[spec.name] = cls
    _TRACEABLE[spec.name] = function_class(spec.name, forward, setup_context, backward)
    return cls


def apply_elementwise(spec: ElementwiseSpec, x: torch.Tensor, values: tuple[Any, ...]):
    """Evaluate ``spec`` on a tensor, recording our derivative for autograd."""
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or any(isinstance(v, torch.Tensor) and v.requires_grad for v in values)
    ) or (not torch.compiler.is_compiling() and torch._C._functorch.is_functorch_wrapped_tensor(x))
    # (the last: torch.func transforms, whose forward mode needs the Function's jvp)
    if not needs_grad:
        return evaluate(spec.math, x, values, xp, "forward" in spec.promote32)
    return _function_for(spec).apply(x, *values)


def _make_all() -> None:
    from ...registry import registry

    for entry in registry():
        spec = entry.extra.get("spec")
        if isinstance(spec, ElementwiseSpec) and spec.name not in _FUNCTIONS:
            _make_function(spec)


_make_all()
