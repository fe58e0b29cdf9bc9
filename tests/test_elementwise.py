"""Generic tests of every registered element-wise activation, driven by the
registry: shape facts, derivatives against finite differences, autograd,
backends, dtypes, special inputs and bad parameters. (Accuracy in ULPs
against mpmath is in test_accuracy.py.)"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import to_backend, to_numpy

import actlab
from actlab.registry import REQUIRED

ENTRIES = actlab.registry("elementwise")
NAMES = [e.name for e in ENTRIES]
# Required parameters get these values in the generic tests.
REQUIRED_ARGS = {"prelu": {"weight": 0.25}, "threshold": {"threshold": 0.5, "value": -1.0}}
# Points where the function is not differentiable.
KINKS = {
    "relu": [0], "relu6": [0, 6], "leaky_relu": [0], "prelu": [0], "rrelu": [0],
    "elu": [0], "selu": [0], "celu": [0], "hardtanh": [-1, 1], "hardsigmoid": [-3, 3],
    "hardswish": [-3, 3], "softshrink": [-0.5, 0.5], "hardshrink": [-0.5, 0.5],
    "threshold": [0.5], "softsign": [0],
    "relu2": [0], "star_relu": [0], "sparse_plus": [-1, 1], "sparse_sigmoid": [-1, 1], "hard_mish": [-2, 0],
    "gelu_10": [10], "xielu": [-1e-6, 0], "log1mexp": [0], "logit": [0, 1], "poly_relu": [0],
}
SMOOTH = [e.name for e in ENTRIES if e.properties.smooth]


def inside(name: str, x: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """The entries of x in the function's domain (logit's [0, 1]), ``margin`` inside it."""
    lo, hi = actlab.get(name).extra.get("domain") or (-math.inf, math.inf)
    return x[(x >= lo + margin) & (x <= hi - margin)]


def nan_expected(name: str, x: np.ndarray, what: str = "value") -> np.ndarray:
    """Where NaN is the right answer: NaN in, outside the domain, or +-inf
    where there is no limit (a sine's)."""
    e = actlab.get(name)
    lo, hi = e.extra.get("domain") or (-math.inf, math.inf)
    bad = np.isnan(x) | (x < lo) | (x > hi)
    return bad | (np.isinf(x) if what in e.extra.get("undefined_at_inf", ()) else False)


def args_for(name: str) -> dict:
    return dict(REQUIRED_ARGS.get(name, {}))


def grid(n: int = 401, lo: float = -8.0, hi: float = 8.0) -> np.ndarray:
    return np.linspace(lo, hi, n)


def away_from_kinks(name: str, x: np.ndarray, gap: float = 1e-3) -> np.ndarray:
    for k in KINKS.get(name, []):
        x = x[np.abs(x - k) > gap]
    return x


def extremes(dtype=np.float64) -> np.ndarray:
    """Special and extreme inputs of a dtype: +-inf, +-max, subnormals, thresholds."""
    fi = np.finfo(dtype)
    pos = [fi.smallest_subnormal, fi.smallest_normal, 1e-30, 1.0, 20.0, 36.0, 88.72, 709.78,
           745.2, 1000.0, 1e5, 1e20, 1e30, 1e200, 1e300, float(fi.max)]
    pos = [v for v in pos if v <= float(fi.max)]
    v = np.array(pos, dtype=dtype)
    return np.concatenate([[-np.inf], -v[::-1], [-0.0, 0.0], v, [np.inf]]).astype(dtype)


EXTREMES = extremes()


@pytest.mark.parametrize("name", NAMES)
def test_no_warnings_nan_and_limits(name):
    """Every finite input gives a non-NaN result with no warning; NaN gives NaN."""
    f = actlab.get(name).function
    d = actlab.get(name).derivative
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dt in (np.float64, np.float32):
            x = extremes(dt)
            y, dy = f(x, **args_for(name)), d(x, **args_for(name))
            assert y.dtype == dt and dy.dtype == dt
            assert np.array_equal(np.isnan(y), nan_expected(name, x)), (name, x[np.isnan(y)])
            assert np.array_equal(np.isnan(dy), nan_expected(name, x, "derivative")), (name, x[np.isnan(dy)])
            nan = np.array([np.nan], dtype=dt)
            assert np.isnan(f(nan, **args_for(name))).all()
            assert np.isnan(d(nan, **args_for(name))).all()


@pytest.mark.parametrize("name", NAMES)
def test_properties(name):
    """The registry's shape facts hold on a dense grid."""
    e = actlab.get(name)
    p = e.properties
    x = np.concatenate([[-np.inf], grid(4001, -30, 30), [np.inf]])
    x = x[~nan_expected(name, x)]
    y = e.function(x, **args_for(name))
    lo, hi = p.output_range
    assert np.all(y >= lo - 1e-12) and np.all(y <= hi + 1e-12), name
    if p.monotone:
        assert np.all(np.diff(y) >= 0), name
    if p.zero_centred:
        assert e.function(0.0, **args_for(name)) == 0.0
    if p.bounded:
        assert math.isfinite(lo) and math.isfinite(hi)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name):
    """f.derivative against a 4th-order central difference in float64."""
    e = actlab.get(name)
    rng = np.random.default_rng(0)
    x = away_from_kinks(name, inside(name, rng.uniform(-6, 6, 200), 1e-2), gap=1e-2)
    h = 1e-4
    f = lambda v: e.function(v, **args_for(name))
    fd = (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)
    np.testing.assert_allclose(e.derivative(x, **args_for(name)), fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ["prelu", "leaky_relu", "swish", "elu", "softplus"])
