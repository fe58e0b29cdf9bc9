r"""Attention saturation without the :math:`1/\sqrt{d_k}` scale (Vaswani et
al. 2017, arXiv 1706.03762, section 3.2.1): the gradient of the attention
output with respect to the scores, for softmax, sparsemax and entmax15,
measured by :func:`actlab._attention.saturation.saturation_rows`.

Example:
    >>> from actlab.reproduce.attention import run
    >>> rows = run(progress=False, dims=(8, 64), keys=16, queries=8)
    >>> sorted({r["d_k"] for r in rows})
    [8, 64]
"""

from __future__ import annotations

from typing import Any

from .._attention.saturation import DIMS, saturation_rows, saturation_table
from ._report import Experiment, Progress

__all__ = ["run", "EXPERIMENT"]


def run(full: bool = False, progress: bool = True, seed: int = 0, *, dims: tuple[int, ...] | None = None,
        keys: int = 64, queries: int | None = None) -> list[dict[str, Any]]:
    """Rows ``normalizer, d_k, scaled, grad_norm, max_weight, support``; ``full``: 2048 queries."""
    dims = dims or DIMS
    queries = queries or (2048 if full else 256)
    if any(d < 1 for d in dims) or keys < 2 or queries < 1:
        raise ValueError(f"dims, keys (>= 2) and queries must be positive, got {dims}, {keys}, {queries}")
    with Progress(1, "attention-saturation", progress) as bar:
        rows = saturation_rows(dims=tuple(dims), keys=keys, queries=queries, seed=seed)
        bar.step()
    return rows


EXPERIMENT = Experiment(
    name="attention-saturation",
    title="Attention without the 1/sqrt(d_k) scale saturates (Vaswani et al. 2017, sec. 3.2.1)",
    paper=("For large d_k the dot products grow in magnitude, pushing the softmax into regions with extremely "
           "small gradients; scaling by 1/sqrt(d_k) counteracts it (no table: a stated argument)."),
    protocol=("Random unit-variance queries, keys and values; gradient norm ||dO/ds||_F averaged over queries "
              "(in brackets the mean largest weight); sparsemax and entmax15 added."),
    fields=("normalizer", "d_k", "scaled", "grad_norm", "max_weight", "support"),
    run=run,
    table=saturation_table,
)
