"""Gradients of attention: torch.autograd.gradcheck in float64 for every
normaliser and every normaliser parameter, on the dense and blocked paths."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import actlab  # noqa: E402

B, H, L, S, E = 1, 2, 5, 6, 3

CASES = [
    ("softmax", {}), ("softmax", {"sink": "head"}), ("softmax", {"sink": 0.0}), ("sparsemax", {}),
    ("entmax15", {}), ("entmax", {"alpha": 1.3}), ("entmax", {"alpha": "alpha"}), ("sigmoid", {}),
    ("sigmoid", {"bias": "head"}), ("softpick", {}), ("relu", {}), ("relu2", {}), ("stick_breaking", {}),
    ("softmax", {"length_scale": "log", "length_scale_factor": "head"}),
    ("entmax15", {"length_scale": "log", "length_scale_factor": "head"}),
    ("taylor_softmax", {}), ("spherical_softmax", {}),
]


def _ids(case):
    return case[0] + "".join(f"-{k}" for k in case[1])


def _params(opts, g):
    out, learn = {}, []
    for key, val in opts.items():
        if val == "head":
            t = (torch.randn(H, generator=g, dtype=torch.float64) * 0.5).requires_grad_()
        elif val == "alpha":
            t = torch.tensor([1.3, 1.7], dtype=torch.float64, requires_grad=True)
        else:
            out[key] = val
            continue
        out[key] = t
        learn.append(key)
    return out, learn


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("path", ["dense", "blocked"])
@pytest.mark.parametrize("mask", ["bool", "causal"])
def test_gradcheck(case, path, mask):
    from actlab._attention.normalizers import get_normalizer

    name, opts = case
    if path == "blocked" and not get_normalizer(name).blockable:
        pytest.skip("dense only")
    g = torch.Generator().manual_seed(7)
    q = torch.randn(B, H, L, E, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(B, H, S, E, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(B, H, S, 2, generator=g, dtype=torch.float64, requires_grad=True)
    params, learn = _params(opts, g)
    allowed = torch.rand(L, S, generator=g) > 0.25
    allowed[1] = False
    allowed[:, 0] = allowed[:, 0] | (torch.arange(L) != 1)
    kw = {"is_causal": True} if mask == "causal" else {"attn_mask": allowed}

    def f(q, k, v, *ps):
        p = dict(params)
        p.update(zip(learn, ps))
        return actlab.attention(q, k, v, normalizer=name, path=path, block_size=4, **kw, **p)

    torch.autograd.gradcheck(f, (q, k, v, *[params[n] for n in learn]), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("softmax", "sparsemax", "entmax", "sigmoid",
                                                               "stick_breaking", "softpick", "entmax15")], ids=_ids)
def test_blocked_gradients_equal_dense_ones(case):
    name, opts = case
    g = torch.Generator().manual_seed(8)
    q = torch.randn(2, H, 9, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, H, 11, 4, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, H, 11, 3, generator=g, dtype=torch.float64, requires_grad=True)
    params, learn = _params(opts, g)
    dout = torch.randn(2, H, 9, 3, generator=g, dtype=torch.float64)
    ins = (q, k, v, *[params[n] for n in learn])
    grads = []
    for path in ("dense", "blocked"):
        out = actlab.attention(q, k, v, normalizer=name, path=path, block_size=4, is_causal=True, **params)
        grads.append(torch.autograd.grad((out * dout).sum(), ins))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_learnable_alpha_gradient_is_zero_on_an_all_masked_row():
    # entmax of a row of -inf is 0 for every alpha, so d/dalpha is exactly 0 there;
    # the other rows' alpha gradient is checked against finite differences
    x = torch.tensor([[-float("inf")] * 4, [0.3, -1.0, 2.0, 0.5], [1.0, -float("inf"), 0.0, 0.2]],
                     dtype=torch.float64)
    a = torch.tensor([[1.3], [1.7], [2.4]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([0.5, -1.0, 2.0, 1.5], dtype=torch.float64)
    (actlab.entmax(x, alpha=a) * w).sum().backward()
    assert a.grad[0, 0].item() == 0.0 and torch.isfinite(a.grad).all()
    torch.autograd.gradcheck(lambda b: actlab.entmax(x, alpha=b), (a.detach().requires_grad_(),))
    # the same through attention (per-head alpha, a fully masked query), both paths
    q = torch.randn(1, 2, 3, 4, dtype=torch.float64)
    allowed = torch.ones(3, 3, dtype=torch.bool)
    allowed[1] = False
    for path in ("dense", "blocked"):
        al = torch.tensor([1.3, 1.7], dtype=torch.float64, requires_grad=True)
        actlab.attention(q, q, q, attn_mask=allowed, normalizer="entmax", alpha=al, path=path,
                         block_size=2).sum().backward()
        assert torch.isfinite(al.grad).all(), path


DROP_CASES = [("softmax", {}), ("softmax", {"sink": "head"}), ("sparsemax", {}), ("entmax15", {}),
              ("entmax", {"alpha": "alpha"}), ("sigmoid", {}), ("softpick", {}), ("stick_breaking", {}),
              ("relu2", {}), ("entmax15", {"length_scale": "log", "length_scale_factor": "head"})]
SLOW = {"stick_breaking", "entmax-alpha"}  # gradcheck over 30 mask entries: seconds each


def _float_mask(g, batch):
    m = torch.randn(*batch, L, S, generator=g, dtype=torch.float64)
    m[..., 1, :] = -math.inf  # a query with no allowed key: zeros and zero gradients
    m[..., 3, 2] = -math.inf
    return m.requires_grad_()


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if _ids(c) in SLOW else c
                                  for c in DROP_CASES], ids=_ids)
def test_gradcheck_float_mask_and_dropout_blocked(case):
    # the float mask's gradient and dropout on the blocked path, against finite differences
    name, opts = case
    g = torch.Generator().manual_seed(11)
    q = torch.randn(B, H, L, E, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(B, H, S, E, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(B, H, S, 2, generator=g, dtype=torch.float64, requires_grad=True)
    params, learn = _params(opts, g)
    mask = _float_mask(g, ())

    def f(q, k, v, mask, *ps):
        p = dict(params)
        p.update(zip(learn, ps))
        return actlab.attention(q, k, v, attn_mask=mask, dropout_p=0.4, normalizer=name, path="blocked",
                                block_size=4, generator=torch.Generator().manual_seed(3), **p)

    torch.autograd.gradcheck(f, (q, k, v, mask, *[params[n] for n in learn]), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("case", DROP_CASES, ids=_ids)
@pytest.mark.parametrize("mask_batch", [(), (2, H)], ids=["shared-mask", "per-head-mask"])
def test_blocked_float_mask_and_dropout_equal_the_dense_path(case, mask_batch):
    name, opts = case
    g = torch.Generator().manual_seed(12)
    q = torch.randn(2, H, L, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, H, S, 4, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, H, S, 3, generator=g, dtype=torch.float64, requires_grad=True)
    params, learn = _params(opts, g)
    mask = _float_mask(g, mask_batch)
    dout = torch.randn(2, H, L, 3, generator=g, dtype=torch.float64)
    ins = (q, k, v, mask, *[params[n] for n in learn])
    results = []
    for path in ("dense", "blocked"):
        out = actlab.attention(q, k, v, attn_mask=mask, dropout_p=0.3, normalizer=name, path=path, block_size=4,
                               generator=torch.Generator().manual_seed(9), **params)
        results.append((out, *torch.autograd.grad((out * dout).sum(), ins)))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert results[0][4][..., 1, :].abs().max() == 0  # the all-masked query's mask gradient


def test_dropout_keeps_each_weight_with_probability_1_minus_p():
    # PyTorch's semantics: a kept weight is w / (1 - p), a dropped one 0, about
    # a fraction p dropped, independently of the neighbours, unbiased on average
    from actlab._attention import attention_with_weights
    from actlab._attention.dropout import draw_seed, keep_scale

    p = 0.3
    like = torch.zeros(2, 1, 1, dtype=torch.float64)
    xp = actlab._backend.backend_of(like)
    d = keep_scale(xp, draw_seed(xp, like, torch.Generator().manual_seed(0)), p, 0, 96, 0, 2048, like)
    kept = (d > 0).double()
    assert set(d.unique().tolist()) == {0.0, 1.0 / (1.0 - p)}
    n = kept.numel()
    assert abs(kept.mean().item() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)
    for a, b in ((kept[:, :, 1:], kept[:, :, :-1]), (kept[:, 1:], kept[:, :-1]), (kept[1], kept[0])):
        both = (a * b).mean().item()  # pairs of neighbours: (1-p)^2 if independent
        assert abs(both - (1 - p) ** 2) < 5 * math.sqrt((1 - p) ** 2 * (1 - (1 - p) ** 2) / a.numel())
    q, k, v = (torch.randn(1, 4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(i)) for i in range(3))
    plain, w = attention_with_weights(q, k, v, normalizer="sparsemax", need_weights=True)
    _, wd = attention_with_weights(q, k, v, dropout_p=p, normalizer="sparsemax", need_weights=True,
                                          generator=torch.Generator().manual_seed(1))
    assert torch.all((wd == 0) | torch.isclose(wd, w / (1 - p), rtol=1e-15, atol=0))
    runs = torch.stack([actlab.attention(q, k, v, dropout_p=p, normalizer="sparsemax", path="dense",
                                         generator=torch.Generator().manual_seed(s)) for s in range(300)])
    spread = runs.std(dim=0) / math.sqrt(runs.shape[0])
    assert torch.all((runs.mean(dim=0) - plain).abs() <= 5 * spread + 1e-12)


def test_blocked_path_has_no_double_backward():
    g = torch.Generator().manual_seed(13)
    q, k, v = (torch.randn(1, 6, 3, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    ref = torch.autograd.grad(actlab.attention(q, k, v, normalizer="sparsemax", path="blocked").sum(), q)[0]
    out = actlab.attention(q, k, v, normalizer="sparsemax", path="blocked", block_size=4)
    (dq,) = torch.autograd.grad(out.sum(), q, create_graph=True)
    torch.testing.assert_close(dq, ref, rtol=1e-12, atol=1e-14)  # first order still right
    with pytest.raises(RuntimeError, match="no double backward.*path='dense'"):
        dq.sum().backward()
    dense = actlab.attention(q, k, v, normalizer="sparsemax", path="dense")
    (dq,) = torch.autograd.grad(dense.sum(), q, create_graph=True)
    dq.sum().backward()  # the dense path has one
