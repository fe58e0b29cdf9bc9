"""The PyTorch backend: torch's namespace for the math, torch's accurate
kernels, autograd registration of every actlab derivative, and torch's
device, dtype and random-number conventions.

Loaded by :func:`actlab._backend.backend_of` the first time a tensor reaches
actlab (torch is then already imported), and by :mod:`actlab.torch`.

Example:
    >>> import torch, actlab
    >>> from actlab._backend import backend_of
    >>> backend_of(torch.zeros(1)).name
    'torch'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..._backend import Backend, Kernels
from . import ce_kernels, namespace, softmax_kernels, sparse_kernels

__all__ = ["TorchBackend", "BACKEND"]


def _silu_derivative(x: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.silu_backward(torch.ones_like(x), x)


def _mish_derivative(x: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.mish_backward(torch.ones_like(x), x)


def _numba_rows(x: torch.Tensor) -> Any:
    """The numba row kernels for a CPU float32/float64 tensor in eager mode."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or not BACKEND.may_branch(x):
        return None
    from ..numpy import numba_sparse

    return numba_sparse()


# Accuracy of each (docs/accuracy.md, held to 4 ULPs by tests/test_accuracy.py):
# sigmoid, tanhshrink, silu, mish and their derivatives are used in float64 for
# float32 results; log_sigmoid, softsign, elu, selu, celu and softplus (beta = 1,
# float32) directly, where torch's own kernel is within a few ULPs.
KERNELS = Kernels(
    sigmoid=torch.sigmoid,
    log_sigmoid=F.logsigmoid,
    softsign=F.softsign,
    tanhshrink=F.tanhshrink,
    elu=F.elu,
    selu=F.selu,
    celu=F.celu,
    softplus=F.softplus,
    silu=F.silu,
    silu_derivative=_silu_derivative,
    mish=F.mish,
    mish_derivative=_mish_derivative,
    erfc=torch.special.erfc,
    erfcx=torch.special.erfcx,
    softmax_forward=softmax_kernels.try_native,
    softmax_backward=softmax_kernels.softmax_backward,
    log_softmax_backward=softmax_kernels.log_softmax_backward,
    logsumexp_forward=ce_kernels.logsumexp_forward,
    cross_entropy=ce_kernels.cross_entropy,
    sparse_compact=sparse_kernels.compact,
    sparse_exact_output=sparse_kernels.exact_output,
    entmax_vjp=sparse_kernels.entmax_vjp,
    put_along_last=lambda a, idx, value: namespace.put_along_axis(a, idx, value, axis=-1),
    sparse_rows=_numba_rows,
    attention_sdpa=F.scaled_dot_product_attention,
    attention_autograd=lambda *a: attention_autograd.apply_blocked(*a),
)


_BF16_MAPS = frozenset({"softmax", "log_softmax"})
_SPARSE_LANE = frozenset({"sparsemax", "entmax15", "entmax"})


