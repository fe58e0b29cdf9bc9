"""Fused linear sparsemax / entmax losses against the unfused losses on the
materialised scores (actlab's own, and the ``entmax`` package's, an
independent implementation), finite differences, closed forms and bad input."""

from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")

import actlab  # noqa: E402
from actlab.torch.functional import linear_entmax_loss, linear_sparsemax_loss  # noqa: E402
from actlab.torch.large_output import (  # noqa: E402
    LinearEntmaxLoss,
    LinearSparsemaxLoss,
    sparse_chunks,  # noqa: E402
)

_dense_chunk = sparse_chunks._dense_chunk

N, D, V = 37, 8, 53
CHUNKS = dict(chunk_rows=6, vocab_chunk=37)  # divide neither N nor V: blocks of 16 and a tail


def make(dtype=torch.float64, bias=True, seed=0, shape=(N,), scale=1.0, v=V, d=D):
    g = torch.Generator().manual_seed(seed)
    h = (scale * torch.randn(*shape, d, generator=g, dtype=torch.float64)).to(dtype).requires_grad_()
    w = torch.randn(v, d, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
    b = torch.randn(v, generator=g, dtype=torch.float64).to(dtype).requires_grad_() if bias else None
    t = torch.randint(0, v, shape, generator=g)
    t.view(-1)[::5] = -100
    return h, w, b, t


def fused(h, w, t, alpha, **kw):
    if alpha == 2.0:
        return linear_sparsemax_loss(h, w, t, **kw)
    return linear_entmax_loss(h, w, t, alpha, **kw)


def reference(h, w, t, b, alpha, eps=0.0, reduction="mean", ignore_index=-100):
    """actlab's unfused loss on the full scores of the counted rows, with the
    smoothed target (1 - eps) e_t + eps / V as a distribution."""
    z = h @ w.T
    if b is not None:
        z = z + b
    z2, t2 = z.reshape(-1, z.shape[-1]), t.reshape(-1)
    keep = t2 != ignore_index
    zk, tk = z2[keep], t2[keep]
    if eps:
        q = torch.full(zk.shape, eps / z.shape[-1], dtype=z.dtype)
        q[torch.arange(tk.numel()), tk] += 1.0 - eps
        tk = q
    rows = actlab.entmax_loss(zk, tk, alpha=alpha, reduction="none")
    full = torch.zeros(t2.shape, dtype=z.dtype).masked_scatter(keep, rows)
    if reduction == "none":
        return full.reshape(t.shape)
    return full.sum() / keep.sum() if reduction == "mean" else full.sum()


def check(ours, ref, params, rtol, atol):
    torch.testing.assert_close(ours, ref, rtol=rtol, atol=atol)
    g = torch.randn(ref.shape, dtype=ref.dtype, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad(ours, params, g)
    want = torch.autograd.grad(ref, params, g)
    for a, e in zip(got, want, strict=True):
        torch.testing.assert_close(a, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("alpha,eps,reduction,bias,products", list(itertools.product(
    [2.0, 1.5, 1.25], [0.0, 0.2], ["mean", "sum", "none"], [True, False], ["sparse", "tiles"])))
def test_matches_actlab_unfused_float64(alpha, eps, reduction, bias, products, monkeypatch):
    monkeypatch.setattr(sparse_chunks, "_dense_chunk", None)  # the support lists suffice here
    monkeypatch.setattr(sparse_chunks, "SPARSE_DENSITY", 1.0 if products == "sparse" else 0.0)
    h, w, b, t = make(bias=bias, scale=2.0)
    params = [h, w] + ([b] if bias else [])
    ours = fused(h, w, t, alpha, linear_bias=b, reduction=reduction, label_smoothing=eps, **CHUNKS)
    check(ours, reference(h, w, t, b, alpha, eps, reduction), params, 1e-12, 1e-13)


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.3])
def test_matches_entmax_package_float64(alpha):
    import entmax.losses as L

    h, w, b, t = make(scale=2.0)
    params = [h, w, b]
    ours = fused(h, w, t, alpha, linear_bias=b, reduction="sum", **CHUNKS)
    z = h @ w.T + b
    keep = t != -100
    if alpha == 2.0:
        rows = L.sparsemax_loss(z[keep], t[keep])
    elif alpha == 1.5:
        rows = L.entmax15_loss(z[keep], t[keep])
    else:
        rows = L.entmax_bisect_loss(z[keep], t[keep], alpha, n_iter=100)
    rtol = 1e-12 if alpha in (1.5, 2.0) else 1e-9  # bisection: to its iteration count
    check(ours, rows.sum(), params, rtol, 1e-12)


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.3])
def test_float32_matches_float64_reference(alpha):
    h, w, b, t = make(dtype=torch.float32, scale=2.0)
    ours = fused(h, w, t, alpha, linear_bias=b, **CHUNKS)
    h64, w64, b64 = (x.detach().double().requires_grad_() for x in (h, w, b))
    ref = reference(h64, w64, t, b64, alpha)
    torch.testing.assert_close(ours.double(), ref, rtol=2e-5, atol=1e-6)
    for a, e in zip(torch.autograd.grad(ours, [h, w, b]), torch.autograd.grad(ref, [h64, w64, b64]), strict=True):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("alpha,eps", [(2.0, 0.0), (1.5, 0.3), (1.3, 0.1)])
