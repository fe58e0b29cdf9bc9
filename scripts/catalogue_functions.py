"""mpmath definitions of the catalogue activations (the functions other
libraries offer: transformers, timm, jax.nn, Keras, ...), for
``scripts/make_references.py --catalogue``, which writes
``tests/data/elementwise_references_catalogue.npz``.

Each function is written from its paper or its library's documented
formula, in a form without cancellation at mpmath's precision where the
plain one would need thousands of digits (squareplus for x < 0); the
adaptive precision of ``make_references.evaluate`` handles the rest (the
roots of the derivatives). Values at +-inf arrive as +-HUGE; a function
with no limit there, or outside its domain, returns NaN; an infinite
value at a finite point is returned as +-HUGE.
"""

from __future__ import annotations

import mpmath as mp

mpf = mp.mpf
HUGE = mpf(2) ** 1100
_FLOOR = mpf(-10**7)


def _sig(u):
    u = max(u, _FLOOR)
    return 1 / (1 + mp.exp(-u)) if u >= 0 else (lambda e: e / (1 + e))(mp.exp(u))


def _dsig(u):
    e = mp.exp(max(-abs(u), _FLOOR))
    return e / (1 + e) ** 2


def _log1pexp(u):
    u = max(u, _FLOOR)
    return u + mp.log1p(mp.exp(-u)) if u > 0 else mp.log1p(mp.exp(u))


def _ncdf(z):
    z = min(max(z, mpf(-1e5)), mpf(1e5))  # Phi(-1e5) ~ e^-5e9: 0 in every dtype
    return mp.erfc(-z / mp.sqrt(2)) / 2


def _npdf(z):
    z = min(max(z, mpf(-1e5)), mpf(1e5))
    return mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)


def _relu(x):
    return max(x, mpf(0))


def _at_inf(x):
    return abs(x) >= HUGE


def _squareplus(x, b):
    h = mp.sqrt(x * x + b)
    return (x + h) / 2 if x >= 0 else b / (2 * (h - x))


def _d_squareplus(x, b):
    h = mp.sqrt(x * x + b)
    return (1 + x / h) / 2 if x >= 0 else b / (2 * h * (h - x))


def _xielu(x, alpha_p, alpha_n, beta, eps):
    if x > 0:
        return alpha_p * x * x + beta * x
    m = max(min(x, eps), _FLOOR)
    return alpha_n * (mp.expm1(m) - x) + beta * x


def _d_xielu(x, alpha_p, alpha_n, beta, eps):
    if x > 0:
        return 2 * alpha_p * x + beta
    if x <= eps:
        return alpha_n * mp.expm1(max(x, _FLOOR)) + beta
    return beta - alpha_n


def _golu(x):
    if x < -800:  # e^{-e^{800}}: 0 in every dtype
        return mpf(0)
    return x * mp.exp(-mp.exp(-x))


def _d_golu(x):
    if x < -800:
        return mpf(0)
    e = mp.exp(-x)
    return mp.exp(-e) * (1 + x * e)


def _logit(p):
    if p < 0 or p > 1:
        return mp.nan
    if p == 0 or p == 1:
        return HUGE if p == 1 else -HUGE
    return mp.log(p / (1 - p))


def _d_logit(p):
    if p < 0 or p > 1:
        return mp.nan
    if p == 0 or p == 1:
        return HUGE
    return 1 / (p * (1 - p))


def _log1mexp(x):
    if x > 0:
        return mp.nan
    if x == 0:
        return -HUGE
    x = max(x, _FLOOR)
    return mp.log(-mp.expm1(x)) if x > -1 else mp.log1p(-mp.exp(x))  # (1 - e^x rounds to 1 at any fixed precision)


def _d_log1mexp(x):
    if x > 0:
        return mp.nan
    if x == 0:
        return -HUGE
    return -1 / mp.expm1(min(-x, -_FLOOR))


def _sin_periodic(f):
    """f, NaN at +-inf (a sine has no limit there)."""
    return lambda x, **p: mp.nan if _at_inf(x) else f(x, **p)


