r"""Vocab-parallel maps and losses on ``torch.distributed``: the output layer's
classes split across the ranks of a process group, each rank holding its
columns of the logits (``(..., V_local)``, classes last, or a DTensor sharded
``Shard(-1)``, as ``torch.distributed.tensor.parallel.loss_parallel`` takes).

- :func:`vocab_parallel_cross_entropy` (label smoothing, z-loss, ignore_index);
- :func:`vocab_parallel_sparsemax` and :func:`vocab_parallel_entmax` (each
  rank gets its columns of the map);
- :func:`vocab_parallel_sparsemax_loss` and :func:`vocab_parallel_entmax_loss`
  (the loss on every rank; each rank's backward gives its own columns'
  gradient);
- :func:`vocab_parallel_linear_cross_entropy`,
  :func:`vocab_parallel_linear_sparsemax_loss` and
  :func:`vocab_parallel_linear_entmax_loss`: the same losses fused with the
  output layer, each rank holding its rows of the weight (and bias), the
  scores formed a chunk of rows at a time; the input's gradient is one SUM
  ``all_reduce`` of ``N x d`` in the backward.

Only ``all_reduce`` (MAX and SUM) of a few scalars per row is communicated:
the maps' and losses' threshold comes from per-shard sums (a search whose
steps each all-reduce 2-4 numbers per row, ending exactly on the support);
the losses' backward needs no communication, the maps' one number per row.
Targets are global class indices; shard ``r`` holds classes
``[r * V_local, (r + 1) * V_local)`` unless ``vocab_offset`` says otherwise.
The sparse maps and losses are, to our knowledge, the first distributed
sparsemax/entmax (Martins & Astudillo 2016; Peters, Niculae & Martins 2019).
"""

from .linear_losses import (
    vocab_parallel_linear_cross_entropy,
    vocab_parallel_linear_entmax_loss,
    vocab_parallel_linear_sparsemax_loss,
)
from .losses import vocab_parallel_cross_entropy, vocab_parallel_entmax_loss, vocab_parallel_sparsemax_loss
from .maps import vocab_parallel_entmax, vocab_parallel_sparsemax

__all__ = [
    "vocab_parallel_cross_entropy",
    "vocab_parallel_sparsemax",
    "vocab_parallel_entmax",
    "vocab_parallel_sparsemax_loss",
    "vocab_parallel_entmax_loss",
    "vocab_parallel_linear_cross_entropy",
    "vocab_parallel_linear_sparsemax_loss",
    "vocab_parallel_linear_entmax_loss",
]
