"""PyTorch front-end: ``torch.nn`` modules and a ``torch.nn.functional``
namespace (:mod:`actlab.torch.functional`) with PyTorch's names and
signatures, the large-output losses, and the autograd registration of every
actlab derivative (imported here so that ``torch.compile`` finds the autograd
Functions already built).

``actlab.torch.X`` is a module (``GELU``, ``Softmax``, ``CrossEntropyLoss``,
...) and ``actlab.torch.x`` a function of :mod:`actlab.torch.functional`
(``gelu``, ``softmax``, ``cross_entropy``, ...).

Example:
    >>> import torch, actlab.torch as at
    >>> at.GELU()(torch.tensor([1.0], dtype=torch.float64)).tolist()
    [0.8413447460685429]
    >>> at.functional.cross_entropy is at.cross_entropy
    True
"""

from ..backends import torch as _torch_backend  # noqa: F401  (builds the autograd Functions)
from . import functional  # noqa: F401
from .activations import *  # noqa: F403
from .activations import __all__ as _activations_all
from .attention_modules import MultiheadAttention
from .catalogue_modules import *  # noqa: F403
from .catalogue_modules import __all__ as _catalogue_all
from .functional import *  # noqa: F403
from .functional import __all__ as _functional_all
from .large_output import (
    HierarchicalSoftmax,
    LinearCrossEntropyLoss,
    LinearEntmaxLoss,
    LinearSparsemaxLoss,
    LogUniformSampler,
    NCELoss,
    NegativeSamplingLoss,
    SampledSoftmaxLoss,
    Sampler,
    Samples,
    UniformSampler,
    UnigramSampler,
    nce_loss,
    negative_sampling_loss,
    sampled_softmax_loss,
)
from .map_modules import *  # noqa: F403
from .map_modules import __all__ as _map_modules_all
from .softmax_modules import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    DistillationLoss,
    LogSoftmax,
    NLLLoss,
    Softmax,
    Softmin,
)
from .sparse import Entmax, Entmax15, EntmaxLoss, Sparsemax, SparsemaxLoss

__all__ = [
    *_activations_all, *_catalogue_all, *_functional_all, "functional",
    "Softmax", "LogSoftmax", "Softmin", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "DistillationLoss",
    "Sparsemax", "Entmax15", "Entmax", "SparsemaxLoss", "EntmaxLoss", "MultiheadAttention",
    "LinearCrossEntropyLoss", "LinearSparsemaxLoss", "LinearEntmaxLoss", "HierarchicalSoftmax",
    "sampled_softmax_loss", "nce_loss", "negative_sampling_loss",
    "SampledSoftmaxLoss", "NCELoss", "NegativeSamplingLoss",
    "Sampler", "Samples", "UniformSampler", "LogUniformSampler", "UnigramSampler", *_map_modules_all,
]
