"""The JAX backend: ``jax.numpy`` for the math, actlab's derivatives
registered as ``jax.custom_jvp`` rules, and JAX's dtype, tracing and
random-number conventions.

Loaded by :func:`actlab._backend.backend_of` the first time a JAX array (or
a tracer, under ``jax.jit``, ``jax.grad``, ``jax.vmap``) reaches actlab.

Float32 without 64-bit mode. Where a float32 formula cannot reach a few
ULPs, actlab computes float32 results in float64 and rounds once. JAX
without ``jax_enable_x64`` has no float64, so this backend declares a
*precision scope*: each public call on a JAX array runs inside
``jax.enable_x64(True)``, and its float32 inputs and outputs stay float32
(only the intermediate values are float64). Under ``jax.jit`` the trace
holds those float64 operations; no global setting changes.

Subnormal numbers. XLA on the CPU flushes subnormal results to zero and
reads subnormal inputs as zero (both float32 and float64), so a result
that is subnormal in NumPy (``sigmoid(-720.0)`` in float64,
``sigmoid(-100.0)`` in float32) is ``0.0`` here.

Example:
    >>> import jax.numpy as jnp, actlab
    >>> from actlab._backend import backend_of
    >>> backend_of(jnp.zeros(1)).name
    'jax'
    >>> actlab.gelu(jnp.float32(-10.0)).dtype, float(actlab.gelu(jnp.float32(-10.0)))
    (dtype('float32'), -7.619852977043458e-23)
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from ..._backend import Backend, Kernels

__all__ = ["JaxBackend", "BACKEND"]


def _put_along_last(a: Any, idx: Any, value: Any) -> Any:
    """``a`` with ``value`` at ``idx`` (shape (..., 1)) on the last axis, functionally."""
    return jnp.put_along_axis(a, idx, value, axis=-1, inplace=False)


KERNELS = Kernels(erfc=jsp.erfc, erfcx=jsp.erfcx, put_along_last=_put_along_last)


_STATE = threading.local()


def _outer_x64() -> bool:
    """64-bit mode is on, and not only inside actlab's precision scope."""
    return bool(jax.config.read("jax_enable_x64")) and not getattr(_STATE, "depth", 0)


@contextlib.contextmanager
def _x64_scope() -> Iterator[None]:
    _STATE.depth = getattr(_STATE, "depth", 0) + 1
    try:
        with jax.enable_x64(True):
            yield
    finally:
        _STATE.depth -= 1


def _is_key(generator: Any) -> bool:
    """A ``jax.random`` key: a typed key array or a legacy uint32[2] key."""
    if not isinstance(generator, jax.Array):
        return False
    return jnp.issubdtype(generator.dtype, jax.dtypes.prng_key) or (
        generator.dtype == jnp.uint32 and tuple(generator.shape) == (2,)
    )


