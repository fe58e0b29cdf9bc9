"""The formula tracer and the numba loops generated from it: every
element-wise function traces; a generated loop computes what the NumPy
backend computes from the same formula (bit for bit where no elementary
function is involved); the bfloat16 conversions agree with torch's."""

from __future__ import annotations

import math

import numpy as np
import pytest

import actlab
from actlab._activation import evaluate
from actlab.backends.formula_trace import TRACER, Symbol, Untraceable, trace

nb = pytest.importorskip("numba")
from actlab.backends.numba_formula import _from_bf16, _to_bf16, compile_graph, elementwise_loop  # noqa: E402

SPECS = [e.extra["spec"] for e in actlab.registry("elementwise") if "spec" in e.extra]


def _numpy_backend():
    from actlab._backend import backend_of

    return backend_of(np.zeros(1))


def _defaults(spec):
    return tuple(p.default for p in spec.params)


@pytest.mark.parametrize("spec", [s for s in SPECS if all(isinstance(v, (int, float, str)) for v in _defaults(s))],
                         ids=lambda s: s.name)
def test_every_function_with_default_parameters_traces(spec):
    for dt in (np.float32, np.float64):
        for fn, what in ((spec.math, "forward"), (spec.derivative, "derivative")):
            y = trace(lambda x, *p, xp, fn=fn, what=what: evaluate(fn, x, p, xp, what in spec.promote32), dt,
                      *_defaults(spec))
            assert y.dtype == np.dtype(dt), (spec.name, what)


def _mixed(x, *, xp):
    """Every non-elementary operation of the vocabulary, NaN-sensitive ones included."""
    a = xp.clip(x * 0.1, min=-0.25, max=2.0)
    b = xp.where((x > 1.0) & ~(x > 3.0), xp.maximum(a, x / 3.0), xp.minimum(a, -x))
    c = xp.copysign(xp.abs(b) + 0.5, x) - xp.floor(x * 0.75)
    w = xp.astype(xp.astype(c, xp.float64) * (1.0 / 3.0), x.dtype)
    return xp.where(xp.isnan(x) | xp.isfinite(x), w, xp.ones_like(x) * 7.0) + xp.sqrt(xp.abs(x))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_loop_is_bit_for_bit_the_numpy_formula(dt):
    """A second evaluation of the same formula: NumPy's array ops (weak
    Python scalars, NaN through clip/maximum/minimum, -0.0 in copysign)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(500) * 4, [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, 3.0, 1e-40]])
    x = x.astype(dt)
    loop = compile_graph(trace(_mixed, dt))
    out = np.empty_like(x)
    loop.run(x, out=out)
    with np.errstate(all="ignore"):
        ref = _mixed(x, xp=_numpy_backend())
    assert ref.dtype == out.dtype
    np.testing.assert_array_equal(out.view(np.uint8), np.asarray(ref).view(np.uint8))


@pytest.mark.parametrize("name", ["gelu", "mish", "silu", "tanhshrink", "softplus", "hardswish", "elu"])
def test_loops_agree_with_the_array_formula(name):
    """The loop of each pass against the NumPy formula at the same point:
    the elementary functions differ (libm against NumPy's), nothing else."""
    spec = actlab.get(name).extra["spec"]
    x64 = np.linspace(-30.0, 30.0, 2001)
    for dt, tol in ((np.float32, 1.0), (np.float64, 8.0)):
        x = x64.astype(dt)
        for derivative in (False, True):
            loop = elementwise_loop(spec, dt, _defaults(spec), derivative)
            out = loop.run(x, out=np.empty_like(x))
            fn = spec.derivative if derivative else spec.math
            promote = ("derivative" if derivative else "forward") in spec.promote32
            ref = np.asarray(evaluate(fn, x, _defaults(spec), _numpy_backend(), promote))
            err = np.abs(out.astype(np.float64) - ref) / np.spacing(np.abs(ref).astype(dt)).astype(np.float64)
            assert np.nanmax(err) <= tol, (name, dt, derivative, float(np.nanmax(err)))
            np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))


def test_scaled_loop_is_the_vjp():
    spec = actlab.silu.spec
    x = np.linspace(-8, 8, 101)
    g = np.cos(x)
    out = elementwise_loop(spec, np.float64, (), derivative=True, scaled=True).run(x, g, out=np.empty_like(x))
    d = evaluate(spec.derivative, x, (), _numpy_backend(), False)
    np.testing.assert_allclose(out, g * d, rtol=1e-14, atol=0)


