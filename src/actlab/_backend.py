"""The backend layer's core side: what a backend is, and how one is found.

The math of every function receives a *backend* as ``xp``: the array
namespace (``xp.exp``, ``xp.where``, ... as in the Python array API) plus a
small declared set of extras, the only place where knowledge of a framework
lives:

- ``kernels``: the backend's native kernels that are accurate enough to use
  (a :class:`Kernels` record; a field is ``None`` where the backend has
  none, and a test checks that each backend declares what it should);
- ``may_branch(x)``: whether Python may branch on the values of ``x`` (not
  while a tracer such as ``torch.compile`` or ``torch.func`` runs);
- ``records_grad(*arrays)`` and ``apply_*``: autograd registration, so that
  a framework with autodiff records actlab's derivative as the backward;
- device and dtype policy: ``float_array``, ``asarray_like``, ``eye``,
  ``host``/``from_host``, ``quiet`` (silencing IEEE warnings that are the
  right answer) and ``warns_on_overflow``;
- random draws: ``uniform``, ``normal``, ``gumbel``.

:func:`backend_of` resolves the backend once per input type (cached). A
backend module is imported only when its framework is already imported by
the caller (the pattern of einops' ``get_backend``): the core never imports
a framework, never imports a backend module statically, and never asks
"is this torch?". The generic array-API backend here serves NumPy-like
namespaces without extras; :mod:`actlab.backends` holds the others.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

import array_api_compat as aac
import numpy as np

Array = Any
Kernel = Callable[..., Any] | None

__all__ = ["Kernels", "Backend", "backend_of", "as_float_array", "scope_of", "FRAMEWORKS"]


@dataclass(frozen=True)
class Kernels:
    """Native kernels a backend declares (``None``: the backend has none).

    Element-wise kernels are used where actlab evaluates a float32 result in
    float64 (they must be accurate to ~1e-13 there) or, for the ones named
    in each function's notes, directly. The sparse and softmax kernels do
    the array-API arithmetic of :mod:`actlab.simplex` in fewer memory passes
    and are tested to agree with it.
    """

    sigmoid: Kernel = None
    log_sigmoid: Kernel = None
    softsign: Kernel = None
    tanhshrink: Kernel = None
    elu: Kernel = None
    selu: Kernel = None
    celu: Kernel = None
    softplus: Kernel = None
    silu: Kernel = None
    silu_derivative: Kernel = None
    mish: Kernel = None
    mish_derivative: Kernel = None
    erfc: Kernel = None
    erfcx: Kernel = None
    softmax_forward: Kernel = None
    softmax_backward: Kernel = None
    log_softmax_backward: Kernel = None
    logsumexp_forward: Kernel = None
    """``logsumexp_forward(x, xp) -> (..., 1) or None``: the fused logsumexp
    along the last axis in working precision, None where it does not apply."""
    cross_entropy: Kernel = None
    """``cross_entropy(z, safe, keep, w, eps, reduction, xp) -> loss or None``:
    the fused softmax cross-entropy of validated class indices (class axis
    last), recorded for autograd; None where it does not apply."""
    sparse_compact: Kernel = None
    sparse_exact_output: Kernel = None
    entmax_vjp: Kernel = None
    put_along_last: Kernel = None
    """``put_along_last(a, idx, value)``: ``a`` with ``value`` written at
    ``idx`` (shape (..., 1)) on the last axis, in place where arrays are
    mutable (``a`` is then a temporary the caller owns)."""
    sparse_rows: Kernel = None
    """Compiled row kernels of the sparse maps (numba): a callable
    ``sparse_rows(x) -> module or None`` telling whether they take ``x``."""
    attention_sdpa: Kernel = None
    """The framework's fused softmax attention with PyTorch's
    ``scaled_dot_product_attention`` signature (plain softmax only)."""
    attention_autograd: Kernel = None
    """``attention_autograd(forward, backward, plan, block, q, k, v, arrays)``:
    the blocked attention's output with ``backward`` registered as its
    derivative (one autograd node that saves only O(L) statistics)."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _missing_scipy(name: str) -> Kernel:
    def call(x: Array) -> Array:
        import scipy.special as sc

        return getattr(sc, name)(x)

    return call


