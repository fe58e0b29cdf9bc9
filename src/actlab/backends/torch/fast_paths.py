"""The declared executions of the element-wise functions on CPU tensors.

One :class:`Execution` per (registered function, dtype) says how a call is
evaluated when the arguments take the entry's fast lane (default
parameters, or any numbers for the piecewise-linear family):

- forward ``native``: torch's own op, accurate to 4 ULPs over the whole
  range (checked against the mpmath references in ``tests/test_fast_paths.py``);
  ``guarded``: torch's op plus one ``aminmax`` pass, with actlab's formula
  only for the entries outside the declared domain where torch is
  accurate; ``fused``: one native op in a wider working precision (float64
  for float32 results), a cache-sized block at a time, rounded once;
- backward ``native``: torch's autograd of the native forward (only for
  piecewise-linear functions, whose second derivative is 0 and whose
  derivative at the kinks is torch's, as actlab documents it); ``fused``:
  a declared derivative kernel of :mod:`.fast_kernels` reading (x, g) and
  writing g f'(x), blocked, guarded like the forward; ``plain``: actlab's
  derivative formula.

With ``create_graph=True`` the backward is actlab's differentiable formula,
so second derivatives stay actlab's. Under ``torch.compile`` and
``torch.func`` transforms only native executions are used (they are plain
torch ops); other calls take actlab's formula. Functions and dtypes not in
the table (other devices) take actlab's formula too; float16 takes the
float32 execution and rounds once.

Example:
    >>> import torch, actlab
    >>> from actlab.backends.torch.fast_paths import TABLE
    >>> TABLE["sigmoid", torch.float32].forward
    'guarded'
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from . import fast_kernels as K
from .fast_kernels import softplus_threshold

__all__ = ["Execution", "TABLE", "FORWARD_KINDS", "BACKWARD_KINDS", "with_parameters"]

Tensor = torch.Tensor
INF = math.inf
FORWARD_KINDS = ("native", "guarded", "fused", "loop", "plain")
BACKWARD_KINDS = ("native", "fused", "loop", "plain")
F32, F64, BF16 = torch.float32, torch.float64, torch.bfloat16


@dataclass(frozen=True)
class Execution:
    """How one function is evaluated for one dtype.

    ``op(x, *params)``: the native forward (``native`` and ``guarded``), or a
    block kernel run in ``work`` precision (``fused``); ``domain``: the
    closed interval of x where the forward is accurate (entries outside,
    NaN included, take actlab's formula). ``dkernel(x, g)``: the derivative
    kernel (``fused`` backward), run in ``dwork`` precision, accurate on
    ``ddomain`` (``dnan``: it gives NaN at NaN; if not, NaN entries take
    actlab's formula). ``any_params``: the entry serves every parameter value
    (numbers), not only the defaults.
    """

    forward: str
    backward: str
    op: Callable[..., Tensor] | None = None
    work: torch.dtype | None = None
    domain: tuple[float, float] = (-INF, INF)
    dkernel: Callable[[Tensor, Tensor | None], Tensor] | None = None
    dwork: torch.dtype | None = None
    ddomain: tuple[float, float] = (-INF, INF)
    dnan: bool = True
    any_params: bool = False

    def __post_init__(self) -> None:
        if self.forward not in FORWARD_KINDS or self.backward not in BACKWARD_KINDS:
            raise ValueError(f"unknown execution kinds {self.forward!r}/{self.backward!r}")
        if self.backward == "native" and self.forward != "native":
            raise ValueError("a native backward needs the native forward (torch's autograd records it)")
        if (self.forward not in ("plain", "loop")) != (self.op is not None):
            raise ValueError("a native, guarded or fused forward needs its op, a plain or loop one none")
        if (self.backward == "fused") != (self.dkernel is not None):
            raise ValueError("a fused backward needs its kernel, others none")
        if self.any_params and self.backward not in ("native", "plain"):
            raise ValueError("only native executions serve every parameter value")


def _linear(op: Callable[..., Tensor]) -> dict[torch.dtype, Execution]:
    """Piecewise-linear: torch's op and its autograd, any parameters, every dtype."""
    ex = Execution("native", "native", op, any_params=True)
    return {F32: ex, F64: ex, BF16: ex}


def _native_smooth(op: Callable[..., Tensor], dkernel: Callable[..., Tensor],
                   dnan: bool = True) -> dict[torch.dtype, Execution]:
    """torch's op and torch's backward kernel (run as a fused backward, so
    that double backward is actlab's)."""
    return {dt: Execution("native", "fused", op, dkernel=dkernel, dnan=dnan) for dt in (F32, F64, BF16)}


def _sigmoid_like(op: Callable[..., Tensor], dkernel: Callable[..., Tensor], d32_work: torch.dtype | None,
                  d32_domain: tuple[float, float], d64_backward: bool) -> dict[torch.dtype, Execution]:
    """Guarded forwards (torch's float32 sigmoid loses the subnormal tail
    below -88, float64's below -708); fused derivatives."""
    t = {
        F32: Execution("guarded", "fused", op, domain=(-88.0, INF), dkernel=dkernel, dwork=d32_work,
                       ddomain=d32_domain),
        BF16: Execution("guarded", "fused", op, domain=(-87.0, INF), dkernel=dkernel, dwork=F32,
                        ddomain=(-80.0, 80.0)),
    }
    t[F64] = (Execution("guarded", "fused", op, domain=(-708.0, INF), dkernel=dkernel, ddomain=(-708.0, 708.0))
              if d64_backward else Execution("guarded", "plain", op, domain=(-708.0, INF)))
    return t


def _via_float64(kernel: Callable[..., Tensor], dkernel: Callable[..., Tensor],
                 domain: tuple[float, float]) -> dict[torch.dtype, Execution]:
    """float32: torch's float64 op, blocked, rounded once (accurate to ~1e-13
    relative on ``domain``). bfloat16 is never computed in float64: these
    take actlab's formula, or the float32 op where it is accurate enough."""
    return {F32: Execution("fused", "fused", kernel, work=F64, domain=domain, dkernel=dkernel, dwork=F64,
                           ddomain=domain)}


def _hardswish(dtype: torch.dtype) -> Execution:
    # torch's product x * relu6(x + 3) / 6 overflows past ~5e37 (float32);
    # its backward cancels near -1.5 and has other kink values: actlab's, fused.
    big = 1e150 if dtype == F64 else 1e18
    return Execution("guarded", "fused", F.hardswish, domain=(-big, big), dkernel=K.d_hardswish,
                     dwork=F32 if dtype == BF16 else None)


TABLE: dict[tuple[str, torch.dtype], Execution] = {}


def _declare(name: str, per_dtype: dict[torch.dtype, Execution]) -> None:
    for dt, ex in per_dtype.items():
        TABLE[name, dt] = ex


for _name, _op in (("relu", torch.relu), ("relu6", F.relu6), ("leaky_relu", F.leaky_relu),
                   ("hardtanh", F.hardtanh), ("threshold", F.threshold), ("softshrink", F.softshrink),
                   ("hardshrink", F.hardshrink)):
    _declare(_name, _linear(_op))
_declare("hardsigmoid", {
    F32: Execution("native", "native", F.hardsigmoid), BF16: Execution("native", "native", F.hardsigmoid),
    F64: Execution("native", "fused", F.hardsigmoid, dkernel=K.d_hardsigmoid),
})
_declare("hardswish", {dt: _hardswish(dt) for dt in (F32, F64, BF16)})
# (torch's elu_backward gives g, not NaN, at NaN)
_declare("elu", _native_smooth(F.elu, K.d_elu, dnan=False))
_declare("celu", _native_smooth(F.celu, K.d_elu, dnan=False))  # alpha = 1: celu is elu
_declare("selu", _native_smooth(F.selu, K.d_selu, dnan=False))
_declare("log_sigmoid", _native_smooth(F.logsigmoid, K.d_log_sigmoid))
_declare("softplus", _native_smooth(K.softplus, K.d_softplus))
_declare("tanh", {
    F32: Execution("native", "fused", torch.tanh, dkernel=K.d_tanh, ddomain=(-44.0, 44.0)),
    F64: Execution("native", "fused", torch.tanh, dkernel=K.d_tanh, ddomain=(-354.0, 354.0)),
    BF16: Execution("native", "fused", torch.tanh, dkernel=K.d_tanh, dwork=F32, ddomain=(-44.0, 44.0)),
})
_declare("sigmoid", _sigmoid_like(torch.sigmoid, K.d_sigmoid, None, (-88.0, 88.0), d64_backward=True))
for _name in ("silu", "swish"):
    _declare(_name, _sigmoid_like(F.silu, K.d_silu, F64, (-800.0, 800.0), d64_backward=False))
_GELU_DOMAIN = (-INF, INF)  # actlab's float64 formulas (not torch's 1 + erf, which cancels below -5)
_declare("gelu", {
    **_via_float64(K.gelu, K.d_gelu, _GELU_DOMAIN),
    BF16: Execution("fused", "fused", K.gelu_erfc, work=F32, dkernel=K.d_gelu_erfc, dwork=F32),
})
_declare("mish", _via_float64(K.mish, K.d_mish, (-800.0, 1e30)))
# torch's float32 mish is accurate to bfloat16's precision, its mish_backward is not (244 ULPs)
TABLE["mish", BF16] = Execution("fused", "plain", K.mish, work=F32, domain=(-800.0, 1e30))
# x / (1 + |x|) is within 1.5 ULPs but NaN at +-inf (inf / inf); (1 + |x|)^2 stays finite on ddomain
# (float32's derivative in float64: 0.5 ULP, where float32's three roundings reach 3.2); bfloat16 is
# computed in float32 and rounded once
_declare("softsign", {
    F32: Execution("guarded", "fused", F.softsign, domain=(-3e38, 3e38), dkernel=K.d_softsign, dwork=F64),
    F64: Execution("guarded", "fused", F.softsign, domain=(-1e308, 1e308), dkernel=K.d_softsign,
                   ddomain=(-1e150, 1e150)),
    BF16: Execution("fused", "fused", K.softsign, work=F32, domain=(-3e38, 3e38), dkernel=K.d_softsign, dwork=F32,
                    ddomain=(-1e18, 1e18)),
})
# float32: actlab's float64 formula rounded once; tanh^2 by float32's tanh
_declare("tanhshrink", {
    F32: Execution("fused", "fused", K.tanhshrink, work=F64, dkernel=K.d_tanhshrink),
    BF16: Execution("fused", "fused", K.tanhshrink_float32, work=F32, dkernel=K.d_tanhshrink, dwork=F32),
})
GELU_TANH = {
    **_via_float64(K.gelu_tanh, K.d_gelu_tanh, _GELU_DOMAIN),
    # float32's sigmoid keeps its tail for z >= -87 (x >= -9.9), its derivative's for z >= -80
    BF16: Execution("fused", "fused", K.gelu_tanh, work=F32, domain=(-9.5, INF), dkernel=K.d_gelu_tanh,
                    dwork=F32, ddomain=(-9.0, INF)),
}
"""gelu(x, approximate="tanh"): served by the gelu lane for that parameter value."""


LOOPS = importlib.util.find_spec("numba") is not None
"""Whether the generated loops are available (numba, the ``fast`` extra).
Without them the entries below keep the executions declared above."""
_WHOLE_LINE = (-INF, INF)


def _loop(ex: Execution | None, forward: bool, backward: bool) -> Execution:
    """``ex`` with its forward and/or backward replaced by the loop generated
    from actlab's formula (one pass, every intermediate in a register; see
    :mod:`actlab.backends.numba_formula`): exact to the formula's own
    accuracy over the whole line, so no domain guard."""
    ex = ex or Execution("plain", "plain")
    changes: dict[str, Any] = {}
    if forward:
        changes.update(forward="loop", op=None, work=None, domain=_WHOLE_LINE)
    if backward:
        changes.update(backward="loop", dkernel=None, dwork=None, ddomain=_WHOLE_LINE, dnan=True)
    return dataclasses.replace(ex, **changes)


def _keyed(name: str, dt: torch.dtype) -> tuple[str, torch.dtype]:
    return name, dt


def _same_key(dt: torch.dtype) -> torch.dtype:
    return dt


def _declare_loops(table: dict[Any, Execution], key: Callable[[torch.dtype], Any],
                   forward: tuple[torch.dtype, ...], backward: tuple[torch.dtype, ...]) -> None:
    for dt in dict.fromkeys(forward + backward):
        table[key(dt)] = _loop(table.get(key(dt)), dt in forward, dt in backward)


# The loops measured faster than the executions above (`benchmarks/elementwise_speed.py`): where
# a formula takes many eager passes (the double-word float64 formulas, float32 in float64, masks,
# torch's own composite ops) one pass wins; where torch has one accurate kernel, torch's wins.
_ALL = (F32, F64, BF16)
_LOOPED: dict[str, tuple[tuple[torch.dtype, ...], tuple[torch.dtype, ...]]] = {
    "hardswish": (_ALL, _ALL),
    "mish": (_ALL, _ALL),
    "softsign": (_ALL, _ALL),
    "gelu": ((F64,), (F64,)),
    "tanhshrink": (_ALL, (F32, F64)),
    "silu": ((), (F64,)),
    "swish": ((), (F64,)),
    "hardsigmoid": ((), (F64,)),
    "sigmoid": ((), (F64,)),
}
_GELU_TANH_LOOPED = (_ALL, _ALL)
# The rest of the catalogue: formulas of tens of eager passes (3-100x slower than their loops in
# every dtype), except float64 exponential, which is one exp
CATALOGUE_LOOPED = ("dyt", "exponential", "gelu_10", "golu", "hard_mish", "laplace", "log1mexp", "logit",
                    "quick_gelu", "relu2", "sine", "snake", "snake_beta", "sparse_plus", "sparse_sigmoid",
                    "sqrt_softplus", "squareplus", "star_relu", "xielu")
"""Functions whose calls with the default parameters take their loop (other
values take actlab's formula: a loop per value would compile per value)."""
for _name in CATALOGUE_LOOPED:
    _LOOPED[_name] = ((F32, BF16), (F32, BF16)) if _name == "exponential" else (_ALL, _ALL)
if LOOPS:
    for _name, (_fw, _bw) in _LOOPED.items():
        _declare_loops(TABLE, functools.partial(_keyed, _name), _fw, _bw)
    _declare_loops(GELU_TANH, _same_key, *_GELU_TANH_LOOPED)
_LOOPED_WITH_PARAMETERS = {"softplus": (F32,), "swish": (F32, F64)}
"""The dtypes where softplus and swish with other parameter values take
their loop (compiled once per value)."""
LOOP_VALUES_MAX = 4
"""At most this many parameter values of one function get loops of their
own (a value that changes every call must not compile every call); later
ones take the execution declared without loops."""
_LOOP_VALUES: dict[str, set[tuple[Any, ...]]] = {}


def _power_of_two(v: float) -> bool:
    m, _ = math.frexp(v)
    return m == 0.5


def _scaled_range(v: float) -> bool:
    return 1e-30 <= abs(v) <= 1e30


_FINITE = (-3e38, 3e38)  # (bounds that float32 and bfloat16 tensors compare with as finite)



@functools.lru_cache(maxsize=128)
def with_parameters(name: str, dtype: torch.dtype, values: tuple[Any, ...]) -> Execution | None:
    """Executions for other (checked, numeric) parameter values than the
    defaults, or None: softplus and swish with any ``beta`` in float32 (torch's
    float64 kernel, where ``beta x`` and every later step are far more
    accurate than float32 needs, rounded once; the loop of actlab's formula
    where declared in ``_LOOPED_WITH_PARAMETERS``) and in bfloat16 (the same
    in float32); softplus in float64 for a power-of-two ``beta`` (then
    ``beta x`` is exact and torch's float64 kernel is as accurate as at
    ``beta = 1``). swish(beta) is ``silu(beta x) / beta``; its derivative
    ``silu'(beta x)``; infinite x take actlab's formula."""
    if name not in ("softplus", "swish") or len(values) != 1 or not _scaled_range(values[0]):
        return None
    if LOOPS and dtype in _LOOPED_WITH_PARAMETERS[name]:
        loop = _bounded_loop(name, values)
        if loop is not None:
            return loop
    beta = float(values[0])
    work = {F32: F64, BF16: F32}.get(dtype)
    if name == "softplus":
        if work is None and not (dtype == F64 and _power_of_two(beta)):
            return None
        th = softplus_threshold(work or dtype)
        return Execution("fused", "fused", K.softplus_beta(beta, th), work=work,
                         dkernel=K.d_softplus_beta(beta, th), dwork=work)
    if work is None:
        return None
    big = _FINITE[1] / max(1.0, abs(beta))  # beta x stays finite in the working dtype
    if work == F64:
        domain = ddomain = (-big, big)
    else:  # float32's sigmoid loses the tail below beta x = -87 (the derivative's below -80)
        domain, ddomain = _side(beta, 87.0, big), _side(beta, 80.0, big)
    return Execution("fused", "fused", K.swish_beta(beta), work=work, domain=domain,
                     dkernel=K.d_swish_beta(beta), dwork=work, ddomain=ddomain)


def _bounded_loop(name: str, values: tuple[Any, ...]) -> Execution | None:
    """The loop for these parameter values, while the function has fewer than
    :data:`LOOP_VALUES_MAX` of them."""
    seen = _LOOP_VALUES.setdefault(name, set())
    if values in seen or len(seen) < LOOP_VALUES_MAX:
        seen.add(values)
        return _loop(None, True, True)
    return None


def _side(beta: float, t: float, big: float) -> tuple[float, float]:
    """The x where beta x >= -t (and |x| <= big)."""
    return (max(-big, -t / beta), big) if beta > 0 else (-big, min(big, t / -beta))


def execution_of(name: str, dtype: torch.dtype, values: tuple[Any, ...]) -> Execution | None:
    """The declared execution for ``name`` at ``dtype`` with parameter values
    ``values`` (None: actlab's formula)."""
    if name == "gelu" and values == ("tanh",):
        return GELU_TANH.get(dtype)
    return TABLE.get((name, dtype)) or with_parameters(name, dtype, values)