def test_gradcheck_against_finite_differences(alpha, eps):
    h, w, b, t = make(shape=(4,), v=7, d=3, scale=2.0, seed=8)

    def f(h, w, b):
        return fused(h, w, t, alpha, linear_bias=b, label_smoothing=eps, chunk_rows=2, vocab_chunk=3)

    assert torch.autograd.gradcheck(f, (h, w, b))
    g = torch.randn(4, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda h, w, b: fused(h, w, t, alpha, linear_bias=b, label_smoothing=eps, reduction="none",
                              chunk_rows=2, vocab_chunk=3) @ g, (h, w, b))


@pytest.mark.parametrize("rows,cols", [(1, 1), (5, 7), (4, 16), (37, 53), (1000, 1000)])
def test_any_chunking_gives_the_reference(rows, cols):
    h, w, b, t = make(seed=3, scale=2.0)
    ours = linear_entmax_loss(h, w, t, 1.5, linear_bias=b, chunk_rows=rows, vocab_chunk=cols)
    check(ours, reference(h, w, t, b, 1.5), [h, w, b], 1e-12, 1e-13)


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.3])
def test_dense_fallback_matches(monkeypatch, alpha):
    monkeypatch.setattr(sparse_chunks, "SUPPORT_TILES", 0)  # every chunk redone with full rows
    h, w, b, t = make(seed=4)
    ours = fused(h, w, t, alpha, linear_bias=b, label_smoothing=0.1, **CHUNKS)
    check(ours, reference(h, w, t, b, alpha, 0.1), [h, w, b], 1e-12, 1e-13)


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.2])
def test_uniform_rows_give_the_tsallis_entropy(alpha, monkeypatch):
    dense = []
    monkeypatch.setattr(sparse_chunks, "_dense_chunk", lambda *a: dense.append(1) or _dense_chunk(*a))
    # equal scores: p uniform (support V, past the tile lists), loss H(1/V) = (1 - V^(1-alpha)) / (alpha(alpha-1)),
    # gradient 1/V - e_t
    h = torch.randn(7, D, dtype=torch.float64, requires_grad=True)
    w = torch.zeros(V, D, dtype=torch.float64, requires_grad=True)
    t = torch.arange(7) * 3
    loss = fused(h, w, t, alpha, reduction="sum", chunk_rows=3, vocab_chunk=5)
    expect = 7 * (1.0 - V ** (1.0 - alpha)) / (alpha * (alpha - 1.0))
    assert math.isclose(float(loss.detach()), expect, rel_tol=1e-13)
    assert dense  # the wide supports took the dense path
    (gw,) = torch.autograd.grad(loss, [w])
    G = torch.full((7, V), 1.0 / V, dtype=torch.float64)
    G[torch.arange(7), t] -= 1.0
    torch.testing.assert_close(gw, G.T @ h.detach(), rtol=1e-12, atol=1e-13)


def test_binary_case_is_the_modified_huber_loss():
    # two classes, margin m = z_1 - z_2 (class 0 correct): 0 for m >= 1, -m for m <= -1, (m - 1)^2 / 4 between
    m = torch.tensor([-3.0, -0.5, 0.2, 0.9, 1.5], dtype=torch.float64)
    h = torch.stack([m, torch.ones_like(m)], 1)
    w = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    ours = linear_sparsemax_loss(h, w, torch.zeros(5, dtype=torch.long), reduction="none", vocab_chunk=1)
    want = torch.where(m >= 1, 0.0, torch.where(m <= -1, -m, (m - 1) ** 2 / 4))
    torch.testing.assert_close(ours, want, rtol=1e-15, atol=1e-15)


