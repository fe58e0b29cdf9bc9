"""The mpmath reference values of the element-wise activations (written by
``scripts/make_references.py``) and the ULP scoring the accuracy tests and
``benchmarks/accuracy.py`` share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "elementwise_references.npz"
#: the catalogue's functions (``make_references.py --catalogue``), on a grid with their own roots
CATALOGUE = DATA.with_name("elementwise_references_catalogue.npz")

_PRECISION = {np.dtype(np.float64): (53, -1022), np.dtype(np.float32): (24, -126)}


@dataclass(frozen=True)
class Reference:
    """One function with one set of parameters on the stored grid."""

    id: str
    name: str
    params: dict[str, Any]
    x: np.ndarray  # float64; float32 results are scored where ``is_f32``
    is_f32: np.ndarray
    value: tuple[np.ndarray, np.ndarray]  # (hi, frac) of the exact value
    derivative: tuple[np.ndarray, np.ndarray]

    def grid(self, dtype) -> np.ndarray:
        """The grid points exactly representable in ``dtype``, as that dtype."""
        x = self.x if np.dtype(dtype) == np.float64 else self.x[self.is_f32]
        return x.astype(dtype)

    def exact(self, what: str, dtype) -> tuple[np.ndarray, np.ndarray]:
        hi, frac = getattr(self, what)
        if np.dtype(dtype) == np.float64:
            return hi, frac
        return hi[self.is_f32], frac[self.is_f32]


def load(path: Path | None = None) -> list[Reference]:
    """Every stored case (both files unless ``path`` names one)."""
    if path is None:
        return load(DATA) + (load(CATALOGUE) if CATALOGUE.exists() else [])
    with np.load(path) as z:
        x, is_f32 = z["x"], z["is_f32"]
        meta = json.loads(str(z["cases"]))
        return [
            Reference(
                m["id"], m["name"], m["params"], x, is_f32,
                (z[f"{m['id']}|value|hi"], z[f"{m['id']}|value|frac"].astype(np.float64)),
                (z[f"{m['id']}|derivative|hi"], z[f"{m['id']}|derivative|frac"].astype(np.float64)),
            )
            for m in meta
        ]


def ulp_errors(y: Any, exact: tuple[np.ndarray, np.ndarray], dtype) -> np.ndarray:
    """|y - exact| in ULPs of ``dtype`` at the exact value; below the smallest
    normal number the ULP is the smallest subnormal. Where the exact value
    rounds to +-inf in ``dtype`` the error is 0 for that infinity and inf
    otherwise; NaN where the exact value is a number scores inf, and where
    the exact value is NaN (outside a domain, no limit at +-inf) anything
    but NaN does."""
    dtype = np.dtype(dtype)
    p, emin = _PRECISION[dtype]
    hi, frac = exact
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = hi.astype(dtype).astype(np.float64)
        _, e = np.frexp(np.abs(hi))
        e = np.where(hi == 0, emin - p, e)
        ulp = np.ldexp(1.0, np.maximum(e - p, emin - p + 1))
        scaled_frac = frac * np.ldexp(1.0, np.maximum(e - 53, -1074)) / ulp
        err = np.abs((y - hi) / ulp - scaled_frac)
    err = np.where(np.isinf(rounded), np.where(y == rounded, 0.0, np.inf), err)
    err = np.where(np.isnan(hi), np.where(np.isnan(y), 0.0, np.inf), err)
    return np.where(np.isnan(err), np.inf, err)


def worst(err: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(largest error, the x where it occurs)."""
    i = int(np.argmax(err))
    return float(err[i]), float(x[i])
