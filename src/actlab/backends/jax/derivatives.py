"""actlab's derivatives as JAX's: a ``jax.custom_jvp`` per element-wise
function and per vector map, built from the function's own derivative, and
the rules of logsumexp and of the Fenchel-Young losses.

- element-wise ``f``: ``jvp(x, t) = f'(x) t`` (plus ``df/da t_a`` for each
  parameter ``a`` passed as an array), ``f'`` the function's public
  derivative, so ``jax.grad(actlab.gelu)(-10.0)`` is actlab's accurate
  value, not the autodiff of the formula;
- maps (softmax, sparsemax, entmax, ...): ``jvp(x, v) = J v`` from the
  map's JVP (the VJP where the Jacobian is symmetric); a map with an array
  parameter (entmax's learned alpha) is a ``jax.custom_vjp`` from the map's
  VJP and its parameter VJP instead (reverse mode only);
- logsumexp: ``jvp = <softmax(x), t>``; Fenchel-Young losses:
  ``jvp = <p - q, t>`` (the map's Jacobian cancels out).

Each rule's tangent is linear in the tangents and uses only the output
dtype, so JAX transposes it for ``grad``; higher derivatives differentiate
the derivative's own formula. The primal and the rule both run in the
backend's precision scope (float64 available while 64-bit mode is off),
also when JAX traces them later (``grad`` of a ``jit``-compiled function).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from ..._activation import ElementwiseSpec, evaluate
from ..._simplex import MapSpec
from ..._xp import is_array
from . import BACKEND as xp

__all__ = ["elementwise", "vector_map", "logsumexp", "fenchel_young", "sum_to_shape"]

_CACHE_SIZE = 1024


def _scoped(fn: Any) -> Any:
    """``fn`` run inside the backend's precision scope."""

    @functools.wraps(fn)
    def run(*args: Any) -> Any:
        scope = xp.precision_scope()
        if scope is None:
            return fn(*args)
        with scope:
            return fn(*args)

    return run


def _zero(t: Any) -> bool:
    return isinstance(t, SymbolicZero)


