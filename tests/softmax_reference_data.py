"""Reading the mpmath references of ``scripts/make_softmax_references.py`` and
measuring errors in ULPs of the output dtype (shared by the tests and the
accuracy benchmark)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "softmax_references.npz"


def load():
    """A list of rows: dicts with x (float64 or float32 array), num, den and
    the references as (hi, lo) arrays: softmax, log_softmax (K, 2), logsumexp (2,)."""
    d = np.load(DATA)
    rows = []
    for i in range(len(d["num"])):
        a, b = d["offsets"][i], d["offsets"][i + 1]
        f32 = bool(d["is_float32"][i])
        rows.append({
            "x": d["x"][a:b].astype(np.float32 if f32 else np.float64),
            "num": float(d["num"][i]), "den": float(d["den"][i]),
            "softmax": d["softmax"][a:b], "log_softmax": d["log_softmax"][a:b], "logsumexp": d["logsumexp"][i],
        })
    return rows


def ulp_error(got, ref, dtype) -> np.ndarray:
    """|got - ref| in ULPs of ``dtype`` at ref; ref is (..., 2) hi+lo pairs.
    Equal infinities count 0, an infinity against a finite value inf."""
    got = np.asarray(got, dtype=np.float64)
    hi, lo = ref[..., 0], ref[..., 1]
    info = np.finfo(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs((got - hi) - lo)
        exp = np.floor(np.log2(np.where(hi == 0, info.tiny, np.abs(np.where(np.isfinite(hi), hi, 1.0)))))
        ulp = np.maximum(np.exp2(exp - (info.nmant)), info.smallest_subnormal)
        err = diff / ulp
    same = (got == hi) & np.isinf(hi)
    return np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))