def test_a_formula_that_branches_on_values_is_untraceable():
    def branchy(x, *, xp):
        return x if x > 0 else -x

    with pytest.raises(Untraceable, match="branches"):
        trace(branchy, np.float64)
    with pytest.raises(Untraceable, match="xp.cumsum"):
        trace(lambda x, *, xp: xp.cumsum(x), np.float64)
    with pytest.raises(Untraceable):
        trace(lambda x, *, xp: x[0], np.float64)
    assert TRACER.may_branch(Symbol.input(np.float64)) is False


def test_weak_scalars_take_the_symbol_dtype():
    x = Symbol.input(np.float32)
    assert (x * 0.1).dtype == np.float32 and (2.0 - x).dtype == np.float32
    assert (x * TRACER.astype(x, TRACER.float64)).dtype == np.float64
    assert (x > 1.0).dtype == np.bool_


def test_bfloat16_conversions_are_torchs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    wide = np.ldexp(rng.standard_normal(4000).astype(np.float32), rng.integers(-140, 125, 4000).astype(np.int32))
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3.3895314e38, 3.40282347e38, 1e-45], dtype=np.float32)
    f = np.concatenate([wide.astype(np.float32), edges])

    @nb.njit
    def down(a, out):
        for i in range(a.shape[0]):
            out[i] = _to_bf16(a[i])

    @nb.njit
    def up(b, out):
        for i in range(b.shape[0]):
            out[i] = _from_bf16(b[i])

    bits = np.empty(f.shape, np.uint16)
    down(f, bits)
    ref = torch.from_numpy(f).to(torch.bfloat16)
    got = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16)
    assert torch.equal(torch.isnan(got), torch.isnan(ref))
    fin = ~torch.isnan(ref)
    assert torch.equal(got[fin].view(torch.int16), ref[fin].view(torch.int16))
    back = np.empty(f.shape, np.float32)
    up(bits, back)
    np.testing.assert_array_equal(back, got.float().numpy())
    assert math.isnan(back[np.isnan(f)][0])


def test_loops_are_kept_in_the_cache_directory(tmp_path, monkeypatch):
    """The generated module is written once to ACTLAB_CACHE_DIR and numba
    caches its machine code beside it; an unwritable directory still gives
    a working loop (compiled in memory)."""
    from actlab.backends import numba_formula

    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path))
    y = trace(lambda x, *, xp: xp.where(x > 0.25, x * 3.0, -x), np.float64)
    loop = compile_graph(y)
    files = list((tmp_path / "loops").glob("actlab_loop_*.py"))
    assert len(files) == 1 and "cache=True" in files[0].read_text()
    assert list((tmp_path / "loops" / "__pycache__").glob("*.nbi"))
    assert loop.run(np.array([1.0, -2.0]), out=np.empty(2)).tolist() == [3.0, 2.0]
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(blocker))  # (a file where the folder would be)
    assert numba_formula.cache_dir().parent == blocker
    loop = compile_graph(trace(lambda x, *, xp: x * 5.0, np.float64))
    assert loop.run(np.array([1.0]), out=np.empty(1)).tolist() == [5.0]
    assert blocker.read_text() == ""


def test_threads_split_the_loop_without_changing_it():
    from actlab.backends.numba_formula import PARALLEL_MIN

    spec = actlab.gelu.spec
    x = np.linspace(-12.0, 12.0, PARALLEL_MIN + 12345)
    loop = elementwise_loop(spec, np.float64, ("none",), True)
    one = loop.run(x, out=np.empty_like(x))
    three = loop.run(x, out=np.empty_like(x), threads=3)
    np.testing.assert_array_equal(one, three)


def test_torch_loops_follow_torchs_thread_count():
    torch = pytest.importorskip("torch")
    x = torch.linspace(-9.0, 9.0, (1 << 18) + 77, dtype=torch.float64)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = actlab.mish(x), actlab.mish.derivative(x)
        torch.set_num_threads(2)
        two = actlab.mish(x), actlab.mish.derivative(x)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])


def test_signed_zero_constants_stay_apart():
    """-0.0 == 0.0 in Python: a loop that shared their constant would give
    gelu(-inf) = +0.0 where the formula gives -0.0."""
    y = trace(lambda x, *, xp: xp.where(x > 0, 0.0, -0.0), np.float64)
    out = compile_graph(y).run(np.array([2.0, -1.0]), out=np.empty(2))
    assert np.signbit(out).tolist() == [False, True]
