"""Double-word arithmetic: a value carried as ``hi + lo`` (two floats of the
working dtype, |lo| about ulp(hi)/2 or less), so that a chain of operations
is rounded about once, when ``value()`` adds the halves.

Built on the error-free transformations of ``actlab._xp`` (TwoSum and
Dekker's product), with plain operations only: any array namespace, and
``torch.compile`` traces through it. The error bounds are those of
Joldes, Muller & Popescu, "Tight and rigorous error bounds for basic
building blocks of double-word arithmetic", ACM TOMS 44 (2017): a few
units of 2^-2p per operation (p = 53 for float64).

Used by the float64 kernels whose results would otherwise collect four to
six roundings (up to 4-5 ULPs near the top of a binade).
"""

from __future__ import annotations

from typing import Any

from .._xp import mul_exact, two_prod, two_sum

__all__ = ["DW", "exp_dw", "lift"]

Const = float | tuple[float, float]


class DW:
    """``hi + lo`` with the operations +, -, *, / between double words, arrays
    and constants (a Python float, or a ``(hi, lo)`` pair of Python floats
    for a constant known to twice the precision)."""

    __slots__ = ("hi", "lo", "xp")

    def __init__(self, hi: Any, lo: Any, xp: Any):
        self.hi, self.lo, self.xp = hi, lo, xp

    @classmethod
    def of(cls, x: Any, xp: Any) -> DW:
        """An exact array as a double word."""
        return cls(x, xp.zeros_like(x), xp)

    def _lift(self, o: Any) -> DW:
        if isinstance(o, DW):
            return o
        if isinstance(o, tuple):
            return DW(self.xp.zeros_like(self.hi) + o[0], self.xp.zeros_like(self.hi) + o[1], self.xp)
        if isinstance(o, (int, float)):
            return DW(self.xp.zeros_like(self.hi) + o, self.xp.zeros_like(self.hi), self.xp)
        return DW.of(o, self.xp)

    def __add__(self, o: Any) -> DW:
        o = self._lift(o)
        s, e = two_sum(self.hi, o.hi)
        return DW(s, e + (self.lo + o.lo), self.xp)

    __radd__ = __add__

    def __neg__(self) -> DW:
        return DW(-self.hi, -self.lo, self.xp)

    def __sub__(self, o: Any) -> DW:
        return self + (-self._lift(o))

    def __rsub__(self, o: Any) -> DW:
        return (-self) + self._lift(o)  # the constant second (see two_sum)

    def __mul__(self, o: Any) -> DW:
        xp = self.xp
        if isinstance(o, (int, float)):
            m, me = mul_exact(float(o), self.hi, xp=xp)
            return DW(m, me + o * self.lo, xp)
        if isinstance(o, tuple):
            m, me = mul_exact(o[0], self.hi, xp=xp)
            return DW(m, me + (o[0] * self.lo + o[1] * self.hi), xp)
        o = self._lift(o)
        m, me = two_prod(self.hi, o.hi, xp=xp)
        return DW(m, me + (self.hi * o.lo + self.lo * o.hi), xp)

    __rmul__ = __mul__

    def __truediv__(self, o: Any) -> DW:
        o = self._lift(o)
        q = self.hi / o.hi
        r, re = two_prod(q, o.hi, xp=self.xp)
        return DW(q, (((self.hi - r) - re) + self.lo - q * o.lo) / o.hi, self.xp)

    def __rtruediv__(self, o: Any) -> DW:
        return self._lift(o) / self

    def scale(self, s: Any) -> DW:
        """Multiplied by an exact power of two (or an array of them)."""
        return DW(self.hi * s, self.lo * s, self.xp)

    def value(self) -> Any:
        """The double word rounded to the working dtype."""
        return self.hi + self.lo


def lift(v: Any, xp: Any) -> Any:
    """A Python number as it is, an array as an exact double word: the other
    operand of a double-word operation is never a bare array, which
    ``torch.compile`` cannot trace (``DW - tensor``)."""
    return v if isinstance(v, (int, float, tuple)) else DW.of(v, xp)


_LN2_40 = (0.6931471805601177, -1.7239444525614835e-13, 1.94704509238075e-31)  # ln 2: a 40-bit head, then two parts
_INV_LN2 = 1.4426950408889634


def _inverse(n: int) -> tuple[float, float]:
    from fractions import Fraction

    hi = 1.0 / n
    return hi, float(Fraction(1, n) - Fraction(hi))


_INV = {n: _inverse(n) for n in range(2, 10)}


def exp_dw(a: Any, xp: Any) -> DW:
    """``exp(a)`` as a double word, to about 2^-100 relative, for an exact
    array ``a`` with ``-700 <= a <= 700`` (callers clip).

    Where a later step subtracts it from a number of its size (``e^x - 1 - x``)
    or feeds it to another exponential (``exp(-e^{-x})``), the 0.5-ULP error of
    the backend's ``exp`` would be amplified; here ``a = k ln2 + r`` (Cody and
    Waite's reduction, ``k ln2`` formed exactly), ``e^{r/256} - 1`` from its
    Taylor series (nine terms, in double words) and squared back eight
    times as ``m <- m (m + 2)``, then scaled by the exact power ``2^k``.
    """
    k = xp.floor(a * _INV_LN2 + 0.5)
    r0 = a - k * _LN2_40[0]  # exact (Sterbenz; k * ln2's 40-bit head is exact)
    r = DW(r0, xp.zeros_like(r0), xp) - DW.of(k, xp) * _LN2_40[1] - DW.of(k * _LN2_40[2], xp)
    s = r.scale(1.0 / 256.0)
    # e^s - 1 = s (1 + s/2 (1 + s/3 (...))), every step in double words
    p = s * _INV[9] + 1.0
    for n in range(8, 1, -1):
        p = p * s * _INV[n] + 1.0
    m = s * p
    for _ in range(8):
        m = m * (m + 2.0)
    half = xp.floor(k * 0.5)
    return (m + 1.0).scale(2.0**half).scale(2.0 ** (k - half))
