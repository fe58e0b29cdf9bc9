"""Reading the mpmath references of ``scripts/make_map_references.py`` (the
maps and losses beyond the softmax family), calling actlab on them, and
measuring errors in ULPs (shared by ``tests/test_map_references.py`` and
``benchmarks/map_accuracy.py``).

Each case is a dict: ``fn``, ``params``, ``dtype`` and its arrays (``x``,
``g``, ``b``, ``where``, ``target``, ...), and the references ``value``,
``vjp`` / ``grad`` / ``dx`` / ``db`` as ``(ref, cond)``: ``ref`` (n, 2)
double-doubles, ``cond`` the condition scale of each value (see the script).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "map_references.npz"
REFS = ("value", "vjp", "grad", "dx", "db")

MAPS = ("sparsegen_lin", "sparsehourglass", "normmax", "budget_sparsemax", "entmax")
LOSSES = ("nll_loss", "kl_div", "multilabel_soft_margin_loss", "sparsemax_loss_multilabel", "normmax_loss")


@lru_cache(maxsize=1)
def load() -> tuple[dict, ...]:
    d = np.load(DATA)
    inputs, refs, conds = d["inputs"], d["refs"], d["conds"]
    out = []
    for meta in json.loads(str(d["meta"])):
        case = {"fn": meta["fn"], "params": meta.get("params", {}), "dtype": np.dtype(meta["dtype"])}
        if "sign" in meta:
            case["sign"] = meta["sign"]
        for key, val in meta.items():
            if key in REFS:
                case[key] = (refs[val[0]:val[1]], conds[val[0]:val[1]])
            elif isinstance(val, list) and key != "params":
                case[key] = inputs[val[0]:val[1]].reshape(val[2:])
        out.append(case)
    return tuple(out)


def label(case: dict) -> str:
    """The function with its parameters, e.g. ``normmax(alpha=1.5)``."""
    kw = ", ".join(f"{k}={v}" for k, v in case["params"].items())
    return f"{case['fn']}({kw})"


def ulp_error(got, ref, dtype, scale=None) -> np.ndarray:
    """|got - ref| in ULPs of ``dtype`` at ``scale`` (default |ref|); ``ref`` (..., 2)
    hi + lo. Below the smallest normal number the ULP is the smallest subnormal;
    equal infinities count 0, a NaN or a wrong infinity inf."""
    got = np.asarray(got, dtype=np.float64).reshape(ref.shape[:-1])
    hi, lo = ref[..., 0], ref[..., 1]
    info = np.finfo(dtype)
    s = np.abs(hi) if scale is None else np.maximum(np.abs(hi), scale)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs((got - hi) - lo)
        fin = np.isfinite(s) & (s > 0)
        e = np.floor(np.log2(np.where(fin, np.maximum(s, info.tiny), 1.0)))
        ulp = np.where(fin, np.maximum(np.exp2(e - info.nmant), info.smallest_subnormal), info.smallest_subnormal)
        err = diff / ulp
    same = (got == hi) & ~np.isfinite(hi)
    return np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))


def _torch(a, dtype, grad=False):
    import torch

    t = torch.tensor(np.asarray(a), dtype=torch.float64 if dtype == np.float64 else torch.float32)
    return t.requires_grad_(grad)


def _grad(out, inputs, g=None):
    import torch

    gs = torch.autograd.grad(out, inputs, grad_outputs=g, allow_unused=True)
    return [None if v is None else v.detach().double().numpy() for v in gs]


def actlab_map(case: dict, backend: str, fn=None):
    """(value, vjp) of a map case on ``backend`` ("numpy" or "torch") in the case's dtype."""
    import actlab

    fn = fn or getattr(actlab, case["fn"])
    dt, kw = case["dtype"].type, case["params"]
    if backend == "numpy":
        x, g = case["x"].astype(dt), case["g"].astype(dt)
        return fn(x, **kw), fn.vjp(x, g, **kw)
    x, g = _torch(case["x"], dt, True), _torch(case["g"], dt)
    y = fn(x, **kw)
    return y.detach().double().numpy(), _grad(y, x, g)[0]


def logsumexp_inputs(case: dict, lib):
    """x, b, where as ``lib`` ("numpy" or "torch") arrays of the case's dtype (b, where may be None)."""
    dt = case["dtype"].type
    conv = (lambda a, grad=False: _torch(a, dt, grad)) if lib == "torch" else (lambda a, grad=False: a.astype(dt))
    x = conv(case["x"], True)
    b = conv(case["b"], True) if "b" in case else None
    where = None
    if "where" in case:
        where = case["where"] > 0
        if lib == "torch":
            import torch

            where = torch.from_numpy(where)
    return x, b, where


def actlab_logsumexp(case: dict, backend: str):
    """(value, sign, dx, db) of a logsumexp case (gradients on torch only, else None)."""
    import actlab

    x, b, where = logsumexp_inputs(case, backend)
    val, sign = actlab.logsumexp(x, b=b, where=where, return_sign=True)
    if backend == "numpy":
        return np.asarray(val, np.float64), float(sign), None, None
    grads = _grad(val, [x] + ([b] if b is not None else []))
    return val.detach().double().numpy(), float(sign), grads[0], grads[1] if b is not None else None


def loss_call(case: dict, lib, F=None):
    """The loss of a case on ``lib`` arrays: (value, the differentiated input, the cotangent or None).
    ``F`` is the loss namespace (actlab, or torch.nn.functional for PyTorch's own)."""
    import actlab

    dt, kw, name = case["dtype"].type, dict(case["params"]), case["fn"]
    torch_lib = lib == "torch"
    conv = (lambda a, grad=False: _torch(a, dt, grad)) if torch_lib else (lambda a, grad=False: a.astype(dt))
    F = F or actlab

    def index(a):
        if torch_lib:
            import torch

            return torch.from_numpy(a.astype(np.int64))
        return a.astype(np.int64)

    g = conv(case["g"]) if "g" in case else None
    w = conv(case["weight"]) if "weight" in case else None
    if name == "nll_loss":
        x = conv(case["log_probs"], True)
        if F is actlab:
            kw["axis"] = 1
        out = F.nll_loss(x, index(case["target"]), weight=w, **kw)
    elif name == "kl_div":
        x = conv(case["input"], True)
        out = F.kl_div(x, conv(case["target"]), **kw)
    elif name == "multilabel_soft_margin_loss":
        x = conv(case["input"], True)
        out = F.multilabel_soft_margin_loss(x, conv(case["target"]), weight=w, **kw)
    elif name == "sparsemax_loss_multilabel":
        x = conv(case["logits"], True)
        out = F.sparsemax_loss(x, conv(case["target"]), multilabel=True, **kw)
    elif name == "normmax_loss":
        x = conv(case["logits"], True)
        t = case["target"]
        t = index(t) if t.ndim == 1 else conv(t)
        out = F.normmax_loss(x, t, kw["alpha"])
    else:
        raise KeyError(name)
    return out, x, g


def actlab_loss(case: dict, backend: str):
    """(value, gradient of the differentiated input) of a loss case; gradient None on NumPy."""
    out, x, g = loss_call(case, backend)
    if backend == "numpy":
        return np.asarray(out, np.float64), None
    return out.detach().double().numpy(), _grad(out, x, g)[0]
