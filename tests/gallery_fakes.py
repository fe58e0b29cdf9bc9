"""Small stand-ins for maps and losses that other parts of actlab provide
(softmax, sparsemax, sum_normalize, hardmax, the sparsemax loss), registered
only while a test needs them and only when the real ones are absent, so the
CLI and gallery tests exercise vector maps and losses either way.

Each is the textbook formula of SPEC sections 2 and 3 in plain NumPy.
"""

from __future__ import annotations

import contextlib

import numpy as np

from actlab import registry as _entries
from actlab._simplex import simplex_map
from actlab.registry import _REGISTRY, Entry, Properties, register

NAMES = ("softmax", "sparsemax", "sum_normalize", "hardmax", "sparsemax_loss")


def _softmax(x, *, xp):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _softmax_vjp(x, y, g, *, xp):
    return y * (g - np.sum(g * y, axis=-1, keepdims=True))


def _tau(z):
    """Threshold of sparsemax (Martins & Astudillo 2016, algorithm 1)."""
    zs = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    cums = np.cumsum(zs, axis=-1)
    support = 1 + k * zs > cums
    kz = np.sum(support, axis=-1, keepdims=True)
    return (np.take_along_axis(cums, kz - 1, axis=-1) - 1) / kz


def _sparsemax(x, *, xp):
    return np.maximum(x - _tau(x), 0.0)


def _sparsemax_vjp(x, y, g, *, xp):
    s = (y > 0).astype(y.dtype)
    return s * (g - np.sum(g * s, axis=-1, keepdims=True) / np.sum(s, axis=-1, keepdims=True))


def _sum_normalize(x, *, xp):
    if np.any(x < 0) or np.any(np.sum(x, axis=-1) <= 0):
        raise ValueError(f"sum_normalize(): x must be non-negative with a positive sum, got {x.tolist()}")
    return x / np.sum(x, axis=-1, keepdims=True)


def _sum_normalize_vjp(x, y, g, *, xp):
    return (g - np.sum(g * y, axis=-1, keepdims=True)) / np.sum(x, axis=-1, keepdims=True)


def _hardmax(x, *, xp):
    top = (x == np.max(x, axis=-1, keepdims=True)).astype(x.dtype)
    return top / np.sum(top, axis=-1, keepdims=True)


def _zero_vjp(x, y, g, *, xp):
    return np.zeros_like(g)


def sparsemax_loss(z, target, reduction="mean"):
    """-z_k + 1/2 sum_{j in S} (z_j^2 - tau^2) + 1/2 (SPEC section 3)."""
    z = np.asarray(z, dtype=float)
    target = np.asarray(target)
    if target.dtype.kind == "f":
        raise TypeError("class targets must be integers")
    tau = _tau(z)
    s = z > tau
    loss = -np.take_along_axis(z, target[:, None], axis=-1)[:, 0] + 0.5 * np.sum(np.where(s, z**2 - tau**2, 0.0), axis=-1) + 0.5
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def _make(name):
    props = Properties((0.0, 1.0), monotone=True, smooth=name == "softmax", zero_centred=False, bounded=True)
    if name == "sparsemax_loss":
        return Entry(name=name, kind="loss", family="loss (test stand-in)", function=sparsemax_loss, params=(),
                     latex=r"-z_k+\tfrac12\sum_{j\in S}(z_j^2-\tau^2)+\tfrac12", dlatex=r"\mathrm{sparsemax}(z)-e_k",
                     properties=None, reference="test stand-in", xlim=(-3.0, 3.0))
    forward, vjp, latex, temp = {
        "softmax": (_softmax, _softmax_vjp, r"\frac{e^{z_i}}{\sum_j e^{z_j}}", True),
        "sparsemax": (_sparsemax, _sparsemax_vjp, r"[z_i-\tau(z)]_+", True),
        "sum_normalize": (_sum_normalize, _sum_normalize_vjp, r"\frac{z_i}{\sum_j z_j}", False),
        "hardmax": (_hardmax, _zero_vjp, r"\frac{[z_i=\max_j z_j]}{|\arg\max z|}", True),
    }[name]
    forward.__name__ = name
    simplex_map(family="simplex (test stand-in)", latex=latex, dlatex=r"\mathrm{diag}(p)-pp^\top", vjp=vjp,
                reference="test stand-in", temperature=temp, properties=props)(forward)
    return None


@contextlib.contextmanager
def stand_ins():
    """Register the stand-ins that are missing; remove them afterwards. Yields their names."""
    known = {e.name for e in _entries()}
    added = [n for n in NAMES if n not in known]
    try:
        for name in added:
            entry = _make(name)
            if entry is not None:
                register(entry)
        yield added
    finally:
        for name in added:
            _REGISTRY.pop(name, None)