class TorchBackend(Backend):
    """Backend of ``torch.Tensor``."""

    name = "torch"
    kernels = KERNELS
    accurate_float32 = True
    warns_on_overflow = False
    _generator_hint = ", or a torch.Generator"

    def may_branch(self, x: Any) -> bool:
        """False while ``torch.compile`` traces or ``torch.func`` transforms
        run, and for tensors without values (the ``meta`` device)."""
        if torch.compiler.is_compiling():
            return False
        return not (x.is_meta or torch._C._functorch.is_functorch_wrapped_tensor(x))

    def native_low_precision(self, name: str, x: Any) -> bool:
        """softmax and log_softmax of bfloat16 CPU tensors in eager mode
        (:mod:`.softmax_kernels`)."""
        return name in _BF16_MAPS and x.dtype == torch.bfloat16 and x.device.type == "cpu" and self.may_branch(x)

    def records_grad(self, *arrays: Any) -> bool:
        """Grad mode is on and (with arrays given) one of them requires grad."""
        if not torch.is_grad_enabled():
            return False
        return len(arrays) == 0 or any(isinstance(a, torch.Tensor) and a.requires_grad for a in arrays)

    def apply_elementwise(self, spec: Any, x: Any, values: tuple[Any, ...]) -> Any:
        return elementwise_autograd.apply_elementwise(spec, x, values)

    def elementwise_lanes(self, spec: Any) -> Any:
        """The declared fast executions of ``spec`` (:mod:`.fast_paths`)."""
        return fast_lane.lanes_of(spec)

    def apply_map(self, spec: Any, x: Any, values: tuple[Any, ...]) -> Any:
        if spec.name in _SPARSE_LANE:  # the numba kernels of CPU tensors, called directly
            y = sparse_kernels.lane(spec.name, x, values)
            if y is not None:
                return y
        if map_autograd.needs_function(x, values):
            return map_autograd.apply_map(spec, x, values)
        return spec.forward(x, *values, xp=self)

    def apply_logsumexp(self, x: Any, math: Any) -> Any:
        if self.records_grad(x):
            return loss_autograd.apply_logsumexp(x)
        return math(x, self)

    def fenchel_young(self, z: Any, p: Any, t: Any, alpha: Any, rows: Any) -> Any:
        if self.records_grad(z, p):
            return loss_autograd.fenchel_young(z, p, t, alpha)
        return rows(z, p, t, alpha, self)

    def straight_through(self, hard: Any, soft: Any) -> Any:
        return hard + (soft - soft.detach()) if soft.requires_grad else hard

    def detach(self, x: Any) -> Any:
        return x.detach()

    def float_array(self, x: Any, name: str) -> Any:
        if x.is_complex():
            raise TypeError(f"{name} must be real, got complex dtype {x.dtype}")
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        return x

    def asarray_like(self, value: Any, like: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(like.device)
        return torch.as_tensor(self._foreign(value), device=like.device)

    def eye_like(self, k: int, like: Any) -> Any:
        return torch.eye(k, dtype=like.dtype, device=like.device)

    def host(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def from_host(self, a: np.ndarray, like: Any) -> Any:
        return torch.from_numpy(a).to(like.device)

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        yield  # torch never warns on IEEE overflow

    def _draw(self, like: Any, generator: Any, owner: str, draw: Any, numpy_draw: Any) -> Any:
        if generator is None or isinstance(generator, torch.Generator):
            return draw(torch.empty_like(like), generator)
        a = numpy_draw(self._rng(generator, owner))
        return torch.as_tensor(a, dtype=like.dtype, device=like.device)

    def uniform(self, like: Any, low: float, high: float, generator: Any, owner: str) -> Any:
        return self._draw(
            like, generator, owner, lambda t, g: t.uniform_(low, high, generator=g),
            lambda rng: rng.uniform(low, high, size=tuple(like.shape)),
        )

    def normal(self, like: Any, mean: float, std: float, generator: Any, owner: str) -> Any:
        return self._draw(
            like, generator, owner, lambda t, g: t.normal_(mean, std, generator=g),
            lambda rng: rng.normal(mean, std, size=tuple(like.shape)),
        )

    def gumbel(self, like: Any, generator: Any, owner: str) -> Any:
        return self._draw(
            like, generator, owner, lambda t, g: -torch.log(t.exponential_(generator=g)),
            lambda rng: rng.gumbel(size=tuple(like.shape)),
        )


BACKEND = TorchBackend(namespace)

# The autograd Functions of every registered function are built now (they use
# BACKEND), so that torch.compile never sees a class being created.
from . import attention_autograd, elementwise_autograd, fast_lane, loss_autograd, map_autograd  # noqa: E402


def _build_lanes() -> None:
    """Build every registered function's fast lanes now too (its autograd
    Function class included): a first call made while torch.compile traces
    then finds them built instead of creating a class in traced code."""
    from ..._activation import ElementwiseSpec
    from ...registry import registry

    for entry in registry():
        spec = entry.extra.get("spec")
        if isinstance(spec, ElementwiseSpec):
            fast_lane.lanes_of(spec)


_build_lanes()
