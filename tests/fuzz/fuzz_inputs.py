"""Inputs of the fuzz harness: hand-picked edge values per dtype, the shapes
and memory layouts a user can hand in, and how to call each registered
function on them.

Everything here is data and small helpers; the properties live in the
``test_fuzz_*.py`` files beside it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import actlab

#: CI settings: few examples, no deadline (the first call of a kernel compiles),
#: derandomized so that every run tries the same inputs.
FUZZ = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
#: The heavier sweep (``-m slow``).
FUZZ_SLOW = settings(FUZZ, max_examples=300)

NP_FLOATS = ("float16", "float32", "float64")
TORCH_FLOATS = ("float16", "bfloat16", "float32", "float64")

inf, nan = math.inf, math.nan


def edge_values(dtype: str) -> list[float]:
    """+-0, subnormals, +-1, the exp-overflow and underflow thresholds, the
    largest finite numbers and +-inf of ``dtype`` (NaN separately)."""
    if dtype == "bfloat16":
        tiny, big, sub = 1.1754943508222875e-38, 3.3895313892515355e38, 9.183549615799121e-41
    else:
        fi = np.finfo(dtype)
        tiny, big, sub = float(fi.tiny), float(fi.max), float(fi.smallest_subnormal)
    log_big = math.log(big)
    vals = [0.0, -0.0, sub, -sub, tiny, -tiny, 1.0, -1.0, 0.5, -3.0, 6.0, 20.0, -20.0,
            log_big, -log_big, math.log(tiny), log_big * 1.01, -log_big * 1.01,
            big / 2, -big / 2, big, -big, inf, -inf]
    return vals


def edge_array(dtype: str, *, with_nan: bool = False) -> np.ndarray:
    """The edge values of ``dtype`` as a float64 NumPy vector (exactly
    representable in ``dtype``: cast with :func:`cast`)."""
    v = edge_values(dtype) + ([nan] if with_nan else [])
    return np.asarray(v, dtype=np.float64)


def cast_np(a: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(over="ignore"):
        return a.astype(dtype)


def cast_torch(a: np.ndarray, dtype: str):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).to(getattr(torch, dtype))


# --- calling registered functions -------------------------------------------------------------------

ELEMENTWISE = [e for e in actlab.registry() if e.kind == "elementwise"]
GATED = [e for e in actlab.registry() if e.kind in ("gated", "grouped")]
MAPS = [e for e in actlab.registry() if e.kind in ("simplex", "stochastic")]
REDUCTIONS = [e for e in actlab.registry() if e.kind == "reduction"]
LOSSES = [e for e in actlab.registry() if e.kind == "loss"]

#: Maps whose -inf entries are masked (probability 0, zero gradient), +inf
#: entries share the mass, all -inf rows give zeros: SPEC section 2's rules.
MASKING_MAPS = ("softmax", "log_softmax", "hardmax", "gumbel_softmax", "sparsemax", "entmax15", "entmax")

REQUIRED_ARGS: dict[str, dict[str, Any]] = {
    "prelu": {"weight": 0.25},
    "threshold": {"threshold": 0.5, "value": -2.0},
    "maxout": {"pieces": 2},
}


def nan_expected(e, x, what: str = "value"):
    """Where ``e``'s value (or derivative) is rightly NaN: NaN input, x
    outside the function's domain (logit's [0, 1]), and +-inf for what has
    no limit there (a sine's). NumPy arrays and torch tensors alike."""
    nan = x != x
    domain = e.extra.get("domain")
    if domain is not None:
        nan = nan | (x < domain[0]) | (x > domain[1])
    if what in e.extra.get("undefined_at_inf", ()):
        nan = nan | (x == math.inf) | (x == -math.inf)
    return nan


def call(e, x, **kw):
    """``e``'s function on ``x`` with its required arguments (and ``kw``)."""
    args = {**REQUIRED_ARGS.get(e.name, {}), **kw}
    if e.name == "gumbel_softmax" and "generator" not in args:
        args["generator"] = 0
    if e.name == "rrelu" and args.get("training") and "generator" not in args:
        args["generator"] = 0
    return e.function(x, **args)


def loss_target(e, logits: np.ndarray) -> np.ndarray:
    """A valid target for loss ``e`` on ``logits`` (rows along the last axis)."""
    n, k = logits.shape
    if e.name == "binary_cross_entropy_with_logits":
        return np.full(logits.shape, 0.25, dtype=logits.dtype)
    if e.name == "distillation_loss":
        return np.zeros_like(logits)
    if e.name == "kl_div":  # a reference distribution
        return np.full(logits.shape, 1.0 / max(k, 1), dtype=logits.dtype)
    if e.name == "multilabel_soft_margin_loss":  # multi-hot labels
        return (np.arange(n * k).reshape(n, k) % 2).astype(logits.dtype)
    return np.arange(n) % max(k, 1)


def call_loss(e, logits, target, **kw):
    if e.name == "distillation_loss":
        kw.setdefault("temperature", 2.0)
    return e.function(logits, target, **kw)


# --- hypothesis strategies --------------------------------------------------------------------------

def floats_with_edges(dtype: str = "float64", allow_nan: bool = True):
    width = {"float16": 16, "float32": 32, "float64": 64}[dtype]
    return st.one_of(
        st.sampled_from(edge_values(dtype)),
        st.floats(allow_nan=allow_nan, allow_infinity=True, width=width),
        st.floats(-30, 30, width=width),
    )


def rows(min_k: int = 1, max_k: int = 8, max_n: int = 4, dtype: str = "float64", allow_nan: bool = True):
    """A 2-d float array: ``n`` rows of ``k`` scores, edges included."""
    return st.integers(1, max_n).flatmap(lambda n: st.integers(min_k, max_k).flatmap(
        lambda k: st.lists(st.lists(floats_with_edges(dtype, allow_nan), min_size=k, max_size=k),
                           min_size=n, max_size=n))).map(lambda v: np.asarray(v, dtype=dtype))


def layouts(a: np.ndarray) -> dict[str, np.ndarray]:
    """The same values in the memory layouts a user may pass: non-contiguous,
    Fortran order, read-only, big-endian, stride 0 (a broadcast view)."""
    out = {"contiguous": a}
    t = np.empty((a.shape[1], a.shape[0]), dtype=a.dtype).T
    t[...] = a
    out["fortran"] = t
    wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    wide[:, ::2] = a
    out["strided"] = wide[:, ::2]
    ro = a.copy()
    ro.flags.writeable = False
    out["readonly"] = ro
    out["bigendian"] = a.astype(a.dtype.newbyteorder(">"))
    out["stride0"] = np.broadcast_to(a[:1], a.shape) if a.shape[0] else a
    return out