def test_leading_dimensions_second_backward_and_modules():
    h, w, b, t = make(shape=(3, 7), seed=5)
    ours = linear_entmax_loss(h, w, t, linear_bias=b, reduction="none", **CHUNKS)
    assert ours.shape == (3, 7)
    check(ours, reference(h, w, t, b, 1.5, reduction="none"), [h, w, b], 1e-12, 1e-13)
    loss = linear_sparsemax_loss(h, w, t, linear_bias=b, **CHUNKS)
    first = torch.autograd.grad(loss, [h, w, b], retain_graph=True)
    second = torch.autograd.grad(loss, [h, w, b])  # recomputed
    for a, e in zip(first, second, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-14)
    mod = LinearSparsemaxLoss(label_smoothing=0.1, **CHUNKS)
    assert torch.equal(mod(h, w, t, b), linear_sparsemax_loss(h, w, t, linear_bias=b, label_smoothing=0.1, **CHUNKS))
    mod = LinearEntmaxLoss(1.3, reduction="sum")
    assert "alpha=1.3" in repr(mod)
    assert torch.equal(mod(h, w, t), linear_entmax_loss(h, w, t, 1.3, reduction="sum"))


def test_every_row_ignored_and_partial_requires_grad():
    h, w, b, t = make()
    none = torch.full_like(t, -100)
    assert torch.isnan(linear_sparsemax_loss(h, w, none, linear_bias=b))
    loss = linear_sparsemax_loss(h, w, none, linear_bias=b, reduction="sum")
    assert float(loss.detach()) == 0.0
    for g in torch.autograd.grad(loss, [h, w, b]):
        assert not g.any()
    wd = w.detach()
    (gh,) = torch.autograd.grad(linear_entmax_loss(h, wd, t, **CHUNKS), [h])
    (want,) = torch.autograd.grad(reference(h, wd, t, None, 1.5), [h])
    torch.testing.assert_close(gh, want, rtol=1e-12, atol=1e-13)
    with torch.no_grad():
        assert not linear_entmax_loss(h, w, t).requires_grad


def test_large_scores_stay_finite():
    h, w, b, t = make(seed=6, scale=1e4)
    ours = linear_entmax_loss(h, w, t, linear_bias=b, **CHUNKS)
    check(ours, reference(h, w, t, b, 1.5), [h, w, b], 1e-12, 1e-9)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_computes_in_float32(dtype):
    h, w, b, t = make(dtype=dtype, scale=2.0)
    ours = linear_sparsemax_loss(h, w, t, linear_bias=b, **CHUNKS)
    assert ours.dtype == dtype
    ref = reference(*(x.detach().double() for x in (h, w)), t, b.detach().double(), 2.0)
    torch.testing.assert_close(ours.double(), ref, rtol=1e-2, atol=1e-2)
    gh, gw = torch.autograd.grad(ours, [h, w])
    assert gh.dtype == gw.dtype == dtype


def test_meta_device_gives_shapes():
    h = torch.empty(4, 6, D, device="meta", requires_grad=True)
    w = torch.empty(V, D, device="meta", requires_grad=True)
    b = torch.empty(V, device="meta", requires_grad=True)
    t = torch.empty(4, 6, dtype=torch.long, device="meta")
    for reduction, shape in (("mean", ()), ("none", (4, 6))):
        loss = linear_entmax_loss(h, w, t, linear_bias=b, reduction=reduction)
        assert loss.device.type == "meta" and loss.shape == shape
        gh, gw, gb = torch.autograd.grad(loss, [h, w, b], torch.ones(shape, device="meta"))
        assert gh.shape == h.shape and gw.shape == w.shape and gb.shape == b.shape


