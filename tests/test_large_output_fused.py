"""Fused linear cross-entropy against F.cross_entropy on the materialised
logits (value and every gradient), finite differences, and bad input."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from actlab.torch.large_output import LinearCrossEntropyLoss, linear_cross_entropy  # noqa: E402

N, D, V = 37, 8, 53  # chunks of 6 rows below: divides neither N nor V


def reference(h, w, t, b=None, ignore_index=-100, label_smoothing=0.0, z_loss=0.0, softcap=None, reduction="mean",
              weight=None):
    """The plain computation, differentiated by autograd: F.cross_entropy on
    the materialised logits (its own weighted mean), plus the z-loss weighted
    like each row."""
    z = h @ w.T
    if b is not None:
        z = z + b
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    z2, t2 = z.reshape(-1, z.shape[-1]), t.reshape(-1)
    keep = t2 != ignore_index
    row_w = keep.to(z.dtype) if weight is None else torch.where(keep, weight[t2.clamp(min=0)], 0.0)
    if not z_loss and reduction == "mean":
        return F.cross_entropy(z2, t2, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
    rows = F.cross_entropy(z2, t2, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                           reduction="none")
    if z_loss:
        rows = rows + z_loss * row_w * torch.where(keep, torch.logsumexp(z2, dim=1) ** 2, 0.0)
    if reduction == "none":
        return rows.reshape(t.shape)
    return rows.sum() / row_w.sum() if reduction == "mean" else rows.sum()


def make(dtype=torch.float64, bias=True, seed=0, shape=(N,), scale=1.0):
    g = torch.Generator().manual_seed(seed)
    h = (scale * torch.randn(*shape, D, generator=g, dtype=torch.float64)).to(dtype).requires_grad_()
    w = torch.randn(V, D, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
    b = torch.randn(V, generator=g, dtype=torch.float64).to(dtype).requires_grad_() if bias else None
    t = torch.randint(0, V, shape, generator=g)
    t.view(-1)[::5] = -100
    return h, w, b, t


def budget_for_rows(rows, softcap=None, itemsize=8):
    return rows * V * itemsize * (2 if softcap is not None else 1)


OPTIONS = [
    dict(),
    dict(label_smoothing=0.3),
    dict(z_loss=0.05),
    dict(softcap=2.5),
    dict(label_smoothing=0.1, z_loss=0.2, softcap=4.0),
]


@pytest.mark.parametrize("opts,reduction,bias", list(itertools.product(OPTIONS, ["mean", "sum", "none"], [True, False])))
def test_value_and_gradients_match_plain_float64(opts, reduction, bias):
    h, w, b, t = make(bias=bias)
    params = [h, w] + ([b] if bias else [])
    ours = linear_cross_entropy(h, w, t, linear_bias=b, reduction=reduction,
                                memory_budget=budget_for_rows(6, opts.get("softcap")), **opts)
    ref = reference(h, w, t, b, reduction=reduction, **opts)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=1e-13)
    g = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad(ours, params, g)
    want = torch.autograd.grad(ref, params, g)
    for a, e in zip(got, want, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("rows", [1, 5, 36, 37, 1000])
def test_any_chunk_size_gives_the_same_result(rows):
    h, w, b, t = make(seed=3)
    opts = dict(label_smoothing=0.2, z_loss=0.01)
    ours = linear_cross_entropy(h, w, t, linear_bias=b, memory_budget=budget_for_rows(rows), **opts)
    ref = reference(h, w, t, b, **opts)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=0)
    for a, e in zip(torch.autograd.grad(ours, [h, w, b]), torch.autograd.grad(ref, [h, w, b]), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-14)


def test_gradcheck_against_finite_differences():
    g = torch.Generator().manual_seed(5)
    h = torch.randn(7, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(11, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(11, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 10, -100, 3, 3, 7, 1])
    for red in ("mean", "none"):
        f = lambda h, w, b, red=red: linear_cross_entropy(h, w, t, linear_bias=b, label_smoothing=0.1, z_loss=0.1, softcap=3.0,
                                                          reduction=red, memory_budget=2 * 11 * 8 * 3)
        assert torch.autograd.gradcheck(f, (h, w, b))


def test_leading_dimensions_and_partial_requires_grad():
    h, w, b, t = make(shape=(4, 9))
    w.requires_grad_(False)
    ours = linear_cross_entropy(h, w, t, linear_bias=b, reduction="none", memory_budget=budget_for_rows(4))
    ref = reference(h, w, t, b, reduction="none")
    assert ours.shape == (4, 9)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=1e-13)
    gh, gb = torch.autograd.grad(ours.sum(), [h, b])
    rh, rb = torch.autograd.grad(ref.sum(), [h, b])
    torch.testing.assert_close(gh, rh, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(gb, rb, rtol=1e-12, atol=1e-13)


def test_second_backward_recomputes():
    h, w, b, t = make()
    loss = 3.0 * linear_cross_entropy(h, w, t, linear_bias=b, z_loss=0.1, memory_budget=budget_for_rows(8))
    first = torch.autograd.grad(loss, [h, w, b], retain_graph=True)
    second = torch.autograd.grad(loss, [h, w, b])
    for a, c in zip(first, second, strict=True):
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-14)


def test_no_grad_and_module_form():
    h, w, b, t = make()
    module = LinearCrossEntropyLoss(label_smoothing=0.1, softcap=5.0, reduction="sum")
    with torch.no_grad():
        value = module(h, w, t, b)
    torch.testing.assert_close(value, reference(h, w, t, b, label_smoothing=0.1, softcap=5.0, reduction="sum"))
    assert "label_smoothing=0.1" in repr(module)


def test_every_row_ignored():
    h, w, b, _ = make()
    t = torch.full((N,), -100)
    assert torch.isnan(linear_cross_entropy(h, w, t, linear_bias=b))  # 0/0, as F.cross_entropy
    total = linear_cross_entropy(h, w, t, linear_bias=b, reduction="sum")
    assert total.item() == 0.0
    for g in torch.autograd.grad(total, [h, w, b]):
        assert torch.count_nonzero(g) == 0


def test_large_logits_stay_finite():
    h, w, b, t = make(scale=300.0)  # logits in the thousands
    ours = linear_cross_entropy(h, w, t, linear_bias=b, memory_budget=budget_for_rows(6))
    ref = reference(h, w, t, b)
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=0)
    for a, e in zip(torch.autograd.grad(ours, [h, w, b]), torch.autograd.grad(ref, [h, w, b]), strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, e, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_accumulates_in_float32(dtype):
    g = torch.Generator().manual_seed(7)
    n, d, v = 512, 16, 300
    h = torch.randn(n, d, generator=g).to(dtype).requires_grad_()
    w = (0.5 * torch.randn(v, d, generator=g)).to(dtype).requires_grad_()
    t = torch.randint(0, v, (n,), generator=g)
    ours = linear_cross_entropy(h, w, t, label_smoothing=0.1, z_loss=1e-3, memory_budget=64 * v * 4)
    assert ours.dtype == dtype
    # float32 reference on the same (rounded) inputs
    h32, w32 = h.detach().float().requires_grad_(), w.detach().float().requires_grad_()
    ref = reference(h32, w32, t, label_smoothing=0.1, z_loss=1e-3)
    rel = torch.finfo(dtype).eps
    assert abs(ours.float() - ref).item() <= 2 * rel * abs(ref).item()
    got = torch.autograd.grad(ours, [h, w])
    want = torch.autograd.grad(ref, [h32, w32])
    for a, e in zip(got, want, strict=True):
        assert a.dtype == dtype
        # each entry is the float32 result rounded once: within an ulp of the dtype (subnormal
        # spacing near 0), plus float32 noise
        subnormal = torch.finfo(dtype).smallest_normal * rel
        assert torch.all((a.float() - e).abs() <= rel * e.abs() + subnormal + 1e-6 * e.abs().max())


BAD = [
    (dict(target=torch.tensor([0, 53, 1])), "target 53 is out of range"),
    (dict(target=torch.tensor([0, -1, 1])), "target -1 is out of range"),
    (dict(target=torch.tensor([0.0, 1.0, 2.0])), "target must hold integer"),
    (dict(target=torch.tensor([0, 1])), "target shape"),
    (dict(linear_weight=torch.zeros(53, 5, dtype=torch.float64)), "linear_weight must have shape"),
    (dict(linear_weight=torch.zeros(53, 8, dtype=torch.float32)), "linear_weight dtype"),
    (dict(linear_bias=torch.zeros(52, dtype=torch.float64)), "linear_bias must have shape"),
    (dict(weight=torch.ones(52, dtype=torch.float64)), "weight .class weights. must be"),
    (dict(target=torch.zeros(3, 53, dtype=torch.float64)), "probability targets are not supported"),
    (dict(label_smoothing=1.5), "label_smoothing"),
    (dict(z_loss=-1.0), "z_loss"),
    (dict(softcap=0.0), "softcap"),
    (dict(reduction="avg"), "reduction"),
    (dict(memory_budget=0), "memory_budget"),
]


@pytest.mark.parametrize("change,message", BAD)
def test_bad_input_names_the_argument(change, message):
    args = dict(input=torch.zeros(3, 8, dtype=torch.float64), linear_weight=torch.zeros(53, 8, dtype=torch.float64),
                target=torch.tensor([0, 1, 2]), linear_bias=None)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        linear_cross_entropy(**args)


CLASS_WEIGHT_OPTIONS = [dict(), dict(label_smoothing=0.2), dict(z_loss=0.05), dict(softcap=3.0),
                        dict(label_smoothing=0.1, z_loss=0.1, softcap=4.0)]


@pytest.mark.parametrize("opts,reduction", list(itertools.product(CLASS_WEIGHT_OPTIONS, ["mean", "sum", "none"])))
def test_class_weights_match_weighted_cross_entropy(opts, reduction):
    """weight= is PyTorch's class weight: the weighted mean divides by the
    summed weights of the counted targets, label smoothing weights every class."""
    h, w, b, t = make(seed=11)
    cw = torch.rand(V, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + 0.1
    cw[3] = 0.0  # a class that weighs nothing still gets its smoothing term
    t[1] = 3
    ours = linear_cross_entropy(h, w, t, linear_bias=b, weight=cw, reduction=reduction,
                                memory_budget=budget_for_rows(5, opts.get("softcap")), **opts)
    ref = reference(h, w, t, b, weight=cw, reduction=reduction, **opts)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=1e-13)
    g = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    for a, e in zip(torch.autograd.grad(ours, [h, w, b], g), torch.autograd.grad(ref, [h, w, b], g), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-13)


def test_class_weights_gradcheck():
    g = torch.Generator().manual_seed(9)
    h = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(7, generator=g, dtype=torch.float64, requires_grad=True)
    cw = torch.rand(7, generator=g, dtype=torch.float64) + 0.5
    t = torch.tensor([0, 6, -100, 3, 3, 1])
    f = lambda h, w, b: linear_cross_entropy(h, w, t, linear_bias=b, weight=cw, label_smoothing=0.2, z_loss=0.1,
                                             memory_budget=2 * 7 * 8)
    assert torch.autograd.gradcheck(f, (h, w, b))


@pytest.mark.skipif(not hasattr(F, "linear_cross_entropy"), reason="this PyTorch has no F.linear_cross_entropy")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_same_call_as_torch_linear_cross_entropy(reduction, smoothing):
    """The same call (argument names included) as PyTorch's own function."""
    h, w, b, t = make(seed=13)
    cw = torch.rand(V, dtype=torch.float64, generator=torch.Generator().manual_seed(6)) + 0.2
    kwargs = dict(linear_bias=b, weight=cw, reduction=reduction, ignore_index=-100, label_smoothing=smoothing)
    ours = linear_cross_entropy(h, w, t, memory_budget=budget_for_rows(7), **kwargs)
    ref = F.linear_cross_entropy(h, w, t, **kwargs)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=1e-13)
    g = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    for a, e in zip(torch.autograd.grad(ours, [h, w, b], g), torch.autograd.grad(ref, [h, w, b], g), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-13)


