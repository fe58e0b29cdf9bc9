"""Vector maps onto the probability simplex (SPEC sections 2 and 3)."""

from .softmax import log_softmax, softmax, softmin

__all__ = ["softmax", "softmin", "log_softmax"]
