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

DTYPES: dict[torch.dtype, Any] = {torch.float32: np.float32, torch.float64: np.float64,
                                  torch.bfloat16: "bfloat16"}
"""The tensor dtypes a loop reads and writes (bfloat16 as its bits)."""


def _flat(t: torch.Tensor) -> np.ndarray:
    t = t.detach().reshape(-1)
    return t.view(torch.int16).numpy().view(np.uint16) if t.dtype == torch.bfloat16 else t.numpy()


def run(spec: ElementwiseSpec, x: torch.Tensor, g: torch.Tensor | None, values: tuple[Any, ...],
        derivative: bool) -> torch.Tensor:
    """``f(x)`` (``derivative``: ``f'(x)``, or ``g f'(x)`` where ``g`` is given)
    by the generated loop."""
    from ..numba_formula import elementwise_loop  # (numba: imported on the first loop)

    loop = elementwise_loop(spec, DTYPES[x.dtype], values, derivative, scaled=g is not None)
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if g is None:
        loop.run(_flat(x), out=_flat(out))
    else:
        loop.run(_flat(x), _flat(g.to(x.dtype).expand_as(x)), out=_flat(out))
    return out
