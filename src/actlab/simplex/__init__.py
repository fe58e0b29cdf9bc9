"""Vector maps onto the probability simplex ."""

# Import order is registration order: the softmax family first in the registry.
# isort: off
from .softmax import log_softmax, softmax, softmin
from .logsumexp import logsumexp
from .alternatives import hardmax, spherical_softmax, sum_normalize, taylor_softmax
from .gumbel import gumbel_softmax
# isort: on

__all__ = [
    "softmax", "softmin", "log_softmax", "logsumexp", "hardmax", "sum_normalize",
    "spherical_softmax", "taylor_softmax", "gumbel_softmax",
]
