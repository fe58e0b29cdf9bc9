"""Vector maps onto the probability simplex (SPEC sections 2 and 3)."""

from .alternatives import hardmax, spherical_softmax, sum_normalize, taylor_softmax
from .gumbel import gumbel_softmax
from .logsumexp import logsumexp
from .softmax import log_softmax, softmax, softmin

__all__ = [
    "softmax", "softmin", "log_softmax", "logsumexp", "hardmax", "sum_normalize",
    "spherical_softmax", "taylor_softmax", "gumbel_softmax",
]