def test_parameter_derivative_matches_finite_differences(name):
    e = actlab.get(name)
    pname = {"prelu": "weight", "leaky_relu": "negative_slope", "swish": "beta", "elu": "alpha", "softplus": "beta"}[name]
    p0 = {"prelu": 0.3, "leaky_relu": 0.2, "swish": 1.7, "elu": 1.3, "softplus": 2.5}[name]
    x = away_from_kinks(name, np.random.default_rng(1).uniform(-5, 5, 100), 1e-2)
    h = 1e-6
    fd = (e.function(x, **{pname: p0 + h}) - e.function(x, **{pname: p0 - h})) / (2 * h)
    np.testing.assert_allclose(e.derivative(x, wrt=pname, **{pname: p0}), fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(actlab.derivative(name, wrt=pname)(x, **{pname: p0}), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_backends_agree(name, backend):
    """NumPy, PyTorch and array-api-strict give the same values and derivatives."""
    e = actlab.get(name)
    x = np.concatenate([grid(301, -40, 40), EXTREMES[1:-1]])
    ref_y = e.function(x, **args_for(name))
    ref_d = e.derivative(x, **args_for(name))
    xb = to_backend(backend, x)
    y, d = to_numpy(e.function(xb, **args_for(name))), to_numpy(e.derivative(xb, **args_for(name)))
    assert type(e.function(xb, **args_for(name))) is type(xb)
    np.testing.assert_allclose(y, ref_y, rtol=4e-16 * 8, atol=0)
    np.testing.assert_allclose(d, ref_d, rtol=4e-16 * 8, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_input_types(name):
    f = actlab.get(name).function
    kw = args_for(name)
    assert isinstance(f(1.0, **kw), np.ndarray)
    assert f([1.0, 2.0], **kw).shape == (2,)
    assert f(np.arange(3), **kw).dtype == np.float64  # integers promote
    assert f(np.float32(1.0), **kw).dtype == np.float32
    assert f(np.zeros((2, 0, 3)), **kw).shape == (2, 0, 3)
    with pytest.raises(TypeError, match="complex"):
        f(np.array([1 + 1j]), **kw)


@pytest.mark.parametrize("name", NAMES)
def test_half_precision_rounds_once_from_float32(name):
    torch = pytest.importorskip("torch")
    e = actlab.get(name)
    x32 = torch.from_numpy(inside(name, np.linspace(-10, 10, 513, dtype=np.float32)))
    for dt in (torch.float16, torch.bfloat16):
        xh = x32.to(dt)
        y = e.function(xh, **args_for(name))
        assert y.dtype == dt
        ref = e.function(xh.to(torch.float32), **args_for(name)).to(dt)
        assert torch.equal(y, ref)


@pytest.mark.parametrize("name", NAMES)
def test_torch_autograd_uses_our_derivative(name):
    torch = pytest.importorskip("torch")
    e = actlab.get(name)
    x = torch.from_numpy(inside(name, np.linspace(-6, 6, 97))).requires_grad_(True)
    (g,) = torch.autograd.grad(e.function(x, **args_for(name)).sum(), x)
    assert torch.equal(g, e.derivative(x.detach(), **args_for(name)))


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name):
    torch = pytest.importorskip("torch")
    e = actlab.get(name)
    x = away_from_kinks(name, np.concatenate([[0.0], np.random.default_rng(2).uniform(-5, 5, 24)]), 1e-2)
    x = inside(name, x, 1e-2)
    t = torch.tensor(x, requires_grad=True)
    f = lambda v: e.function(v, **args_for(name))
    assert torch.autograd.gradcheck(f, (t,))
    if name in SMOOTH:
        assert torch.autograd.gradgradcheck(f, (t,))


def test_gradcheck_tensor_parameters():
    torch = pytest.importorskip("torch")
    x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    w = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: actlab.prelu(x, w), (x, w))
    b = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, b: actlab.swish(x, b), (x, b))
    assert torch.autograd.gradgradcheck(lambda x, b: actlab.swish(x, b), (x, b))


