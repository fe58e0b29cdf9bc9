"""Accuracy of every element-wise activation and its derivative, in ULPs,
beside PyTorch's, SciPy's and JAX's, on the grid of mpmath references in
``tests/data/elementwise_references.npz`` (see ``scripts/make_references.py``).

    PYTHONPATH=src python benchmarks/accuracy.py            # writes docs/accuracy.md
    PYTHONPATH=src python benchmarks/accuracy.py --quick    # a few functions, prints only

The error of a result is |y - exact| in ULPs of the output dtype at the
exact value (the smallest subnormal below the smallest normal number); the
table gives the largest over the grid. "ours" is the worst of NumPy and
PyTorch, and of the public derivative and the PyTorch autograd backward.
JAX is skipped when it is not installed.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from reference_data import Reference, load, ulp_errors  # noqa: E402

import actlab  # noqa: E402

Fn = Callable[[np.ndarray], np.ndarray]


# -- the others: (value, derivative) builders per case; None where absent ----

def _torch_pair(name: str, p: dict) -> tuple[Fn, Fn] | None:
    import torch
    import torch.nn.functional as F

    table = {
        "sigmoid": torch.sigmoid, "log_sigmoid": F.logsigmoid, "tanh": torch.tanh,
        "softsign": F.softsign, "hardsigmoid": F.hardsigmoid, "hardtanh": F.hardtanh,
        "tanhshrink": F.tanhshrink, "relu": F.relu, "relu6": F.relu6,
        "leaky_relu": lambda t: F.leaky_relu(t, p.get("negative_slope", 0.01)),
        "prelu": lambda t: F.prelu(t, torch.tensor([p["weight"]], dtype=t.dtype)),
        "threshold": lambda t: F.threshold(t, p["threshold"], p["value"]),
        "rrelu": lambda t: F.rrelu(t, training=False),
        "softshrink": F.softshrink, "hardshrink": F.hardshrink,
        "elu": lambda t: F.elu(t, p.get("alpha", 1.0)), "selu": F.selu,
        "celu": lambda t: F.celu(t, p.get("alpha", 1.0)),
        "softplus": lambda t: F.softplus(t, p.get("beta", 1.0)),
        "gelu": lambda t: F.gelu(t, approximate=p.get("approximate", "none")),
        "swish": lambda t: t * torch.sigmoid(p.get("beta", 1.0) * t),
        "silu": F.silu, "mish": F.mish, "hardswish": F.hardswish,
        # the catalogue, where torch has the function built in
        "identity": torch.nn.Identity(), "exponential": torch.exp, "logit": torch.logit,
        "sine": lambda t: torch.sin(p.get("w0", 1.0) * t),
    }
    f = table.get(name)
    if f is None:
        return None
    return _autograd_pair(f)


def _autograd_pair(f: Callable[..., Any]) -> tuple[Fn, Fn]:
    """(value, derivative by torch autograd) of a torch function, on NumPy arrays."""
    import torch

    def value(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return f(torch.from_numpy(x)).numpy()

    def derivative(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(x).requires_grad_(True)
        (g,) = torch.autograd.grad(f(t).sum(), t)
        return g.numpy()

    return value, derivative


def _transformers_pair(name: str, p: dict) -> tuple[Fn, Fn] | None:
    """transformers' ``ACT2FN`` classes, as its ``activations.py`` writes them
    (in torch; transformers itself is not a dependency), for the functions
    it computes with its own formula rather than a torch built-in."""
    import torch
    import torch.nn.functional as F

    c = math.sqrt(2.0 / math.pi)
    mu, sigma = p.get("mu", 0.707107), p.get("sigma", 0.282095)
    ap, an, beta, eps = (p.get(k, d) for k, d in (("alpha_p", 0.8), ("alpha_n", 0.8), ("beta", 0.5),
                                                   ("eps", -1e-6)))
    table = {
        "gelu_10": lambda t: torch.clip(F.gelu(t), -10, 10),  # ClippedGELUActivation
        "quick_gelu": lambda t: t * torch.sigmoid(1.702 * t),  # QuickGELUActivation
        "laplace": lambda t: 0.5 * (1.0 + torch.erf((t - mu).div(sigma * math.sqrt(2.0)))),  # LaplaceActivation
        "relu2": lambda t: torch.square(F.relu(t)),  # ReLUSquaredActivation
        "sqrt_softplus": lambda t: torch.sqrt(F.softplus(t)),  # SqrtSoftplusActivation
        "identity": lambda t: t,  # LinearActivation
        "xielu": lambda t: torch.where(  # XIELUActivation._xielu_python
            t > 0, ap * t * t + beta * t,
            (torch.expm1(torch.minimum(t, torch.tensor(eps, dtype=t.dtype))) - t) * an + beta * t),
    }
    if name == "gelu" and p.get("approximate") == "tanh":  # NewGELUActivation (gelu_new)
        return _autograd_pair(lambda t: 0.5 * t * (1.0 + torch.tanh(c * (t + 0.044715 * torch.pow(t, 3.0)))))
    f = table.get(name)
    return None if f is None else _autograd_pair(f)


def _scipy_pair(name: str, p: dict) -> tuple[Fn, Fn | None] | None:
    """What a NumPy user reaches for: scipy.special where it has the function."""
    import scipy.special as sc

    sq = 1 / math.sqrt(2)
    pairs: dict[str, tuple[Fn, Fn | None]] = {
        "sigmoid": (sc.expit, None),
        "log_sigmoid": (sc.log_expit, lambda x: sc.expit(-x)),
        "tanh": (np.tanh, None),
        "softplus": (
            lambda x: np.logaddexp(0, p.get("beta", 1.0) * x) / p.get("beta", 1.0),
            lambda x: sc.expit(p.get("beta", 1.0) * x),
        ),
        "silu": (lambda x: x * sc.expit(x), None),
        "swish": (lambda x: x * sc.expit(p.get("beta", 1.0) * x), None),
        "logit": (sc.logit, None),
        "laplace": (lambda x: sc.ndtr((x - p.get("mu", 0.707107)) / p.get("sigma", 0.282095)), None),
    }
    if name == "gelu" and p.get("approximate", "none") == "none":
        return (lambda x: 0.5 * x * sc.erfc(-x * x.dtype.type(sq)), None)
    return pairs.get(name)


def _jax_pair(name: str, p: dict) -> tuple[Fn, Fn] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    n = jax.nn
    table = {
        "sigmoid": n.sigmoid, "log_sigmoid": n.log_sigmoid, "tanh": jnp.tanh,
        "softsign": n.soft_sign, "hardsigmoid": n.hard_sigmoid, "hardtanh": n.hard_tanh,
        "relu": n.relu, "relu6": n.relu6,
        "leaky_relu": lambda t: n.leaky_relu(t, p.get("negative_slope", 0.01)),
        "elu": lambda t: n.elu(t, p.get("alpha", 1.0)), "selu": n.selu,
        "celu": lambda t: n.celu(t, p.get("alpha", 1.0)),
        "softplus": (lambda t: n.softplus(p["beta"] * t) / p["beta"]) if "beta" in p else n.softplus,
        "gelu": lambda t: n.gelu(t, approximate=p.get("approximate", "none") == "tanh"),
        "swish": lambda t: t * n.sigmoid(p.get("beta", 1.0) * t),
        "silu": n.silu, "mish": n.mish, "hardswish": n.hard_swish,
        # the catalogue: jax.nn's own
        "squareplus": lambda t: n.squareplus(t, p.get("b", 4.0)), "sparse_plus": n.sparse_plus,
        "sparse_sigmoid": n.sparse_sigmoid, "identity": n.identity, "exponential": jnp.exp,
        "logit": jax.scipy.special.logit,
    }
    f = table.get(name)
    if f is None:
        return None
    df = jax.jit(jax.vmap(jax.grad(f)))
    fj = jax.jit(f)
    return (lambda x: np.asarray(fj(jnp.asarray(x)))), (lambda x: np.asarray(df(jnp.asarray(x))))


# -- scoring ---------------------------------------------------------------------

# (largest error over finite x, the same where x and the result are normal
# numbers or zero, right at +-inf)
Score = tuple[float, float, bool]


def _score(y: np.ndarray, ref: Reference, dtype, what: str) -> Score:
    exact = ref.exact(what, dtype)
    err = ulp_errors(np.asarray(y), exact, dtype)
    x = ref.grid(dtype)
    tiny = float(np.finfo(dtype).smallest_normal)
    finite = np.isfinite(x)
    with np.errstate(invalid="ignore"):
        normal = finite & ((np.abs(x) >= tiny) | (x == 0)) & ((np.abs(exact[0]) >= tiny) | (exact[0] == 0))
    return float(err[finite].max()), float(err[normal].max()), bool((err[~finite] <= 4).all())


def _worst(scores: list[Score]) -> Score:
    return max(s[0] for s in scores), max(s[1] for s in scores), all(s[2] for s in scores)


# -- ours ------------------------------------------------------------------------

def _ours(ref: Reference, dtype, what: str) -> Score:
    """Worst error of NumPy, PyTorch and (for the derivative) PyTorch autograd."""
    import torch

    entry = actlab.get(ref.name)
    x = ref.grid(dtype)
    outs = []
    if what == "value":
        outs += [entry.function(x, **ref.params), entry.function(torch.from_numpy(x), **ref.params).numpy()]
    else:
        outs += [entry.derivative(x, **ref.params),
                 entry.derivative(torch.from_numpy(x), **ref.params).numpy()]
        t = torch.from_numpy(x).requires_grad_(True)
        (g,) = torch.autograd.grad(entry.function(t, **ref.params).sum(), t)
        outs.append(g.numpy())
    return _worst([_score(np.asarray(y), ref, dtype, what) for y in outs])


def _theirs(pair, ref: Reference, dtype, what: str) -> Score | None:
    if pair is None:
        return None
    fn = pair[0] if what == "value" else pair[1]
    if fn is None:
        return None
    x = ref.grid(dtype)
    try:
        y = np.asarray(fn(x))
    except Exception:  # an implementation that rejects the dtype or the input
        return None
    if y.dtype != x.dtype:
        return None
    return _score(y, ref, dtype, what)


def _num(e: float) -> str:
    return "NaN" if not math.isfinite(e) else f"{e:.2f}" if e < 10 else f"{e:.2g}"


def fmt(score: Score | None) -> str:
    if score is None:
        return "—"
    e, e_normal, at_inf = score
    text = _num(e) if e <= max(4.0, 2 * e_normal) else f"{_num(e)} ({_num(e_normal)})"
    return text if at_inf else text + " †"


LIBS = {"torch": _torch_pair, "scipy": _scipy_pair, "jax": _jax_pair, "transformers": _transformers_pair}


def table(refs: list[Reference], dtype) -> list[str]:
    have_jax = _jax_pair("relu", {}) is not None
    libs = [k for k in LIBS if k != "jax" or have_jax]
    head = ["function", "ours f", "ours f'"]
    for lib in libs:
        head += [f"{lib} f", f"{lib} f'"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ref in refs:
        cells = [f"`{ref.id}`", fmt(_ours(ref, dtype, "value")), fmt(_ours(ref, dtype, "derivative"))]
        for lib in libs:
            pair = LIBS[lib](ref.name, ref.params)
            cells += [fmt(_theirs(pair, ref, dtype, "value")), fmt(_theirs(pair, ref, dtype, "derivative"))]
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


MAPS_HEADING = "## Accuracy of the other maps and losses"
MAPS_END = "<!-- map-accuracy:end -->"


def _maps_section(out: Path) -> str:
    """The section that ``benchmarks/map_accuracy.py`` fills, carried over from
    the file being replaced (a placeholder the first time)."""
    old = out.read_text() if out.exists() else ""
    if MAPS_HEADING in old and MAPS_END in old:
        return old[old.index(MAPS_HEADING):old.index(MAPS_END) + len(MAPS_END)]
    return "\n".join([MAPS_HEADING, "", "Run `PYTHONPATH=src python benchmarks/map_accuracy.py` to fill this table.", "",
                      "<!-- map-accuracy:start -->", MAPS_END])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sigmoid, gelu and softplus only; print, do not write")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "accuracy.md")
    ap.add_argument("names", nargs="*", help="only these functions")
    args = ap.parse_args(argv)
    refs = load()
    names = set(args.names) or ({"sigmoid", "gelu", "softplus"} if args.quick else set())
    if names:
        refs = [r for r in refs if r.name in names or r.id in names]
    warnings.simplefilter("ignore")  # the others warn on overflow; ours is tested not to
    sections = []
    for dtype in (np.float64, np.float32):
        print(f"\n{np.dtype(dtype).name}", flush=True)
        sections.append((np.dtype(dtype).name, table(refs, dtype)))
    if args.quick or args.names:
        return
    import torch

    versions = f"torch {torch.__version__}, NumPy {np.__version__}"
    try:
        import scipy

        versions += f", SciPy {scipy.__version__}"
        import jax

        versions += f", JAX {jax.__version__}"
    except ImportError:
        pass
    doc = [
        "# Accuracy of the element-wise activations",
        "",
        "Largest error in ULPs of the output dtype over the grid of",
        f"`tests/data/elementwise_references.npz` ({len(refs[0].x)} float64 points, "
        f"{int(refs[0].is_f32.sum())} of them float32; the catalogue's functions, from `relu2` on, on the grid",
        f"of `elementwise_references_catalogue.npz`, {len(refs[-1].x)} points with their own roots added):",
        "|x| from the smallest subnormal",
        "through 1e3 and on to the largest finite number, both signs, +-inf, the",
        "thresholds of exp and log1p, the kinks, and the roots of the derivatives of",
        "gelu, silu/swish and mish. The exact values are mpmath's at >= 50 digits on",
        "the exact binary input (`scripts/make_references.py`). Below the smallest",
        "normal number the ULP is the smallest subnormal. `f` is the function, `f'`",
        "its derivative (for PyTorch and JAX: their autograd); \"ours\" is the worst",
        "of NumPy and PyTorch, of `f.derivative` and of the autograd backward. The",
        "number is the largest error over finite x, followed in brackets, where it",
        "differs, by the largest where x and the exact result are normal numbers",
        "(or zero): JAX on CPU flushes subnormal numbers to zero. `NaN`: a NaN or",
        "an infinity where the result is finite; `†`: wrong at x = +-inf (NaN, or",
        "not the limit); `—`: the library has no such function. PyTorch's own",
        "measurements on other grids: gelu 9e15 ULP, softplus (float64)",
        "5.6e5, sigmoid' 2.4e14, tanh' 2.7e14; JAX gelu 515.",
        "",
        "The transformers columns are transformers' `ACT2FN` formulas as its",
        "`activations.py` writes them, evaluated in torch (transformers itself is not",
        "installed): NewGELU (`gelu_new`) for the tanh GELU, ClippedGELU, QuickGELU",
        "(a plain sigmoid), Laplace (1 + erf, which cancels), ReLUSquared,",
        "SqrtSoftplus, Linear and xIELU's Python path. Where a value is NaN outside",
        "the function's domain (logit, log1mexp) or at +-inf where there is no limit",
        "(sine, the snakes' derivatives), a NaN there scores 0.",
        "",
        "How: float64 results carry the rounding errors that a later step would",
        "amplify (beta*x before exp, x - root near a root of a derivative, the",
        "tanh-GELU polynomial) in double-word arithmetic (Dekker, Knuth), form",
        "e^u scaled by 2^64 where it is subnormal but x e^u is not, rewrite each",
        "derivative with an interior root as a sum of terms of one sign (silu,",
        "mish, gelu-tanh) or a fitted polynomial times x - x0 (gelu), and compute",
        "the Gaussian tail from a fitted polynomial (`scripts/fit_constants.py`).",
        "float32 results come from float64 and are rounded once, except where",
        "PyTorch's own float32 kernel is within a few ULPs (elu, selu, celu,",
        "log_sigmoid, softsign, softplus with beta = 1, tanh).",
        "",
        "Reproduce:",
        "",
        "```",
        "PYTHONPATH=src python benchmarks/accuracy.py",
        "```",
        "",
        f"Measured with {versions} on {platform.machine()} ({platform.processor() or 'cpu'}).",
        "",
        "## How it is measured",
        "",
        "1. The reference. `scripts/make_references.py` evaluates every function and",
        "   derivative with mpmath at 50 digits or more on the exact binary value of",
        "   each grid point and stores the result as a float64 pair (the rounded value",
        "   and the rounding error, so that the reference is good to about 106 bits)",
        "   in `tests/data/elementwise_references.npz`. The data is committed; the",
        "   script regenerates it.",
        "2. The error. For a result y in dtype D and the exact value e, the error is",
        "   |y - e| / ulp_D(e), where ulp_D(e) is the spacing of D's numbers at e",
        "   (2^(exponent(e) - precision)); below the smallest normal number it is the",
        "   smallest subnormal. A NaN, or an infinity where e rounds to a finite",
        "   number, counts as an infinite error (`NaN` in the tables). The function",
        "   that computes it is `ulp_errors` in `tests/reference_data.py`.",
        "3. What is measured. Each function and its derivative, on NumPy arrays and on",
        "   PyTorch tensors, through `f.derivative` and through the autograd backward;",
        '   the column "ours" is the worst of these. PyTorch\'s, SciPy\'s and JAX\'s own',
        "   functions (and their autograd) are measured on the same grid, in their",
        "   default configuration.",
        '4. The bar. `tests/test_accuracy.py` fails when any "ours" entry exceeds',
        "   4 ULPs (bfloat16 and float16: within one ULP of the float32 result",
        "   rounded once), so the table cannot drift from the code without a test",
        "   failing. The vector maps have their own tables with the same method:",
        "   [the softmax family](softmax.md#accuracy-and-speed) and",
        "   [the sparse maps](sparse.md).",
        "",
    ]
    for name, lines in sections:
        doc += [f"## {name}", "", *lines, ""]
    doc += [_maps_section(args.out), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(doc))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
