"""Gradients of attention: torch.autograd.gradcheck in float64 for every
normaliser and every normaliser parameter, on the dense and blocked paths."""

from __future__ import annotations

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