def test_traced_path_without_compaction_matches(monkeypatch):
    """The path torch.compile and the meta device take (every row processed,
    the ignored ones masked) gives the eager path's values and gradients."""
    from actlab.torch.large_output import fused_cross_entropy as fce

    h, w, b, t = make(seed=17)
    cw = torch.rand(V, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) + 0.1
    for opts in CLASS_WEIGHT_OPTIONS:
        eager = linear_cross_entropy(h, w, t, linear_bias=b, weight=cw, memory_budget=budget_for_rows(6, 1), **opts)
        ge = torch.autograd.grad(eager, [h, w, b], retain_graph=True)
        monkeypatch.setattr(fce.torch.compiler, "is_compiling", lambda: True)
        traced = linear_cross_entropy(h, w, t, linear_bias=b, weight=cw, memory_budget=budget_for_rows(6, 1),
                                      **opts)
        gt = torch.autograd.grad(traced, [h, w, b], retain_graph=True)
        gt2 = torch.autograd.grad(traced, [h, w, b])  # a second backward gives the same
        monkeypatch.undo()
        torch.testing.assert_close(traced, eager, rtol=1e-13, atol=1e-13)
        for a, c, e in zip(gt, gt2, ge, strict=True):
            torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-13)
            torch.testing.assert_close(c, e, rtol=1e-12, atol=1e-13)


@pytest.mark.slow
def test_torch_compile_fullgraph():
    """fullgraph=True: no data-dependent guard (ignored rows are masked, not
    left out, when compiled); values and gradients equal eager mode."""
    torch._dynamo.reset()
    h, w, b, t = make(seed=19, shape=(12,))
    cw = torch.rand(V, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) + 0.1

    def f(h, w, b):
        return linear_cross_entropy(h, w, t, linear_bias=b, weight=cw, label_smoothing=0.1, z_loss=0.01,
                                    memory_budget=budget_for_rows(5))

    compiled = torch.compile(f, fullgraph=True)
    got = compiled(h, w, b)
    want = reference(h, w, t, b, weight=cw, label_smoothing=0.1, z_loss=0.01)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    for a, e in zip(torch.autograd.grad(got, [h, w, b]), torch.autograd.grad(want, [h, w, b]), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-11, atol=1e-12)
