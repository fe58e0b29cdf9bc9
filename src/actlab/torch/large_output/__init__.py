"""Losses for large output spaces (PyTorch only).

Fused linear cross-entropy and sparsemax/entmax losses, hierarchical softmax over a Huffman tree, sampled
softmax, noise-contrastive estimation and negative sampling. These modules
import torch, so ``import actlab`` does not import this package; it is
exposed through ``actlab.torch``.
"""

from .fused_cross_entropy import DEFAULT_MEMORY_BUDGET, LinearCrossEntropyLoss, linear_cross_entropy
from .fused_sparse_losses import (
    LinearEntmaxLoss,
    LinearSparsemaxLoss,
    linear_entmax_loss,
    linear_sparsemax_loss,
)
from .hierarchical import HierarchicalSoftmax
from .sampled_losses import (
    NCELoss,
    NegativeSamplingLoss,
    SampledSoftmaxLoss,
    nce_loss,
    negative_sampling_loss,
    sampled_softmax_loss,
)
from .sampling import LogUniformSampler, Sampler, Samples, UniformSampler, UnigramSampler

__all__ = [
    "linear_cross_entropy", "LinearCrossEntropyLoss", "DEFAULT_MEMORY_BUDGET",
    "linear_sparsemax_loss", "linear_entmax_loss", "LinearSparsemaxLoss", "LinearEntmaxLoss",
    "HierarchicalSoftmax",
    "sampled_softmax_loss", "nce_loss", "negative_sampling_loss",
    "SampledSoftmaxLoss", "NCELoss", "NegativeSamplingLoss",
    "Sampler", "Samples", "UniformSampler", "LogUniformSampler", "UnigramSampler",
]