class JaxBackend(Backend):
    """Backend of ``jax.Array`` and of JAX's tracers."""

    name = "jax"
    kernels = KERNELS
    accurate_float32 = False
    warns_on_overflow = False
    row_blocks = False
    flushes_subnormals = True
    _generator_hint = ", or a jax.random key"

    # -- the namespace: jax.numpy, with three float64 functions made accurate ----
    def tanh(self, x: Any, /) -> Any:
        """``jnp.tanh``; in float64 (where XLA's is up to 6.5 ULPs off) as
        ``x - (x - tanh x)`` with actlab's series for ``|x| < 0.9`` and
        ``1 - 2/(1 + e^{2|x|})`` beyond: within 1 ULP."""
        if x.dtype != jnp.float64:
            return jnp.tanh(x)
        from ...elementwise.sigmoid_like import _tanhshrink_small

        a = jnp.abs(x)
        small = a < 0.9
        xs = jnp.where(small, x, 0.0)
        near = xs - _tanhshrink_small(xs, self)
        far = 1.0 - 2.0 / (1.0 + jnp.exp(2.0 * jnp.clip(a, max=50.0)))
        return jnp.where(small, near, jnp.where(jnp.isnan(x), x, jnp.copysign(far, x)))

    def expm1(self, x: Any, /) -> Any:
        """``jnp.expm1``; in float64 (where XLA's is up to 3.4 ULPs off) by
        Kahan's formula ``(u - 1) x / log u``, ``u = e^x``, for ``|x| < 1``
        and ``e^x - 1`` beyond: within 2.4 ULPs (N. J. Higham, Accuracy and
        Stability of Numerical Algorithms, 2002, section 1.14.1)."""
        if x.dtype != jnp.float64:
            return jnp.expm1(x)
        near = jnp.abs(x) < 1.0
        # the barrier keeps XLA from simplifying log(exp(x)) to x
        u = jax.lax.optimization_barrier(jnp.exp(jnp.where(near, x, 0.5)))
        um = u - 1.0
        kahan = jnp.where(u == 1.0, x, um * jnp.where(near, x, 0.5) / jnp.log(u))
        return jnp.where(near, kahan, jnp.exp(x) - 1.0)

    def log1p(self, x: Any, /) -> Any:
        """``jnp.log1p``; in float64 (where XLA's is up to 115 ULPs off on
        -0.5 < x < -0.29) as ``log(u) + c/u``, ``u = fl(1 + x)`` and ``c``
        its rounding error (Knuth's TwoSum), the first-order correction of
        ``log(u + c)``, and ``x - x^2 (1/2 - x/3)`` for ``|x| < 2^-20``
        (-0.0 kept): within 1 ULP."""
        if x.dtype != jnp.float64:
            return jnp.log1p(x)
        # the barrier keeps XLA from simplifying c away (it folds (x + 1) - 1 to x)
        u = jax.lax.optimization_barrier(x + 1.0)
        b = u - x
        c = (x - (u - b)) + (1.0 - b)
        inside = jnp.isfinite(u) & (u > 0.0)
        y = jnp.where(inside, jnp.log(u) + c / jnp.where(inside, u, 1.0), jnp.log(u))
        series = x - (x * x) * (0.5 - x * (1.0 / 3.0))
        return jnp.where(jnp.abs(x) < 2.0**-20, series, y)

    # -- value policy ----------------------------------------------------------
    def may_branch(self, x: Any) -> bool:
        """False for tracers (``jit``, ``grad``, ``vmap``, ...): their values
        are unknown while the function is traced, so the shape-static
        algorithms run."""
        return not isinstance(x, jax.core.Tracer)

    def records_grad(self, *arrays: Any) -> bool:
        """True while a JAX transformation traces ``arrays`` (JAX records
        nothing eagerly; its autodiff works on tracers)."""
        return any(isinstance(a, jax.core.Tracer) for a in arrays)

    def rounded(self, x: Any) -> Any:
        """``x`` through a select XLA cannot see through, so that LLVM does
        not contract the product ``x`` with a following sum into a fused
        multiply-add under ``jit`` (which breaks Dekker's split)."""
        return jnp.where(jnp.isnan(x), math.nan, x)

    def precision_scope(self) -> Any:
        """``jax.enable_x64(True)`` when 64-bit mode is off (float64 exists
        only inside it), else None."""
        return None if jax.config.read("jax_enable_x64") else _x64_scope()

    # Indices stay int32 unless 64-bit mode is on outside actlab's scope: XLA
    # lowers some index operations (argmax) after the scope has closed.
    @property
    def int64(self) -> Any:
        return jnp.int64 if _outer_x64() else jnp.int32

    def argmax(self, x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        if _outer_x64():
            return jnp.argmax(x, axis=axis, keepdims=keepdims)
        if axis is None:
            x, axis = jnp.ravel(x), 0
        i = jax.lax.argmax(x, axis % x.ndim, jnp.int32)
        return jnp.expand_dims(i, axis) if keepdims else i

    @contextlib.contextmanager
    def _scoped(self) -> Iterator[None]:
        scope = self.precision_scope()
        if scope is None:
            yield
        else:
            with scope:
                yield

    # -- custom derivatives ----------------------------------------------------
    def apply_elementwise(self, spec: Any, x: Any, values: tuple[Any, ...]) -> Any:
        with self._scoped():
            return derivatives.elementwise(spec, x, values)

    def apply_map(self, spec: Any, x: Any, values: tuple[Any, ...]) -> Any:
        with self._scoped():
            return derivatives.vector_map(spec, x, values)

    def apply_logsumexp(self, x: Any, math: Any) -> Any:
        with self._scoped():
            return derivatives.logsumexp(x, math)

    def fenchel_young(self, z: Any, p: Any, t: Any, alpha: Any, rows: Any) -> Any:
        with self._scoped():
            return derivatives.fenchel_young(z, p, t, alpha, rows)

    def straight_through(self, hard: Any, soft: Any) -> Any:
        return hard + (soft - jax.lax.stop_gradient(soft))

    def detach(self, x: Any) -> Any:
        return jax.lax.stop_gradient(x)

    # -- device and dtype policy -------------------------------------------------
    def float_array(self, x: Any, name: str) -> Any:
        dt = x.dtype
        if jnp.issubdtype(dt, jnp.complexfloating):
            raise TypeError(f"{name} must be real, got complex dtype {dt}")
        if jnp.issubdtype(dt, jnp.floating):
            return x
        if not (jnp.issubdtype(dt, jnp.integer) or dt == jnp.bool_):
            raise TypeError(f"{name} must be a real number array, got dtype {dt}")
        return x.astype(jnp.result_type(float))

    def asarray_like(self, value: Any, like: Any) -> Any:
        if isinstance(value, jax.Array):
            return value
        return jnp.asarray(self._foreign(value))

    def eye_like(self, k: int, like: Any) -> Any:
        return jnp.eye(k, dtype=like.dtype)

    def host(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def from_host(self, a: np.ndarray, like: Any) -> Any:
        return jnp.asarray(a)

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        yield  # XLA never warns on IEEE overflow

    # -- random draws ----------------------------------------------------------
    def _draw(self, like: Any, generator: Any, owner: str, draw: Any, numpy_draw: Any) -> Any:
        if _is_key(generator):
            return draw(generator, tuple(like.shape), like.dtype)
        if generator is None and not self.may_branch(like):
            raise ValueError(
                f"{owner}(): under a JAX transformation pass generator=jax.random.key(...) "
                "(a NumPy draw would be frozen into the traced function)"
            )
        a = numpy_draw(self._rng(generator, owner))
        return jnp.asarray(a.astype(str(like.dtype)))

    def uniform(self, like: Any, low: float, high: float, generator: Any, owner: str) -> Any:
        return self._draw(
            like, generator, owner, lambda k, s, d: jax.random.uniform(k, s, d, low, high),
            lambda rng: rng.uniform(low, high, size=tuple(like.shape)),
        )

    def normal(self, like: Any, mean: float, std: float, generator: Any, owner: str) -> Any:
        return self._draw(
            like, generator, owner, lambda k, s, d: mean + std * jax.random.normal(k, s, d),
            lambda rng: rng.normal(mean, std, size=tuple(like.shape)),
        )

    def gumbel(self, like: Any, generator: Any, owner: str) -> Any:
        return self._draw(
            like, generator, owner, lambda k, s, d: jax.random.gumbel(k, s, d),
            lambda rng: rng.gumbel(size=tuple(like.shape)),
        )


BACKEND = JaxBackend(jnp)

from . import derivatives  # noqa: E402  (uses BACKEND)
