"""actlab.attention: both paths against an independent float64 reference,
masks (bool, float, causal), all-masked rows, GQA, dtypes, PyTorch's SDPA."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("entmax")

from attention_reference import reference  # noqa: E402

import actlab  # noqa: E402
import actlab.torch.functional as AF  # noqa: E402

F = torch.nn.functional
B, H, L, S, E = 2, 3, 7, 9, 5

CASES = [
    ("softmax", {}), ("softmax", {"sink": 0.0}), ("softmax", {"sink": [0.5, -1.0, 2.0]}),
    ("softmax", {"temperature": 0.5}), ("sparsemax", {}), ("entmax15", {}), ("entmax", {"alpha": 1.3}),
    ("entmax", {"alpha": 3.0}), ("sigmoid", {}), ("sigmoid", {"bias": -1.0}), ("softpick", {}), ("relu", {}),
    ("relu2", {}), ("stick_breaking", {}), ("softmax", {"length_scale": "log", "length_scale_factor": 0.7}),
    ("entmax15", {"length_scale": "log", "length_scale_factor": 1.3}),
]


def _ids(case):
    return case[0] + "".join(f"-{k}" for k in case[1])


def _inputs(seed=0, dtype=torch.float64, Lq=L, Sk=S):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Lq, E, generator=g, dtype=dtype) * 1.5
    k = torch.randn(B, H, Sk, E, generator=g, dtype=dtype) * 1.5
    v = torch.randn(B, H, Sk, 4, generator=g, dtype=dtype)
    return q, k, v


def _masks(kind, Lq=L, Sk=S):
    g = torch.Generator().manual_seed(1)
    allowed = torch.rand(Lq, Sk, generator=g) > 0.3
    allowed[2] = False  # a query with no key
    if kind == "none":
        return {}, {}
    if kind == "bool":
        return {"attn_mask": allowed}, {"allowed": allowed}
    if kind == "float":
        add = torch.where(allowed, torch.randn(Lq, Sk, generator=g, dtype=torch.float64), -math.inf)
        return {"attn_mask": add}, {"add": add}
    causal = torch.ones(Lq, Sk, dtype=torch.bool).tril()
    return {"is_causal": True}, {"allowed": causal}


def _ref_options(opts):
    out = dict(opts)
    if isinstance(out.get("sink"), list):
        out["sink"] = torch.tensor(out["sink"], dtype=torch.float64)
    out.pop("length_scale", None)
    return out


def _our_options(opts):
    out = dict(opts)
    if isinstance(out.get("sink"), list):
        out["sink"] = torch.tensor(out["sink"], dtype=torch.float64)
    return out


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal"])
@pytest.mark.parametrize("path", ["dense", "blocked"])
def test_both_paths_match_the_reference(case, mask, path):
    name, opts = case
    q, k, v = _inputs()
    ours_mask, ref_mask = _masks(mask)
    out = actlab.attention(q, k, v, normalizer=name, path=path, block_size=3, **ours_mask, **_our_options(opts))
    ref = reference(q, k, v, normalizer=name, **ref_mask, **_ref_options(opts))
    tol = 1e-9 if name == "entmax" and opts["alpha"] != 1.3 else 1e-12
    torch.testing.assert_close(out, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", actlab._attention.names())
@pytest.mark.parametrize("path", ["dense", "blocked"])
def test_all_masked_rows_give_zeros_and_zero_gradients(name, path):
    from actlab._attention.normalizers import get_normalizer

    if path == "blocked" and not get_normalizer(name).blockable:
        pytest.skip("dense only")
    q, k, v = (t.requires_grad_() for t in _inputs())
    mask = torch.ones(L, S, dtype=torch.bool)
    mask[3] = False
    for m in (mask, torch.where(mask, 0.0, -math.inf).double()):
        out = actlab.attention(q, k, v, m, normalizer=name, path=path, block_size=4)
        assert torch.isfinite(out).all()
        assert (out[..., 3, :] == 0).all()
        gq, gk, gv = torch.autograd.grad(out.sum(), (q, k, v))
        assert torch.isfinite(gq).all() and torch.isfinite(gk).all() and torch.isfinite(gv).all()
        assert (gq[..., 3, :] == 0).all()


@pytest.mark.parametrize("path", ["dense", "blocked", None])
def test_plain_softmax_matches_torch_sdpa(path):
    q, k, v = _inputs(dtype=torch.float32)
    mask = torch.rand(L, S) > 0.2
    for kw in ({}, {"is_causal": True}, {"attn_mask": mask}, {"attn_mask": torch.randn(L, S)}, {"scale": 0.3}):
        ref = F.scaled_dot_product_attention(q, k, v, **kw)
        out = AF.scaled_dot_product_attention(q, k, v, path=path, **kw) if path else \
            AF.scaled_dot_product_attention(q, k, v, **kw)
        torch.testing.assert_close(out, ref, rtol=2e-6, atol=2e-6)
        if path is None:
            assert torch.equal(out, ref)  # dispatched to torch's own kernel


@pytest.mark.parametrize("name", ["softmax", "sparsemax", "sigmoid", "stick_breaking"])
def test_grouped_query_attention(name):
    g = torch.Generator().manual_seed(3)
    q = torch.randn(2, 6, L, E, generator=g, dtype=torch.float64)
    k = torch.randn(2, 2, S, E, generator=g, dtype=torch.float64)
    v = torch.randn(2, 2, S, 4, generator=g, dtype=torch.float64)
    ref = reference(q, k.repeat_interleave(3, dim=1), v.repeat_interleave(3, dim=1), normalizer=name)
    for path in ("dense", "blocked"):
        out = actlab.attention(q, k, v, enable_gqa=True, normalizer=name, path=path, block_size=4)
        torch.testing.assert_close(out, ref)
    torch.testing.assert_close(AF.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                               F.scaled_dot_product_attention(q, k, v, enable_gqa=True))


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-5), (torch.bfloat16, 2e-2)])
@pytest.mark.parametrize("name", ["softmax", "sparsemax", "entmax15", "softpick", "sigmoid", "stick_breaking"])
def test_low_precision_dtypes(dtype, tol, name):
    q, k, v = _inputs(dtype=dtype)
    ref = reference(q, k, v, normalizer=name, sink=0.0 if name == "softmax" else None)
    opts = {"sink": 0.0} if name == "softmax" else {}
    for path in ("dense", "blocked"):
        out = actlab.attention(q, k, v, normalizer=name, path=path, block_size=4, **opts)
        assert out.dtype == dtype
        torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)


def test_blocked_sparse_rows_are_exact():
    """The threshold is exact: every row's weights sum to 1 to rounding, the
    support is the one of the sort-based algorithm."""
    g = torch.Generator().manual_seed(5)
    q = torch.randn(1, 64, 16, generator=g, dtype=torch.float64) * 3
    k = torch.randn(1, 300, 16, generator=g, dtype=torch.float64) * 3
    v = torch.ones(1, 300, 1, dtype=torch.float64)
    for name, opts in (("sparsemax", {}), ("entmax15", {}), ("entmax", {"alpha": 1.25})):
        out = actlab.attention(q, k, v, normalizer=name, path="blocked", block_size=32, **opts)
        assert (out - 1).abs().max() < 1e-13
        ref = reference(q, k, torch.eye(300, dtype=torch.float64)[None], normalizer=name, alpha=opts.get("alpha"))
        w = actlab.attention(q, k, torch.eye(300, dtype=torch.float64)[None], normalizer=name, path="blocked",
                             block_size=32, **opts)
        assert torch.equal(w > 0, ref > 1e-15) or name == "entmax"
        torch.testing.assert_close(w, ref, rtol=1e-10, atol=1e-12)


def test_numpy_arrays_and_torch_agree():
    q, k, v = _inputs()
    for name in ("softmax", "sparsemax", "softpick", "stick_breaking"):
        for path in ("dense", "blocked"):
            out = actlab.attention(q.numpy(), k.numpy(), v.numpy(), is_causal=True, normalizer=name, path=path,
                                   block_size=4)
            assert isinstance(out, np.ndarray)
            ref = actlab.attention(q, k, v, is_causal=True, normalizer=name, path="dense")
            np.testing.assert_allclose(out, ref.numpy(), rtol=1e-12, atol=1e-12)


def test_callable_normalizer_and_registry_maps():
    q, k, v = _inputs()
    out = actlab.attention(q, k, v, normalizer=lambda s, m: torch.softmax(s, -1))
    torch.testing.assert_close(out, reference(q, k, v))
    out = actlab.attention(q, k, v, normalizer="spherical_softmax", eps=1e-3)
    s = torch.einsum("...le,...se->...ls", q, k) / math.sqrt(E)
    w = (s * s + 1e-3) / (s * s + 1e-3).sum(-1, keepdim=True)
    torch.testing.assert_close(out, w @ v)


def test_entmax_special_alphas_and_large_inputs_choose_the_blocked_path(monkeypatch):
    q, k, v = _inputs()
    torch.testing.assert_close(actlab.attention(q, k, v, normalizer="entmax", alpha=2.0),
                               actlab.attention(q, k, v, normalizer="sparsemax"))
    from actlab._attention import front

    seen = []
    monkeypatch.setattr(front, "dense", lambda plan: seen.append("dense") or front.__dict__["dense"])
    monkeypatch.setattr(front, "DENSE_LIMIT", 10)
    actlab.attention(q, k, v, normalizer="sparsemax")
    assert seen == []


def test_dropout_is_seeded_and_masks_weights():
    q, k, v = _inputs()
    a = actlab.attention(q, k, v, dropout_p=0.5, normalizer="sparsemax", generator=torch.Generator().manual_seed(0))
    b = actlab.attention(q, k, v, dropout_p=0.5, normalizer="sparsemax", generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.allclose(a, actlab.attention(q, k, v, normalizer="sparsemax"))


@pytest.mark.parametrize("bad,match", [
    ({"normalizer": "nope"}, "unknown normalizer"),
    ({"normalizer": "sigmoid", "sink": 0.0}, "sink goes with"),
    ({"normalizer": "sparsemax", "alpha": 1.5}, "unexpected option 'alpha'"),
    ({"temperature": 0.0, "normalizer": "sparsemax"}, "temperature"),
    ({"is_causal": True, "attn_mask": torch.ones(L, S, dtype=torch.bool)}, "not both|should not be set"),
    ({"normalizer": "taylor_softmax", "path": "blocked"}, "blocked path"),
    ({"normalizer": "softmax", "sink": torch.zeros(5)}, "one value per head"),
])
def test_bad_arguments_are_named(bad, match):
    q, k, v = _inputs()
    with pytest.raises((ValueError, TypeError), match=match):
        actlab.attention(q, k, v, **bad)


@pytest.mark.parametrize("name,opts", [("sparsemax", {}), ("entmax15", {}), ("entmax", {"alpha": 1.3}),
                                       ("entmax", {"alpha": torch.tensor([1.2, 1.6, 2.5], dtype=torch.float64)})],
                         ids=["sparsemax", "entmax15", "entmax-1.3", "entmax-per-head"])
@pytest.mark.parametrize("candidates", [512, 1], ids=["in-memory", "sweeps"])
def test_blocked_threshold_both_searches_equal_the_reference(name, opts, candidates, monkeypatch):
    # the candidates solved in memory, and (too many of them) the sweeps over the key blocks
    from actlab._attention import blocked_threshold

    monkeypatch.setattr(blocked_threshold, "CANDIDATES", candidates)
    q, k, v = _inputs(seed=4, Lq=11, Sk=23)
    allowed = torch.rand(11, 23, generator=torch.Generator().manual_seed(1)) > 0.3
    allowed[2] = False
    alpha = opts.get("alpha")
    ref = reference(q, k, v, allowed, normalizer=name, alpha=alpha.reshape(-1, 1, 1) if torch.is_tensor(alpha) else alpha)
    out = actlab.attention(q, k, v, attn_mask=allowed, normalizer=name, path="blocked", block_size=5, **opts)
    torch.testing.assert_close(out, ref, rtol=1e-11, atol=1e-12)
