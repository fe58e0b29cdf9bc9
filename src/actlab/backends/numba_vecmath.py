"""Branch-free float64 ``exp``, ``log`` and powers for numba loops that must
vectorise (libm's scalar calls stop LLVM's loop vectoriser).

``vexp`` (``d <= 0``) is Cody & Waite's reduction ``d = k ln 2 + r``,
``|r| <= ln 2 / 2``, and the degree-13 Taylor polynomial of ``e^r``
(truncation below 1e-17 relative); ``vexp32`` is the same reduction with
the degree-9 polynomial, evaluated by Estrin's scheme (truncation below
1e-11 relative, 1/6000 of a float32 ULP: for sums and values that are
rounded to float32, at about half the cost); ``vexpf`` is the reduction in
float32 arithmetic with a degree-7 polynomial (within 2 float32 ULPs: for
results rounded to bfloat16, eight float32 lanes where float64 has four); ``vlog`` (``0 < v <= 1``, normal) splits
``v = 2^k f``, ``f`` in ``[sqrt(1/2), sqrt(2))``, and sums ``2 atanh(s)``,
``s = (f - 1)/(f + 1)``, to ``s^19`` (truncation below 1e-17 relative). Both
are within a few float64 ulps, far below what the float32 kernels that use
them need (they round once to float32). ``vexp_estrin`` and ``vlog_estrin``
are the same reductions and polynomials evaluated by Estrin's scheme
(independent partial sums: a shorter dependency chain, for loops over a few
entries whose latency, not throughput, sets the time).

Example:
    >>> import math
    >>> from actlab.backends.numba_vecmath import vexp, vlog
    >>> abs(vexp(-3.5) / math.exp(-3.5) - 1) < 1e-15, abs(vlog(0.3) / math.log(0.3) - 1) < 1e-15
    (True, True)
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["vexp", "vexp32", "vexp_estrin", "vexpf", "vlog", "vlog_estrin", "vpow", "integer_power"]

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_E = tuple(1.0 / math.factorial(i) for i in range(14))
_L = tuple(2.0 / (2 * i + 1) for i in range(10))
_U52 = np.uint64(52)
_ONE = np.uint64(1023 << 52)  # the bits of 1.0
_MAGIC = np.uint64(0x4330000000000000)  # the bits of 2^52
_MAGIC_BIAS = 4503599627370496.0 + 1023.0
_OFFSET = np.uint64((1023 << 52) - 4604544271217802189)  # 1.0's bits minus sqrt(1/2)'s


@nb.njit(inline="always", error_model="numpy")
def _exp_reduce(d):
    """Cody & Waite: ``d = k ln 2 + r``, ``|r| <= ln 2 / 2`` (``d`` clamped at -708)."""
    d = d if not (d < -708.0) else -708.0
    k = np.floor(d * _LOG2E + 0.5)
    return k, (d - k * _LN2_HI) - k * _LN2_LO


@nb.njit(inline="always", error_model="numpy")
def _log_split(v):
    """``(k, f)`` with ``v = 2^k f`` (k as a float), f in [sqrt(1/2), sqrt(2)),
    for a normal positive float64 ``v``."""
    b = np.float64(v).view(np.uint64)
    kb = (b + _OFFSET) >> _U52
    f = np.uint64(b - (kb << _U52) + _ONE).view(np.float64)
    return np.uint64(kb | _MAGIC).view(np.float64) - _MAGIC_BIAS, f


@nb.njit(inline="always", error_model="numpy")
def _pow2(k):
    """``2^k`` for an integral float64 ``k``, -1022 <= k <= 1023, from the bits of
    the exact float 2^52 + 1023 + k: its low bits are k + 1023."""
    return np.uint64(np.float64(k + _MAGIC_BIAS).view(np.uint64) << _U52).view(np.float64)


@nb.njit(inline="always", error_model="numpy")
def _log_reduce(v):
    """``(k, s, s^2)`` with ``v = 2^k f``, f in [sqrt(1/2), sqrt(2)) and
    ``s = (f - 1)/(f + 1)`` (unsigned shifts and the 2^52 trick for the
    conversion vectorise without AVX-512)."""
    kf, f = _log_split(v)
    s = (f - 1.0) / (f + 1.0)
    return kf, s, s * s


@nb.njit(inline="always", error_model="numpy")
def vexp(d):
    """``exp(d)`` for float64 ``d <= 0``; below -708 it returns about 1e-308 (NaN passes)."""
    k, r = _exp_reduce(d)
    p = _E[13]
    p = _E[12] + r * p
    p = _E[11] + r * p
    p = _E[10] + r * p
    p = _E[9] + r * p
    p = _E[8] + r * p
    p = _E[7] + r * p
    p = _E[6] + r * p
    p = _E[5] + r * p
    p = _E[4] + r * p
    p = _E[3] + r * p
    p = _E[2] + r * p
    p = 1.0 + r * p
    p = 1.0 + r * p
    return p * _pow2(k)


@nb.njit(inline="always", fastmath={"contract"}, error_model="numpy")
def vexp32(d):
    """``exp(d)`` for float64 ``d <= 0`` to 1e-11 relative (for float32
    results); below -708 about 1e-308; NaN passes."""
    k, r = _exp_reduce(d)
    r2 = r * r
    r4 = r2 * r2
    low = (1.0 + r) + r2 * (_E[2] + r * _E[3])  # Estrin: independent halves (more in flight)
    high = (_E[4] + r * _E[5]) + r2 * (_E[6] + r * _E[7]) + r4 * (_E[8] + r * _E[9])
    return (low + r4 * high) * _pow2(k)


_F32 = np.float32
_LOG2E_F = _F32(_LOG2E)
_SHIFT_F = _F32(12582912.0)  # 1.5 * 2^23: adding it rounds to an integer held in the low bits
_LN2_HI_F = _F32(0.693359375)  # 9 significant bits: k ln2_hi is exact for |k| < 2^15
_LN2_LO_F = _F32(-2.12194440e-4)
_EF = tuple(_F32(1.0 / math.factorial(i)) for i in range(8))
_TWO_M64_F = _F32(2.0**-64)


@nb.njit(inline="always", fastmath={"contract"}, error_model="numpy")
def vexpf(d):
    """``exp(d)`` for float32 ``d <= 0`` in float32 arithmetic (within 2 ULPs,
    subnormal results included; below -104 it returns 0; NaN passes). 2^k is
    applied as 2^(k+64) 2^-64 so that a subnormal result is rounded once."""
    d = d if not (d < _F32(-104.0)) else _F32(-104.0)
    t = d * _LOG2E_F + _SHIFT_F
    k = t - _SHIFT_F
    r = (d - k * _LN2_HI_F) - k * _LN2_LO_F
    r2 = r * r
    p = (_F32(1.0) + r) + r2 * ((_EF[2] + r * _EF[3]) + r2 * ((_EF[4] + r * _EF[5]) + r2 * (_EF[6] + r * _EF[7])))
    bits = np.int32(np.float32(t).view(np.int32) - np.int32(0x4B400000) + np.int32(127 + 64)) << np.int32(23)
    return (p * np.int32(bits).view(np.float32)) * _TWO_M64_F


@nb.njit(inline="always", error_model="numpy")
def vlog(v):
    """``log(v)`` for a normal float64 ``0 < v <= 1``."""
    kf, s, z = _log_reduce(v)
    q = _L[9]
    q = _L[8] + z * q
    q = _L[7] + z * q
    q = _L[6] + z * q
    q = _L[5] + z * q
    q = _L[4] + z * q
    q = _L[3] + z * q
    q = _L[2] + z * q
    q = _L[1] + z * q
    q = _L[0] + z * q
    return kf * _LN2_HI + (s * q + kf * _LN2_LO)


@nb.njit(inline="always", error_model="numpy")
def vexp_estrin(d):
    """:func:`vexp` with its degree-13 polynomial by Estrin's scheme."""
    k, r = _exp_reduce(d)
    r2 = r * r
    r4 = r2 * r2
    b0 = (1.0 + r) + r2 * (_E[2] + r * _E[3])
    b1 = (_E[4] + r * _E[5]) + r2 * (_E[6] + r * _E[7])
    b2 = (_E[8] + r * _E[9]) + r2 * (_E[10] + r * _E[11])
    p = (b0 + r4 * b1) + (r4 * r4) * (b2 + r4 * (_E[12] + r * _E[13]))
    return p * _pow2(k)


@nb.njit(inline="always", error_model="numpy")
def vlog_estrin(v):
    """:func:`vlog` with its series in ``s^2`` by Estrin's scheme."""
    kf, s, z = _log_reduce(v)
    z2 = z * z
    z4 = z2 * z2
    q = ((_L[0] + z * _L[1]) + z2 * (_L[2] + z * _L[3])) + z4 * (
        (_L[4] + z * _L[5]) + z2 * (_L[6] + z * _L[7])) + (z4 * z4) * (_L[8] + z * _L[9])
    return kf * _LN2_HI + (s * q + kf * _LN2_LO)


@nb.njit(inline="always", error_model="numpy")
def vpow(v, e):
    """``v**e`` for ``0 < v <= 1`` (normal) and ``e > 0``, branch-free."""
    return vexp(vlog(v) * e)


@nb.njit(cache=True, nogil=True)
def integer_power(beta):
    """``1/beta`` when it is an integer up to 64 (then powers are products), else 0."""
    binv = 1.0 / beta
    return int(round(binv)) if abs(binv - round(binv)) <= 1e-9 and binv <= 64 else 0
