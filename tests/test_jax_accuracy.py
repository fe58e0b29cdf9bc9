"""The accuracy bar on JAX arrays: actlab's values and derivatives (the
public derivative and ``jax.grad``) within 4 ULPs of mpmath on the stored
grid (``tests/data``), float32 without 64-bit mode and float64 with it.

XLA on the CPU flushes subnormal numbers to zero (results and inputs). On
such a backend the points whose input or exact result lies within 2**53
(float64; 2**24 for float32) of the subnormal range -- where a flushed
intermediate can cost the low half of a double-word product -- are held to
an absolute error of 4 ULPs of that band's upper edge instead (a flushed
subnormal result passes); everywhere else the bar is 4 ULPs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from reference_data import Reference, load, ulp_errors

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import actlab  # noqa: E402

BAR = 4.0
REFS = load()
DEFAULTS = [r for r in REFS if r.id == r.name or r.name in ("prelu", "threshold")]


def band_edge(dtype) -> float:
    fi = np.finfo(dtype)
    return float(fi.smallest_normal) * 2.0 ** (53 if dtype == np.float64 else 24)


def check(y, ref: Reference, what: str, dtype, label: str, bar: float = BAR) -> None:
    """``y`` within ``bar`` ULPs, or, in the subnormal band, within 4 ULPs of
    its edge, or, for a subnormal input, the value at (signed) zero."""
    y = np.asarray(y)
    assert y.dtype == dtype, (label, y.dtype)
    x = ref.grid(dtype)
    hi, frac = ref.exact(what, dtype)
    err = ulp_errors(y, (hi, frac), dtype)
    edge = band_edge(dtype)
    with np.errstate(invalid="ignore"):
        band = np.isfinite(x) & ((np.abs(x) < edge) | (np.abs(hi) < edge))
        abs_err = np.abs(y.astype(np.float64) - hi)
    tol = 4 * float(np.spacing(dtype(edge)))
    e = actlab.get(ref.name)
    fn = e.function if what == "value" else e.derivative
    zero = np.where(np.signbit(x), -0.0, 0.0).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        at_zero = np.asarray(fn(zero, **ref.params))
    daz = (np.abs(x) < float(np.finfo(dtype).smallest_normal)) & (y == at_zero)
    bad = (err > bar) & ~(band & (abs_err <= tol)) & ~daz
    i = np.argmax(np.where(bad, err, 0))
    assert not bad.any(), f"{label}: {what} of {ref.id} is {err[i]:.3g} ULPs off at x = {x[i]!r}"


def _fns(ref: Reference):
    e = actlab.get(ref.name)
    return (lambda v: e.function(v, **ref.params)), (lambda v: e.derivative(v, **ref.params))


@pytest.mark.parametrize("case", REFS, ids=[r.id for r in REFS])
def test_float32_without_x64_within_4_ulp(case: Reference):
    f, d = _fns(case)
    x = jnp.asarray(case.grid(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(f(x), case, "value", np.float32, "jax")
        check(d(x), case, "derivative", np.float32, "jax derivative")


@pytest.mark.parametrize("case", DEFAULTS, ids=[r.id for r in DEFAULTS])
def test_float32_jit_grad_within_4_ulp(case: Reference):
    f, _ = _fns(case)
    x = jnp.asarray(case.grid(np.float32))
    check(jax.jit(f)(x), case, "value", np.float32, "jax jit")
    check(jax.jit(jax.vmap(jax.grad(f)))(x), case, "derivative", np.float32, "jax grad")


@pytest.mark.slow
@pytest.mark.parametrize("case", REFS, ids=[r.id for r in REFS])
def test_float64_with_x64_within_4_ulp(case: Reference):
    f, d = _fns(case)
    with jax.enable_x64(True):
        x = jnp.asarray(case.grid(np.float64))
        check(f(x), case, "value", np.float64, "jax x64")
        check(d(x), case, "derivative", np.float64, "jax x64 derivative")
        check(jax.jit(f)(x), case, "value", np.float64, "jax x64 jit")
        check(jax.jit(jax.vmap(jax.grad(f)))(x), case, "derivative", np.float64, "jax x64 grad")


def _log1p_grid() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.concatenate([
        rng.uniform(-1.0, 1.0, 1500),  # XLA's own log1p is up to 115 ULPs off on (-0.5, -0.29)
        -1.0 + 10.0 ** rng.uniform(-16, -1, 100),
        rng.choice([-1.0, 1.0], 200) * 10.0 ** rng.uniform(-300, -1, 200),
        10.0 ** rng.uniform(0, 308, 200),
    ])


def test_backend_log1p_within_1_ulp_in_float64():
    """The backend's float64 log1p (in place of XLA's) against mpmath, under
    jit (where XLA would fold the ``(1 + x) - 1`` of its rounding error)."""
    import mpmath

    from actlab.backends.jax import BACKEND

    x = _log1p_grid()
    with mpmath.workprec(120):
        exact = [mpmath.log1p(mpmath.mpf(float(v))) for v in x]
    ref = np.array([float(e) for e in exact])
    with jax.enable_x64(True):
        log1p = jax.jit(BACKEND.log1p)
        y = np.asarray(log1p(jnp.asarray(x)))
        got = np.asarray(log1p(jnp.asarray([-1.0, -0.0, 0.0, np.inf, -2.0, -np.inf, np.nan])))
    err = np.array([float(abs(mpmath.mpf(float(a)) - e)) for a, e in zip(y, exact)]) / np.spacing(np.abs(ref))
    assert err.max() <= 1.0, (err.max(), x[err.argmax()])
    assert got[0] == -np.inf and np.signbit(got[1]) and got[2] == 0 and not np.signbit(got[2]) and got[3] == np.inf
    assert np.isnan(got[4:]).all()
