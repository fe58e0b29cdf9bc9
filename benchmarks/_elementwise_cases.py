"""The rows of ``elementwise_speed.py``: each element-wise function of the
registry with a torch counterpart, its parameters, its NumPy/SciPy reference
and the bars of issue 16 (not a benchmark itself).

Bars (ours / theirs at most): 1.25 where torch's op is accurate -- the
piecewise-linear family in both passes, and the forward of sigmoid, tanh,
elu, selu and celu -- and 2 elsewhere (the derivatives of the smooth
functions, gelu, silu, swish, mish, softplus, log_sigmoid, softsign,
tanhshrink). NumPy rows: 1.25 against ``scipy.special.expit``/``log_expit``
and for the formulas that are exact or accurate; 2 for the composed ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

LINEAR = 1.25  # torch's op is accurate: we must be nearly as fast
SMOOTH = 2.0  # we are more accurate than torch here: a 2x allowance

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
THRESHOLD, VALUE = 0.5, -1.0


@dataclass(frozen=True)
class Case:
    key: str  # row label, e.g. "softplus(beta=2)"
    name: str  # actlab function name
    kwargs: tuple[tuple[str, Any], ...]  # arguments after x, passed by keyword
    args: tuple[Any, ...]  # arguments after x, passed by position
    torch_ref: str  # how torch computes it (an expression shown in the doc)
    bar_fwd: float
    bar_bwd: float  # bar of forward+backward
    numpy_ref: str  # label of the NumPy/SciPy reference
    numpy_bar: float

    def ours(self) -> Callable[[Any], Any]:
        import actlab

        fn, args, kwargs = getattr(actlab, self.name), self.args, dict(self.kwargs)
        return lambda x: fn(x, *args, **kwargs)

    def torch(self) -> Callable[[Any], Any]:
        return torch_reference(self.key)

    def numpy(self) -> Callable[[Any], Any]:
        return numpy_reference(self.key)


def _c(key, name, torch_ref, bar_fwd, bar_bwd, numpy_ref, numpy_bar, *args, **kwargs) -> Case:
    return Case(key, name, tuple(kwargs.items()), args, torch_ref, bar_fwd, bar_bwd, numpy_ref, numpy_bar)


L, S = LINEAR, SMOOTH
CASES = [
    _c("sigmoid", "sigmoid", "torch.sigmoid", L, S, "scipy.special.expit", L),
    _c("log_sigmoid", "log_sigmoid", "F.logsigmoid", S, S, "scipy.special.log_expit", L),
    _c("tanh", "tanh", "torch.tanh", L, S, "np.tanh", L),
    _c("relu", "relu", "F.relu", L, L, "np.maximum(x, 0)", L),
    _c("relu6", "relu6", "F.relu6", L, L, "np.clip(x, 0, 6)", L),
    _c("leaky_relu", "leaky_relu", "F.leaky_relu", L, L, "np.where(x >= 0, x, 0.01 x)", L),
    _c("elu", "elu", "F.elu", L, S, "np.where(x > 0, x, np.expm1(min(x, 0)))", L),
    _c("selu", "selu", "F.selu", L, S, "scale * elu(x, alpha)", L),
    _c("celu", "celu", "F.celu", L, S, "np.where(x > 0, x, np.expm1(min(x, 0)))", L),
    _c("gelu", "gelu", "F.gelu", S, S, "0.5 x scipy.special.erfc(-x/sqrt 2)", S),
    _c("gelu(tanh)", "gelu", "F.gelu(approximate='tanh')", S, S, "0.5 x (1 + np.tanh(...))", S, "tanh"),
    _c("softplus", "softplus", "F.softplus", S, S, "np.logaddexp(0, x)", S),
    _c("softplus(beta=2)", "softplus", "F.softplus(beta=2)", S, S, "np.logaddexp(0, 2x) / 2", S, beta=2.0),
    _c("silu", "silu", "F.silu", S, S, "x scipy.special.expit(x)", S),
    _c("swish(beta=1.5)", "swish", "x * torch.sigmoid(1.5 x)", S, S, "x scipy.special.expit(1.5 x)", S,
       beta=1.5),
    _c("mish", "mish", "F.mish", S, S, "x np.tanh(np.logaddexp(0, x))", S),
    _c("hardtanh", "hardtanh", "F.hardtanh", L, L, "np.clip(x, -1, 1)", L),
    _c("hardsigmoid", "hardsigmoid", "F.hardsigmoid", L, L, "np.clip(x / 6 + 0.5, 0, 1)", L),
    _c("hardswish", "hardswish", "F.hardswish", L, L, "x np.clip(x / 6 + 0.5, 0, 1)", L),
    _c("softsign", "softsign", "F.softsign", S, S, "x / (1 + abs(x))", S),
    _c("tanhshrink", "tanhshrink", "F.tanhshrink", S, S, "x - np.tanh(x)", S),
    _c("softshrink", "softshrink", "F.softshrink", L, L, "np.where(abs(x) > 0.5, x - 0.5 sign(x), 0)", L),
    _c("hardshrink", "hardshrink", "F.hardshrink", L, L, "np.where(abs(x) > 0.5, x, 0)", L),
    _c("threshold", "threshold", "F.threshold(x, 0.5, -1)", L, L, "np.where(x > 0.5, x, -1)", L,
       THRESHOLD, VALUE),
]


def select(only: str | None) -> list[Case]:
    """The cases named in ``only`` (comma-separated row keys or actlab names), or all."""
    if not only:
        return list(CASES)
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    out = [c for c in CASES if c.key in wanted or c.name in wanted]
    unknown = wanted - {c.key for c in out} - {c.name for c in out}
    if unknown:
        raise SystemExit(f"--only: unknown function(s) {sorted(unknown)}; known: {[c.key for c in CASES]}")
    return out


def torch_reference(key: str) -> Callable[[Any], Any]:
    import torch
    import torch.nn.functional as F

    table: dict[str, Callable[[Any], Any]] = {
        "sigmoid": torch.sigmoid, "log_sigmoid": F.logsigmoid, "tanh": torch.tanh, "relu": F.relu,
        "relu6": F.relu6, "leaky_relu": F.leaky_relu, "elu": F.elu, "selu": F.selu, "celu": F.celu,
        "gelu": F.gelu, "gelu(tanh)": lambda x: F.gelu(x, approximate="tanh"), "softplus": F.softplus,
        "softplus(beta=2)": lambda x: F.softplus(x, beta=2.0), "silu": F.silu,
        "swish(beta=1.5)": lambda x: x * torch.sigmoid(1.5 * x), "mish": F.mish, "hardtanh": F.hardtanh,
        "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish, "softsign": F.softsign,
        "tanhshrink": F.tanhshrink, "softshrink": F.softshrink, "hardshrink": F.hardshrink,
        "threshold": lambda x: F.threshold(x, THRESHOLD, VALUE),
    }
    return table[key]


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _hardsigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1)


def numpy_reference(key: str) -> Callable[[Any], Any]:
    import scipy.special as sc

    c = np.sqrt(2 / np.pi)
    table: dict[str, Callable[[Any], Any]] = {
        "sigmoid": sc.expit, "log_sigmoid": sc.log_expit, "tanh": np.tanh,
        "relu": lambda x: np.maximum(x, 0), "relu6": lambda x: np.clip(x, 0, 6),
        "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x), "elu": _elu, "celu": _elu,
        "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        "gelu": lambda x: 0.5 * x * sc.erfc(-x / np.sqrt(2)),
        "gelu(tanh)": lambda x: 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3))),
        "softplus": lambda x: np.logaddexp(0, x), "softplus(beta=2)": lambda x: np.logaddexp(0, 2 * x) / 2,
        "silu": lambda x: x * sc.expit(x), "swish(beta=1.5)": lambda x: x * sc.expit(1.5 * x),
        "mish": lambda x: x * np.tanh(np.logaddexp(0, x)), "hardtanh": lambda x: np.clip(x, -1, 1),
        "hardsigmoid": _hardsigmoid, "hardswish": lambda x: x * _hardsigmoid(x),
        "softsign": lambda x: x / (1 + np.abs(x)), "tanhshrink": lambda x: x - np.tanh(x),
        "softshrink": lambda x: np.where(np.abs(x) > 0.5, x - 0.5 * np.sign(x), 0),
        "hardshrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
        "threshold": lambda x: np.where(x > THRESHOLD, x, VALUE),
    }
    return table[key]
