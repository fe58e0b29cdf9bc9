r"""Why attention divides by :math:`\sqrt{d_k}`: without it the normaliser saturates.

For random queries and keys with unit-variance entries, :math:`q \cdot k` has
variance :math:`d_k`. Unscaled, the scores spread as :math:`\sqrt{d_k}`, the
largest one takes nearly all the weight, and the gradient of the attention
output :math:`O = V^\top p(s)` with respect to the scores,
:math:`\partial O / \partial s = V^\top J_p(s)`, vanishes (for sparsemax and
entmax it is exactly 0 once one key holds all the weight). Scaled, the
scores keep unit variance and the gradient keeps its size at every
:math:`d_k` (Vaswani et al. 2017, section 3.2.1).

:func:`saturation_rows` measures, per d_k, the mean over queries of the
Frobenius norm :math:`\|V^\top J_p(s)\|_F`, the mean largest weight and the
mean number of keys with a nonzero weight.

Example:
    >>> from actlab._attention.saturation import saturation_rows
    >>> rows = saturation_rows(dims=(8, 512), keys=32, queries=64)
    >>> r = {(x["normalizer"], x["d_k"], x["scaled"]): x for x in rows}
    >>> r["softmax", 512, False]["grad_norm"] < 0.5 * r["softmax", 8, False]["grad_norm"]
    True
    >>> r["sparsemax", 512, False]["max_weight"] > 0.9 > r["sparsemax", 512, True]["max_weight"]
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["saturation_rows", "saturation_table", "DIMS", "NORMALIZERS"]

DIMS = (8, 16, 32, 64, 128, 256, 512, 1024)
NORMALIZERS = ("softmax", "sparsemax", "entmax15")


def saturation_rows(dims: tuple[int, ...] = DIMS, normalizers: tuple[str, ...] = NORMALIZERS, keys: int = 64,
                    queries: int = 256, seed: int = 0) -> list[dict[str, Any]]:
    """One row per (normaliser, d_k, scaled): ``grad_norm``, ``max_weight``, ``support``."""
    from ..registry import get

    rng = np.random.default_rng(seed)
    rows = []
    for d in dims:
        q = rng.standard_normal((queries, d))
        k = rng.standard_normal((keys, d))
        v = rng.standard_normal((keys, 64))
        raw = q @ k.T
        for scaled in (True, False):
            s = raw / math.sqrt(d) if scaled else raw
            for name in normalizers:
                f = get(name).function
                p = np.asarray(f(s, axis=-1))
                jac = np.asarray(f.jacobian(s))  # type: ignore[attr-defined]
                g = jac @ v  # (queries, keys, 64): J is symmetric, so V^T J = (J V)^T
                rows.append({
                    "normalizer": name, "d_k": d, "scaled": scaled,
                    "grad_norm": float(np.mean(np.sqrt(np.sum(g * g, axis=(1, 2))))),
                    "max_weight": float(np.mean(np.max(p, axis=-1))),
                    "support": float(np.mean(np.sum(p > 0, axis=-1))),
                })
    return rows


def saturation_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)``: d_k down, one column per normaliser and scaling."""
    names = list(dict.fromkeys(r["normalizer"] for r in rows))
    header = ["d_k"] + [f"{n} {'/sqrt(d_k)' if sc else 'unscaled'}" for n in names for sc in (True, False)]
    by = {(r["normalizer"], r["d_k"], r["scaled"]): r for r in rows}
    out = []
    for d in dict.fromkeys(r["d_k"] for r in rows):
        out.append([str(d)] + [f"{by[n, d, sc]['grad_norm']:.3g} (max p {by[n, d, sc]['max_weight']:.2f})"
                               for n in names for sc in (True, False)])
    return header, out
