"""Array-namespace plumbing shared by every function: input coercion, working
precision, and branch-safe ``where``.

Everything here is backend-neutral: it receives the backend as ``xp`` and
never imports a framework.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _backend

Array = Any

__all__ = [
    "as_float_array",
    "lazy_where",
    "to_working",
    "finfo",
    "with_limits",
    "indicator",
    "zero_keep_nan",
    "one_keep_nan",
    "safe_scale",
    "split",
    "square_exact",
    "exp_neg_half_square",
    "two_sum",
    "fast_two_sum",
    "two_prod",
    "mul_exact",
    "one_plus_square",
    "exp_scaled",
    "float32_via_float64",
    "product_limit",
    "float32_policy",
    "astype_rounded",
]


def as_float_array(x: Array, name: str = "x"):
    """Coerce ``x`` to a real floating array and return ``(xp, x)``, ``xp``
    its backend (see :mod:`actlab._backend`).

    Python scalars, lists and tuples become NumPy arrays; integer and boolean
    arrays are promoted to the backend's default real floating dtype;
    complex input is a ``TypeError`` naming the argument.
    """
    return _backend.as_float_array(x, name)


def is_array(v: Any) -> bool:
    """True for an array parameter, False for a number, string or None
    (written with isinstance, which tracers answer for symbolic floats)."""
    return not isinstance(v, (bool, int, float, str)) and v is not None


_FULL_PRECISION: set[Any] = set()
"""dtypes seen to be neither float16 nor bfloat16 (a set lookup, not a string test, per call)."""


def _is_low_precision(xp, dtype) -> bool:
    key = (type(dtype), dtype)  # (the type first: dtypes of different libraries are never compared)
    if key in _FULL_PRECISION:
        return False
    low = dtype == getattr(xp, "float16", None) or str(dtype).endswith("bfloat16")
    if not low:
        try:
            _FULL_PRECISION.add(key)
        except TypeError:  # (an unhashable dtype object)
            pass
    return low


def to_working(xp, x: Array, promote32: bool = False):
    """Return ``(x_work, out_dtype)``: half precision (float16, bfloat16) is
    computed in float32, and float32 in float64 when ``promote32`` is set, so
    the result is rounded once to ``out_dtype`` at the end."""
    dt = x.dtype
    if _is_low_precision(xp, dt):
        return xp.astype(x, xp.float32), dt
    if promote32 and dt == xp.float32:
        return xp.astype(x, xp.float64), dt
    return x, dt


def as_ndarray(y: Array) -> Array:
    """NumPy ufuncs return scalars for 0-d input; keep 0-d arrays instead."""
    return np.asarray(y) if isinstance(y, np.generic) else y


def finfo(xp, dtype):
    return xp.finfo(dtype)


def lazy_where(
    cond: Array,
    x: Array,
    then: Callable[[Array], Array],
    otherwise: Callable[[Array], Array],
    *,
    xp,
    fill_then: float = 0.0,
    fill_otherwise: float = 0.0,
) -> Array:
    """``where(cond, then(x), otherwise(x))`` evaluating each branch only on the
    entries where it applies.

    The entries a branch does not own are replaced by a harmless fill value
    before the branch runs, so a branch that would overflow (or produce NaN,
    or a NaN gradient) where it is not taken never sees those entries. This
    keeps shapes static, which ``torch.compile`` and ``vmap`` need.
    """
    a = then(xp.where(cond, x, fill_then))
    b = otherwise(xp.where(cond, fill_otherwise, x))
    return xp.where(cond, a, b)


def with_limits(x: Array, fn: Callable[[Array], Array], neg: Any, pos: Any, *, xp) -> Array:
    """``fn(x)`` on finite entries, ``neg`` at -inf and ``pos`` at +inf; NaN stays NaN.

    For products such as ``x * sigmoid(x)`` whose limit at an infinity is an
    ``inf * 0`` form: ``fn`` never sees an infinity.
    """
    fin = xp.isfinite(x)
    y = fn(xp.where(fin, x, 0.0))
    return xp.where(fin, y, xp.where(x > 0, pos, xp.where(x < 0, neg, x)))


def indicator(cond: Array, x: Array, *, xp) -> Array:
    """1.0 where ``cond``, 0.0 elsewhere, NaN where ``x`` is NaN: the derivative
    of a piecewise-linear function (whose kinks follow from ``cond``)."""
    return xp.where(xp.isnan(x), x, xp.astype(cond, x.dtype))


def zero_keep_nan(x: Array, *, xp) -> Array:
    """Zeros shaped like ``x``, but NaN where ``x`` is NaN."""
    return xp.where(xp.isnan(x), x, 0.0)


def one_keep_nan(x: Array, *, xp) -> Array:
    """Ones shaped like ``x``, but NaN where ``x`` is NaN (the derivative of
    a term linear in x or in a bias)."""
    return xp.where(xp.isnan(x), x, xp.ones_like(x))


def safe_scale(beta: Any, x: Array, *, xp) -> Array:
    """``beta * x`` saturating at a quarter of the dtype's largest value
    instead of overflowing. For arguments of saturating functions (sigmoid,
    exp(-|.|)), where anything that large gives the same result."""
    if isinstance(beta, float) and abs(beta) <= 1.0:
        return beta * x
    big = float(xp.finfo(x.dtype).max) / 4
    if isinstance(beta, float):
        lim = big / abs(beta)
        return beta * xp.clip(x, -lim, lim)
    lim = big / xp.where(xp.abs(beta) > 1.0, xp.abs(beta), 1.0)
    return beta * xp.where(x > lim, lim, xp.where(x < -lim, -lim, x))


def split(x: Array, *, xp) -> tuple[Array, Array]:
    """Veltkamp split: ``x = hi + lo`` with ``hi`` holding the upper half of the
    significand, so products of halves are exact (Dekker's two-product).
    Valid for |x| well below the dtype's largest value / 2**27."""
    c = 134217729.0 if x.dtype == xp.float64 else 4097.0
    t = xp.rounded(c * x)
    hi = t - (t - x)
    return hi, x - hi


def square_exact(x: Array, *, xp) -> tuple[Array, Array]:
    """``x*x = p + e`` exactly (Dekker), for |x| below ~1e150 (float64)."""
    p = xp.rounded(x * x)
    hi, lo = split(x, xp=xp)
    e = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo
    return p, e


def exp_neg_half_square(x: Array, *, xp) -> Array:
    """``exp(-x**2/2)`` with x**2 formed exactly, so the result keeps full
    relative precision where x**2/2 is large (error ~ ulp, not x**2 ulp).
    Expects |x| <= 40 (beyond, the true value underflows in float64)."""
    p, e = square_exact(x, xp=xp)
    return xp.exp(-0.5 * p) * (1.0 - 0.5 * e)


# -- compensated arithmetic: error-free transformations (Dekker 1971, Knuth) ----
#
# A product that a later step takes as rounded (Veltkamp's split, the error
# of Dekker's product) goes through ``xp.rounded``, which keeps a compiler
# from fusing it with the following subtraction into one fused multiply-add.
#
# The accurate element-wise formulas carry a rounding error beside a value
# where a later step would amplify it (beta*x fed to exp, x - root near a
# root). Plain operations only, so any namespace and torch.compile trace them.

_LN2 = "0.693147180559945309417232121458176568075500134360255254120680009"


def _ln2_parts(frac_bits: int) -> tuple[float, float]:
    from fractions import Fraction

    ln2 = Fraction(_LN2)
    hi = Fraction(round(ln2 * 2**frac_bits), 2**frac_bits)
    return float(hi), float(ln2 - hi)


# exp_scaled: below THRESHOLD the argument is shifted up by SHIFT*ln2, exactly
# (ln2's high part has few enough bits that a + SHIFT*ln2_hi is exact).
_EXP_SCALING = {
    64: (-700.0, 64, *_ln2_parts(40)),
    32: (-80.0, 32, *_ln2_parts(16)),
}
# A backend that flushes subnormal numbers to zero (XLA on the CPU) loses the
# low halves of Dekker's products of numbers within 2**53 of the subnormal
# range: there exp is shifted from higher up, and by more.
_EXP_SCALING_FTZ = {
    64: (-600.0, 256, *_ln2_parts(40)),
    32: (-60.0, 64, *_ln2_parts(16)),
}


def _bits(x: Array, xp) -> int:
    return 64 if x.dtype == xp.float64 else 32


def two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """``s + e = a + b`` exactly, ``s = fl(a + b)`` (Knuth's TwoSum)."""
    if isinstance(a, (int, float)):  # the constant second: XLA folds (c + b) - c to b under jit
        a, b = b, a
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fast_two_sum(a: Array, b: Array) -> tuple[Array, Array]:
    """``s + e = a + b`` exactly when ``|a| >= |b|`` (Dekker's Fast2Sum)."""
    s = a + b
    return s, b - (s - a)


def two_prod(a: Array, b: Array, *, xp) -> tuple[Array, Array]:
    """``p + e = a * b`` exactly (Dekker), for arrays of one dtype with
    magnitudes below ~1e150 (float64) / ~1e17 (float32) and no underflow."""
    p = xp.rounded(a * b)
    ah, al = split(a, xp=xp)
    bh, bl = split(b, xp=xp)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _constant_parts(c: float, bits: int) -> tuple[float, float, float, float]:
    """``c = c1 + c2`` with c1 representable in the dtype, and c1's Veltkamp
    halves ``ch + cl`` (Python floats)."""
    if bits == 64:
        t = 134217729.0 * c
        ch = t - (t - c)
        return c, 0.0, ch, c - ch
    f = np.float32
    c1 = f(c)
    c2 = f(c - float(c1))
    t = f(4097.0) * c1
    ch = t - (t - c1)
    return float(c1), float(c2), float(ch), float(c1 - ch)


def mul_exact(c: float, x: Array, *, xp) -> tuple[Array, Array]:
    """``(p, e)``: ``p = fl(c*x)`` and ``p + e = c*x`` to about twice the
    working precision, for a Python float ``c`` (its exact binary64 value,
    even on float32 input) and ``|x|`` below ~1e150 (float64) / ~1e17 (float32)."""
    bits = _bits(x, xp)
    if abs(c) > (2.0**900 if bits == 64 else 2.0**100):  # beyond any use; no split
        return c * x, xp.zeros_like(x)
    c1, c2, ch, cl = _constant_parts(c, bits)
    p = xp.rounded(c1 * x)
    if math.frexp(c)[0] in (0.5, -0.5) and c2 == 0.0:
        return p, xp.zeros_like(p)
    xh, xl = split(x, xp=xp)
    e = ((ch * xh - p) + ch * xl + cl * xh) + cl * xl
    return p, (e + c2 * x if c2 else e)


def one_plus_square(e: Array, *, xp) -> Array:
    """``(1 + e)**2`` for ``0 <= e <= 1`` with one rounding's error: the sum
    and the square are formed exactly (Fast2Sum, Dekker) before rounding."""
    t = xp.rounded(1.0 + e)  # (kept from being folded: under jax.jit XLA rewrites (1 + e) - 1 to e)
    tl = e - (t - 1.0)
    s, se = square_exact(t, xp=xp)
    return s + (se + 2.0 * t * tl)


def exp_scaled(a: Array, a_lo: Array, *, xp) -> tuple[Array, Array, Array]:
    """``(es, es_lo, scale)`` with ``exp(a + a_lo) = (es + es_lo) * scale``
    (to first order in ``a_lo``, a rounding error carried beside ``a``).

    Where ``exp(a)`` would be subnormal or nearly so, ``es`` is
    ``exp(a + SHIFT ln2)`` (a normal number) and ``scale = 2**-SHIFT``, so a
    product such as ``x * exp(a)`` keeps full precision until a final
    multiplication by ``scale`` rounds it once.
    """
    table = _EXP_SCALING_FTZ if xp.flushes_subnormals else _EXP_SCALING
    threshold, shift, ln2_hi, ln2_lo = table[_bits(a, xp)]
    low = a < threshold
    ah = xp.where(low, a + shift * ln2_hi, a)
    al = xp.where(low, a_lo + shift * ln2_lo, a_lo)
    e = xp.exp(ah)
    one = xp.ones_like(a)
    return e, e * al, xp.where(low, one * 2.0**-shift, one)


def float32_via_float64(
    fn: Callable[..., Array], x: Array, *params: Any, xp, saturate: bool = False
) -> Array:
    """``fn(x, *params)`` computed in float64 and rounded once to float32 (for
    float32 input whose float32 formula would lose accuracy); array
    parameters are promoted too. ``saturate``: results may exceed float32's
    range (they become +-inf without an overflow warning)."""
    ps = tuple(xp.astype(p, xp.float64) if is_array(p) else p for p in params)
    y = fn(xp.astype(x, xp.float64), *ps, xp=xp)
    return astype_rounded(y, xp.float32, xp=xp) if saturate else xp.astype(y, xp.float32)


def astype_rounded(y: Array, dtype: Any, *, xp) -> Array:
    """``y`` rounded to a narrower floating ``dtype``; what rounds past its
    largest finite value becomes +-inf before the cast (a cast that
    overflows warns on NumPy)."""
    if y.dtype == dtype:
        return y
    fi = xp.finfo(dtype)
    top, eps = float(fi.max), float(fi.eps)
    edge = top + top * eps / (2.0 * (2.0 - eps))  # the largest value + half its ULP
    y = xp.where(y >= edge, math.inf, xp.where(y <= -edge, -math.inf, y))
    return xp.astype(y, dtype)


def product_limit(c: float, bits: int) -> float:
    """The largest x whose product ``c * x`` is finite in the dtype (float64
    for ``bits=64``, float32 for 32), ``c`` rounded to it as arrays do."""
    dt = np.float64 if bits == 64 else np.float32
    mx = np.finfo(dt).max
    cc = dt(c)
    x = dt(min(float(mx) / abs(float(cc)), float(mx)))
    with np.errstate(over="ignore"):
        while np.isinf(cc * x):
            x = np.nextafter(x, dt(0))
        while x < mx and np.isfinite(cc * np.nextafter(x, dt(np.inf))):
            x = np.nextafter(x, dt(np.inf))
    return float(x)


def float32_policy(*, native_float32: bool, plain: Callable[..., Array] | None = None, saturate: bool = False):
    """Decorator for the math of an element-wise function: float32 input is
    computed in float64 (with ``plain``, a shorter formula that float64
    makes accurate enough, if given) and rounded once, except when
    ``native_float32`` and the backend declares ``accurate_float32`` (its
    float32 exp/log/expm1 are within 1 ULP: torch's are; NumPy's are up to
    3.4 ULP off, so NumPy float32 always goes through float64).
    ``saturate``: see ``float32_via_float64``."""

    def decorate(fn: Callable[..., Array]) -> Callable[..., Array]:
        target = plain or fn

        @functools.wraps(fn)
        def wrapped(x: Array, *params: Any, xp) -> Array:
            if x.dtype == xp.float32 and not (native_float32 and xp.accurate_float32):
                return float32_via_float64(target, x, *params, xp=xp, saturate=saturate)
            return fn(x, *params, xp=xp)

        return wrapped

    return decorate
