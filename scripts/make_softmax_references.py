"""Generate the mpmath references for softmax, log_softmax and logsumexp.

Writes ``tests/data/softmax_references.npz``: rows of scores (exact binary
float64 values; float32 rows hold float32-representable values), the scale
``num/den`` applied to each row (the temperature), and the exact results at
256-bit precision stored as double-doubles ``hi + lo``, so a float64 result
can be measured in ULPs without rounding the reference first.

Run once (about a minute): ``python scripts/make_softmax_references.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import mpmath
import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "softmax_references.npz"
mpmath.mp.prec = 256


def dd(v: mpmath.mpf) -> tuple[float, float]:
    """``v`` as a double-double (hi, lo); infinities and zeros as (v, 0)."""
    if mpmath.isinf(v) or v == 0:
        return float(v), 0.0
    hi = float(v)
    lo = float(v - mpmath.mpf(hi))
    return hi, lo


def reference(row: np.ndarray, num: float, den: float) -> tuple[list, list, mpmath.mpf]:
    z = [mpmath.mpf(float(v)) * mpmath.mpf(num) / mpmath.mpf(den) for v in row]
    top = max(range(len(z)), key=lambda i: z[i])
    m = z[top]
    e = [mpmath.exp(v - m) for v in z]
    rest = mpmath.fsum(e[:top] + e[top + 1 :])
    s = 1 + rest
    log_s = mpmath.log1p(rest)  # log(1 + rest) would round 1 + 1e-85 to 1 even at 256 bits
    return [v / s for v in e], [v - m - log_s for v in z], m + log_s


def cases() -> list[tuple[str, np.ndarray, float, float]]:
    rng = np.random.default_rng(20240603)
    out = []
    for dtype in ("float64", "float32"):
        cast = np.float64 if dtype == "float64" else np.float32
        for scale in (1.0, 10.0, 100.0, 1000.0):
            for k in (2, 3, 10, 100, 1000):
                for _ in range(3 if k < 1000 else 2):
                    out.append((dtype, (rng.standard_normal(k) * scale).astype(cast), 1.0, 1.0))
        # uniform scores, shifted far from 0 (large common offset, small spread)
        for offset in (1e3, -1e5, 3e7):
            out.append((dtype, (offset + rng.uniform(-20, 20, 50)).astype(cast), 1.0, 1.0))
        # temperatures (1/T = num/den) and base 2 (beta = ln 2)
        for num, den in ((1.0, 0.3), (1.0, 3.0), (1.0, -2.0), (1.0, 7.0), (math.log(2.0), 1.0), (1.0, 1e-3)):
            for scale in (1.0, 100.0):
                out.append((dtype, (rng.standard_normal(20) * scale).astype(cast), num, den))
        # dominant entries, ties, K = 1
        special = [
            [0.0, -50.0], [0.0, -745.0], [0.0, -30.0, -40.0], [1000.0, 0.0], [-1000.0, -1050.0],
            [5.0, 5.0 - 2.0**-20], [1.0, 1.0, 1.0], [3.0], [-7.5], [0.0, -20.0, -20.0, -20.0],
            [1e30, 1e30 * (1 - 2.0**-23), 0.0], [88.0, -88.0], [-0.5, -0.6],
        ]
        for row in special:
            out.append((dtype, np.asarray(row, dtype=cast), 1.0, 1.0))
    return out


def main() -> None:
    xs, offsets, kinds, nums, dens = [], [0], [], [], []
    sm, ls, lse = [], [], []
    for dtype, row, num, den in cases():
        p, lp, total = reference(row, num, den)
        xs.extend(float(v) for v in row)
        offsets.append(len(xs))
        kinds.append(0 if dtype == "float64" else 1)
        nums.append(num)
        dens.append(den)
        sm.extend(dd(v) for v in p)
        ls.extend(dd(v) for v in lp)
        lse.append(dd(total))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT, x=np.asarray(xs), offsets=np.asarray(offsets), is_float32=np.asarray(kinds, dtype=bool),
        num=np.asarray(nums), den=np.asarray(dens), softmax=np.asarray(sm), log_softmax=np.asarray(ls),
        logsumexp=np.asarray(lse),
    )
    print(f"wrote {OUT} ({len(kinds)} rows, {len(xs)} entries)")


if __name__ == "__main__":
    main()
