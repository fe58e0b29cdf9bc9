"""The accuracy bar of the element-wise activations (issue 2): values and
derivatives within 4 ULPs of mpmath's correctly rounded result, float64 and
float32, NumPy and PyTorch (public derivative and autograd backward), over
the stored grid (``tests/data``, written by ``scripts/make_references.py``);
the limits at +-inf, NaN propagation, no RuntimeWarning for any input, and
half precision rounded once from float32."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from reference_data import Reference, load, ulp_errors, worst

import actlab

torch = pytest.importorskip("torch")

BAR = 4.0  # ULPs
REFS = load()
BY_ID = {r.id: r for r in REFS}
DTYPES = (np.float64, np.float32)


def _assert_within(y, ref: Reference, what: str, dtype, label: str) -> None:
    err = ulp_errors(np.asarray(y), ref.exact(what, dtype), dtype)
    e, at = worst(err, ref.grid(dtype))
    assert e <= BAR, f"{label}: {what} of {ref.id} is {e:.3g} ULPs off at x = {at!r} ({np.dtype(dtype).name})"


def _call(ref: Reference, what: str, x):
    entry = actlab.get(ref.name)
    fn = entry.function if what == "value" else entry.derivative
    return fn(x, **ref.params)


def test_every_elementwise_function_has_references():
    missing = {e.name for e in actlab.registry("elementwise")} - {r.name for r in REFS}
    assert not missing, f"no mpmath references for {sorted(missing)}: rerun scripts/make_references.py"


@pytest.mark.parametrize("case", REFS, ids=[r.id for r in REFS])
def test_numpy_within_4_ulp(case: Reference):
    for dtype in DTYPES:
        x = case.grid(dtype)
        for what in ("value", "derivative"):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                y = _call(case, what, x)
            assert y.dtype == dtype
            _assert_within(y, case, what, dtype, "numpy")


@pytest.mark.parametrize("case", REFS, ids=[r.id for r in REFS])
def test_torch_within_4_ulp(case: Reference):
    for dtype in DTYPES:
        t = torch.from_numpy(case.grid(dtype))
        for what in ("value", "derivative"):
            y = _call(case, what, t)
            assert y.dtype == t.dtype
            _assert_within(y.numpy(), case, what, dtype, "torch")
        leaf = t.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(_call(case, "value", leaf).sum(), leaf)
        _assert_within(g.numpy(), case, "derivative", dtype, "torch autograd")


@pytest.mark.parametrize("case", [BY_ID[i] for i in ("sigmoid", "gelu", "swish[beta=1.702]", "softplus[beta=0.3]")],
                         ids=lambda r: r.id)
def test_array_api_strict_within_4_ulp(case: Reference):
    xps = pytest.importorskip("array_api_strict")
    x = case.grid(np.float64)[::3]
    sub = Reference(case.id, case.name, case.params, case.x[::3], case.is_f32[::3],
                    tuple(a[::3] for a in case.value), tuple(a[::3] for a in case.derivative))
    for what in ("value", "derivative"):
        y = _call(sub, what, xps.asarray(x))
        _assert_within(np.asarray(y), sub, what, np.float64, "array_api_strict")


def test_array_api_strict_runs_every_function():
    xps = pytest.importorskip("array_api_strict")
    x = xps.asarray([-3.0, -0.5, 0.0, 0.25, 2.0])
    for ref in REFS:
        for what in ("value", "derivative"):
            y = _call(ref, what, x)
            assert np.allclose(np.asarray(y), _call(ref, what, np.asarray(x)), rtol=1e-15, atol=0, equal_nan=True), ref.id


# -- special points, checked one by one ------------------------------------------

# (f(-inf), f(+inf), f'(-inf), f'(+inf)) with default parameters: the limits.
_SELU_L, _SELU_A = 1.0507009873554805, 1.6732632423543772
LIMITS = {
    "sigmoid": (0, 1, 0, 0), "log_sigmoid": (-math.inf, 0, 1, 0), "tanh": (-1, 1, 0, 0),
    "softsign": (-1, 1, 0, 0), "hardsigmoid": (0, 1, 0, 0), "hardtanh": (-1, 1, 0, 0),
    "tanhshrink": (-math.inf, math.inf, 1, 1), "relu": (0, math.inf, 0, 1), "relu6": (0, 6, 0, 0),
    "leaky_relu": (-math.inf, math.inf, 0.01, 1), "prelu": (-math.inf, math.inf, 0.25, 1),
    "threshold": (-1, math.inf, 0, 1), "rrelu": (-math.inf, math.inf, (1 / 8 + 1 / 3) / 2, 1),
    "softshrink": (-math.inf, math.inf, 1, 1), "hardshrink": (-math.inf, math.inf, 1, 1),
    "elu": (-1, math.inf, 0, 1), "selu": (-_SELU_L * _SELU_A, math.inf, 0, _SELU_L),
    "celu": (-1, math.inf, 0, 1), "softplus": (0, math.inf, 0, 1), "gelu": (0, math.inf, 0, 1),
    "swish": (0, math.inf, 0, 1), "silu": (0, math.inf, 0, 1), "mish": (0, math.inf, 0, 1),
    "hardswish": (0, math.inf, 0, 1),
    # the catalogue (NaN: no limit, or outside the domain)
    "relu2": (0, math.inf, 0, math.inf), "star_relu": (-0.4472135954999579, math.inf, 0, math.inf),
    "squareplus": (0, math.inf, 0, 1), "sparse_plus": (0, math.inf, 0, 1), "sparse_sigmoid": (0, 1, 0, 0),
    "hard_mish": (0, math.inf, 0, 1), "quick_gelu": (0, math.inf, 0, 1), "gelu_10": (0, 10, 0, 0),
    "laplace": (0, 1, 0, 0), "identity": (-math.inf, math.inf, 1, 1), "exponential": (0, math.inf, 0, math.inf),
    "log1mexp": (0, math.nan, 0, math.nan), "logit": (math.nan,) * 4, "sqrt_softplus": (0, math.inf, 0, 0),
    "golu": (0, math.inf, 0, 1), "sine": (math.nan,) * 4, "snake": (-math.inf, math.inf, math.nan, math.nan),
    "snake_beta": (-math.inf, math.inf, math.nan, math.nan), "xielu": (math.inf, math.inf, 0.5 - 0.8, math.inf),
    "dyt": (-1, 1, 0, 0), "poly_relu": (0, math.inf, 0, math.inf),
}


def _inside(name: str, x: np.ndarray) -> np.ndarray:
    """Where x lies in the function's domain (all of it for most)."""
    lo, hi = actlab.get(name).extra.get("domain") or (-math.inf, math.inf)
    return (x >= lo) & (x <= hi)