@pytest.mark.parametrize("entry", [e for e in ENTRIES], ids=NAMES)
def test_bad_parameters_are_named(entry):
    """NaN (and out-of-domain values where a domain is declared) raise a
    ValueError that names the parameter and the value."""
    for p in entry.params:
        kw = args_for(entry.name)
        if p.choices is not None:
            kw[p.name] = "bogus"
            with pytest.raises(ValueError, match=rf"{p.name}.*bogus"):
                entry.function(1.0, **kw)
        elif p.valid is not None:
            kw[p.name] = float("nan")
            with pytest.raises(ValueError, match=rf"{p.name}.*nan"):
                entry.function(1.0, **kw)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: actlab.softplus(1.0, beta=0.0), "beta must be > 0, got 0"),
        (lambda: actlab.softplus(1.0, beta=-1.0), "beta"),
        (lambda: actlab.celu(1.0, alpha=0.0), "alpha"),
        (lambda: actlab.elu(1.0, alpha=-1.0), "alpha"),
        (lambda: actlab.gelu(1.0, approximate="fast"), "approximate"),
        (lambda: actlab.leaky_relu(1.0, float("nan")), "negative_slope"),
        (lambda: actlab.softshrink(1.0, -0.5), "lambd"),
        (lambda: actlab.hardtanh(1.0, 1.0, -1.0), "min_val"),
        (lambda: actlab.rrelu(1.0, 0.5, 0.1), "lower must be <= upper"),
        (lambda: actlab.rrelu(1.0, -0.5, 0.1), "lower"),
        (lambda: actlab.rrelu(1.0, distribution="cauchy"), "distribution"),
        (lambda: actlab.glu(np.ones(3)), "even"),
        (lambda: actlab.maxout(np.ones(5), 2), "pieces=2 does not divide"),
        (lambda: actlab.maxout(np.ones(4), 0), "pieces"),
        (lambda: actlab.prelu(np.ones((2, 3)), [0.1, 0.2]), "weight has 2 entries"),
        (lambda: actlab.sigmoid.derivative(1.0, wrt="beta"), "wrt"),
    ],
)
def test_bad_input_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_keyword_and_missing_parameter():
    with pytest.raises(TypeError, match="unexpected keyword argument 'slope'"):
        actlab.leaky_relu(1.0, slope=0.1)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'weight'"):
        actlab.prelu(1.0)


