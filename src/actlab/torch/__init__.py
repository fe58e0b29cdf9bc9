"""PyTorch front-end: ``torch.nn`` modules, the large-output losses, and the
autograd registration of every actlab derivative (imported here so that
``torch.compile`` finds the autograd Functions already built).

Example:
    >>> import torch, actlab.torch as at
    >>> at.GELU()(torch.tensor([1.0], dtype=torch.float64)).tolist()
    [0.8413447460685429]
"""

from ..backends import torch as _torch_backend  # noqa: F401  (builds the autograd Functions)
from .activations import *  # noqa: F403
from .activations import __all__ as _activations_all
from .large_output import (
    HierarchicalSoftmax,
    LinearCrossEntropyLoss,
    LogUniformSampler,
    NCELoss,
    NegativeSamplingLoss,
    SampledSoftmaxLoss,
    Sampler,
    Samples,
    UniformSampler,
    UnigramSampler,
    linear_cross_entropy,
    nce_loss,
    negative_sampling_loss,
    sampled_softmax_loss,
)
from .softmax import BCEWithLogitsLoss, CrossEntropyLoss, DistillationLoss, LogSoftmax, Softmax, Softmin
from .sparse import Entmax, Entmax15, EntmaxLoss, Sparsemax, SparsemaxLoss

__all__ = [
    *_activations_all,
    "Softmax", "LogSoftmax", "Softmin", "CrossEntropyLoss", "BCEWithLogitsLoss", "DistillationLoss",
    "Sparsemax", "Entmax15", "Entmax", "SparsemaxLoss", "EntmaxLoss",
    "linear_cross_entropy", "LinearCrossEntropyLoss", "HierarchicalSoftmax",
    "sampled_softmax_loss", "nce_loss", "negative_sampling_loss",
    "SampledSoftmaxLoss", "NCELoss", "NegativeSamplingLoss",
    "Sampler", "Samples", "UniformSampler", "LogUniformSampler", "UnigramSampler",
]