def _a_point_inside(name: str) -> float:
    lo, hi = actlab.get(name).extra.get("domain") or (-math.inf, math.inf)
    return 1.0 if lo <= 1.0 <= hi and hi > 1.0 else (lo + hi) / 2 if math.isfinite(lo + hi) else min(hi, 1.0) - 1.0
DEFAULT_CASES = [r for r in REFS if r.id == r.name or r.name in ("prelu", "threshold")]


def test_limits_table_covers_the_registry():
    assert {e.name for e in actlab.registry("elementwise")} <= set(LIMITS)


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda r: r.id)
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_limits_at_infinity(case: Reference, backend: str):
    lo, hi, dlo, dhi = LIMITS[case.name]
    for dtype in DTYPES:
        x = np.array([-np.inf, np.inf], dtype=dtype)
        xin = x if backend == "numpy" else torch.from_numpy(x)
        for what, expected in (("value", (lo, hi)), ("derivative", (dlo, dhi))):
            y = np.asarray(_call(case, what, xin))
            np.testing.assert_allclose(y, np.array(expected, dtype=dtype), rtol=1e-7, err_msg=f"{case.id} {what}")


@pytest.mark.parametrize("name", ["gelu", "silu", "mish"])
def test_self_gated_limits_are_exact_zeros_and_ones(name: str):
    f = getattr(actlab, name)
    for x in (np.array([-np.inf, np.inf]), torch.tensor([-np.inf, np.inf], dtype=torch.float64)):
        assert np.asarray(f(x)).tolist() == [0.0, np.inf]
        assert np.asarray(f.derivative(x)).tolist() == [0.0, 1.0]
    assert np.asarray(actlab.gelu.derivative(np.array([-np.inf, np.inf]), "tanh")).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("case", REFS, ids=lambda r: r.id)