def test_kink_conventions():
    """relu'(0) = 0 (seed 004); at kinks the derivative is PyTorch's choice (hardswish at -3 excepted, see its notes)."""
    assert actlab.relu.derivative(0.0) == 0.0
    assert actlab.leaky_relu.derivative(0.0, 0.1) == pytest.approx(0.1)
    assert actlab.relu6.derivative(6.0) == 0.0 and actlab.relu6.derivative(0.0) == 0.0
    assert actlab.hardswish.derivative(-3.0) == 0.0 and actlab.hardswish.derivative(3.0) == 1.5
    assert actlab.elu.derivative(0.0, 2.0) == 2.0 and actlab.softshrink.derivative(0.5) == 0.0


def test_identities():
    x = np.linspace(-20, 20, 1001)
    np.testing.assert_allclose(actlab.tanh(x) + 1, 2 * actlab.sigmoid(2 * x), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(actlab.log_sigmoid(x), -actlab.softplus(-x), rtol=1e-15)
    np.testing.assert_allclose(actlab.silu(x), actlab.swish(x, 1.0), rtol=0)
    np.testing.assert_allclose(actlab.selu(x), 1.0507009873554805 * actlab.elu(x, 1.6732632423543772), rtol=1e-15)
    np.testing.assert_allclose(actlab.swish(x, 0.0), x / 2, rtol=0)
    big = actlab.swish(x, 1e6)
    np.testing.assert_allclose(big[np.abs(x) > 1e-3], actlab.relu(x)[np.abs(x) > 1e-3], rtol=1e-12)


def test_matches_torch_functional():
    """Values agree with torch.nn.functional where torch is accurate (float64, moderate x)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.linspace(-8, 8, 1601, dtype=torch.float64)
    pairs = {
        "sigmoid": torch.sigmoid, "log_sigmoid": F.logsigmoid, "tanh": torch.tanh, "relu": F.relu,
        "relu6": F.relu6, "leaky_relu": F.leaky_relu, "elu": F.elu, "selu": F.selu, "celu": F.celu,
        "gelu": F.gelu, "softplus": F.softplus, "silu": F.silu, "mish": F.mish,
        "hardtanh": F.hardtanh, "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish,
        "softsign": F.softsign, "tanhshrink": F.tanhshrink, "softshrink": F.softshrink,
        "hardshrink": F.hardshrink,
    }
    for name, tf in pairs.items():
        torch.testing.assert_close(actlab.get(name).function(x), tf(x), rtol=1e-12, atol=1e-14, msg=name)
    torch.testing.assert_close(actlab.gelu(x, approximate="tanh"), F.gelu(x, approximate="tanh"), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(actlab.threshold(x, 0.5, -1.0), F.threshold(x, 0.5, -1.0))
    w = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    xx = torch.randn(4, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(actlab.prelu(xx, w), F.prelu(xx, w))
    xg = torch.randn(4, 6, dtype=torch.float64)
    torch.testing.assert_close(actlab.glu(xg), F.glu(xg))
    torch.testing.assert_close(actlab.glu(xg.T, axis=0), F.glu(xg.T, dim=0))


@pytest.mark.parametrize("name", ["glu", "reglu", "geglu", "swiglu"])
def test_gated_linear_units(name, backend):
    e = actlab.get(name)
    gate = e.extra["gate"]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 8))
    y = to_numpy(e.function(to_backend(backend, x)))
    np.testing.assert_allclose(y, x[:, :4] * gate(x[:, 4:]), rtol=1e-15)
    # vjp against finite differences of <g, f(x)>
    g = rng.normal(size=(3, 4))
    x = x + 0.05 * np.sign(x) * (np.abs(x) < 0.05)  # keep reglu away from its kink
    num = np.zeros_like(x)
    h = 1e-6
    for idx in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[idx] = h
        num[idx] = (np.sum(g * e.function(x + d)) - np.sum(g * e.function(x - d))) / (2 * h)
    np.testing.assert_allclose(e.function.vjp(x, g), num, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(e.function(x.T, axis=0).T, e.function(x), rtol=0)


def test_gated_linear_units_torch_gradients():
    torch = pytest.importorskip("torch")
    x = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    for f in (actlab.glu, actlab.geglu, actlab.swiglu):
        assert torch.autograd.gradcheck(f, (x,))
        assert torch.autograd.gradgradcheck(f, (x,))


def test_maxout(backend):
    x = np.array([[1.0, 5.0, 3.0, 2.0, -1.0, -1.0]])
    y = to_numpy(actlab.maxout(to_backend(backend, x), 2))
    np.testing.assert_array_equal(y, [[5.0, 3.0, -1.0]])
    np.testing.assert_array_equal(actlab.maxout(x, 3), [[5.0, 2.0]])
    x3 = np.random.default_rng(4).normal(size=(2, 6, 3))
    np.testing.assert_array_equal(actlab.maxout(x3, 3, axis=1), x3.reshape(2, 2, 3, 3).max(axis=2))
    g = np.array([[10.0, 20.0, 30.0]])
    # ties go to the first maximum
    np.testing.assert_array_equal(actlab.maxout.vjp(x, g, 2), [[0, 10, 20, 0, 30, 0]])
    assert np.isnan(actlab.maxout([np.nan, 1.0], 2)).all()


def test_maxout_torch_gradient_goes_to_first_maximum():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, 5.0, 3.0, 2.0, -1.0, -1.0]], dtype=torch.float64, requires_grad=True)
    actlab.maxout(x, 2).backward(torch.tensor([[10.0, 20.0, 30.0]], dtype=torch.float64))
    assert x.grad.tolist() == [[0, 10, 20, 0, 30, 0]]


def test_rrelu():
    x = -np.ones(10000)
    y1 = actlab.rrelu(x, training=True, generator=np.random.default_rng(7))
    y2 = actlab.rrelu(x, training=True, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(y1, y2)
    assert np.all((-y1 >= 1 / 8) & (-y1 <= 1 / 3))
    assert abs(-y1.mean() - (1 / 8 + 1 / 3) / 2) < 0.005
    yn = actlab.rrelu(x, training=True, distribution="normal", generator=np.random.default_rng(7))
    assert abs(np.std(yn) - (1 / 3 - 1 / 8) / math.sqrt(12)) < 0.003
    assert actlab.rrelu(-1.0) == pytest.approx(-(1 / 8 + 1 / 3) / 2)
    assert np.all(actlab.rrelu(np.ones(5), training=True) == 1.0)


def test_rrelu_torch_gradient_is_the_drawn_slope():
    torch = pytest.importorskip("torch")
    x = torch.full((1000,), -1.0, dtype=torch.float64, requires_grad=True)
    y = actlab.rrelu(x, training=True, generator=torch.Generator().manual_seed(0))
    y.sum().backward()
    torch.testing.assert_close(x.grad, -y.detach())
    y2 = actlab.rrelu(x.detach(), training=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y.detach(), y2)


def test_registry_entries_are_complete():
    for e in actlab.registry():
        assert e.latex and e.reference and e.family
        assert e.function.__doc__ and ">>>" in e.function.__doc__, e.name
    assert set(NAMES) >= {
        "sigmoid", "log_sigmoid", "tanh", "relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu",
        "selu", "celu", "gelu", "softplus", "swish", "silu", "mish", "hardtanh", "hardsigmoid",
        "hardswish", "softsign", "tanhshrink", "softshrink", "hardshrink", "threshold",
    }
    with pytest.raises(KeyError, match="no function 'nope'"):
        actlab.get("nope")
    for p in actlab.get("softplus").params:
        assert p.default is not REQUIRED and p.domain


def test_import_does_not_load_heavy_backends():
    code = "import sys, actlab; print(sorted(m for m in ('torch', 'jax', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_array_parameter_given_a_string_is_a_clear_error():
    torch = pytest.importorskip("torch")
    for x in (np.ones(3), torch.ones(3)):
        with pytest.raises(TypeError, match="negative_slope must be a number or an array, got 'abc'"):
            actlab.leaky_relu(x, "abc")
        with pytest.raises(TypeError, match="weight must be a number or an array, got None"):
            actlab.prelu(x, None)
