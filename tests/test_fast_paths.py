"""The declared fast executions of the torch backend (issue 16): every
(function, dtype, pass) entry of the table held to the accuracy bar on the
mpmath grid -- 4 ULPs for float32 and float64, 1 ULP of bfloat16 for
bfloat16 -- and every call that the table serves taking its declared
execution (a missing or broken entry is an error here, never a silent
fallback to actlab's formula)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference_data import Reference, load, ulp_errors, worst

import actlab

torch = pytest.importorskip("torch")
from actlab.backends.torch import fast_lane, fast_paths  # noqa: E402
from actlab.backends.torch.fast_paths import GELU_TANH, TABLE  # noqa: E402

REFS = load()
F32, F64, BF16 = torch.float32, torch.float64, torch.bfloat16
NP = {F32: np.float32, F64: np.float64}


def _spec(name: str):
    return actlab.get(name).extra["spec"]


def _values(ref: Reference) -> tuple:
    return tuple(ref.params.get(p.name, p.default) for p in _spec(ref.name).params)


def _cases():
    """(reference, dtype, execution) for every reference the table serves."""
    out = []
    for ref in REFS:
        entry = actlab.get(ref.name)
        if "spec" not in entry.extra:
            continue
        for dt in (F32, F64, BF16):
            ex, _ = fast_lane.select(_spec(ref.name), dt, _values(ref))
            if ex is not None:
                out.append(pytest.param(ref, dt, ex, id=f"{ref.id}-{str(dt)[6:]}"))
    return out


CASES = _cases()


def test_table_names_are_registered_elementwise_functions():
    names = {e.name for e in actlab.registry("elementwise") if "spec" in e.extra}
    assert {name for name, _ in TABLE} <= names
    assert {dt for _, dt in TABLE} <= {F32, F64, BF16}
    assert set(GELU_TANH) <= {F32, F64, BF16}


def test_every_table_entry_is_checked_here():
    """Each (function, dtype) of the table has at least one reference case
    below, so none goes unchecked."""
    served = {(ref.name, dt) for ref, dt, _ in (c.values for c in CASES)}
    assert set(TABLE) <= served


def test_executions_are_well_formed():
    for (name, dt), ex in TABLE.items():
        assert ex.forward in fast_paths.FORWARD_KINDS and ex.backward in fast_paths.BACKWARD_KINDS, name
        if dt == BF16:  # never float64 for bfloat16 input
            assert ex.work != F64 and ex.dwork != F64, name
    with pytest.raises(ValueError, match="native backward"):
        fast_paths.Execution("guarded", "native", torch.sigmoid)


def _check(y, ref: Reference, what: str, dt, label: str) -> None:
    if dt == BF16:
        _check_bf16(y, ref, what, label)
        return
    npdt = NP[dt]
    err = ulp_errors(y.detach().numpy(), ref.exact(what, npdt), npdt)
    e, at = worst(err, ref.grid(npdt))
    assert e <= 4.0, f"{label}: {what} of {ref.id} is {e:.3g} ULPs off at x = {at!r} ({dt})"


def _bf16_points(ref: Reference) -> np.ndarray:
    x = ref.grid(np.float32)
    return (torch.from_numpy(x).to(BF16).float().numpy() == x) | np.isnan(x)


_BF16_OVERFLOW = (2.0 - 2.0**-8) * 2.0**127
"""bfloat16's largest number plus half its ULP: what reaches it rounds to infinity."""


def _check_bf16(y, ref: Reference, what: str, label: str) -> None:
    """Within 1 ULP of bfloat16 of the exact value (at the grid points that are bfloat16 numbers)."""
    m = _bf16_points(ref)
    exact = ref.exact(what, np.float32)[0][m].astype(np.float64)
    got = y.detach().float().numpy().astype(np.float64)
    with np.errstate(all="ignore"):
        exact = np.where(np.abs(exact) >= _BF16_OVERFLOW, np.copysign(np.inf, exact), exact)  # (rounds to +-inf)
        e = np.frexp(np.abs(exact))[1]
        ulp = np.ldexp(1.0, np.maximum(e - 8, -133))
        same = (got == exact) | (np.isnan(got) & np.isnan(exact))
        err = np.where(np.isfinite(exact), np.abs(got - exact) / ulp, np.where(same, 0.0, np.inf))
    err = np.where(np.isnan(err), np.inf, err)
    i = int(np.argmax(err))
    assert err[i] <= 1.0, f"{label}: {what} of {ref.id} is {err[i]:.3g} bfloat16 ULPs off at x = {ref.grid(np.float32)[m][i]!r}"


def _grid(ref: Reference, dt) -> torch.Tensor:
    if dt == BF16:
        return torch.from_numpy(ref.grid(np.float32)[_bf16_points(ref)]).to(BF16)
    return torch.from_numpy(ref.grid(NP[dt]))


@pytest.mark.parametrize(("ref", "dt", "ex"), CASES)
def test_fast_execution_within_the_bar(ref: Reference, dt, ex):
    """The forward and derivative of the declared execution, and the public
    function, its derivative and its autograd backward (which take it)."""
    spec, values = _spec(ref.name), _values(ref)
    x = _grid(ref, dt)
    entry = actlab.get(ref.name)
    if ex.forward != "plain":
        _check(fast_lane.forward(spec, ex, x, values), ref, "value", dt, f"{ex.forward} forward")
    if ex.backward in ("fused", "loop"):
        _check(fast_lane.derivative(spec, ex, x, None, values), ref, "derivative", dt, f"{ex.backward} derivative")
    _check(entry.function(x, **ref.params), ref, "value", dt, "public function")
    _check(entry.derivative(x, **ref.params), ref, "derivative", dt, "public derivative")
    leaf = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(entry.function(leaf, **ref.params).sum(), leaf)
    if ex.backward == "native" and ref.name != "hardsigmoid":
        g = torch.where(torch.isnan(x), x, g)  # torch's backward gives a number at NaN
    _check(g, ref, "derivative", dt, f"{ex.backward} backward")


