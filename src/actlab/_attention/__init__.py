"""Attention with a pluggable normaliser (array API): softmax with a sink,
sparsemax, entmax, sigmoid, softpick, ReLU, stick-breaking, any map of the
registry or a callable; a dense reference path and a blocked path that never
holds the L x S scores. :func:`attention` is the front door; the torch
front-ends are ``actlab.torch.functional.scaled_dot_product_attention`` and
``actlab.torch.MultiheadAttention``."""

from .front import DENSE_LIMIT, attention, attention_with_weights
from .normalizers import get_normalizer, names

__all__ = ["attention", "attention_with_weights", "names", "get_normalizer", "DENSE_LIMIT"]
