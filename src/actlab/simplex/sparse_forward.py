"""The forward pass of the sparse maps (sparsemax, 1.5-entmax, alpha-entmax)
along the last axis: SPEC's rules for non-finite rows, the dispatch between
the compiled kernels (:mod:`actlab.simplex.threshold_compiled`, with the
optional numba extra, on CPU arrays) and the array-API search
(:mod:`actlab.simplex.threshold`), and the output from the threshold."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _xp
from . import threshold

__all__ = ["forward", "output", "compiled", "compiled_vjp", "USE_COMPILED"]

USE_COMPILED = True
"""Use the numba kernels of :mod:`actlab.simplex.threshold_compiled` on CPU
arrays when numba is installed (set False to force the array-API code)."""

_compiled_module: Any = None


def output(x: Any, m: Any, s: Any, beta: Any, xp: Any) -> Any:
    """The map's values from the solution ``s`` (cut or sigma) and maxima ``m``."""
    if threshold.is_exact(beta):
        if _xp.is_torch(x) and not threshold.static_required(x):
            from ..torch._sparse_kernels import exact_output

            return exact_output(x, m, s, beta)
        d = xp.clip(threshold.shift(x, m, xp) - s, min=0.0)
        return d if beta == 1.0 else 0.25 * (d * d)
    p, _ = threshold.density(threshold.shift(x, m, xp) - s, beta, xp)
    return p / xp.sum(p, axis=-1, keepdims=True)


def compiled(x: Any) -> Any:
    """The numba kernels module when they can take ``x`` (a float32/float64
    NumPy array or CPU tensor, outside tracing and, for tensors, outside
    autograd recording), else None."""
    global _compiled_module
    if not USE_COMPILED:
        return None
    if _xp.is_torch(x):
        import torch

        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or threshold.static_required(x):
            return None
    elif type(x).__module__ != "numpy" or str(x.dtype) not in ("float32", "float64"):
        return None
    if _compiled_module is None:
        try:
            from . import threshold_compiled as module
        except ImportError:  # numba is an optional extra
            module = False
        _compiled_module = module
    return _compiled_module or None


def _host(x: Any) -> Any:
    return x.detach().numpy() if _xp.is_torch(x) else x


def _like(a: Any, x: Any) -> Any:
    if _xp.is_torch(x):
        import torch

        return torch.from_numpy(a)
    return a


def compiled_vjp(y: Any, g: Any, beta: Any) -> Any:
    """The compiled VJP, or None where it does not apply (double backward,
    GPU, tracing, an array beta, no numba)."""
    if not isinstance(beta, float) or compiled(y) is None or compiled(g) is None:
        return None
    if _xp.is_torch(g):
        import torch

        if torch.is_grad_enabled() or g.dtype != y.dtype:
            return None
    elif g.dtype != y.dtype:
        return None
    from .entmax_grad_compiled import vjp_rows

    return _like(vjp_rows(_host(y), _host(g), beta), g)


def _forward_compiled(module: Any, x: Any, beta: float, n_iter: int, xp: Any, with_threshold: bool) -> Any:
    y, m, s = module.forward_rows(_host(x), beta, n_iter)
    y = _like(y, x)
    if not with_threshold:
        return y
    sigma = s + 1.0 / beta if threshold.is_exact(beta) else s
    tau = _like(np.where(np.isfinite(m), beta * (m + sigma) - 1.0, m), x)
    return y, xp.astype(tau, y.dtype)


def _bad_rows(m: Any, xp: Any):
    return xp.isnan(m), m == math.inf, m == -math.inf


def forward(x: Any, beta: Any, n_iter: int, xp: Any, *, with_threshold: bool = False) -> Any:
    """The map along the last axis of ``x`` (working precision), with SPEC's
    rules for non-finite entries: -inf gets 0, +inf entries share the mass,
    a NaN makes its row NaN, an all -inf row gives zeros.

    With ``with_threshold``: ``(y, tau)``, tau in SPEC's units
    (``y = [beta x - tau]_+^(1/beta)``), with the row maximum for rows whose
    maximum is not finite (+inf, -inf or NaN)."""
    if x.shape[-1] == 0:
        y = x + 0.0
        return (y, xp.sum(y, axis=-1, keepdims=True)) if with_threshold else y
    module = compiled(x) if isinstance(beta, float) else None
    if module is not None:
        return _forward_compiled(module, x, beta, n_iter, xp, with_threshold)
    static = threshold.static_required(x)
    m, bmax = threshold.maxima(x, static, xp)
    m0 = m
    bad = static or not bool(xp.all(xp.isfinite(m)))
    if bad:  # +inf rows keep their +inf entries (as 0) and drop the rest
        nan_row, pinf_row, ninf_row = _bad_rows(m0, xp)
        x = xp.where(pinf_row, xp.where(x == math.inf, 0.0, -math.inf), x)
        x = xp.where(nan_row | ninf_row, 0.0, x)
        m, bmax = threshold.maxima(x, static, xp)
    s = threshold.solve(x, m, bmax, beta, n_iter, static, xp)
    y = output(x, m, s, beta, xp)
    if bad:
        y = xp.where(ninf_row, 0.0, y)
        y = xp.where(nan_row, math.nan, y)
    if not with_threshold:
        return y
    sigma = s + 1.0 / beta if threshold.is_exact(beta) else s
    tau = beta * (m + sigma) - 1.0
    return y, (xp.where(xp.isfinite(m0), tau, m0) if bad else tau)