def sum_to_shape(g: Any, shape: tuple[int, ...]) -> Any:
    """Reduce a broadcast gradient ``g`` back to ``shape`` (the inverse of broadcasting)."""
    if tuple(g.shape) == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = jnp.sum(g, axis=tuple(range(lead)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if dims:
        g = jnp.sum(g, axis=dims, keepdims=True)
    return g


def _split(values: tuple[Any, ...]) -> tuple[tuple[bool, ...], tuple[Any, ...], tuple[Any, ...]]:
    """``(mask, statics, arrays)``: which values are arrays, the others, the arrays."""
    mask = tuple(is_array(v) for v in values)
    statics = tuple(None if m else v for m, v in zip(mask, values))
    return mask, statics, tuple(v for m, v in zip(mask, values) if m)


def _merge(mask: tuple[bool, ...], statics: tuple[Any, ...], arrays: tuple[Any, ...]) -> tuple[Any, ...]:
    it = iter(arrays)
    return tuple(next(it) if m else s for m, s in zip(mask, statics))


# -- element-wise functions -----------------------------------------------------

@functools.lru_cache(maxsize=_CACHE_SIZE)
def _elementwise_rule(spec: ElementwiseSpec, mask: tuple[bool, ...], statics: tuple[Any, ...]) -> Any:
    math, derivative = spec.math, spec.derivative
    promote_fwd, promote_der = "forward" in spec.promote32, "derivative" in spec.promote32
    partials = [(p.name, spec.param_derivatives.get(p.name)) for p, m in zip(spec.params, mask) if m]

    @jax.custom_jvp
    @_scoped
    def f(x: Any, *arrays: Any) -> Any:
        return evaluate(math, x, _merge(mask, statics, arrays), xp, promote_fwd)

    @_scoped
    def f_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        x, *arrays = primals
        tx, *tarrays = tangents
        values = _merge(mask, statics, tuple(arrays))
        y = evaluate(math, x, values, xp, promote_fwd)
        out = None if _zero(tx) else tx * evaluate(derivative, x, values, xp, promote_der)
        for (name, partial), t in zip(partials, tarrays):
            if _zero(t):
                continue
            if partial is None:
                raise ValueError(f"{spec.name}(): no derivative with respect to {name}")
            term = t * evaluate(partial, x, values, xp, promote_der)
            out = term if out is None else out + term
        return y, (jnp.zeros_like(y) if out is None else jnp.broadcast_to(out, y.shape).astype(y.dtype))

    f.defjvp(f_jvp, symbolic_zeros=True)
    return f


def elementwise(spec: ElementwiseSpec, x: Any, values: tuple[Any, ...]) -> Any:
    """``spec``'s function at ``x`` with its derivative as the JVP rule."""
    mask, statics, arrays = _split(values)
    return _elementwise_rule(spec, mask, statics)(x, *arrays)


# -- vector maps ------------------------------------------------------------------

@functools.lru_cache(maxsize=_CACHE_SIZE)
def _map_jvp_rule(spec: MapSpec, values: tuple[Any, ...]) -> Any:
    forward, product = spec.forward, spec.jvp or spec.vjp

    @jax.custom_jvp
    @_scoped
    def f(x: Any) -> Any:
        return forward(x, *values, xp=xp)

    @_scoped
    def f_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        y = forward(x, *values, xp=xp)
        return y, product(x, y, t.astype(y.dtype), *values, xp=xp).astype(y.dtype)

    f.defjvp(f_jvp)
    return f


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _map_vjp_rule(spec: MapSpec, mask: tuple[bool, ...], statics: tuple[Any, ...]) -> Any:
    forward, vjp, param_vjp = spec.forward, spec.vjp, spec.param_vjp

    @jax.custom_vjp
    @_scoped
    def f(x: Any, *arrays: Any) -> Any:
        return forward(x, *_merge(mask, statics, arrays), xp=xp)

    @_scoped
    def f_fwd(x: Any, *arrays: Any) -> tuple[Any, Any]:
        y = forward(x, *_merge(mask, statics, arrays), xp=xp)
        return y, (x, y, arrays)

    @_scoped
    def f_bwd(res: Any, g: Any) -> tuple[Any, ...]:
        x, y, arrays = res
        values = _merge(mask, statics, arrays)
        gx = vjp(x, y, g, *values, xp=xp)
        grads = param_vjp(x, y, g, *values, xp=xp) if param_vjp is not None else (None,) * len(values)
        out = []
        for m, v, gv in zip(mask, values, grads, strict=True):
            if m:
                out.append(jnp.zeros_like(v) if gv is None else sum_to_shape(gv.astype(v.dtype), tuple(v.shape)))
        return (gx, *out)

    f.defvjp(f_fwd, f_bwd)
    return f


def vector_map(spec: MapSpec, x: Any, values: tuple[Any, ...]) -> Any:
    """``spec``'s map along the last axis of ``x`` with its JVP (or, for array
    parameters, its VJP) as the rule."""
    mask, statics, arrays = _split(values)
    if not arrays:
        return _map_jvp_rule(spec, values)(x)
    return _map_vjp_rule(spec, mask, statics)(x, *arrays)


# -- logsumexp and the Fenchel-Young losses ------------------------------------

@functools.lru_cache(maxsize=8)
def _logsumexp_rule(math: Any) -> Any:
    @jax.custom_jvp
    @_scoped
    def f(x: Any) -> Any:
        return math(x, xp)

    @_scoped
    def f_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        from ...simplex.softmax import softmax

        (x,), (t,) = primals, tangents
        y = math(x, xp)
        p = softmax(x, axis=-1)
        return y, jnp.sum(p * t, axis=-1, keepdims=True).astype(y.dtype)

    f.defjvp(f_jvp)
    return f


def logsumexp(x: Any, math: Any) -> Any:
    """logsumexp over the last axis, shape (..., 1), with ``<softmax(x), t>`` as its JVP."""
    return _logsumexp_rule(math)(x)


@functools.lru_cache(maxsize=64)
def _fenchel_young_rule(alpha: Any, rows: Any) -> Any:
    @jax.custom_jvp
    @_scoped
    def f(z: Any, p: Any, target: Any) -> Any:
        return rows(z, p, target, alpha, xp)

    @_scoped
    def f_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        z, p, target = primals
        tz = tangents[0]
        loss = rows(z, p, target, alpha, xp)
        if _zero(tz):
            return loss, jnp.zeros_like(loss)
        if jnp.issubdtype(target.dtype, jnp.floating):
            q = target.astype(p.dtype)
        else:
            q = (jnp.arange(p.shape[-1]) == target[..., None]).astype(p.dtype)
        return loss, jnp.sum((p - q) * tz, axis=-1).astype(loss.dtype)

    f.defjvp(f_jvp, symbolic_zeros=True)
    return f


def fenchel_young(z: Any, p: Any, target: Any, alpha: Any, rows: Any) -> Any:
    """Rows of the Fenchel-Young loss of ``p = entmax(z)``: the value from
    ``rows``, the JVP ``<p - q, t_z>`` (no gradient to ``p`` or the target)."""
    return _fenchel_young_rule(alpha, rows)(z, p, target)
