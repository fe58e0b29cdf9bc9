"""The maps and losses beyond the softmax family against mpmath at 256 bits
(``tests/data/map_references.npz``, written by ``scripts/make_map_references.py``
from the definitions: sort-based thresholds, bisection-Newton roots at 256
bits, Jacobians by the implicit-function theorem checked against central
differences at 400 bits): values and gradients on NumPy and torch, float64
and float32.

The bar is 4 ULPs of the output dtype everywhere. It is taken at the value
itself (plain ULPs) where the function is well conditioned: nll_loss,
multilabel_soft_margin_loss, kl_div with ``log_target=True`` element-wise,
logsumexp with ``where=`` alone, and the gradients of the losses but the
sparse ones. Elsewhere it is taken at the value's condition scale ``cond``
(see the script: ``|f| + sum_j |df/du_j||u_j|``), because the function itself
amplifies a rounding of its inputs beyond the value's own ULP and no
implementation in floating point does better: sparsemax's ``z_i - tau`` for a
small output (the threshold searches of sparsegen-lin, sparsehourglass,
budget sparsemax and normmax are exact or Newton to convergence, so their
search adds nothing to this), the ``1 - w_i/sum w`` of the entmax-family VJP,
kl_div's ``log q - input`` near ``q = exp(input)``, logsumexp's ``x + log b``
(with ``b``, the value moves by ``eps |x_j|`` for an input rounding: 16 ULPs
at ``x = [0, -50], b = [1, 0.5]``) and signed sums, and losses
that are sums of signed terms (the Fenchel-Young losses near 0).
"""

from __future__ import annotations

import warnings
from collections import defaultdict

import numpy as np
import pytest
from map_reference_data import LOSSES, MAPS, actlab_logsumexp, actlab_loss, actlab_map, label, load, ulp_error

BAR = 4.0
PLAIN_VALUE = {"nll_loss", "multilabel_soft_margin_loss"}
PLAIN_GRAD = {"nll_loss", "multilabel_soft_margin_loss", "kl_div"}


def _groups():
    out = defaultdict(list)
    for c in load():
        key = label(c) if c["fn"] != "logsumexp" else "logsumexp(" + ",".join(
            k for k in ("b", "where") if k in c) + ")"
        out[key].append(c)
    return out


GROUPS = _groups()


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """The first sparse call compiles (or loads) the numba kernels: not part of any test's time."""
    import torch

    import actlab

    for x in (np.zeros((1, 3)), np.zeros((1, 3), np.float32)):
        actlab.sparsemax.vjp(x, x)
        actlab.entmax.vjp(x, x, 0.5)
    for t in (torch.zeros(1, 3, requires_grad=True), torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)):
        for y in (actlab.sparsemax(t), actlab.entmax(t, 0.5)):
            torch.autograd.grad(y.sum(), t)


def _check(got, case, key, plain, what):
    if got is None:
        return
    ref, cond = case[key]
    err = ulp_error(got, ref, case["dtype"], None if plain else cond)
    assert float(np.max(err)) <= BAR, (what, key, case["dtype"].name, float(np.max(err)),
                                       case.get("x", case.get("logits", case.get("input"))))


def _value_plain(case):
    fn = case["fn"]
    if fn in PLAIN_VALUE:
        return True
    if fn == "kl_div":
        return case["params"]["log_target"] and case["params"]["reduction"] == "none"
    return False


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("name", [k for k in GROUPS if k.split("(")[0] in MAPS])
def test_maps_values_and_vjps(name, backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for case in GROUPS[name]:
            y, v = actlab_map(case, backend)
            _check(y, case, "value", False, name)
            if not _tiny_entmax(case):
                _check(v, case, "vjp", False, name)


def _tiny_entmax(case):
    p = case["value"][0][:, 0]
    return case["fn"] == "entmax" and bool(np.any((p > 0) & (p < 1e-200)))


TINY = [c for c in load() if _tiny_entmax(c)]


def test_entmax_vjp_exponent_rounding(monkeypatch):
    """w = y^(2 - alpha) as y * y^(1 - alpha): 2 - alpha rounds (1.1 at alpha = 0.9), which costs
    |log y| eps/2 (20 ULPs of the condition scale at y = 1e-230); the array-API VJP is exact."""
    import actlab.simplex.sparse_forward as sf

    monkeypatch.setattr(sf, "USE_COMPILED", False)
    assert TINY
    for case in TINY:
        _check(actlab_map(case, "numpy")[1], case, "vjp", False, label(case))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_entmax_vjp_exponent_rounding_compiled(backend):
    for case in TINY:
        _check(actlab_map(case, backend)[1], case, "vjp", False, label(case))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("name", [k for k in GROUPS if k.startswith("logsumexp")])
def test_logsumexp_b_where_sign(name, backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for case in GROUPS[name]:
            plain = "b" not in case  # where= alone: the exact-shift logsumexp of the live entries
            val, sign, dx, db = actlab_logsumexp(case, backend)
            assert sign == case["sign"]
            _check(val, case, "value", plain, name)
            _check(dx, case, "dx", plain, name)
            if db is not None:  # b_j = 0 drops entry j (as in JAX): its d/db is 0, not e^(x_j - LSE)
                keep = case["b"] != 0
                ref, cond = case["db"]
                err = ulp_error(db[keep], ref[keep], case["dtype"], None if plain else cond[keep])
                assert float(np.max(err, initial=0.0)) <= BAR, (name, "db", float(np.max(err)))
                assert np.all(db[~keep] == 0)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("name", [k for k in GROUPS if k.split("(")[0] in LOSSES])
def test_losses_values_and_gradients(name, backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for case in GROUPS[name]:
            val, grad = actlab_loss(case, backend)
            _check(val, case, "value", _value_plain(case), name)
            _check(grad, case, "grad", case["fn"] in PLAIN_GRAD, name)


def test_the_data_covers_the_brief():
    """Every function, both dtypes, the hard rows (masked, tied, huge and tiny entries)."""
    cases = load()
    assert {c["fn"] for c in cases} >= set(MAPS) | set(LOSSES) | {"logsumexp"}
    assert {c["dtype"].name for c in cases} == {"float64", "float32"}
    xs = [c["x"] for c in cases if c["fn"] == "sparsegen_lin"]
    assert any(np.isneginf(x).any() for x in xs) and any(np.abs(x).max() >= 1e30 for x in xs)
    assert any(0 < np.abs(x[x != 0]).min() < 1e-38 for x in xs if np.any(x != 0))
    assert any(len(set(x.tolist())) < len(x) for x in xs)  # ties
    lse = [c for c in cases if c["fn"] == "logsumexp"]
    assert any(c["sign"] < 0 for c in lse) and any("where" in c for c in lse)
    assert {c["params"]["lam"] for c in cases if c["fn"] == "sparsegen_lin"} >= {-3.0, -0.5, 0.25}
    assert {c["params"]["alpha"] for c in cases if c["fn"] == "entmax"} <= {0.5, 0.75, 0.9}
