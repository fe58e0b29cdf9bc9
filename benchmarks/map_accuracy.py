"""Accuracy of the maps and losses beyond the softmax family (sparsegen-lin,
sparsehourglass, normmax, budget sparsemax, entmax with alpha < 1, logsumexp
with ``b``/``where``/``return_sign``, nll_loss, kl_div,
multilabel_soft_margin_loss, the multi-hot sparsemax loss, the normmax loss)
against the mpmath references of ``tests/data/map_references.npz``
(``scripts/make_map_references.py``), beside PyTorch's, SciPy's, JAX's and
the ``entmax`` package's implementations where they exist.

    PYTHONPATH=src python benchmarks/map_accuracy.py          # updates the table in docs/accuracy.md
    PYTHONPATH=src python benchmarks/map_accuracy.py --quick  # every 4th case, no JAX; prints only

The error is |y - exact| in ULPs of the output dtype at the exact value
("ULP"), or at its condition scale ("cond", see the script) for the
ill-conditioned functions; the largest over the cases. "actlab" is the worst
of NumPy and PyTorch (values; gradients: the public ``vjp`` and the autograd
backward).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from map_reference_data import (  # noqa: E402
    LOSSES,
    MAPS,
    _grad,
    _torch,
    actlab_logsumexp,
    actlab_loss,
    actlab_map,
    label,
    load,
    logsumexp_inputs,
    loss_call,
    ulp_error,
)
from test_map_references import PLAIN_GRAD, _value_plain  # noqa: E402

MARK_START, MARK_END = "<!-- map-accuracy:start -->", "<!-- map-accuracy:end -->"
LIBS = ("actlab", "torch", "scipy", "jax", "entmax pkg")


def _key(case):
    if case["fn"] == "logsumexp":
        signed = "b" in case and bool(np.any(case["b"] < 0))
        parts = (["b<0", "return_sign"] if signed else ["b>=0"] if "b" in case else []) + (
            ["where"] if "where" in case else [])
        return "logsumexp(" + ", ".join(parts) + ")"
    return label(case)


# -- the others ------------------------------------------------------------------------------------

def _entmax_pkg_map(case):
    try:
        import entmax as E
    except ImportError:
        return None
    fn, kw = case["fn"], case["params"]
    table = {
        "normmax": lambda t: E.normmax_bisect(t, alpha=kw["alpha"], n_iter=100),
        "budget_sparsemax": lambda t: E.budget_bisect(t, budget=kw["budget"], n_iter=100),
        "entmax": lambda t: E.entmax_bisect(t, alpha=kw["alpha"], n_iter=100),
        "sparsegen_lin": lambda t: E.sparsemax(t / (1.0 - kw["lam"]), -1),
    }
    if fn not in table:
        return None
    x, g = _torch(case["x"], case["dtype"].type, True), _torch(case["g"], case["dtype"].type)
    y = table[fn](x)
    return y.detach().double().numpy(), _grad(y, x, g)[0]


def _torch_logsumexp(case):
    import torch

    if "b" in case and np.any(case["b"] < 0):
        return None
    x, b, where = logsumexp_inputs(case, "torch")
    z = x if b is None else x + torch.log(b)
    if where is not None:
        z = z.masked_fill(~where, -float("inf"))
    val = torch.logsumexp(z, -1)
    gx = _grad(val, [x] + ([b] if b is not None else []))
    return val.detach().double().numpy(), 1.0, gx[0], gx[1] if b is not None else None


def _scipy_logsumexp(case):
    import scipy.special as sc

    dt = case["dtype"].type
    x = case["x"].astype(dt)
    b = case["b"].astype(dt) if "b" in case else np.ones_like(x)
    if "where" in case:
        b = np.where(case["where"] > 0, b, 0).astype(dt)
    val, sign = sc.logsumexp(x, b=b, return_sign=True)
    return np.float64(val), float(sign), None, None


def _jax_logsumexp(case, which):
    import jax
    import jax.numpy as jnp

    dt = jnp.float64 if case["dtype"] == np.float64 else jnp.float32
    x = jnp.asarray(case["x"], dtype=dt)
    b = jnp.asarray(case["b"], dtype=dt) if "b" in case else None
    where = jnp.asarray(case["where"] > 0) if "where" in case else None
    if which == "nn":
        def f(x, b):
            return jax.nn.logsumexp(x, b=b, where=where, return_sign=True)
    else:
        if where is not None:
            b = jnp.where(where, jnp.ones_like(x) if b is None else b, 0)

        def f(x, b):
            return jax.scipy.special.logsumexp(x, b=b, return_sign=True)
    (val, sign) = f(x, b)
    args = (0, 1) if b is not None else (0,)
    grads = jax.grad(lambda x, b: f(x, b)[0], argnums=args)(x, b)
    return (np.float64(val), float(sign), np.asarray(grads[0], np.float64),
            np.asarray(grads[1], np.float64) if b is not None else None)


def _torch_loss(case):
    import torch.nn.functional as F

    if case["fn"] not in ("nll_loss", "kl_div", "multilabel_soft_margin_loss"):
        return None
    out, x, g = loss_call(case, "torch", F)
    return out.detach().double().numpy(), _grad(out, x, g)[0]


# -- the table -------------------------------------------------------------------------------------

def _err(got, case, key, plain):
    if got is None or key not in case:
        return None
    ref, cond = case[key]
    with np.errstate(all="ignore"):
        return float(np.max(ulp_error(got, ref, case["dtype"], None if plain else cond)))


def measure(quick: bool):
    """{(function, dtype, quantity, metric): {library: largest error}}."""
    jax_ok = False
    if not quick:
        try:
            import jax

            jax.config.update("jax_enable_x64", True)
            jax_ok = True
        except ImportError:
            pass
    cases = load()[::4] if quick else load()
    table: dict = {}

    def put(case, quantity, plain, lib, got, key):
        e = _err(got, case, key, plain)
        if e is None:
            return
        k = (_key(case), case["dtype"].name, quantity, "ULP" if plain else "cond")
        row = table.setdefault(k, {})
        every, finite = row.get(lib, (0.0, None))
        ins = [case[n] for n in ("x", "logits", "input", "log_probs", "target") if n in case]
        plain_row = all(np.isfinite(a).all() for a in ins)
        row[lib] = (max(every, e), max(finite or 0.0, e) if plain_row else finite)

    warnings.simplefilter("ignore")
    for case in cases:
        fn = case["fn"]
        if fn in MAPS:
            for be in ("numpy", "torch"):
                y, v = actlab_map(case, be)
                put(case, "value", False, "actlab", y, "value")
                put(case, "vjp", False, "actlab", v, "vjp")
            other = _entmax_pkg_map(case)
            if other is not None:
                put(case, "value", False, "entmax pkg", other[0], "value")
                put(case, "vjp", False, "entmax pkg", other[1], "vjp")
        elif fn == "logsumexp":
            plain = "b" not in case
            runs = [("actlab", actlab_logsumexp(case, be)) for be in ("numpy", "torch")]
            runs += [("torch", _torch_logsumexp(case)), ("scipy", _scipy_logsumexp(case))]
            if jax_ok:
                runs += [("jax", _jax_logsumexp(case, "nn"))]
            for lib, r in runs:
                if r is None:
                    continue
                val, sign, dx, db = r
                put(case, "value", plain, lib, val if sign == case["sign"] else np.nan, "value")
                put(case, "d/dx", plain, lib, dx, "dx")
                if db is not None and "b" in case:  # b_j = 0 drops entry j in actlab and JAX: compare b != 0
                    keep = case["b"] != 0
                    sub = dict(case, db=(case["db"][0][keep], case["db"][1][keep]))
                    put(sub, "d/db", plain, lib, np.asarray(db)[keep], "db")
        elif fn in LOSSES:
            gp = fn in PLAIN_GRAD
            for be in ("numpy", "torch"):
                val, grad = actlab_loss(case, be)
                put(case, "value", _value_plain(case), "actlab", val, "value")
                put(case, "grad", gp, "actlab", grad, "grad")
            other = _torch_loss(case)
            if other is not None:
                put(case, "value", _value_plain(case), "torch", other[0], "value")
                put(case, "grad", gp, "torch", other[1], "grad")
    return table, len(cases)


def _one(v) -> str:
    if not np.isfinite(v):
        return "NaN"
    return f"{v:.2f}" if v < 100 else f"{v:.1e}"


def fmt(v) -> str:
    """The largest error, and in brackets, where it differs, the largest over rows with finite inputs."""
    if v is None:
        return "—"
    every, finite = v
    return _one(every) if finite is None or _one(every) == _one(finite) else f"{_one(every)} ({_one(finite)})"


def render(table, n) -> str:
    libs = [lib for lib in LIBS if any(lib in row for row in table.values())]
    lines = [
        f"Largest error over {n} mpmath reference cases (256 bits, exact binary inputs; "
        "`scripts/make_map_references.py`), in ULPs of the output dtype at the exact value (ULP) or at its "
        "condition scale (cond). actlab: the worst of NumPy and PyTorch. entmax pkg: the `entmax` package "
        "(`normmax_bisect`, `budget_bisect`, `entmax_bisect` with `n_iter=100`; `sparsemax(x / (1 - lam))` "
        "for sparsegen-lin); torch's logsumexp is `torch.logsumexp(x + log b)` with `masked_fill` for `where`; "
        "SciPy's takes `where` as `b = 0`; JAX is `jax.nn.logsumexp(b=, where=, return_sign=True)`. "
        "In brackets, where it differs: the largest over the cases whose inputs are all finite (no -inf "
        "masked entry). NaN: a NaN or an infinity where the exact result is finite; —: no such function.",
        "",
        "Command: `PYTHONPATH=src python benchmarks/map_accuracy.py`",
        "",
        "| function | dtype | quantity | bar at | " + " | ".join(libs) + " |",
        "|---|---|---|---|" + "---:|" * len(libs),
    ]
    for (name, dt, q, metric), row in sorted(table.items()):
        lines.append(f"| {name} | {dt} | {q} | {metric} | " + " | ".join(fmt(row.get(lib)) for lib in libs) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every 4th case, no JAX; print only")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "accuracy.md")
    args = ap.parse_args(argv)
    table, n = measure(args.quick)
    text = render(table, n)
    print(text)
    if args.quick:
        return
    doc = args.out.read_text()
    a, b = doc.index(MARK_START) + len(MARK_START), doc.index(MARK_END)
    args.out.write_text(doc[:a] + "\n" + text + "\n" + doc[b:])
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