def test_nan_in_nan_out(case: Reference):
    for dtype in DTYPES:
        x = np.array([np.nan, _a_point_inside(case.name), np.nan], dtype=dtype)
        for xin in (x, torch.from_numpy(x)):
            for what in ("value", "derivative"):
                y = np.asarray(_call(case, what, xin))
                assert np.isnan(y[[0, 2]]).all() and not np.isnan(y[1]), f"{case.id} {what}"


SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 20.0, -20.0, 36.0, -36.0, 88.72, -88.72,
           709.78, -709.78, 745.13, -745.13]


@pytest.mark.parametrize("case", REFS, ids=lambda r: r.id)
def test_special_points(case: Reference):
    """0, -0, the smallest subnormal and normal numbers and the thresholds of
    exp/log1p (20, 36, 88.72, 709.78, 745.13), each checked on its own."""
    for dtype in DTYPES:
        grid = case.grid(dtype)
        for v in SPECIAL:
            hits = np.nonzero((grid == dtype(v)) & (np.signbit(grid) == np.signbit(dtype(v))))[0]
            if v != 0 and abs(v) < np.finfo(dtype).smallest_normal:
                hits = np.nonzero(grid == (np.nextafter(dtype(0), dtype(np.sign(v)))))[0]
            assert hits.size, f"{v} missing from the {np.dtype(dtype).name} grid"
            i = hits[:1]
            sub = Reference(case.id, case.name, case.params, grid[i].astype(np.float64), np.array([True]),
                            tuple(a[case.is_f32][i] if dtype == np.float32 else a[i] for a in case.value),
                            tuple(a[case.is_f32][i] if dtype == np.float32 else a[i] for a in case.derivative))
            for what in ("value", "derivative"):
                y = _call(case, what, grid[i])
                err = ulp_errors(y, sub.exact(what, np.float64 if dtype == np.float64 else np.float32), dtype)
                assert err.max() <= BAR, f"{case.id} {what} at {v} ({np.dtype(dtype).name}): {err.max():.3g} ULPs"


def test_known_values():
    """Exact or published values at 0 and at the roots of the derivatives."""
    assert actlab.sigmoid(0.0) == 0.5 and actlab.sigmoid.derivative(0.0) == 0.25
    assert actlab.tanh.derivative(0.0) == 1.0 and actlab.gelu.derivative(0.0) == 0.5
    assert actlab.silu.derivative(0.0) == 0.5 and actlab.mish.derivative(0.0) == 0.6
    assert actlab.softplus(0.0) == 0.6931471805599453  # ln 2, correctly rounded
    assert actlab.mish(0.0) == 0.0 and actlab.gelu(-0.0) == 0.0
    # the derivatives change sign across their roots (negative to their left)
    for f, root, args in ((actlab.silu, -1.2784645427610737, ()), (actlab.mish, -1.1924312145154952, ()),
                          (actlab.gelu, -0.7517915246935645, ()), (actlab.gelu, -0.7524614220710163, ("tanh",))):
        left, right = np.nextafter(root, -2.0), np.nextafter(root, 0.0)
        d = f.derivative(np.array([left, right]), *args)
        assert d[0] < 0 < d[1] and np.all(np.abs(d) < 1e-15), (f.__name__, d)


# -- no RuntimeWarning for any input ---------------------------------------------

def _extremes(dtype) -> np.ndarray:
    fi = np.finfo(dtype)
    mags = [0.0, float(np.nextafter(dtype(0), dtype(1))), float(fi.smallest_normal), 1e-300, 1.0, 3.0, 20.0,
            36.0, 88.72, 103.97, 709.78, 745.13, 1e4, 1e20, 1e38, 1e150, 1e300, float(fi.max), np.inf]
    v = np.array([m for m in mags if m <= float(fi.max) or m == np.inf], dtype=dtype)
    return np.concatenate([v, -v, np.array([np.nan], dtype=dtype)])


@pytest.mark.parametrize("case", REFS, ids=lambda r: r.id)
def test_no_runtime_warning_for_any_input(case: Reference):
    for dtype in (np.float64, np.float32, np.float16):
        x = _extremes(dtype)
        with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
            warnings.simplefilter("error")
            for what in ("value", "derivative"):
                y = _call(case, what, x)
                finite_in = np.isfinite(x) & _inside(case.name, x)
                assert not np.isnan(np.asarray(y)[finite_in]).any(), f"{case.id} {what}: NaN from a number"


