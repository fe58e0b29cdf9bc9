"""The generated element-wise loops on CPU tensors (float32 and float64).

:func:`actlab.backends.numba_formula.elementwise_loop` compiles one numba
loop per (function, dtype, pass) from the function's one definition; here
it runs on the tensors' memory (NumPy views, no copy for contiguous
tensors), writing a fresh contiguous tensor shaped like ``x``.

Example:
    >>> import torch, actlab
    >>> from actlab.backends.torch.loop_kernels import run
    >>> run(actlab.silu.spec, torch.zeros(2), None, (), derivative=True).tolist()
    [0.5, 0.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..._activation import ElementwiseSpec

__all__ = ["run", "DTYPES"]

DTYPES: dict[torch.dtype, Any] = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64),
                                  torch.bfloat16: "bfloat16"}
"""The tensor dtypes a loop reads and writes (bfloat16 as its bits)."""


_BITS = {torch.bfloat16: (torch.int16, np.uint16)}
_ONE = {np.dtype(np.float32): 1.0, np.dtype(np.float64): 1.0, np.dtype(np.uint16): 0x3F80}  # (bfloat16's 1.0)
_PARALLEL_MIN = 1 << 18  # (numba_formula.PARALLEL_MIN, read without importing numba)


def _flat(t: torch.Tensor) -> np.ndarray:
    """The entries of ``t`` as a flat ndarray (a view where t is contiguous;
    bfloat16 as its bits)."""
    if t.requires_grad:
        t = t.detach()
    bits = _BITS.get(t.dtype)
    a = t.numpy() if bits is None else t.view(bits[0]).numpy().view(bits[1])
    return np.ascontiguousarray(a.reshape(-1))  # (an expanded gradient has stride 0: one layout, one compile)


_NUMBA: list[Any] = []


def _numba() -> Any:
    """``(elementwise_loop, empty_apart)``: numba is imported on the first loop."""
    if not _NUMBA:
        from ..numba_formula import elementwise_loop
        from ..numba_width import empty_apart

        _NUMBA.extend((elementwise_loop, empty_apart))
    return _NUMBA


def run(spec: ElementwiseSpec, x: torch.Tensor, g: torch.Tensor | None, values: tuple[Any, ...],
        derivative: bool) -> torch.Tensor:
    """``f(x)`` (``derivative``: ``f'(x)``, or ``g f'(x)`` where ``g`` is given)
    by the generated loop, on as many threads as torch uses (from
    :data:`~actlab.backends.numba_formula.PARALLEL_MIN` entries on). A
    derivative always takes the VJP's loop (``f'(x)`` as ``1 f'(x)``, exact):
    one loop to compile per function and dtype, not two."""
    elementwise_loop, empty_apart = _numba()
    loop = elementwise_loop(spec, DTYPES[x.dtype], values, derivative, scaled=derivative)
    xs = _flat(x)
    out = empty_apart(xs).reshape(x.shape)  # (NumPy's allocation, wrapped: cheaper than torch.empty + views)
    threads = torch.get_num_threads() if xs.shape[0] >= _PARALLEL_MIN else 1
    if not derivative:
        loop.run(xs, out=out.reshape(-1), threads=threads)
    else:
        gs = _flat(g.to(x.dtype).expand_as(x)) if g is not None else np.full(xs.shape, _ONE[xs.dtype], xs.dtype)
        loop.run(xs, gs, out=out.reshape(-1), threads=threads)
    if x.dtype in _BITS:
        return torch.from_numpy(out.view(np.int16)).view(x.dtype)
    return torch.from_numpy(out)
