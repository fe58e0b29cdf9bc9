"""actlab.torch.MultiheadAttention: torch's state dict, outputs and masks;
learnable normaliser parameters."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import actlab.torch as at  # noqa: E402


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("extra", [{}, {"add_bias_kv": True}, {"add_zero_attn": True}, {"kdim": 8, "vdim": 12}])
def test_softmax_module_is_torchs(batch_first, extra):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(16, 4, batch_first=batch_first, **extra).double().eval()
    mha = at.MultiheadAttention(16, 4, batch_first=batch_first, **extra).double().eval()
    mha.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    kk = torch.randn(2, 6, extra.get("kdim", 16), dtype=torch.float64)
    vv = torch.randn(2, 6, extra.get("vdim", 16), dtype=torch.float64)
    if not batch_first:
        x, kk, vv = x.transpose(0, 1), kk.transpose(0, 1), vv.transpose(0, 1)
    kpm = torch.zeros(2, 6, dtype=torch.bool)
    kpm[0, -2:] = True
    am = torch.rand(5, 6) > 0.7
    for args in ({}, {"key_padding_mask": kpm}, {"attn_mask": am},
                 {"attn_mask": am, "key_padding_mask": kpm, "average_attn_weights": False}, {"need_weights": False}):
        o1, w1 = ref(x, kk, vv, **args)
        o2, w2 = mha(x, kk, vv, **args)
        assert torch.isfinite(o2).all()  # torch gives NaN for a query with no key; actlab zeros
        ok = torch.isfinite(o1)
        torch.testing.assert_close(o2[ok], o1[ok])
        assert (w1 is None) == (w2 is None)
        if w1 is not None:
            fin = torch.isfinite(w1)
            torch.testing.assert_close(w2[fin], w1[fin])


def test_causal_and_unbatched():
    ref = torch.nn.MultiheadAttention(16, 4, batch_first=True).double()
    mha = at.MultiheadAttention(16, 4, batch_first=True).double()
    mha.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    cm = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    torch.testing.assert_close(mha(x, x, x, is_causal=True)[0], ref(x, x, x, attn_mask=cm, is_causal=True)[0])
    torch.testing.assert_close(mha(x[0], x[0], x[0])[0], ref(x[0], x[0], x[0])[0])


@pytest.mark.parametrize("kw,names", [
    ({"normalizer": "softmax", "sink": 0.0}, ["normalizer_sink"]),
    ({"normalizer": "entmax", "alpha": 1.5}, ["normalizer_alpha"]),
    ({"normalizer": "sigmoid", "bias_logit": -2.0}, ["normalizer_bias"]),
    ({"normalizer": "entmax15", "length_scale": "log"}, ["length_scale_factor"]),
])
def test_learnable_normaliser_parameters_get_gradients(kw, names):
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    mha = at.MultiheadAttention(8, 2, batch_first=True, **kw)
    mha.load_state_dict(ref.state_dict())  # strict: the normaliser's parameters keep their values
    x = torch.randn(3, 6, 8)
    out, _ = mha(x, x, x, need_weights=False)
    out.square().sum().backward()
    for n in names:
        p = getattr(mha, n)
        assert isinstance(p, torch.nn.Parameter) and p.shape == (2,)
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    if kw.get("alpha"):
        assert torch.allclose(mha.normalizer_arguments()["alpha"], torch.full((2,), 1.5))


def test_reproduce_attention_saturation_command(tmp_path, capsys):
    import json

    from actlab.cli import main

    out = tmp_path / "sat.json"
    assert main(["reproduce", "attention-saturation", "--dims", "8,1024", "--queries", "32",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "softmax unscaled" in text and "1024" in text
    rows = {(r["normalizer"], r["d_k"], r["scaled"]): r for r in json.loads(out.read_text())["rows"]}
    assert len(rows) == 12
    # without the scale the gradient vanishes as d_k grows; with it, it does not
    for name in ("softmax", "sparsemax", "entmax15"):
        assert rows[name, 1024, False]["grad_norm"] < 0.5 * rows[name, 8, False]["grad_norm"]
        assert rows[name, 1024, True]["grad_norm"] > 0.7 * rows[name, 8, True]["grad_norm"]
        assert rows[name, 1024, False]["max_weight"] > 0.9
