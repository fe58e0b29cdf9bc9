"""The NumPy backend: ``array_api_compat``'s NumPy namespace, SciPy's special
functions, the optional numba kernels of the sparse maps, and NumPy's habit
of warning on IEEE overflow (the math avoids forming infinities it does not
need, and ``quiet`` silences the ones that are the right answer).

Example:
    >>> import numpy as np
    >>> from actlab._backend import backend_of
    >>> backend_of(np.zeros(1)).name
    'numpy'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import array_api_compat.numpy as anp
import numpy as np
import scipy.special as sc

from .._backend import Backend, Kernels
from . import numpy_fast, numpy_softmax

__all__ = ["NumpyBackend", "BACKEND", "numba_sparse"]

_NUMBA: list[Any] = []


def numba_sparse() -> Any:
    """The numba row kernels of the sparse maps (the ``fast`` extra):
    ``forward_rows`` and ``vjp_rows``, or None without numba; imported on
    first use."""
    if not _NUMBA:
        try:
            from . import numba_sparse_f32_general, numba_sparse_f32_grad
        except ImportError:  # numba is an optional extra
            _NUMBA.append(None)
        else:  # the vectorised float32 kernels, and the screening kernels for the rest
            from .compile_notice import SPARSE_NOTICE  # says so while numba compiles them (fresh cache)

            _NUMBA.append(SimpleNamespace(forward_rows=SPARSE_NOTICE.wrap(numba_sparse_f32_general.forward_any, _kind),
                                          vjp_rows=SPARSE_NOTICE.wrap(numba_sparse_f32_grad.vjp_any, _kind)))
    return _NUMBA[0]


def _kind(x: np.ndarray, *args: Any) -> tuple[Any, ...]:
    """What may compile separately: the dtype, short or long rows, the map (beta)."""
    scalars = tuple(a for a in args if isinstance(a, (int, float)))
    return x.dtype.char, x.ndim, x.shape[-1] <= 4096 if x.ndim else True, scalars


def _numba_rows(x: Any) -> Any:
    """The numba row kernels for a float32/float64 ndarray, else None."""
    if type(x) is not np.ndarray or x.dtype not in (np.float32, np.float64):
        return None
    return numba_sparse()


def _put_along_last(a: np.ndarray, idx: np.ndarray, value: Any) -> np.ndarray:
    np.put_along_axis(a, idx, value, axis=-1)
    return a


class NumpyBackend(Backend):
    """Backend of ``numpy.ndarray`` (and NumPy scalars)."""

    name = "numpy"
    kernels = Kernels(erfc=sc.erfc, erfcx=sc.erfcx, put_along_last=_put_along_last, sparse_rows=_numba_rows,
                      softmax_forward=numpy_softmax.softmax_forward)
    warns_on_overflow = True
    row_blocks = True

    def float_array(self, x: Any, name: str) -> Any:
        """As the base class, for plain ndarrays in native byte order: a NumPy
        scalar or an ndarray subclass (``np.matrix``) becomes a plain array,
        a big-endian array a native one (same values); a masked array is a
        TypeError (its mask would be dropped)."""
        if isinstance(x, np.ma.MaskedArray):
            raise TypeError(f"{name} must be a plain array, got a masked array (fill it first: x.filled(...))")
        if type(x) is not np.ndarray:
            x = np.asarray(x)
        if not x.dtype.isnative:
            x = x.astype(x.dtype.newbyteorder("="))
        return super().float_array(x, name)

    def elementwise_lanes(self, spec: Any) -> Any:
        """The declared one-call NumPy/SciPy lanes (:mod:`.numpy_lane_table`)."""
        return numpy_fast.lanes(spec, self)

    def apply_elementwise(self, spec: Any, x: Any, values: tuple[Any, ...]) -> Any:
        """The function's lane where it has one (so that Python numbers and
        lists get the values of the arrays made from them), else its formula,
        in cache-sized blocks on large arrays (:func:`.numpy_fast.blocked_value`)."""
        fast = numpy_fast.lanes(spec, self)
        if fast is not None:
            y = fast[0](x, values)
            if y is not NotImplemented:
                return y
        return numpy_fast.blocked_value(spec, x, values, self)

    def host(self, x: Any) -> np.ndarray:
        return x

    def from_host(self, a: np.ndarray, like: Any) -> Any:
        return a

    def asarray_like(self, value: Any, like: Any) -> Any:
        return np.asarray(self._foreign(value))

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        with np.errstate(over="ignore", under="ignore"):
            yield


BACKEND = NumpyBackend(anp)