@pytest.mark.parametrize(("ref", "dt", "ex"), CASES)
def test_calls_take_the_declared_execution(ref: Reference, dt, ex, monkeypatch):
    """No silent fallback: a call the table serves runs the table's forward
    and derivative (counted here), and never actlab's generic path."""
    calls: list[str] = []
    real_forward, real_derivative = fast_lane.forward, fast_lane.derivative
    monkeypatch.setattr(fast_lane, "forward", lambda *a: calls.append("forward") or real_forward(*a))
    monkeypatch.setattr(fast_lane, "derivative", lambda *a: calls.append("derivative") or real_derivative(*a))
    spec_type = type(_spec(ref.name))
    x = torch.linspace(-3.0, 3.0, 11, dtype=dt)
    entry = actlab.get(ref.name)
    if ex.forward != "plain":
        monkeypatch.setattr(spec_type, "__call__", _refuse)  # the generic path
        entry.function(x, **ref.params)
        assert calls == ["forward"]
        monkeypatch.undo()
        monkeypatch.setattr(fast_lane, "forward", lambda *a: calls.append("forward") or real_forward(*a))
        monkeypatch.setattr(fast_lane, "derivative", lambda *a: calls.append("derivative") or real_derivative(*a))
    calls.clear()
    leaf = x.clone().requires_grad_(True)
    if ex.backward == "native":
        y = entry.function(leaf, **ref.params)
        assert y.grad_fn is not None and "Fast" not in type(y.grad_fn).__name__
    elif ex.backward in ("fused", "loop"):
        y = entry.function(leaf, **ref.params)
        assert type(y.grad_fn).__name__.startswith("Fast"), type(y.grad_fn).__name__
        y.sum().backward()
        assert "derivative" in calls
        calls.clear()
        monkeypatch.setattr(spec_type, "grad", _refuse)
        entry.derivative(x, **ref.params)
        assert calls == ["derivative"]


def _refuse(*args, **kwargs):
    raise AssertionError("the generic path ran for a call the fast table serves")


def test_guard_takes_actlab_formula_outside_the_domain():
    """sigmoid(-100) in float32 is subnormal: torch's kernel flushes part of
    it; the guarded execution hands those entries to actlab's formula."""
    x = torch.tensor([-100.0, 0.0, 3.0, math.nan, -math.inf, math.inf])
    y = actlab.sigmoid(x)
    ref = actlab.sigmoid(x.double().numpy())
    np.testing.assert_array_equal(y.numpy(), ref.astype(np.float32))
    d = actlab.sigmoid.derivative(torch.tensor([-100.0, 100.0, 1.0, math.nan]))
    assert d[0] > 0 and d[1] > 0 and d[2] > 0 and torch.isnan(d[3])


def test_double_backward_is_actlab_second_derivative():
    """create_graph=True: the backward is actlab's differentiable formula."""
    x = torch.linspace(-4, 4, 33, dtype=F64, requires_grad=True)
    for name in ("sigmoid", "tanh", "silu", "softplus", "elu"):
        f = actlab.get(name).function
        (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x)
        spec = _spec(name)
        xd = x.detach().requires_grad_(True)
        d = fast_lane._plain_derivative(spec, xd, tuple(p.default for p in spec.params))
        (g2,) = torch.autograd.grad(d.sum(), xd)
        torch.testing.assert_close(h, g2, rtol=1e-12, atol=1e-15, msg=name)


def test_meta_and_func_transforms_take_the_formula():
    xm = torch.empty(4, device="meta")
    assert actlab.sigmoid(xm).device.type == "meta"
    x = torch.linspace(-2, 2, 5, dtype=F64)
    g = torch.func.vmap(torch.func.grad(lambda v: actlab.silu(v)))(x)
    torch.testing.assert_close(g, actlab.silu.derivative(x), rtol=1e-15, atol=0)


def test_large_inputs_run_block_by_block():
    x = torch.linspace(-10, 10, 3 * (1 << 16) + 7)
    torch.testing.assert_close(actlab.gelu(x), actlab.gelu(x.double()).float(), rtol=1.2e-7, atol=0)
    torch.testing.assert_close(actlab.silu.derivative(x), actlab.silu.derivative(x.double()).float(),
                               rtol=3e-7, atol=0)
    xr = x[:-7].reshape(4, -1)[:, ::2]  # not contiguous
    torch.testing.assert_close(actlab.tanh.derivative(xr), actlab.tanh.derivative(xr.contiguous()))


def test_parameter_loops_are_bounded_per_function():
    """A parameter value that changes every call must not compile every call:
    past LOOP_VALUES_MAX values, softplus(beta) takes the execution declared
    without loops, and every call is still right."""
    if not fast_paths.LOOPS:
        pytest.skip("no numba")
    kinds = []
    for i in range(fast_paths.LOOP_VALUES_MAX + 3):
        beta = 1.0 + (i + 1) / 64
        ex = fast_paths.with_parameters("swish", F32, (beta,))
        kinds.append(ex.forward)
    assert kinds.count("loop") <= fast_paths.LOOP_VALUES_MAX and kinds[-1] != "loop"
    x = torch.linspace(-30, 30, 101)
    beta = 1.0 + (fast_paths.LOOP_VALUES_MAX + 3) / 64
    torch.testing.assert_close(actlab.swish(x, beta), actlab.swish(x.double(), beta).float(), rtol=2.5e-7, atol=0)
