r"""Full-width vectors for numba kernels on CPUs with AVX-512.

LLVM's x86 backend vectorises for 256-bit registers on the Intel cores that
have AVX-512 (Skylake-X onwards: the ``prefer-256-bit`` tuning, a guard
against the frequency drop of the first AVX-512 cores), so a numba loop gets
four float64 lanes where the hardware has eight. Calling :func:`wide` in a
kernel sets the two LLVM function attributes clang sets for
``-mprefer-vector-width=512`` (``"prefer-vector-width"="512"`` and
``"min-legal-vector-width"="512"``) on the LLVM function being compiled, so
that its loops use 512-bit vectors. It changes the vector width only, not
the arithmetic (a reassociated sum is added in another order: a different
rounding, within the same error bound). On a CPU without AVX-512 it does
nothing (the attributes are not added).

Only the function that calls :func:`wide` is affected; a helper compiled
separately (not ``inline="always"``) keeps LLVM's default unless it calls it
too.

:func:`empty_apart` allocates a kernel's output 2 KiB away from its input
modulo 4 KiB: a loop that stores to one while it loads from the other at
the same index otherwise stalls when the two addresses agree in their low
12 bits ("4K aliasing": the load waits for the store it cannot tell apart;
measured 4-5x slower for the bfloat16 log-softmax at (256, 32000), where
NumPy's and torch's allocations happened to be 16 bytes apart).

Example:
    >>> import numba as nb
    >>> import numpy as np
    >>> @nb.njit
    ... def total(a):
    ...     wide()
    ...     s = 0.0
    ...     for v in a:
    ...         s += v
    ...     return s
    >>> float(total(np.arange(4.0)))
    6.0
"""

from __future__ import annotations

from typing import Any

import llvmlite.binding as ll
import numpy as np
from numba.core import types
from numba.extending import intrinsic

__all__ = ["wide", "HAS_AVX512", "empty_apart"]

HAS_AVX512 = bool(ll.get_host_cpu_features().get("avx512f", False))
_ATTRIBUTES = ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"')


@intrinsic
def wide(typingctx: Any) -> Any:
    """Vectorise the calling kernel for 512-bit registers (where the CPU has AVX-512)."""

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        if HAS_AVX512:
            attributes = builder.function.attributes
            for a in _ATTRIBUTES:  # llvmlite's AttributeSet.add knows only flag attributes
                set.add(attributes, a)
        return context.get_dummy_value()

    return types.none(), codegen


_PAGE = 4096


_SMALL_BYTES = 1 << 16


def empty_apart(x: np.ndarray) -> np.ndarray:
    """An uninitialised C-contiguous array of ``x``'s shape and dtype whose
    address differs from ``x``'s by 2 KiB modulo 4 KiB (a view into a
    slightly larger buffer); below 64 KiB, where the stalls cost little
    against the call, plain ``np.empty_like``."""
    if x.nbytes < _SMALL_BYTES:
        return np.empty_like(x, order="C")
    item = x.dtype.itemsize
    raw = np.empty(x.size + _PAGE // item, x.dtype)
    shift = (x.ctypes.data + _PAGE // 2 - raw.ctypes.data) % _PAGE // item
    return raw[shift : shift + x.size].reshape(x.shape)
