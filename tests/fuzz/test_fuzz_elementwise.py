"""Fuzz harness, element-wise functions: every registered element-wise,
gated and grouped function on the edge values of every float dtype, on every
input type a user may pass (Python scalars and lists, ints, bools, complex,
objects, 0-d, empty, non-contiguous, read-only, big-endian arrays), against
PyTorch where PyTorch has the function, and with random inputs (hypothesis).

Properties: no exception other than a clear TypeError/ValueError, no
RuntimeWarning (pytest turns them into errors), the dtype and shape kept, NaN
in gives NaN out and nowhere else, the input never written.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from fuzz_inputs import (
    ELEMENTWISE,
    FUZZ,
    GATED,
    NP_FLOATS,
    TORCH_FLOATS,
    call,
    cast_np,
    cast_torch,
    edge_array,
    floats_with_edges,
    layouts,
    nan_expected,
)
from hypothesis import given
from hypothesis import strategies as st

import actlab

IDS = [e.name for e in ELEMENTWISE]

#: PyTorch's function of the same name, called with the same parameters.
TORCH_REF = {
    "sigmoid": torch.sigmoid, "log_sigmoid": torch.nn.functional.logsigmoid, "tanh": torch.tanh,
    "softsign": torch.nn.functional.softsign, "hardsigmoid": torch.nn.functional.hardsigmoid,
    "hardtanh": torch.nn.functional.hardtanh, "tanhshrink": torch.nn.functional.tanhshrink,
    "relu": torch.relu, "relu6": torch.nn.functional.relu6, "leaky_relu": torch.nn.functional.leaky_relu,
    "prelu": lambda x: torch.nn.functional.prelu(x, torch.tensor([0.25], dtype=x.dtype)),
    "threshold": lambda x: torch.nn.functional.threshold(x, 0.5, -2.0),
    "softshrink": torch.nn.functional.softshrink, "hardshrink": torch.nn.functional.hardshrink,
    "elu": torch.nn.functional.elu, "selu": torch.nn.functional.selu, "celu": torch.nn.functional.celu,
    # log1p(exp(x)) overflows past 709; past 37 it is x to the last bit
    "softplus": lambda x: torch.nn.functional.softplus(x, threshold=37.0),
    "gelu": torch.nn.functional.gelu, "silu": torch.nn.functional.silu, "swish": torch.nn.functional.silu,
    "mish": torch.nn.functional.mish, "hardswish": torch.nn.functional.hardswish,
    "rrelu": lambda x: torch.nn.functional.rrelu(x, training=False),
}


@pytest.mark.parametrize("dtype", NP_FLOATS)
@pytest.mark.parametrize("e", ELEMENTWISE, ids=IDS)
def test_edge_values_numpy(e, dtype):
    x = cast_np(edge_array(dtype, with_nan=True), dtype)
    before = x.copy()
    y = call(e, x)
    assert isinstance(y, np.ndarray) and y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(x, before)  # the input is not written
    assert np.array_equal(np.isnan(y), nan_expected(e, x)), f"{e.name}: NaN where the input has none: {x[np.isnan(y)]}"
    d = e.derivative(x, **{k: v for k, v in _params(e).items()}) if e.derivative else None
    if d is not None:
        d = np.asarray(d)
        want = nan_expected(e, x, "derivative")
        assert np.array_equal(np.isnan(d), want), f"{e.name}': NaN at {x[np.isnan(d) != want]}"


def _params(e):
    from fuzz_inputs import REQUIRED_ARGS

    return REQUIRED_ARGS.get(e.name, {})


@pytest.mark.parametrize("dtype", TORCH_FLOATS)
@pytest.mark.parametrize("e", ELEMENTWISE, ids=IDS)
def test_edge_values_torch_match_pytorch(e, dtype):
    """Same values as PyTorch's function in every dtype, at every edge value
    (actlab is at least as accurate: compared in float64 with a tolerance of
    a few units of the dtype's precision)."""
    x = cast_torch(edge_array("float64" if dtype == "float64" else "float32", with_nan=True), "float64").to(
        getattr(torch, dtype))
    y = call(e, x)
    assert isinstance(y, torch.Tensor) and y.dtype == x.dtype and y.shape == x.shape
    want = nan_expected(e, x)
    assert torch.equal(torch.isnan(y), want), f"{e.name}: NaN at {x[torch.isnan(y) != want]}"
    ref = TORCH_REF.get(e.name)
    if ref is None:
        return
    exact = ref(x.double())  # PyTorch in float64, rounded: the reference for the low precisions
    want = exact.to(x.dtype) if dtype != "float64" else exact
    eps = torch.finfo(x.dtype).eps
    keep = _torch_is_sound(x, want, y)
    torch.testing.assert_close(y.double()[keep], want.double()[keep], rtol=max(8 * eps, 1e-13),
                               atol=float(torch.finfo(x.dtype).tiny), equal_nan=True,
                               msg=lambda m: f"{e.name} ({dtype}) against torch: {m}")


def _torch_is_sound(x, ref, ours):
    """Where PyTorch's value can serve as the reference: not a NaN or an
    infinity at a finite limit (hardswish(-inf), hardswish(1e308) overflows in
    x * (x + 3)), not an underflow to 0 where the true value is a tiny
    number (gelu(-20) = -5.5e-89, PyTorch 0)."""
    finite_x = torch.isfinite(x)
    bad = (torch.isnan(ref) & ~torch.isnan(x)) | (torch.isinf(ref) & finite_x & torch.isfinite(ours))
    bad |= (ref == 0) & (ours.abs().double() < 1e-30)
    return ~bad


@pytest.mark.parametrize("e", ELEMENTWISE, ids=IDS)
def test_gradient_matches_derivative_at_edges(e):
    """backward of the torch front-end is ``.derivative`` at every edge value,
    double backward runs and stays finite where the second derivative is."""
    if e.derivative is None:
        pytest.skip("no derivative")
    x = cast_torch(edge_array("float64"), "float64").requires_grad_()
    y = call(e, x)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    d = e.derivative(x.detach(), **_params(e))
    torch.testing.assert_close(g.detach(), torch.as_tensor(d, dtype=torch.float64), equal_nan=True)
    if g.requires_grad:
        (gg,) = torch.autograd.grad(g.sum(), x)
        assert gg.shape == x.shape


@pytest.mark.parametrize("e", ELEMENTWISE, ids=IDS)
def test_forward_mode_matches_derivative(e):
    """``torch.func.jvp`` (forward mode) gives ``.derivative``, as backward does."""
    if e.derivative is None:
        pytest.skip("no derivative")
    x = cast_torch(np.array([0.0, -0.0, 1.0, -1.0, 6.0, -6.0, 30.0, -30.0, 700.0, -700.0, math.inf, -math.inf]),
                   "float64")
    _, t = torch.func.jvp(lambda v: call(e, v), (x,), (torch.ones_like(x),))
    d = torch.as_tensor(e.derivative(x, **_params(e)), dtype=torch.float64)
    torch.testing.assert_close(t, d, rtol=4e-16, atol=0.0, equal_nan=True,
                               msg=lambda m: f"{e.name}: jvp against .derivative at {x.tolist()}: {m}")


INPUT_KINDS = {
    "python float": (1.5, "float64"),
    "python int": (3, "float64"),
    "big python int": (10 ** 30, "float64"),
    "python list": ([0.0, -1.0, 2.0], "float64"),
    "nested list": ([[0.0, 1.0], [2.0, 3.0]], "float64"),
    "int64 array": (np.arange(-3, 3), "float64"),
    "int8 array": (np.arange(-3, 3, dtype=np.int8), "float64"),
    "uint8 array": (np.arange(6, dtype=np.uint8), "float64"),
    "0-d array": (np.float32(0.5), "float32"),
    "0-d ndarray": (np.array(-2.0), "float64"),
    "empty": (np.zeros((0,)), "float64"),
    "empty 2-d": (np.zeros((3, 0)), "float64"),
    "numpy float scalar": (np.float64(-0.25), "float64"),
}


@pytest.mark.parametrize("kind", list(INPUT_KINDS))
@pytest.mark.parametrize("e", ELEMENTWISE, ids=IDS)
def test_input_kinds(e, kind):
    """Python numbers and lists come back as NumPy arrays of the default float,
    integers are promoted; the value is the one of the float64 array."""
    value, dtype = INPUT_KINDS[kind]
    y = call(e, value)
    assert isinstance(y, np.ndarray) and y.dtype == np.dtype(dtype), (type(y), getattr(y, "dtype", None))
    ref = call(e, np.asarray(value, dtype=dtype))
    np.testing.assert_array_equal(y, ref)


BAD_INPUTS = {
    "complex": np.array([1 + 2j]),
    "complex scalar": 1j,
    "object": np.array([object()], dtype=object),
    "string": "1.0",
    "None": None,
    "huge python int": 10 ** 400,
    "bytes": np.array([b"a"]),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
@pytest.mark.parametrize("e", ELEMENTWISE[:3] + GATED[:1], ids=lambda e: e.name)
def test_bad_input_is_a_type_error(e, kind):
    with pytest.raises(TypeError, match=r"x|dtype|complex|number"):
        call(e, BAD_INPUTS[kind])


def test_bool_input_is_promoted_or_refused_clearly():
    for e in ELEMENTWISE:
        try:
            y = call(e, np.array([True, False]))
        except TypeError as exc:
            assert "bool" in str(exc)
        else:
            np.testing.assert_array_equal(y, call(e, np.array([1.0, 0.0])))


@pytest.mark.parametrize("e", ELEMENTWISE, ids=IDS)
def test_layouts(e):
    """Non-contiguous, Fortran-order, read-only and stride-0 arrays give the
    values of the plain contiguous array."""
    base = np.array([[-1000.0, -2.0, -0.0, 0.5], [3.0, 50.0, 1e300, -1e-310]])
    for name, a in layouts(base).items():
        if name == "bigendian":
            continue
        y = call(e, a)
        want = call(e, np.ascontiguousarray(a, dtype=np.float64))
        np.testing.assert_array_equal(y, want, err_msg=f"{e.name} on a {name} array")


@pytest.mark.parametrize("e", ELEMENTWISE, ids=IDS)
def test_big_endian(e):
    base = np.array([[-1000.0, -2.0, -0.0, 0.5], [3.0, 50.0, 1e300, -1e-310]])
    for name, a in {"bigendian": layouts(base)["bigendian"]}.items():
        y = call(e, a)
        want = call(e, np.ascontiguousarray(a, dtype=np.float64))
        np.testing.assert_array_equal(y, want, err_msg=f"{e.name} on a {name} array")


@pytest.mark.parametrize("e", ELEMENTWISE, ids=IDS)
def test_torch_layouts(e):
    """Channels-last, transposed, expanded (stride 0) and zero-size tensors:
    the same values as the contiguous tensor, to the last bit except by one
    ULP where torch's own kernel serves the function (its vectorised and
    scalar loops round differently, and which one an entry meets depends
    on the layout)."""
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 5
    for name, t in {"channels_last": x.to(memory_format=torch.channels_last), "transposed": x.transpose(1, 3),
                    "expanded": x[:1].expand(4, 3, 4, 5), "zero size": x[:0], "0-d": x[0, 0, 0, 0]}.items():
        y = call(e, t)
        want = call(e, t.contiguous())
        assert y.shape == t.shape, name
        tol = dict(rtol=1e-15, atol=0) if e.name in NATIVE_KERNEL_SERVED else dict(rtol=0, atol=0)
        tol["equal_nan"] = True  # (NaN outside a domain: logit, log1mexp)
        torch.testing.assert_close(y, want, **tol, msg=lambda m, name=name: f"{e.name} {name}: {m}")


#: served in float64 by torch's own kernel through the fast lane (actlab.backends.torch.fast_paths)
NATIVE_KERNEL_SERVED = {"sigmoid", "softplus", "swish", "silu", "tanh", "elu", "selu", "celu", "log_sigmoid"}


@FUZZ
@given(st.lists(floats_with_edges(), min_size=1, max_size=16))
def test_random_values_no_warning_nan_only_from_nan(values):
    x = np.asarray(values)
    for e in ELEMENTWISE:
        y = call(e, x)
        assert np.array_equal(np.isnan(y), nan_expected(e, x)), e.name


#: PyTorch's formula cancels (x - tanh x near 0; the erf form of gelu in the tail: gelu(-5) 4e-11 off)
CANCELLING = {"tanhshrink", "gelu"}


@FUZZ
@given(st.lists(floats_with_edges(allow_nan=False), min_size=1, max_size=12))
def test_random_values_match_pytorch(values):
    x = torch.tensor(values, dtype=torch.float64)
    for e in ELEMENTWISE:
        ref = TORCH_REF.get(e.name)
        if ref is not None:
            y, want = call(e, x), ref(x)
            keep = _torch_is_sound(x, want, y)
            if e.name in CANCELLING:  # PyTorch's error is a few ULP of x, not of the result
                ok = (y - want).abs() <= 1e-13 * want.abs() + 8e-16 * x.abs()
                assert bool(ok[keep & torch.isfinite(x)].all()), f"{e.name} at {values}: {y} against {want}"
                continue
            torch.testing.assert_close(y[keep], want[keep], rtol=1e-13, atol=1e-300, equal_nan=True,
                                       msg=lambda m, e=e: f"{e.name} at {values}: {m}")


# --- gated and grouped functions ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", NP_FLOATS)
@pytest.mark.parametrize("e", GATED, ids=lambda e: e.name)
def test_gated_edge_values(e, dtype):
    v = cast_np(edge_array(dtype, with_nan=True), dtype)
    a = np.stack(np.meshgrid(v, v), axis=-1).reshape(-1, 2)  # every pair of edge values, as (a, b) halves
    before = a.copy()
    y = call(e, a)
    np.testing.assert_array_equal(a, before)
    assert y.dtype == a.dtype and y.shape == (a.shape[0], 1)
    nan_in = np.isnan(a).any(axis=-1, keepdims=True)
    assert not np.isnan(y[~nan_in]).any() or e.kind == "gated", e.name


@pytest.mark.parametrize("e", GATED, ids=lambda e: e.name)
def test_gated_torch_gradient_at_edges(e):
    v = edge_array("float64", with_nan=False)
    a = torch.tensor(np.stack(np.meshgrid(v, v), axis=-1).reshape(-1, 2), requires_grad=True)
    y = call(e, a)
    (g,) = torch.autograd.grad(y.sum(), a)
    assert g.shape == a.shape


@pytest.mark.parametrize("e", GATED, ids=lambda e: e.name)
@pytest.mark.parametrize("axis", [2, -3, 1.0, np.int64(0), True, "0"])
def test_gated_axis_argument(e, axis):
    x = np.ones((2, 4))
    if isinstance(axis, (bool, str, float)) or (isinstance(axis, int) and not -2 <= axis < 2):
        with pytest.raises((ValueError, TypeError), match="axis"):
            call(e, x, axis=axis)
    else:
        y = call(e, x, axis=axis)
        np.testing.assert_array_equal(y, call(e, x, axis=int(axis)))


@pytest.mark.parametrize("pieces", [0, -1, 3, 2.0, True, "2", np.int64(2), 4])
def test_maxout_pieces_argument(pieces):
    x = np.arange(8.0)
    if isinstance(pieces, (bool, str, float)) or int(pieces) <= 0 or 8 % int(pieces):
        with pytest.raises((ValueError, TypeError), match="pieces"):
            actlab.maxout(x, pieces=pieces)
    else:
        np.testing.assert_array_equal(actlab.maxout(x, pieces=pieces), actlab.maxout(x, pieces=int(pieces)))
