"""Backends: the only modules that know a framework (NumPy, PyTorch, numba).

Each exposes ``BACKEND``, an :class:`actlab._backend.Backend`: the array
namespace the math calls plus the declared extras (native kernels, "may I
branch on values", autograd registration, device/dtype policy, random
draws). :func:`actlab._backend.backend_of` loads one when an array of its
framework first reaches actlab; nothing here is imported by ``import actlab``
except the NumPy backend on first use.
"""
