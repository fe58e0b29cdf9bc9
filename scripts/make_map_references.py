"""Generate the mpmath references for the probability maps and losses beyond
the softmax family: sparsegen-lin, sparsehourglass, alpha-normmax, budget
sparsemax, alpha-entmax with alpha < 1, logsumexp with ``b=``, ``where=`` and
``return_sign``, nll_loss, kl_div, multilabel_soft_margin_loss, the multi-hot
sparsemax loss and the normmax loss.

Writes ``tests/data/map_references.npz``. Every input is an exact binary
float64 number (float32 cases hold float32-representable values); every
reference is computed at 256 bits from the definitions, written here apart
from actlab: the threshold by sorting (sparsemax, budget) or by bisection
then Newton's method at 256 bits (normmax, entmax below 1), the Jacobian by
the implicit-function theorem on the support, checked on some rows against
central differences at 400 bits. Stored per reference value: the exact
value as a double-double ``hi + lo`` and its *condition scale*

    cond_i = |f_i| + sum_j |df_i/du_j| |u_j|,

the first-order bound on |f_i(u(1 + d)) - f_i(u)| / eps over relative input
perturbations |d_j| <= eps (Higham, Accuracy and Stability of Numerical
Algorithms, 2002, section 1.6; shift-invariant maps are measured on
``u = z - max z``), which is what a backward-stable algorithm can promise
where the function is ill-conditioned (sparsemax's ``z_i - tau``, kl_div's
``log q - input``, a signed sum). For a VJP ``g^T J`` the scale is
``|g^T J|`` plus the magnitude of the terms of the product in the Jacobian's
closed form, e.g. ``|c| w_j (|g_j| + <w, |g|> / sum w)`` for
``J = c (diag(w) - w w^T / sum w)`` (the entmax family, ``w = p^(2 - alpha)``).

Run once (about a minute): ``python scripts/make_map_references.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import numpy as np
from mpmath import mpf

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "map_references.npz"
PREC = 256
mpmath.mp.prec = PREC
NINF = mpf("-inf")


def dd(v) -> tuple[float, float]:
    if mpmath.isinf(v) or v == 0:
        return float(v), 0.0
    hi = float(v)
    return hi, float(v - mpf(hi))


# -- the maps at 256 bits: values and Jacobians (lists of mpf) -------------------------------------

def sparsemax_mp(z):
    """Martins & Astudillo 2016, Algorithm 1 (sort): (p, tau)."""
    live = sorted((v for v in z if v != NINF), reverse=True)
    cs, tau = mpf(0), None
    for k, v in enumerate(live, 1):
        cs += v
        if 1 + k * v > cs:
            tau = (cs - 1) / k
    return [max(v - tau, mpf(0)) if v != NINF else mpf(0) for v in z], tau


def sparsemax_jac(p):
    s = [1 if v > 0 else 0 for v in p]
    k = sum(s)
    return [[s[i] * ((1 if i == j else 0) - mpf(s[j]) / k) for j in range(len(p))] for i in range(len(p))]


def wform_terms(w, g, c=1):
    """|c| w_j (|g_j| + sum_i w_i |g_i| / sum w): the magnitude of the terms of g^T J for
    J = c (diag(w) - w w^T / sum w), the Jacobian of the entmax family (w = p^(2-alpha))."""
    sw = mpmath.fsum(w)
    if sw == 0:
        return [mpf(0)] * len(w)
    wg = mpmath.fsum(wi * abs(gi) for wi, gi in zip(w, g)) / sw
    return [abs(c) * wj * (abs(gj) + wg) for wj, gj in zip(w, g)]


def sparsemax_w(p):
    return [mpf(1) if v > 0 else mpf(0) for v in p]


def sparsegen_lin_mp(x, lam):
    c = 1 - mpf(lam)
    p, _ = sparsemax_mp([v / c for v in x])
    return p, [[v / c for v in row] for row in sparsemax_jac(p)], lambda g: wform_terms(sparsemax_w(p), g, 1 / c)


def sparsehourglass_mp(x, q):
    q = mpf(q)
    live = [v != NINF for v in x]
    K = sum(live)
    S = mpmath.fsum(v for v, a in zip(x, live) if a)
    D = abs(S) + K * q
    a = (1 + K * q) / D
    da = -a * mpmath.sign(S) / D  # d alpha / d x_j on the live entries
    p, _ = sparsemax_mp([a * v if ok else NINF for v, ok in zip(x, live)])
    Js = sparsemax_jac(p)
    n = len(x)
    # z'_i = alpha x_i: dz'_i/dx_j = alpha delta_ij + x_i dalpha/dx_j
    dz = [[(a if i == j else 0) + (x[i] * da if live[i] and live[j] else 0) for j in range(n)] for i in range(n)]
    J = [[mpmath.fsum(Js[i][k] * dz[k][j] for k in range(n)) for j in range(n)] for i in range(n)]

    def terms(g):  # g^T J = alpha u + <u, x> grad alpha, u = J_sparsemax^T g
        ut = wform_terms(sparsemax_w(p), g)
        ux = mpmath.fsum(abs(a * b) for a, b, ok in zip(ut, x, live) if ok)
        return [(abs(a) * ut[j] + abs(da) * ux) if live[j] else mpf(0) for j in range(n)]

    def vjp_x(xs, g):  # g^T J at the inputs xs, on the support of p (for the second-order scale)
        u = [mpmath.fsum(Js[i][j] * g[i] for i in range(n)) for j in range(n)]
        Sx = mpmath.fsum(v for v, ok in zip(xs, live) if ok)
        Dx = abs(Sx) + K * q
        ax = (1 + K * q) / Dx
        dax = -ax * mpmath.sign(Sx) / Dx
        ux = mpmath.fsum(a * b for a, b, ok in zip(u, xs, live) if ok)
        return [ax * u[j] + dax * ux if live[j] else mpf(0) for j in range(n)]

    return p, J, terms, ("x", vjp_x)


def _root(f, df, lo, hi, increasing):
    """The root of a monotone convex f in [lo, hi]: bisection, then Newton to 256 bits."""
    for _ in range(80):
        mid = (lo + hi) / 2
        if (f(mid) >= 0) == increasing:
            hi = mid
        else:
            lo = mid
    t = (lo + hi) / 2
    for _ in range(60):
        step = f(t) / df(t)
        t -= step
        if abs(step) <= abs(t) * mpf(2) ** -(PREC - 4) + mpf(2) ** -(PREC + 20):
            break
    return t


def normmax_mp(x, alpha):
    """p ∝ [X + t]_+^r, r = 1/(alpha - 1), sum [X + t]_+^(r+1) = 1 (Blondel et al. 2020)."""
    alpha = mpf(alpha)
    r = 1 / (alpha - 1)
    m = max(x)
    X = [v - m if v != NINF else None for v in x]
    live = [v for v in X if v is not None]
    K = len(live)

    def f(t):
        return mpmath.fsum(max(v + t, 0) ** (r + 1) for v in live) - 1

    def df(t):
        return (r + 1) * mpmath.fsum(max(v + t, 0) ** r for v in live)

    t = _root(f, df, mpf(K) ** (-1 / (r + 1)), mpf(1), True)
    u = [max(v + t, mpf(0)) if v is not None else mpf(0) for v in X]
    qv = [v ** r if v > 0 else mpf(0) for v in u]
    Q = mpmath.fsum(qv)
    p = [v / Q for v in qv]
    n = len(x)
    # dt/dX_j = -q_j/Q; dq_i/dX_j = r u_i^(r-1) (delta_ij - p_j); dp = dq/Q - p sum(dq)/Q
    dq = [[(r * u[i] ** (r - 1) * ((1 if i == j else 0) - p[j]) if u[i] > 0 else mpf(0)) for j in range(n)]
          for i in range(n)]
    col = [mpmath.fsum(dq[k][j] for k in range(n)) for j in range(n)]
    J = [[(dq[i][j] - p[i] * col[j]) / Q for j in range(n)] for i in range(n)]

    def terms(g):  # J = c (diag(w) - w p^T - p w^T + sum(w) p p^T), w = p^(2 - alpha)
        w = [v ** (2 - alpha) if v > 0 else mpf(0) for v in p]
        c = mpmath.fsum(v ** alpha for v in p if v > 0) ** ((alpha - 1) / alpha) / (alpha - 1)
        wg = mpmath.fsum(a * abs(b) for a, b in zip(w, g))
        pg = mpmath.fsum(a * abs(b) for a, b in zip(p, g))
        sw = mpmath.fsum(w)
        return [c * (w[j] * abs(g[j]) + p[j] * wg + w[j] * pg + sw * p[j] * pg) for j in range(n)]

    def vjp_p(pp, g):  # the same product as a function of the output (for the second-order scale)
        w = [v ** (2 - alpha) if v > 0 else mpf(0) for v in pp]
        c = mpmath.fsum(v ** alpha for v in pp if v > 0) ** ((alpha - 1) / alpha) / (alpha - 1)
        gc = [gi - mpmath.fsum(a * b for a, b in zip(pp, g)) for gi in g]
        wgc = mpmath.fsum(a * b for a, b in zip(w, gc))
        return [c * (w[j] * gc[j] - pp[j] * wgc) for j in range(n)]

    return p, J, terms, ("p", vjp_p)


def budget_mp(x, budget):
    """clip(x - tau, 0, 1) with sum B: tau between the breakpoints x_i, x_i - 1 (solved exactly)."""
    B = mpf(budget)
    live = [v for v in x if v != NINF]
    if len(live) <= B:
        p = [mpf(1) if v != NINF else mpf(0) for v in x]
        return p, [[mpf(0)] * len(x) for _ in x], lambda g: [mpf(0)] * len(x)

    def f(t):
        return mpmath.fsum(min(max(v - t, 0), 1) for v in live)

    pts = sorted(set(live + [v - 1 for v in live]), reverse=True)
    for a, b in zip(pts, pts[1:]):
        if f(a) <= B <= f(b):
            mid = (a + b) / 2
            free = [v for v in live if 0 < v - mid < 1]
            nc = sum(1 for v in live if v - mid >= 1)
            tau = (mpmath.fsum(free) + nc - B) / len(free) if free else mid  # no free entry: p is 0/1
            break
    else:
        raise AssertionError("no bracket")
    p = [min(max(v - tau, mpf(0)), mpf(1)) if v != NINF else mpf(0) for v in x]
    s = [1 if 0 < v < 1 else 0 for v in p]
    k = max(sum(s), 1)
    J = [[s[i] * ((1 if i == j else 0) - mpf(s[j]) / k) for j in range(len(x))] for i in range(len(x))]
    return p, J, lambda g: wform_terms([mpf(v) for v in s], g)


def entmax_dense_mp(x, alpha):
    """alpha in (0, 1): p_i = (1 + t + beta X_i)^(1/beta), beta = alpha - 1 < 0, sum 1 (Peters et al. 2019)."""
    beta = mpf(alpha) - 1
    m = max(x)
    X = [v - m if v != NINF else None for v in x]
    live = [v for v in X if v is not None]
    K = len(live)

    def f(t):
        return mpmath.fsum((1 + t + beta * v) ** (1 / beta) for v in live) - 1

    def df(t):
        return mpmath.fsum((1 + t + beta * v) ** (1 / beta - 1) for v in live) / beta

    t = _root(f, df, mpf(0), mpf(K) ** (-beta) - 1, False)
    p = [(1 + t + beta * v) ** (1 / beta) if v is not None else mpf(0) for v in X]
    w = [v ** (1 - beta) if v > 0 else mpf(0) for v in p]
    sw = mpmath.fsum(w)
    n = len(x)
    def vjp_p(pp, g):
        ww = [v ** (1 - beta) if v > 0 else mpf(0) for v in pp]
        s = mpmath.fsum(ww)
        wg = mpmath.fsum(a * b for a, b in zip(ww, g)) / s
        return [a * (b - wg) for a, b in zip(ww, g)]

    return p, [[w[i] * ((1 if i == j else 0) - w[j] / sw) for j in range(n)] for i in range(n)], \
        lambda g: wform_terms(w, g), ("p", vjp_p)


MAPS = {
    "sparsegen_lin": (sparsegen_lin_mp, [{"lam": -3.0}, {"lam": -0.5}, {"lam": 0.0}, {"lam": 0.25}, {"lam": 0.75}],
                      True),
    "sparsehourglass": (sparsehourglass_mp, [{"q": 0.1}, {"q": 1.0}, {"q": 10.0}], False),
    "normmax": (normmax_mp, [{"alpha": 1.5}, {"alpha": 2.0}, {"alpha": 4.0}], True),
    "budget_sparsemax": (budget_mp, [{"budget": 2.0}, {"budget": 3.5}], True),
    "entmax": (entmax_dense_mp, [{"alpha": 0.5}, {"alpha": 0.75}, {"alpha": 0.9}], True),
}


def map_rows(rng, cast):
    tiny = 1e-300 if cast is np.float64 else 1e-40
    rows = []
    for scale in (0.3, 1.0, 10.0):
        for k in (2, 5, 20, 50):
            rows.append(rng.standard_normal(k) * scale)
    rows += [
        1e6 + rng.uniform(-2, 2, 8), -1e5 + rng.uniform(-3, 3, 6), 3e3 + rng.uniform(-1, 1, 30),
        [1.0, 1.0, 1.0], [0.5, 0.5, -1.0, -1.0], [2.0, 2.0, 2.0, 0.25], [0.0, -50.0], [1000.0, 0.0, -3.0],
        [1.0, -np.inf, 0.3, -0.7, 2.0], [-np.inf, 0.5, -np.inf, 0.25, 0.125],
        [tiny, -tiny, 0.0, 3 * tiny, 0.0625], [1e-8, -3e-9, 2e-8, 0.0],
        [1e30, 1e30 * (1 - 2.0**-20), -1e30, 0.0], [5.0, 5.0 - 2.0**-20, 4.0],
    ]
    return [np.asarray(r, dtype=cast).astype(np.float64) for r in rows]


# -- logsumexp with b, where, return_sign ----------------------------------------------------------

def lse_mp(x, b, live):
    """(log|s|, sign s, d/dx, d/db, cond) for s = sum over live of b e^x."""
    terms = [mpf(bi) * mpmath.exp(mpf(xi)) if ok else mpf(0) for xi, bi, ok in zip(x, b, live)]
    s = mpmath.fsum(terms)
    sign = mpmath.sign(s)
    val = mpmath.log(abs(s))
    ex = [mpmath.exp(mpf(xi) - val) * sign if ok else mpf(0) for xi, ok in zip(x, live)]
    dx = [e * mpf(bi) for e, bi in zip(ex, b)]
    cond = abs(val) + mpmath.fsum(abs(d) * (abs(mpf(xi)) + 1) for d, xi, ok in zip(dx, x, live)
                                  if ok and xi != -np.inf)
    # the gradients are shift-invariant: their scales use X = x - max x
    live = [ok and xi != -np.inf for xi, ok in zip(x, live)]  # e^-inf = 0: no term, no scale
    m = max(mpf(xi) for xi, ok in zip(x, live) if ok)
    X = [abs(mpf(xi) - m) if ok else mpf(0) for xi, ok in zip(x, live)]
    rest = 1 + mpmath.fsum(abs(d) * (a + 1) for d, a in zip(dx, X))
    cdx = [abs(d) * (a + rest) for d, a in zip(dx, X)]
    cdb = [abs(e) * (a + rest) for e, a in zip(ex, X)]
    return val, sign, dx, ex, cond, cdx, cdb


def lse_cases(rng, cast, f32):
    out = []
    for k in (3, 10, 40):
        for scale in (1.0, 30.0):
            x = (rng.standard_normal(k) * scale).astype(cast)
            out.append((x, rng.uniform(0.0, 2.0, k).astype(cast), None))                   # b >= 0
            out.append((x, rng.uniform(-1.0, 2.0, k).astype(cast), None))                  # signed b
            out.append((x, None, rng.uniform(size=k) < 0.6))                               # where
            out.append((x, rng.uniform(0.1, 3.0, k).astype(cast), rng.uniform(size=k) < 0.7))
    big = 80.0 if f32 else 700.0
    out += [
        (np.array([0.0, -50.0], cast), np.array([1.0, 0.5], cast), None),
        (np.array([big, big - 1, 0.0], cast), np.array([2.0, 0.0, 1.0], cast), None),
        (np.array([1.0, 1.0, 1.0], cast), np.array([1.0, -1.0, -1.0], cast), None),   # SciPy's docstring case
        (np.array([0.0, 0.0], cast), np.array([1.0, -0.5], cast), None),
        (np.array([-1000.0, -1001.0, 3.0], cast), None, np.array([True, True, False])),
        (np.array([5.0, -np.inf, 2.0], cast), np.array([0.25, 1.0, 4.0], cast), np.array([True, True, True])),
        (np.array([1e-30, -2e-30, 0.0], cast), np.array([1.0, 1.0, 1.0], cast), None),
        (np.array([3.0, 2.0, 1.0], cast), np.array([-1.0, 0.5, 0.25], cast), None),  # negative sum
    ]
    return out


# -- losses ----------------------------------------------------------------------------------------

def softplus(v):
    return mpmath.log1p(mpmath.exp(v)) if v < 0 else v + mpmath.log1p(mpmath.exp(-v))


def sigmoid(v):
    return 1 / (1 + mpmath.exp(-v))


def reduce_mp(rows, rw, reduction):
    """PyTorch's reductions of per-row losses with per-row weights ``rw``; the
    gradient factor of each row (d total / d row)."""
    if reduction == "none":
        return None, [mpf(1)] * len(rows)
    if reduction == "sum":
        return mpmath.fsum(r * w for r, w in zip(rows, rw)), list(rw)
    den = mpmath.fsum(rw)
    return mpmath.fsum(r * w for r, w in zip(rows, rw)) / den, [w / den for w in rw]


def loss_cases(rng, cast, f32):
    """Each: (name, kwargs for the call, inputs dict, value refs, grad ref (of the input), conds)."""
    out = []
    hi = 80.0 if f32 else 700.0
    # nll_loss: log-probabilities of random rows (any exact float numbers serve)
    for reduction in ("mean", "sum", "none"):
        for weighted in (False, True):
            N, C = 6, 5
            lp = np.log(rng.dirichlet(np.ones(C) * 0.3, N) + 1e-300).astype(cast)
            lp[0, 0] = -1e-12
            t = rng.integers(0, C, N)
            t[1] = -100
            w = rng.uniform(0.5, 2.0, C).astype(cast) if weighted else None
            rw = [mpf(0) if k == -100 else mpf(float(w[k])) if weighted else mpf(1) for k in t]
            rows = [-mpf(float(lp[i, k])) if k != -100 else mpf(0) for i, k in enumerate(t)]
            val, fac = reduce_mp(rows, rw, reduction)
            g = rng.standard_normal(N).astype(cast) if reduction == "none" else None
            grad = [[mpf(0)] * C for _ in range(N)]
            for i, k in enumerate(t):
                if k != -100:
                    grad[i][k] = -fac[i] * (rw[i] if reduction == "none" else 1) * (mpf(float(g[i])) if g is not None else 1)
            vals = [r * w for r, w in zip(rows, rw)] if val is None else [val]
            inputs = {"log_probs": lp, "target": t.astype(np.float64)}
            if weighted:
                inputs["weight"] = w
            if g is not None:
                inputs["g"] = g
            out.append(("nll_loss", {"reduction": reduction}, inputs, vals, [abs(v) for v in vals],
                        [v for row in grad for v in row], None))
    # kl_div
    for log_target in (False, True):
        for reduction in ("mean", "batchmean", "sum", "none"):
            N, C = 4, 6
            x = np.log(rng.dirichlet(np.ones(C), N)).astype(cast)
            q = rng.dirichlet(np.ones(C) * 0.5, N)
            q[0, 1] = 0.0
            q[1] = np.exp(x[1].astype(np.float64)) * (1 + 1e-3 * rng.standard_normal(C))  # q close to p
            q = q.astype(cast)
            tgt = q if not log_target else np.log(np.where(q > 0, q, 1.0)).astype(cast)
            if log_target:
                tgt[0, 1] = -np.inf
                tgt[2, 3] = -300.0 if not f32 else -90.0
            pts, conds, dx = [], [], []
            for xi, ti in zip(x.ravel(), tgt.ravel()):
                xi, ti = mpf(float(xi)), mpf(float(ti))
                if log_target:
                    e = mpmath.exp(ti) if ti != NINF else mpf(0)
                    v = e * (ti - xi) if ti != NINF else mpf(0)
                    c = abs(v) + e * abs(xi) + (e * abs(ti - xi + 1) * abs(ti) if ti != NINF else 0)
                else:
                    e = ti
                    v = ti * (mpmath.log(ti) - xi) if ti != 0 else mpf(0)
                    c = abs(v) + abs(ti * xi) + (abs(ti * (mpmath.log(ti) - xi + 1)) if ti != 0 else 0)
                pts.append(v)
                conds.append(c)
                dx.append(-e)
            n = N * C
            g = rng.standard_normal((N, C)).astype(cast) if reduction == "none" else None
            if reduction == "none":
                vals, vc, fac = pts, conds, [mpf(float(gi)) for gi in g.ravel()]
            else:
                div = {"mean": n, "batchmean": N, "sum": 1}[reduction]
                vals, vc, fac = [mpmath.fsum(pts) / div], [mpmath.fsum(conds) / div], [mpf(1) / div] * n
            inputs = {"input": x, "target": tgt}
            if g is not None:
                inputs["g"] = g
            out.append(("kl_div", {"reduction": reduction, "log_target": log_target}, inputs, vals, vc,
                        [d * f for d, f in zip(dx, fac)], None))
    # multilabel_soft_margin_loss
    for reduction in ("mean", "sum", "none"):
        for weighted in (False, True):
            N, C = 5, 6
            x = (rng.standard_normal((N, C)) * 5).astype(cast)
            x[0, :4] = [hi / 2, -hi / 2, 40.0, -40.0]
            x[1, :3] = [1e-20, -3e-8, 0.0]
            y = (rng.uniform(size=(N, C)) < 0.5).astype(cast)
            y[0, :4] = [1.0, 0.0, 1.0, 0.0]
            w = rng.uniform(0.5, 2.0, C).astype(cast) if weighted else None
            rows, drow = [], []
            for i in range(N):
                terms, d = [], []
                for c in range(C):
                    xi, yi = mpf(float(x[i, c])), mpf(float(y[i, c]))
                    wc = mpf(float(w[c])) if weighted else mpf(1)
                    terms.append(wc * (yi * softplus(-xi) + (1 - yi) * softplus(xi)))
                    d.append(wc * ((1 - yi) * sigmoid(xi) - yi * sigmoid(-xi)) / C)
                rows.append(mpmath.fsum(terms) / C)
                drow.append(d)
            g = rng.standard_normal(N).astype(cast) if reduction == "none" else None
            if reduction == "none":
                vals, fac = rows, [mpf(float(gi)) for gi in g]
            else:
                div = N if reduction == "mean" else 1
                vals, fac = [mpmath.fsum(rows) / div], [mpf(1) / div] * N
            inputs = {"input": x, "target": y}
            if weighted:
                inputs["weight"] = w
            if g is not None:
                inputs["g"] = g
            out.append(("multilabel_soft_margin_loss", {"reduction": reduction}, inputs, vals, [abs(v) for v in vals],
                        [d * fac[i] for i in range(N) for d in drow[i]], None))
    # sparsemax loss, multi-hot targets (label proportions q = y / sum y, Martins & Astudillo 2016 section 4)
    for reduction in ("mean", "none"):
        N, C = 6, 7
        z = (rng.standard_normal((N, C)) * 1.5).astype(cast)
        z[0] = [2.0, 2.0, -5.0, -5.0, -6.0, -7.0, -8.0]
        z[1] = 1e4 + np.array([0.5, 0.25, -0.25, 0.125, -3.0, -4.0, 0.0])
        y = (rng.uniform(size=(N, C)) < 0.4).astype(cast)
        y[:, 0] = 1.0
        y[0] = [1, 1, 0, 0, 0, 0, 0]
        rows, conds, grad, gconds = [], [], [], []
        for i in range(N):
            zi = [mpf(float(v)) for v in z[i]]
            qi = [mpf(float(v)) for v in y[i]]
            sq = mpmath.fsum(qi)
            qi = [v / sq for v in qi]
            p, tau = sparsemax_mp(zi)
            m = max(zi)
            X = [v - m for v in zi]
            taux = tau - m
            S = [j for j in range(C) if p[j] > 0]
            terms = [-mpmath.fsum(a * b for a, b in zip(qi, X)), mpmath.fsum(X[j] ** 2 - taux**2 for j in S) / 2,
                     mpmath.fsum(v * v for v in qi) / 2]
            rows.append(mpmath.fsum(terms))
            d = [a - b for a, b in zip(p, qi)]
            J = sparsemax_jac(p)
            condp = [p[a] + mpmath.fsum(abs(J[a][b]) * abs(X[b]) for b in range(C)) for a in range(C)]
            conds.append(abs(rows[-1]) + mpmath.fsum(abs(v) for v in terms)
                         + mpmath.fsum(abs(dj) * abs(xj) for dj, xj in zip(d, X)))
            grad.append(d)
            gconds.append([abs(a - b) + abs(b) + c for a, b, c in zip(p, qi, condp)])
        g = rng.standard_normal(N).astype(cast) if reduction == "none" else None
        if reduction == "none":
            vals, vc, fac = rows, conds, [mpf(float(gi)) for gi in g]
        else:
            vals, vc, fac = [mpmath.fsum(rows) / N], [mpmath.fsum(conds) / N], [mpf(1) / N] * N
        inputs = {"logits": z, "target": y}
        if g is not None:
            inputs["g"] = g
        out.append(("sparsemax_loss_multilabel", {"reduction": reduction}, inputs, vals, vc,
                    [grad[i][j] * fac[i] for i in range(N) for j in range(C)],
                    [gconds[i][j] * abs(fac[i]) for i in range(N) for j in range(C)]))
    # normmax loss: class targets and distributions
    for alpha in (1.5, 2.0, 4.0):
        for dist in (False, True):
            N, C = 5, 6
            z = (rng.standard_normal((N, C)) * 2).astype(cast)
            z[0] = [3.0, 0.0, -1.0, -2.0, -0.5, -4.0]  # one-hot normmax at alpha 1.5/2: loss 0
            z[1] = 1e4 + np.array([0.5, 0.25, -0.25, 0.125, -3.0, 0.0])
            if dist:
                # multiples of 2^-20 summing to exactly 1 (so <p - q, z> is shift-invariant)
                q = np.round(rng.dirichlet(np.ones(C) * 0.5, N) * 2.0**20)
                q[:, -1] = 0.0
                q[np.arange(N), q.argmax(1)] += 2.0**20 - q.sum(1)
                q = q / 2.0**20
            else:
                t = rng.integers(0, C, N)
            rows, conds, grad, gconds = [], [], [], []
            for i in range(N):
                zi = [mpf(float(v)) for v in z[i]]
                qi = ([mpf(float(v)) for v in q[i]] if dist else [mpf(1) if j == t[i] else mpf(0) for j in range(C)])
                p, J, *_ = normmax_mp(zi, alpha)
                m = max(zi)
                X = [v - m for v in zi]
                na = mpf(alpha)
                norm_p = mpmath.fsum(v ** na for v in p if v > 0) ** (1 / na)
                norm_q = mpmath.fsum(v ** na for v in qi if v > 0) ** (1 / na)
                terms = [mpmath.fsum(a * b for a, b in zip(p, X)), -mpmath.fsum(a * b for a, b in zip(qi, X)),
                         norm_q, -norm_p]
                rows.append(mpmath.fsum(terms))
                d = [a - b for a, b in zip(p, qi)]
                condp = [p[a] + mpmath.fsum(abs(J[a][b]) * abs(X[b]) for b in range(C)) for a in range(C)]
                conds.append(abs(rows[-1]) + mpmath.fsum(abs(v) for v in terms)
                             + mpmath.fsum(abs(dj) * abs(xj) for dj, xj in zip(d, X)))
                grad.append(d)
                gconds.append([abs(a - b) + abs(b) + c for a, b, c in zip(p, qi, condp)])
            vals, vc = [mpmath.fsum(rows) / N], [mpmath.fsum(conds) / N]
            inputs = {"logits": z, "target": q if dist else t.astype(np.float64)}
            out.append(("normmax_loss", {"alpha": alpha}, inputs, vals, vc,
                        [grad[i][j] / N for i in range(N) for j in range(C)],
                        [gconds[i][j] / N for i in range(N) for j in range(C)]))
    return out


# -- the file --------------------------------------------------------------------------------------

class Writer:
    def __init__(self):
        self.inputs, self.refs, self.conds, self.cases = [], [], [], []

    def arr(self, a) -> list[int]:
        a = np.asarray(a, dtype=np.float64)
        start = len(self.inputs)
        self.inputs.extend(a.ravel().tolist())
        return [start, len(self.inputs), *a.shape]

    def ref(self, vals, conds) -> list[int]:
        start = len(self.refs)
        self.refs.extend(dd(v) for v in vals)
        self.conds.extend(float(c) for c in conds)
        return [start, len(self.refs)]

    def save(self):
        np.savez_compressed(OUT, inputs=np.asarray(self.inputs), refs=np.asarray(self.refs).reshape(-1, 2),
                            conds=np.asarray(self.conds), meta=np.asarray(json.dumps(self.cases)))


def second_order(spec, x, p, cp, g, vjp):
    """sum_k |d vjp_j / d v_k| c_k, by differences (a scale: 2^-40 steps are plenty), over the
    outputs v = p on the support (c = their condition scales) or the inputs v = x (c = |x|)."""
    kind, f = spec
    assert all(abs(a - b) <= mpf(2) ** -200 * (1 + abs(a)) for a, b in zip(f(p if kind == "p" else x, g), vjp))
    base = p if kind == "p" else x
    out = [mpf(0)] * len(x)
    for k, v in enumerate(base):
        if v == 0 or v == NINF or (kind == "p" and v <= 0):
            continue
        h = abs(v) * mpf(2) ** -40
        moved = list(base)
        moved[k] = v + h
        d = f(moved, g)
        scale = cp[k] if kind == "p" else abs(v)
        out = [o + abs((a - b) / h) * scale for o, a, b in zip(out, d, vjp)]
    return out


def fd_check(fn, x, params, J):
    """Central differences at 400 bits against the implicit-function Jacobian."""
    with mpmath.workprec(400):
        h = mpf(2) ** -130
        for j, xj in enumerate(x):
            if xj == NINF:
                continue
            up = list(x)
            dn = list(x)
            up[j], dn[j] = xj + h, xj - h
            pu = fn(up, **params)[0]
            pd = fn(dn, **params)[0]
            for i in range(len(x)):
                fd = (pu[i] - pd[i]) / (2 * h)
                assert abs(fd - J[i][j]) <= mpf(2) ** -100 * (1 + abs(J[i][j])), (fn.__name__, params, i, j)


def main() -> None:
    rng = np.random.default_rng(20261201)
    w = Writer()
    for dtype in ("float64", "float32"):
        cast = np.float64 if dtype == "float64" else np.float32
        f32 = dtype == "float32"
        rows = map_rows(rng, cast)
        for name, (fn, plist, shift_inv) in MAPS.items():
            for params in plist:
                for ri, row in enumerate(rows):
                    x = [mpf(float(v)) for v in row]
                    p, J, terms, *second = fn(x, **params)
                    if ri in (1, 12) and dtype == "float64":
                        fd_check(fn, x, params, J)
                    g = rng.standard_normal(len(row)).astype(cast).astype(np.float64)
                    n = len(x)
                    live = [v != NINF for v in x]
                    m = max(x)
                    u = [(v - m if shift_inv else v) if ok else mpf(0) for v, ok in zip(x, live)]
                    vjp = [mpmath.fsum(J[i][j] * mpf(float(g[i])) for i in range(n)) for j in range(n)]
                    cp = [abs(p[i]) + mpmath.fsum(abs(J[i][j]) * abs(u[j]) for j in range(n)) for i in range(n)]
                    gm = [mpf(float(v)) for v in g]
                    cv = [abs(v) + t for v, t in zip(vjp, terms(gm))]
                    if second:  # the product's sensitivity to its inputs: sum_k |d vjp / d u_k| scale_k
                        cv = [a + b for a, b in zip(cv, second_order(second[0], x, p, cp, gm, vjp))]
                    w.cases.append({"fn": name, "params": params, "dtype": dtype, "x": w.arr(row), "g": w.arr(g),
                                    "value": w.ref(p, cp), "vjp": w.ref(vjp, cv)})
        for x, b, where in lse_cases(rng, cast, f32):
            x = np.asarray(x, dtype=np.float64)
            bb = np.ones_like(x) if b is None else np.asarray(b, dtype=np.float64)
            live = np.ones(x.shape, bool) if where is None else np.asarray(where)
            val, sign, dx, db, cond, cdx, cdb = lse_mp(x, bb, live)
            case = {"fn": "logsumexp", "dtype": dtype, "x": w.arr(x), "sign": float(sign),
                    "value": w.ref([val], [cond]), "dx": w.ref(dx, cdx)}
            if b is not None:
                case["b"] = w.arr(bb)
                case["db"] = w.ref(db, cdb)
            if where is not None:
                case["where"] = w.arr(live.astype(np.float64))
            w.cases.append(case)
        for name, kw, inputs, vals, vconds, grad, gconds in loss_cases(rng, cast, f32):
            gconds = [abs(v) for v in grad] if gconds is None else gconds
            w.cases.append({"fn": name, "params": kw, "dtype": dtype,
                            **{k: w.arr(v) for k, v in inputs.items()},
                            "value": w.ref(vals, vconds), "grad": w.ref(grad, gconds)})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    w.save()
    print(f"wrote {OUT} ({len(w.cases)} cases, {len(w.refs)} reference values, {OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
