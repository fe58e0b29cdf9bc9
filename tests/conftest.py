"""Shared fixtures: the array backends every function must run on."""

from __future__ import annotations

import numpy as np
import pytest

BACKENDS = ["numpy", "torch", "array_api_strict"]


def to_backend(name: str, a: np.ndarray):
    """A NumPy array converted to the named backend (same dtype)."""
    if name == "numpy":
        return a
    if name == "torch":
        torch = pytest.importorskip("torch")
        return torch.from_numpy(np.ascontiguousarray(a))
    xps = pytest.importorskip("array_api_strict")
    return xps.asarray(a)


def to_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    if type(a).__module__.startswith("array_api_strict"):
        return np.from_dlpack(a)
    return np.asarray(a)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param
