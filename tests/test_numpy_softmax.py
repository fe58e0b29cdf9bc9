"""The NumPy backend's fused softmax / log-softmax path
(``actlab.backends.numpy_softmax``, numba kernels): taken for float32 and
float64 arrays, within 4 ULPs of mpmath on the stored reference rows, and
the general (array-API) formula's values and non-finite-row rules (+inf
entries share the mass, all -inf gives 0 / -inf, NaN gives NaN)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from softmax_reference_data import load, ulp_error

import actlab
from actlab.backends.numpy import BACKEND
from actlab.backends.numpy_softmax import numba_rows, softmax_forward
from actlab.simplex.softmax import log_softmax_rows, softmax_rows

pytest.importorskip("numba")

ROWS = [r for r in load() if r["num"] == 1.0 and r["den"] == 1.0]
INF, NAN = math.inf, math.nan


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_float32_and_float64_take_the_kernels_and_are_within_4_ulp(name):
    assert numba_rows() is not None and {r["x"].dtype.name for r in ROWS} == {"float32", "float64"}
    for r in ROWS:
        x = r["x"][None, :]
        y = getattr(actlab, name)(x)
        np.testing.assert_array_equal(y, softmax_forward(name, x, 1.0, 1.0, BACKEND))  # the kernel's result
        assert y.dtype == x.dtype
        assert float(np.max(ulp_error(y[0], r[name], x.dtype))) <= 4.0, (r["x"].dtype, len(r["x"]))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_non_finite_rows_and_shapes(name):
    x = np.array([[1.0, INF, INF, 0.0], [-INF, -INF, -INF, -INF], [0.0, NAN, 1.0, 2.0], [0.0, -INF, 1.0, 2.0]],
                 np.float32)
    f = getattr(actlab, name)
    y = f(x)
    rows = softmax_rows if name == "softmax" else log_softmax_rows
    with BACKEND.quiet():  # the general formula, in float64
        want = np.asarray(rows(x.astype(np.float64), 1.0, 1.0, BACKEND)).astype(np.float32)
    np.testing.assert_array_max_ulp(np.nan_to_num(y, neginf=-7.0), np.nan_to_num(want, neginf=-7.0), maxulp=1)
    assert np.isnan(y[2]).all()
    y64 = f(x.astype(np.float64))
    np.testing.assert_array_max_ulp(np.nan_to_num(y64, neginf=-7.0).astype(np.float32),
                                    np.nan_to_num(want, neginf=-7.0), maxulp=1)
    x3 = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)
    np.testing.assert_array_equal(f(x3, axis=1), np.moveaxis(f(np.moveaxis(x3, 1, -1)), -1, 1))
    assert softmax_forward(name, x.astype(np.float16), 1.0, 1.0, BACKEND) is None
    assert softmax_forward(name, x, 1.0, 2.0, BACKEND) is None