# -- half precision: computed in float32, rounded once -----------------------------

@pytest.mark.parametrize("case", REFS, ids=lambda r: r.id)
def test_half_precision_is_float32_rounded_once(case: Reference):
    x16 = np.arange(-(2**15), 2**15, dtype=np.int64).astype(np.int16).view(np.float16)
    x16 = x16[np.isfinite(x16)]
    tb = torch.from_numpy(np.arange(0, 2**16, dtype=np.int32).astype(np.int16)).view(torch.bfloat16)
    tb = tb[torch.isfinite(tb)]
    for what in ("value", "derivative"):
        y16 = _call(case, what, x16)
        y32 = _call(case, what, x16.astype(np.float32))
        assert y16.dtype == np.float16
        with np.errstate(over="ignore"):  # selu(65504) = inf in float16
            expected16 = y32.astype(np.float16)
        np.testing.assert_array_equal(y16, expected16, err_msg=f"{case.id} {what} float16")
        for half, t in ((torch.float16, torch.from_numpy(x16)), (torch.bfloat16, tb)):
            yh = _call(case, what, t)
            assert yh.dtype == half
            expected = _call(case, what, t.float()).to(half)
            if half == torch.bfloat16 and _bf16_fast(case, what):
                # torch's bfloat16 kernel (float32 inside, rounded once): within 1 ULP of the float32 result
                assert_within_one_bf16_ulp(yh, expected, f"{case.id} {what} fast lane")
                continue
            assert torch.equal(yh.float().nan_to_num(7.0), expected.float().nan_to_num(7.0)), f"{case.id} {what} {half}"


def _bf16_fast(case: Reference, what: str) -> bool:
    """Whether the bfloat16 fast lane of the torch backend serves this pass."""
    from actlab.backends.torch.fast_lane import select

    spec = actlab.get(case.name).extra.get("spec")
    if spec is None:
        return False
    values = tuple(case.params.get(p.name, p.default) for p in spec.params)
    ex, _ = select(spec, torch.bfloat16, values)
    return ex is not None and (ex.forward != "plain" if what == "value" else ex.backward == "fused")


def assert_within_one_bf16_ulp(y, expected, label: str) -> None:
    """bfloat16 ``y`` within one ULP of bfloat16 ``expected`` (equal where not finite)."""
    a, b = y.float(), expected.float()
    fin = torch.isfinite(b)
    assert torch.equal(a[~fin].nan_to_num(7.0), b[~fin].nan_to_num(7.0)), label
    ulp = torch.exp2(torch.floor(torch.log2(torch.clamp(torch.abs(b), min=2.0**-126)))) * 2.0**-7
    ulp = torch.clamp(ulp, min=2.0**-133)
    err = (a[fin] - b[fin]).abs() / ulp[fin]
    assert err.max() <= 1.0, f"{label}: {err.max():.3g} bfloat16 ULPs from the float32 result"


# -- torch.compile keeps the accuracy ----------------------------------------------

@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="passes alone; once failed (elu near 0, compiled, float64) when run after the other "
    "compile tests in one xdist worker -- an order-dependent inductor issue under investigation",
)
def test_compiled_functions_keep_the_accuracy():
    """The double-word kernels survive inductor (fusion must not reassociate
    or contract Dekker's products, and torch's compiled expm1 is replaced):
    values and gradients of one compiled call (fullgraph: no graph break)
    computing two functions, float64 (compiling is slow: kept small)."""
    ids = ("gelu[approximate=tanh]", "elu")
    refs = [BY_ID[i] for i in ids]
    fns = [(actlab.get(r.name).function, r.params) for r in refs]

    def values(*ts):
        return tuple(fn(t, **params) for (fn, params), t in zip(fns, ts, strict=True))

    torch._dynamo.reset()
    compiled = torch.compile(values, fullgraph=True)
    x = torch.from_numpy(refs[0].grid(np.float64))
    leaves = [x.clone().requires_grad_(True) for _ in refs]
    ys = compiled(*leaves)
    grads = torch.autograd.grad([y.sum() for y in ys], leaves)  # the backward compiled with it
    for ref, y, g in zip(refs, ys, grads, strict=True):
        _assert_within(y.detach().numpy(), ref, "value", np.float64, "compiled")
        _assert_within(g.numpy(), ref, "derivative", np.float64, "compiled autograd")
