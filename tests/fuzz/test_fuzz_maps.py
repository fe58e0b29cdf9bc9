"""Fuzz harness, vector maps and reductions: every registered simplex map
(softmax, softmin, log_softmax, hardmax, sum_normalize, spherical and Taylor
softmax, Gumbel-softmax, sparsemax, entmax15, entmax) and logsumexp.

SPEC section 2's rules for non-finite rows, for every map and for its
gradient: -inf entries get probability 0 and a zero gradient, +inf entries
share the mass, an all -inf row gives zeros and zero gradients (the hard
Gumbel-softmax no one-hot on a masked entry), NaN stays in its row and does
not reach the other rows' values or gradients. Plus dtypes, shapes (K = 0,
K = 1, large K, 0-d, empty batches), layouts, argument checking, the public
``vjp``/``jvp``, double backward and ``torch.func``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from fuzz_inputs import FUZZ, MAPS, NP_FLOATS, TORCH_FLOATS, call, layouts, rows
from hypothesis import given

import actlab

inf, nan = math.inf, math.nan
IDS = [e.name for e in MAPS]
#: The maps whose -inf entries are masked (softmin masks +inf: softmin(x) = softmax(-x)).
MASKING = [e for e in MAPS if e.name not in ("sum_normalize", "softmin")]
LOG = {"log_softmax"}


def _sums_to_one(e):
    """False for the maps that are not normalised (softpick: at most 1; alpha-ReLU; budget sparsemax: B)."""
    return e.extra.get("sums_to_one", True)


def _masked_value(e):
    return -inf if e.name in LOG else 0.0


def _grad(e, x: torch.Tensor, g: torch.Tensor, **kw) -> torch.Tensor:
    x = x.detach().clone().requires_grad_()
    (gx,) = torch.autograd.grad(call(e, x, **kw), x, g)
    return gx


MASK_ROWS = torch.tensor([[0.0, -inf, 1.0, 2.0], [-inf, -inf, -inf, -inf], [inf, 0.0, inf, -inf],
                          [-inf, 3.0, -inf, -inf], [5.0, 5.0, -inf, -1e308]], dtype=torch.float64)


@pytest.mark.parametrize("e", MASKING, ids=[e.name for e in MASKING])
def test_masked_entries_and_rows(e):
    y = call(e, MASK_ROWS)
    masked = MASK_ROWS == -inf
    assert torch.all(y[masked] == _masked_value(e)), f"{e.name}: masked entries {y[masked]}"
    assert not torch.isnan(y).any(), f"{e.name}: NaN in\n{y}"
    p = y.exp() if e.name in LOG else y
    if _sums_to_one(e):
        torch.testing.assert_close(p[[0, 2, 3, 4]].sum(-1), torch.ones(4, dtype=torch.float64))
        # +inf entries share the mass equally, the others get 0
        torch.testing.assert_close(p[2], torch.tensor([0.5, 0.0, 0.5, 0.0], dtype=torch.float64))
    g = torch.randn(MASK_ROWS.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    gx = _grad(e, MASK_ROWS, g)
    assert not torch.isnan(gx).any(), f"{e.name}: NaN gradient\n{gx}"
    assert torch.all(gx[masked] == 0), f"{e.name}: gradient at masked entries {gx[masked]}"
    assert torch.all(gx[1] == 0), f"{e.name}: all -inf row gets gradient {gx[1]}"


def test_softmin_masks_plus_inf():
    x = torch.tensor([[0.0, inf, 1.0], [inf, inf, inf]], dtype=torch.float64)
    e = actlab.get("softmin")
    y = call(e, x)
    assert y[0, 1] == 0 and not torch.isnan(y).any()
    gx = _grad(e, x, torch.ones_like(x))
    assert gx[0, 1] == 0 and not torch.isnan(gx).any()


@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_nan_row_stays_in_its_row(e):
    """One NaN row anywhere in the batch: that row is NaN, the other rows'
    values and gradients are those of the batch without it."""
    if e.name == "sum_normalize":
        clean = torch.tensor([[1.0, 0.0, 3.0], [0.5, 0.5, 2.0]], dtype=torch.float64)
    else:
        clean = torch.tensor([[-inf, -inf, -inf], [0.0, -inf, 1.0], [2.0, 0.5, -1.0]], dtype=torch.float64)
    x = torch.cat([clean[:1], torch.tensor([[nan, 0.0, 1.0]], dtype=torch.float64), clean[1:]])
    keep = [0, 2, 3][: clean.shape[0]] if clean.shape[0] == 3 else [0, 2]
    g = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    y, y0 = call(e, x), call(e, clean)
    assert torch.isnan(y[1]).all() if not e.extra.get("elementwise") else torch.isnan(y[1, 0])
    gx, g0 = _grad(e, x, g), _grad(e, clean, g[keep])
    if e.name == "gumbel_softmax":  # the noise depends on the batch: NaN confined to its row is all we can ask
        assert not torch.isnan(y[keep]).any() and not torch.isnan(gx[keep]).any()
        return
    torch.testing.assert_close(y[keep], y0, equal_nan=True)
    torch.testing.assert_close(gx[keep], g0, equal_nan=True, msg=lambda m: f"{e.name}: NaN row leaks: {m}")


def test_hard_gumbel_softmax_never_picks_a_masked_entry():
    x = torch.tensor([[-inf, -inf, -inf], [-inf, 0.0, -inf], [0.0, 1.0, -inf]])
    for seed in range(5):
        y = actlab.gumbel_softmax(x, hard=True, generator=torch.Generator().manual_seed(seed))
        assert torch.all(y[x == -inf] == 0), y
        assert torch.equal(y[1], torch.tensor([0.0, 1.0, 0.0]))
        assert torch.equal(y.sum(-1), torch.tensor([0.0, 1.0, 1.0]))
    y = actlab.gumbel_softmax(torch.tensor([[nan, 0.0, 1.0]]), hard=True, generator=0)
    assert torch.isnan(y).all()  # NaN stays NaN, as in the soft sample
    assert actlab.gumbel_softmax(torch.ones(3, 0), hard=True, generator=0).shape == (3, 0)
    assert float(actlab.gumbel_softmax(np.float64(2.0), hard=True, generator=0)) == 1.0


ALTERNATIVES = ("sum_normalize", "spherical_softmax", "taylor_softmax")


@pytest.mark.parametrize(("e", "dtype"), [pytest.param(e, d, id=f"{e.name}-{d}") for e in MAPS for d in TORCH_FLOATS])
def test_torch_dtypes_and_edge_rows(e, dtype):
    dt = getattr(torch, dtype)
    fi = torch.finfo(dt)
    if e.name == "sum_normalize":
        x = torch.tensor([[fi.max, fi.max, fi.tiny], [fi.smallest_normal / 4, 0.0, 0.0], [1.0, 2.0, 0.0]], dtype=dt)
    else:
        x = torch.tensor([[fi.max, -fi.max, 0.0], [fi.tiny, -0.0, 0.0], [88.8, -88.8, 11.1],
                          [-inf, 1.0, -inf], [1e4, 1e4, -1e4]], dtype=torch.float64).clamp(-fi.max, fi.max).to(dt)
        x[3, [0, 2]] = -inf
    y = call(e, x)
    assert y.dtype == dt and y.shape == x.shape
    assert not torch.isnan(y).any(), f"{e.name} {dtype}: NaN in {y}"
    p = y.double().exp() if e.name in LOG else y.double()
    if not _sums_to_one(e):
        return
    torch.testing.assert_close(p.sum(-1), torch.ones(x.shape[0], dtype=torch.float64), rtol=0, atol=8 * fi.eps,
                               msg=lambda m: f"{e.name} {dtype}: rows do not sum to 1: {p}")


@pytest.mark.parametrize("dtype", NP_FLOATS)
@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_numpy_dtypes_layouts_and_no_write(e, dtype):
    base = np.array([[3.0, 1.0, 0.25, 0.0], [0.5, 2.0, 0.0, 7.0], [1.0, 1.0, 1.0, 1.0]], dtype=dtype)
    want = call(e, np.ascontiguousarray(base))
    assert want.dtype == base.dtype
    for name, a in layouts(base).items():
        if name == "bigendian":
            continue
        before = np.array(a, copy=True)
        y = call(e, a)
        np.testing.assert_array_equal(a, before, err_msg=f"{e.name} wrote into a {name} input")
        np.testing.assert_array_equal(y, call(e, np.ascontiguousarray(a)), err_msg=f"{e.name} on {name}")


@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_big_endian_input(e):
    """Same values (to an ULP: a big-endian array takes the non-numba path)."""
    base = np.array([[3.0, 1.0, 0.25, 0.0], [0.5, 2.0, 0.0, 7.0]])
    np.testing.assert_allclose(call(e, base.astype(">f8")), call(e, base), rtol=4.5e-16, atol=0)


@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_torch_layouts(e):
    x = torch.rand(2, 3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 4
    for name, t in {"channels_last": x.to(memory_format=torch.channels_last), "transposed": x.transpose(1, 3),
                    "expanded": x[:1].expand(3, 3, 4, 5)}.items():
        for axis in (-1, 1):
            y = call(e, t, axis=axis)
            torch.testing.assert_close(y, call(e, t.contiguous(), axis=axis), rtol=0, atol=0,
                                       msg=lambda m, name=name: f"{e.name} {name}: {m}")


def _shape_params():
    out = []
    for e in MAPS:
        for shape in [(0, 3), (3, 0), (0, 0), (2, 1), (1,), (4, 0, 2), (0,)]:
            out.append(pytest.param(e, shape, id=f"{e.name}-{shape}"))
    return out


@pytest.mark.parametrize(("e", "shape"), _shape_params())
def test_empty_and_single_class(e, shape):
    """One rule for every map (sum_normalize included): an empty input, K = 0 or an empty batch,
    gives the empty result of the same shape and dtype and a zero-size gradient, as torch.softmax."""
    x = torch.full(shape, 2.0, dtype=torch.float32, requires_grad=True)
    y = call(e, x)
    assert y.shape == x.shape and y.dtype == x.dtype
    if not _sums_to_one(e):
        return
    if x.numel():
        assert torch.all(y == (0.0 if e.name in LOG else 1.0))
    (gx,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    assert gx is None or (gx.shape == x.shape and torch.all(gx == 0))
    # torch.softmax, the oracle, on the same shape: an empty result and a zero-size gradient
    xt = x.detach().clone().requires_grad_()
    (gt,) = torch.autograd.grad(torch.softmax(xt, -1).sum(), xt)
    assert gt.shape == shape and (gx is None or gx.shape == gt.shape)
    yn = call(e, np.full(shape, 2.0))
    assert yn.shape == shape and yn.dtype == np.float64
    if hasattr(e.function, "vjp") and e.name != "gumbel_softmax":
        assert e.function.vjp(np.full(shape, 2.0), np.ones(shape)).shape == shape


@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_zero_d_input_is_one_class(e):
    """A 0-d input is one class, as torch.softmax(t, 0) and scipy.special.softmax take it:
    probability 1 (log-probability 0), a 0-d result and a zero gradient."""
    if not _sums_to_one(e):
        pytest.skip("not a normalised map")
    want = 0.0 if e.name in LOG else 1.0
    y = call(e, np.float64(2.0))
    assert np.shape(y) == () and float(y) == want
    for axis in (0, -1):
        x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        y = call(e, x, axis=axis)
        assert y.shape == () and float(y.detach()) == want
        (gx,) = torch.autograd.grad(y, x, allow_unused=True)
        assert gx is None or (gx.shape == () and gx == 0)
    if e.name in ("softmax", "log_softmax"):  # torch's own op, the oracle
        t = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        (gt,) = torch.autograd.grad(getattr(torch, e.name)(t, 0), t)
        assert gt == 0
    with pytest.raises(ValueError, match="axis"):
        call(e, np.float64(2.0), axis=1)


@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_large_k(e):
    x = torch.randn(2, 200_000, dtype=torch.float32, generator=torch.Generator().manual_seed(0)).abs()
    y = call(e, x)
    if not _sums_to_one(e):
        return
    p = y.double().exp() if e.name in LOG else y.double()
    torch.testing.assert_close(p.sum(-1), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-5)


@pytest.mark.parametrize("axis", [2, -3, 1.5, "0", True, None])
@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_bad_axis(e, axis):
    with pytest.raises((ValueError, TypeError), match="axis"):
        call(e, np.ones((2, 3)), axis=axis)


@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_numpy_integer_axis(e):
    x = np.array([[1.0, 2.0, 0.0], [0.5, 0.25, 3.0]])
    np.testing.assert_array_equal(call(e, x, axis=np.int64(1)), call(e, x, axis=1))


TEMPERATURE_MAPS = [e for e in MAPS if "temperature" in e.function.__code__.co_varnames
                    or "temperature" in str(__import__("inspect").signature(e.function))]


@pytest.mark.parametrize("t", [0.0, -0.0, inf, -inf, nan, "2", True, None, [1.0]])
@pytest.mark.parametrize("e", TEMPERATURE_MAPS, ids=[e.name for e in TEMPERATURE_MAPS])
def test_bad_temperature_names_it(e, t):
    with pytest.raises((ValueError, TypeError), match="temperature") as info:
        call(e, np.ones(3), temperature=t)
    if isinstance(t, float):
        assert repr(t) in str(info.value) or str(t) in str(info.value)


@pytest.mark.parametrize("t", [1e-300, 1e300, -1e-300, np.float64(0.5), 3])
@pytest.mark.parametrize("e", TEMPERATURE_MAPS, ids=[e.name for e in TEMPERATURE_MAPS])
def test_extreme_temperatures(e, t):
    x = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    if e.name == "sum_normalize":
        x = np.abs(x) + 1
    y = call(e, x, temperature=t)
    assert not np.isnan(y).any(), f"{e.name} at T={t}: {y}"


SPARSE = ("sparsemax", "entmax15", "entmax")
@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_vjp_cotangent_shape(e):
    """A cotangent that broadcasts gives the broadcast result; one that does
    not is a ValueError (never a read past its buffer)."""
    if not hasattr(e.function, "vjp"):
        pytest.skip("no public vjp")
    x = np.random.default_rng(0).normal(size=(4, 3))
    if e.name == "sum_normalize":
        x = np.abs(x) + 0.1
    np.testing.assert_array_equal(e.function.vjp(x, np.ones((1, 1))), e.function.vjp(x, np.ones((4, 3))))
    g = np.array([[1.0, -2.0, 0.5]])
    np.testing.assert_array_equal(e.function.vjp(x, g), e.function.vjp(x, np.repeat(g, 4, axis=0)))
    np.testing.assert_array_equal(e.function.vjp(x, g[0]), e.function.vjp(x, np.repeat(g, 4, axis=0)))
    for bad in (np.ones((2, 3)), np.ones((4, 4)), np.ones((2, 4, 3))):
        with pytest.raises(ValueError, match=r"\bg\b.*shape"):
            e.function.vjp(x, bad)
        if hasattr(e.function, "jvp"):
            with pytest.raises(ValueError, match=r"\bv\b.*shape"):
                e.function.jvp(x, bad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numba_vjp_kernels_check_the_cotangent(dtype):
    """The compiled VJP's front door refuses a cotangent of another shape
    (the kernels read it row by row as the output)."""
    from actlab.backends.numpy import numba_sparse

    kernels = numba_sparse()
    if kernels is None:
        pytest.skip("no numba")
    y = actlab.sparsemax(np.random.default_rng(0).normal(size=(4, 3)).astype(dtype))
    for beta in (1.0, 2.0, 0.5):
        assert kernels.vjp_rows(y, np.ones_like(y), beta).shape == y.shape
        with pytest.raises(ValueError, match="g"):
            kernels.vjp_rows(y, np.ones((1, 1), dtype=dtype), beta)


@pytest.mark.parametrize("e", MAPS, ids=IDS)
def test_public_vjp_jvp_agree_with_autograd(e):
    x = torch.tensor([[0.3, -1.0, 2.0, -inf], [1.0, 1.0, 0.0, 0.5]], dtype=torch.float64)
    if e.name == "sum_normalize":
        x = x.nan_to_num(neginf=0.0).abs() + 0.1
    if e.name in ("softpick", "sparsegen_lin"):  # off their kinks (an entry 0; a support tie)
        x = x * 1.01 + 0.013
    g = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    if not hasattr(e.function, "vjp") or e.name == "gumbel_softmax":
        pytest.skip("no public vjp or random")
    v = torch.as_tensor(e.function.vjp(x.numpy(), g.numpy()))
    torch.testing.assert_close(v, _grad(e, x, g))
    if hasattr(e.function, "jvp"):
        _, t = torch.func.jvp(lambda z: call(e, z), (x,), (g,))
        torch.testing.assert_close(torch.as_tensor(e.function.jvp(x.numpy(), g.numpy())), t.nan_to_num(),
                                   msg=lambda m: f"{e.name}: torch.func.jvp against the public jvp: {m}")


#: Piecewise maps with a kink at the fixed point below: softpick and alpha-ReLU at an entry 0, budget
#: sparsemax (B = 2 of 3) where an entry meets its cap.
KINKED = ("softpick", "alpha_relu", "budget_sparsemax")


@pytest.mark.parametrize("e", [e for e in MAPS if e.name not in ("hardmax", "gumbel_softmax")], ids=lambda e: e.name)
def test_gradcheck_double_backward_and_func(e):
    x = torch.tensor([[0.3, -1.0, 2.0], [1.0, 1.1, 0.0]], dtype=torch.float64, requires_grad=True)
    if e.name == "sum_normalize":
        x = (x.detach().abs() + 0.2).requires_grad_()
    f = lambda z: call(e, z)  # noqa: E731
    if e.name in KINKED:  # the point above sits on a kink of these maps: a generic point instead
        x = (0.3 * torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))).requires_grad_()
    if e.name not in ("sparsemax", "entmax15", "entmax"):  # piecewise: second derivative 0 a.e.
        assert torch.autograd.gradgradcheck(f, (x,))
    assert torch.autograd.gradcheck(f, (x,))
    jac = torch.func.jacrev(f)(x.detach())
    assert jac.shape == (2, 3, 2, 3)
    vm = torch.func.vmap(f)(x.detach())
    torch.testing.assert_close(vm, f(x.detach()))
    gr = torch.func.grad(lambda z: (f(z) * torch.arange(3.0, dtype=z.dtype)).sum())(x.detach())
    assert gr.shape == x.shape


@FUZZ
@given(rows(max_k=6))
def test_random_rows(x):
    """Probabilities in [0, 1] summing to 1 (0 for all -inf rows), NaN only in
    rows with a NaN; never a RuntimeWarning."""
    nan_rows = np.isnan(x).any(-1)
    for e in MASKING:
        if not _sums_to_one(e):
            continue
        y = call(e, x)
        p = np.exp(y) if e.name in LOG else y
        assert np.array_equal(np.isnan(p).any(-1), nan_rows), (e.name, x, y)
        ok = ~nan_rows
        assert np.all((p[ok] >= 0) & (p[ok] <= 1)), (e.name, x, y)
        s = p[ok].sum(-1)
        masked_rows = np.all(x[ok] == -inf, axis=-1)
        np.testing.assert_allclose(s, np.where(masked_rows, 0.0, 1.0), atol=1e-12, err_msg=f"{e.name} on {x}")


@FUZZ
@given(rows(max_k=6, allow_nan=False))
def test_random_rows_match_pytorch(x):
    t = torch.from_numpy(x)
    finite_rows = ~(t == -inf).all(-1)  # PyTorch gives NaN on an all -inf row
    plain = finite_rows & ~(t == inf).any(-1)
    y, want = actlab.softmax(t), torch.softmax(t, -1)
    torch.testing.assert_close(y[plain], want[plain], rtol=1e-12, atol=1e-300, msg=lambda m: f"softmax on {x}: {m}")
    # PyTorch's log_softmax is off by an ULP of the row's largest magnitude (log_softmax([0, 20])[1])
    y, want = actlab.log_softmax(t), torch.log_softmax(t, -1)
    scale = t.abs().nan_to_num(posinf=0.0, neginf=0.0).amax(-1, keepdim=True)
    ok = ((y - want).abs() <= 1e-12 * want.abs() + 4e-16 * scale) | (y == want)
    assert bool(ok[plain].all()), f"log_softmax on {x}: {y} against {want}"
    lse, want = actlab.logsumexp(t), torch.logsumexp(t, -1)
    ok = ((lse - want).abs() <= 1e-12 * want.abs() + 4e-16 * scale[..., 0]) | (lse == want)
    assert bool(ok[plain].all()), f"logsumexp on {x}: {lse} against {want}"


# --- logsumexp -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", TORCH_FLOATS)
def test_logsumexp_edges(dtype):
    dt = getattr(torch, dtype)
    fi = torch.finfo(dt)
    x = torch.tensor([[fi.max, fi.max, 0.0], [-inf, -inf, -inf], [inf, 0.0, -inf], [-fi.max, -fi.max, -fi.max]],
                     dtype=torch.float64).to(dt).requires_grad_()
    y = actlab.logsumexp(x)
    assert y.dtype == dt
    assert y[0] == inf or y[0].double() >= fi.max * (1 - fi.eps)  # log(2 * max) = max + log 2: overflows in the dtype
    assert y[1] == -inf and y[2] == inf
    (gx,) = torch.autograd.grad(y[1:].sum(), x)
    assert not torch.isnan(gx[1]).any() and torch.all(gx[1] == 0)


def test_logsumexp_empty_and_keepdims():
    assert actlab.logsumexp(np.zeros(0)) == -inf
    assert actlab.logsumexp(torch.zeros(0, 3), axis=0).tolist() == [-inf] * 3
    assert actlab.logsumexp(np.zeros((2, 0)), keepdims=True).shape == (2, 1)
    x = torch.zeros(2, 0, requires_grad=True)
    actlab.logsumexp(x).sum().backward()
    assert x.grad.shape == (2, 0)
    # 0-d: one entry, its own logsumexp (torch.logsumexp(t, 0), the oracle, with its gradient 1)
    t = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    for keepdims in (False, True):
        y = actlab.logsumexp(t, keepdims=keepdims)
        assert y.shape == () and y == torch.logsumexp(t, 0)
        (gt,) = torch.autograd.grad(y, t)
        assert gt == 1.0
    assert actlab.logsumexp(np.float64(-inf)) == -inf


@pytest.mark.parametrize("e", [e for e in TEMPERATURE_MAPS if e.name != "sum_normalize"], ids=lambda e: e.name)
def test_temperature_below_one_near_the_largest_float(e):
    """Scores whose quotient x / T leaves the float range: no warning, and the
    limit values (z = 2e308 * [1, -1, 0] is a one-hot for the shift-invariant
    maps and [1/2, 1/2, 0] for the spherical and Taylor softmax, whose
    quadratic terms dominate; [2e308, 3e308, 0] picks its second entry)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = call(e, np.array([1e308, -1e308, 0.0]), temperature=0.5)
        y2 = call(e, np.array([1e308, 1.5e308, 0.0]), temperature=0.5)
        yt = call(e, torch.tensor([1e308, -1e308, 0.0], dtype=torch.float64), temperature=0.5)
    assert not np.isnan(y).any()
    np.testing.assert_array_equal(np.asarray(yt), y)
    if not _sums_to_one(e):  # softpick, alpha-ReLU: not shift-invariant, no exact limit to compare with
        return
    p = np.exp(y) if e.name in LOG else y
    even = e.name in ("spherical_softmax", "taylor_softmax")
    one_hot = [0.0, 1.0, 0.0] if e.name == "softmin" else [1.0, 0.0, 0.0]  # softmin: the smallest score
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0] if even else one_hot, atol=1e-300)
    p2 = np.exp(y2) if e.name in LOG else y2
    if not even:
        np.testing.assert_allclose(p2, [0.0, 0.0, 1.0] if e.name == "softmin" else [0.0, 1.0, 0.0], atol=1e-300)
    else:  # p ~ z^2: [4, 9, 0] / 13; the -1e308 entry keeps its share
        np.testing.assert_allclose(p2, [4 / 13, 9 / 13, 0.0], rtol=1e-15, atol=1e-300)
        np.testing.assert_allclose(call(e, np.array([1e308, 0.0, -1e308]), temperature=0.5), [0.5, 0.0, 0.5],
                                   atol=1e-300)