def test_torch_func_grad_uses_the_plain_path():
    h, w, b, t = make(seed=7, scale=2.0)
    got = torch.func.grad(lambda x: linear_entmax_loss(x, w.detach(), t, linear_bias=b.detach()))(h.detach())
    (want,) = torch.autograd.grad(reference(h, w.detach(), t, b.detach(), 1.5), [h])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("change,message", [
    (dict(alpha=1.0), "alpha"),
    (dict(alpha=math.nan), "alpha"),
    (dict(reduction="avg"), "reduction"),
    (dict(label_smoothing=1.5), "label_smoothing"),
    (dict(chunk_rows=0), "chunk_rows"),
    (dict(vocab_chunk=-1), "vocab_chunk"),
    (dict(vocab_chunk=2.5), "vocab_chunk"),
    (dict(n_iter=0), "n_iter"),
    (dict(ignore_index="x"), "ignore_index"),
    (dict(target=torch.tensor([0, V])), "out of range"),
    (dict(target=torch.zeros(2)), "target"),
    (dict(linear_bias=torch.zeros(V + 1)), "linear_bias"),
    (dict(weight=torch.ones(V - 1)), "weight"),
    (dict(weight=torch.ones(V, dtype=torch.long)), "weight"),
    (dict(linear_weight=torch.zeros(V, D + 1)), "linear_weight"),
    (dict(linear_weight=torch.zeros(V, D, dtype=torch.float64)), "dtype"),
])
def test_bad_input_names_the_argument(change, message):
    args = dict(input=torch.zeros(2, D), linear_weight=torch.zeros(V, D), target=torch.tensor([0, 1]))
    args.update(change)
    with pytest.raises(ValueError, match=message):
        linear_entmax_loss(**args)


def test_bad_module_arguments_fail_at_construction():
    with pytest.raises(ValueError, match="alpha"):
        LinearEntmaxLoss(alpha=0.5)
    with pytest.raises(ValueError, match="reduction"):
        LinearSparsemaxLoss(reduction="avg")
    with pytest.raises(ValueError, match="chunk_rows"):
        LinearSparsemaxLoss(chunk_rows=0)


def test_empty_batch_single_row_and_single_class():
    w = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(0, 3, dtype=torch.float64, requires_grad=True)
    empty = torch.zeros(0, dtype=torch.long)
    assert torch.isnan(linear_sparsemax_loss(h, w, empty))
    assert linear_sparsemax_loss(h, w, empty, reduction="none").shape == (0,)
    loss = linear_sparsemax_loss(h, w, empty, reduction="sum")
    assert float(loss.detach()) == 0.0 and not torch.autograd.grad(loss, [w])[0].any()
    h1 = torch.randn(3, dtype=torch.float64, requires_grad=True)  # one row (d,), a 0-d target
    check(linear_entmax_loss(h1, w, torch.tensor(2)), reference(h1[None], w, torch.tensor([2]), None, 1.5),
          [h1, w], 1e-12, 1e-13)
    w1 = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)  # one class: p = 1, loss 0, gradient 0
    loss = linear_entmax_loss(torch.randn(4, 3, dtype=torch.float64), w1, torch.zeros(4, dtype=torch.long))
    assert float(loss.detach()) == 0.0 and not torch.autograd.grad(loss, [w1])[0].any()


@pytest.mark.slow
def test_torch_compile_takes_the_plain_path():
    h, w, b, t = make(seed=9, scale=2.0)
    compiled = torch.compile(lambda h, w, b: linear_entmax_loss(h, w, t, linear_bias=b, label_smoothing=0.1))
    check(compiled(h, w, b), reference(h, w, t, b, 1.5, 0.1), [h, w, b], 1e-12, 1e-13)


@pytest.mark.parametrize("alpha,reduction", list(itertools.product([2.0, 1.5], ["mean", "sum", "none"])))
def test_class_weights_match_the_weighted_unfused_loss(alpha, reduction):
    h, w, b, t = make(seed=10, scale=2.0)
    cw = torch.rand(V, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + 0.1
    ours = fused(h, w, t, alpha, linear_bias=b, weight=cw, reduction=reduction, **CHUNKS)
    ref = actlab.entmax_loss(h @ w.T + b, t, alpha, weight=cw, reduction=reduction)
    check(ours, ref, [h, w, b], 1e-12, 1e-13)
    # with smoothing: each row's loss times w[t], the mean over the summed weights
    smooth = fused(h, w, t, alpha, linear_bias=b, weight=cw, label_smoothing=0.2, reduction="sum", **CHUNKS)
    rows = reference(h, w, t, b, alpha, 0.2, reduction="none")
    check(smooth, (rows * torch.where(t != -100, cw[t.clamp(min=0)], 0.0)).sum(), [h, w, b], 1e-12, 1e-13)
    mod = LinearEntmaxLoss(alpha, weight=cw, reduction=reduction, **CHUNKS)
    assert torch.equal(mod(h, w, t, b), ours)