# name -> (value(x, **params), derivative(x, **params))
FUNCTIONS = {
    "relu2": (lambda x: _relu(x) ** 2, lambda x: 2 * _relu(x)),
    "star_relu": (lambda x, scale, bias: scale * _relu(x) ** 2 + bias, lambda x, scale, bias: 2 * scale * _relu(x)),
    "squareplus": (_squareplus, _d_squareplus),
    "sparse_plus": (
        lambda x: mpf(0) if x <= -1 else (x if x >= 1 else (x + 1) ** 2 / 4),
        lambda x: mpf(0) if x <= -1 else (mpf(1) if x >= 1 else (x + 1) / 2),
    ),
    "sparse_sigmoid": (
        lambda x: min(max((x + 1) / 2, mpf(0)), mpf(1)),
        lambda x: mpf(1) / 2 if -1 < x < 1 else mpf(0),
    ),
    "hard_mish": (
        lambda x: mpf(0) if x <= -2 else (x if x >= 0 else x * (x + 2) / 2),
        lambda x: mpf(0) if x <= -2 else (mpf(1) if x >= 0 else x + 1),
    ),
    # CLIP's x sigma(1.702 x); 1.702 as the binary double the library uses
    "quick_gelu": (
        lambda x: x * _sig(mpf(1.702) * x),
        lambda x: _sig(mpf(1.702) * x) + mpf(1.702) * x * _dsig(mpf(1.702) * x),
    ),
    "gelu_10": (
        lambda x: min(x * _ncdf(x), mpf(10)),
        lambda x: mpf(0) if x > 10 else _ncdf(x) + x * _npdf(x),
    ),
    "laplace": (
        lambda x, mu, sigma: _ncdf((x - mu) / sigma),
        lambda x, mu, sigma: _npdf((x - mu) / sigma) / sigma,
    ),
    "identity": (lambda x: x, lambda x: mpf(1)),
    "exponential": (lambda x: mp.exp(min(x, mpf(10**4))), lambda x: mp.exp(min(x, mpf(10**4)))),
    "log1mexp": (_log1mexp, _d_log1mexp),
    "logit": (_logit, _d_logit),
    "sqrt_softplus": (
        lambda x: HUGE if x >= HUGE else mp.sqrt(_log1pexp(x)),
        lambda x: mpf(0) if x >= HUGE else _sig(x) / (2 * mp.sqrt(_log1pexp(x))),
    ),
    "golu": (_golu, _d_golu),
    "sine": (
        _sin_periodic(lambda x, w0: mp.sin(w0 * x)),
        _sin_periodic(lambda x, w0: w0 * mp.cos(w0 * x)),
    ),
    "snake": (
        lambda x, alpha: x if _at_inf(x) else x + mp.sin(alpha * x) ** 2 / alpha,
        _sin_periodic(lambda x, alpha: 1 + mp.sin(2 * alpha * x)),
    ),
    "snake_beta": (
        lambda x, alpha, beta: x if _at_inf(x) else x + mp.sin(alpha * x) ** 2 / beta,
        _sin_periodic(lambda x, alpha, beta: 1 + alpha / beta * mp.sin(2 * alpha * x)),
    ),
    "xielu": (_xielu, _d_xielu),
    "poly_relu": (
        lambda x, a1, a2, a3, bias: a1 * _relu(x) + a2 * _relu(x) ** 2 + a3 * _relu(x) ** 3 + bias,
        lambda x, a1, a2, a3, bias: (a1 + 2 * a2 * x + 3 * a3 * x * x) if x > 0 else mpf(0),
    ),
    "dyt": (
        lambda x, alpha, weight, bias: weight * mp.tanh(alpha * x) + bias,
        lambda x, alpha, weight, bias: weight * alpha * mp.sech(min(abs(alpha * x), mpf(10**5))) ** 2,
    ),
}

#: every parameter's default, as the papers and libraries give them
DEFAULTS = {
    "star_relu": {"scale": 0.8944271909999159, "bias": -0.4472135954999579},
    "squareplus": {"b": 4.0},
    "laplace": {"mu": 0.707107, "sigma": 0.282095},
    "sine": {"w0": 1.0},
    "snake": {"alpha": 1.0},
    "snake_beta": {"alpha": 1.0, "beta": 1.0},
    "xielu": {"alpha_p": 0.8, "alpha_n": 0.8, "beta": 0.5, "eps": -1e-6},
    "dyt": {"alpha": 0.5, "weight": 1.0, "bias": 0.0},
    "poly_relu": {"a1": 1 / 3, "a2": 1 / 3, "a3": 1 / 3, "bias": 0.0},
}

# (sine with a w0 that is not a power of two is checked near its zeros in tests/test_catalogue.py:
# past |w0 x| ~ 2^60 the addition formula sin(hi)cos(lo) + cos(hi)sin(lo) of the exact product loses
# the relative precision at the zeros of the result.)
CASES = [
    ("relu2", {}), ("star_relu", {}), ("star_relu", {"scale": 2.0, "bias": -1.0}), ("squareplus", {}),
    ("squareplus", {"b": 0.7}), ("sparse_plus", {}), ("sparse_sigmoid", {}), ("hard_mish", {}),
    ("quick_gelu", {}), ("gelu_10", {}), ("laplace", {}), ("laplace", {"mu": 0.0, "sigma": 1.0}),
    ("identity", {}), ("exponential", {}), ("log1mexp", {}), ("logit", {}), ("sqrt_softplus", {}),
    ("golu", {}), ("sine", {}), ("snake", {}),
    ("snake_beta", {}), ("snake_beta", {"alpha": 0.7, "beta": 1.3}), ("xielu", {}), ("dyt", {}),
    ("dyt", {"alpha": 0.7, "weight": 1.5}), ("poly_relu", {}),
]


def extra_roots() -> list[float]:
    """Points where the new functions or their derivatives vanish or change
    form, so the grid packs points around them: GoLU' (-W(1)), xIELU and
    xIELU' (defaults), StarReLU's root, snake' (alpha x = -pi/4 + k pi),
    the zeros of sine(w0 = 0.75), logit's root 1/2, xIELU's eps."""
    roots = [-mp.lambertw(1).real, mp.log(1 - mpf(0.5) / mpf(0.8)), mp.sqrt(mpf(0.5))]
    roots.append(mp.findroot(lambda x: _xielu(x, mpf(0.8), mpf(0.8), mpf(0.5), mpf(-1e-6)), -2.4))
    for k in (-2, -1, 0, 1, 3):
        t = -mp.pi / 4 + k * mp.pi
        roots += [t, t / mpf(0.7)]
    roots += [k * mp.pi / mpf(0.75) for k in (1, 2, 7, -3)]
    roots += [mpf(0.5), mpf(-1e-6), mpf(-2.0), mpf(-1.0), mpf(1.0)]
    return [float(r) for r in roots]