class Backend:
    """The generic array-API backend, and the base of the framework ones.

    ``namespace`` is an array-API namespace (``array_api_compat``'s for
    NumPy and friends); its functions become attributes of the backend, so
    the math calls ``xp.exp(x)`` whatever the backend. Subclasses override
    the extras.
    """

    name = "array-api"
    kernels = Kernels()
    accurate_float32 = False
    """Whether the namespace's float32 exp/log/expm1/tanh are within 1 ULP, so
    float32 formulas built on them reach 4 ULPs without float64."""
    row_blocks = False
    """Whether row-wise maps run a cache-sized block of rows at a time (a
    gain where every operation makes a full-size temporary, as in NumPy)."""
    warns_on_overflow = False
    """Whether the namespace warns on IEEE overflow (NumPy does): the math
    then avoids forming infinities it does not need."""
    flushes_subnormals = False
    """Whether subnormal results and inputs read as zero (XLA on the CPU):
    exact products are then kept further from the subnormal range."""

    def __init__(self, namespace: Any) -> None:
        self.namespace = namespace
        for key in dir(namespace):
            if not key.startswith("_") and not hasattr(type(self), key):
                setattr(self, key, getattr(namespace, key))

    def __repr__(self) -> str:
        return f"<actlab backend {self.name!r} on {getattr(self.namespace, '__name__', self.namespace)!r}>"

    # -- value policy ----------------------------------------------------------
    def may_branch(self, x: Array) -> bool:
        """True when Python may branch on the values of ``x``."""
        return True

    def records_grad(self, *arrays: Any) -> bool:
        """True when an autograd tape records operations on ``arrays``."""
        return False

    def native_low_precision(self, name: str, x: Array) -> bool:
        """True when the map ``name`` runs on half-precision ``x`` as it is:
        the backend's own kernels compute it (and its VJP) in float32 inside
        and round once. Otherwise half precision is computed in float32."""
        return False

    def rounded(self, x: Array) -> Array:
        """``x`` as rounded to its dtype and stored: a product that later
        steps take as rounded (Dekker's split and two-product) is kept from
        being contracted with a following sum into one fused multiply-add
        (XLA does that under ``jax.jit``). The identity here."""
        return x

    def precision_scope(self) -> Any:
        """A context manager within which the working precision (float64 for
        float32 results) exists, or None when it always does. JAX without
        64-bit mode has float64 only inside ``jax.enable_x64``; every public
        function enters this scope around its whole computation."""
        return None

    # -- autograd registration -----------------------------------------------
    def apply_elementwise(self, spec: Any, x: Array, values: tuple[Any, ...]) -> Array:
        return spec.value(x, values, self)

    def apply_map(self, spec: Any, x: Array, values: tuple[Any, ...]) -> Array:
        return spec.forward(x, *values, xp=self)

    def elementwise_lanes(self, spec: Any) -> tuple[Callable[..., Any], Callable[..., Any]] | None:
        """The fast lanes ``(value, derivative)`` of an element-wise function
        on this backend's arrays, or None. Each lane takes ``(x, values)``
        (the raw parameter values) and returns ``NotImplemented`` for a call
        that is not its own; the function's own path runs then."""
        return None

    def apply_logsumexp(self, x: Array, math: Callable[[Array, Any], Array]) -> Array:
        return math(x, self)

    def fenchel_young(self, z: Array, p: Array, t: Array, alpha: Any, rows: Callable[..., Array]) -> Array:
        return rows(z, p, t, alpha, self)

    def straight_through(self, hard: Array, soft: Array) -> Array:
        """``hard`` in the forward pass, the gradient of ``soft`` in the backward."""
        return hard

    def detach(self, x: Array) -> Array:
        return x

    # -- device and dtype policy -------------------------------------------------
    def float_array(self, x: Array, name: str) -> Array:
        """``x`` as a real floating array (integers and booleans promoted to
        the default float; complex is a TypeError naming ``name``)."""
        xp = self.namespace
        dt = x.dtype
        if xp.isdtype(dt, "complex floating"):
            raise TypeError(f"{name} must be real, got complex dtype {dt}")
        if xp.isdtype(dt, "real floating"):
            return x
        if not (xp.isdtype(dt, "integral") or xp.isdtype(dt, "bool")):
            raise TypeError(f"{name} must be a real number array, got dtype {dt}")
        default = xp.__array_namespace_info__().default_dtypes(device=aac.device(x))
        return xp.astype(x, default["real floating"])

    def asarray_like(self, value: Any, like: Array) -> Array:
        """``value`` as an array on ``like``'s device (its own dtype kept)."""
        return self.namespace.asarray(self._foreign(value), device=aac.device(like))

    def _foreign(self, value: Any) -> Any:
        """An array of another backend as a NumPy array (others unchanged)."""
        if isinstance(value, (list, tuple, int, float, np.generic)):
            return np.asarray(value)
        vb = backend_of(value)
        return vb.host(value) if vb is not None and vb is not self else value

    def eye_like(self, k: int, like: Array) -> Array:
        return self.namespace.eye(k, dtype=like.dtype, device=aac.device(like))

    def host(self, x: Array) -> np.ndarray:
        """``x`` as a NumPy array (a view where the backend allows)."""
        return np.from_dlpack(x)

    def from_host(self, a: np.ndarray, like: Array) -> Array:
        return self.namespace.asarray(a, device=aac.device(like))

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Silence overflow/underflow warnings where the IEEE result is the
        right answer (never invalid operations); NumPy's, for the namespaces
        that compute with it (array-api-strict)."""
        with np.errstate(over="ignore", under="ignore"):
            yield

    # -- random draws ----------------------------------------------------------
    def _rng(self, generator: Any, owner: str) -> np.random.Generator:
        if generator is None or isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
            return np.random.default_rng(generator)
        if not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"{owner}(): generator must be a numpy.random.Generator or an int seed"
                f"{self._generator_hint}; got {type(generator).__name__}"
            )
        return generator

    _generator_hint = ""

    def uniform(self, like: Array, low: float, high: float, generator: Any, owner: str) -> Array:
        a = self._rng(generator, owner).uniform(low, high, size=tuple(like.shape))
        return self.from_host(a.astype(str(like.dtype)), like)

    def normal(self, like: Array, mean: float, std: float, generator: Any, owner: str) -> Array:
        a = self._rng(generator, owner).normal(mean, std, size=tuple(like.shape))
        return self.from_host(a.astype(str(like.dtype)), like)

    def gumbel(self, like: Array, generator: Any, owner: str) -> Array:
        a = self._rng(generator, owner).gumbel(size=tuple(like.shape))
        return self.from_host(a.astype(str(like.dtype)), like)


# -- resolution ---------------------------------------------------------------

FRAMEWORKS: tuple[tuple[str, str, str], ...] = (
    # (framework module, its array type's attribute, actlab backend module)
    ("torch", "Tensor", "actlab.backends.torch"),
    ("jax", "Array", "actlab.backends.jax"),
)
"""Frameworks with a backend of their own; each is imported only when the
framework already is (an array of it cannot exist otherwise)."""

_NUMPY_MODULE = "actlab.backends.numpy"
_BY_TYPE: dict[type, Any] = {}
_BY_NAMESPACE: dict[int, Any] = {}


def _load(module: str) -> Any:
    # sys.modules first: a tracer (torch.compile) can read it, not import
    loaded = sys.modules.get(module)
    return (loaded if loaded is not None else importlib.import_module(module)).BACKEND


def _resolve(t: type, x: Any) -> Any:
    if issubclass(t, (np.ndarray, np.generic)):
        return _load(_NUMPY_MODULE)
    for framework, attr, module in FRAMEWORKS:
        fw = sys.modules.get(framework)
        if fw is not None and isinstance(x, getattr(fw, attr)):  # (JAX's tracers are Arrays by isinstance)
            return _load(module)
    try:
        ns = aac.array_namespace(x)
    except TypeError:
        return None
    backend = _BY_NAMESPACE.get(id(ns))
    if backend is None:
        backend = _BY_NAMESPACE[id(ns)] = Backend(ns)
    return backend


def preload() -> None:
    """Load the backends of the frameworks imported so far (so that a first
    call made while a tracer runs finds its backend loaded)."""
    for framework, _, module in FRAMEWORKS:
        if framework in sys.modules:
            _load(module)


def resolved_backend(t: type) -> Any:
    """The backend already resolved for arrays of type ``t``, or None."""
    return _BY_TYPE.get(t)


def backend_of(x: Any) -> Any:
    """The backend of the array ``x`` (cached by type), or None if ``x`` is
    not an array any backend knows."""
    t = type(x)
    backend = _BY_TYPE.get(t)
    if backend is None:
        backend = _resolve(t, x)
        if backend is not None:
            _BY_TYPE[t] = backend
    return backend


_PLAIN = (bool, int, float, complex, list, tuple, str, np.ndarray, np.generic, type(None))


_SCOPELESS: set[type] = set()
"""Array types whose backend never has a precision scope (one set lookup per call)."""


def scope_of(x: Any) -> Any:
    """The precision scope of ``x``'s backend (see
    :meth:`Backend.precision_scope`), or None: the front door of every
    public function enters it around the whole call."""
    t = type(x)
    if t in _SCOPELESS or isinstance(x, _PLAIN):
        return None
    backend = backend_of(x)
    if backend is None:
        return None
    if type(backend).precision_scope is Backend.precision_scope:
        _SCOPELESS.add(t)
        return None
    return backend.precision_scope()


def _host_array(x: Any, name: str) -> np.ndarray:
    """A Python number, list or tuple (or NumPy scalar) as a NumPy array.
    Integers beyond int64 (``10**30``), which NumPy keeps as objects, are
    converted to float64 as ``float()`` does; beyond float64's range they
    are a TypeError naming ``name``."""
    a = np.asarray(x)
    if a.dtype == object and isinstance(x, (int, list, tuple)):
        try:
            a = np.asarray(x, dtype=np.float64)
        except (OverflowError, TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a real number array, got {_short(x)} ({err})") from None
    return a


def _short(x: Any) -> str:
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."


def as_float_array(x: Any, name: str = "x") -> tuple[Any, Array]:
    """``(backend, x)`` with ``x`` a real floating array.

    Python scalars, lists and tuples become NumPy arrays (Python integers
    beyond int64 as float64); integer and boolean arrays are promoted to the
    backend's default real floating dtype; complex input is a ``TypeError``
    naming the argument.
    """
    if isinstance(x, (bool, int, float, complex, list, tuple, np.generic)):
        x = _host_array(x, name)
    backend = backend_of(x)
    if backend is None:
        raise TypeError(f"{name} must be an array or a number, got {type(x).__name__}")
    return backend, backend.float_array(x, name)
