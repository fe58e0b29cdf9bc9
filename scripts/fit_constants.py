"""Constants of the accurate element-wise formulas, computed once with mpmath.

    python scripts/fit_constants.py      # prints the Python source pasted into
                                         # src/actlab/elementwise/_constants.py

* roots of the derivatives with an interior zero, as triple-double (hi, mid, lo),
  and the exponential at the root: silu/swish' (in u = beta x), mish',
  gelu(tanh)', gelu';
* the Gaussian upper tail Q(t) = P(N > t) = exp(-t^2/2) F / (1 + a t),
  a = sqrt(2 pi)/2, F = 1/2 + sigma H(s) with s = 1 - sigma an affine map of
  Weideman's variable Y = (L - t)/(L + t) onto [-1, 1] for 0 <= t <= 40,
  sigma = kappa t/(L + t), and H a polynomial fitted by Chebyshev
  interpolation (error below 2^-60);
* gelu'(x) = exp(-x^2/2) (x - x0) R(x) on -2.5 <= x <= 0, around its root x0,
  R a polynomial in s = affine(x) on [-1, 1] (relative error below 2^-58);
* the SELU constant scale*alpha, correctly rounded.
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 60


def dd(v) -> tuple[float, float]:
    hi = float(v)
    return hi, float(v - mp.mpf(hi))


def td(v) -> tuple[float, float, float]:
    """Triple-double: the roots are subtracted from inputs that may lie within
    1e-17 of them, so t = x - root needs the root to ~2^-160."""
    hi = float(v)
    mid = float(v - mp.mpf(hi))
    return hi, mid, float(v - mp.mpf(hi) - mp.mpf(mid))


def cheb(f, n: int):
    """Monomial coefficients (highest degree first) of the Chebyshev
    interpolant of f on [-1, 1], and its error estimate."""
    poly, err = mp.chebyfit(f, [-1, 1], n, error=True)
    return [float(c) for c in poly], err


def main() -> None:
    sig = lambda u: 1 / (1 + mp.exp(-u))  # noqa: E731
    out = []

    u0 = mp.findroot(lambda u: 1 + u + mp.exp(u), -1.28)  # sigma(u)(1 + u sigma(-u)) = 0
    out.append(f"SILU_ROOT = {td(u0)}  # 1 + u + e^u = 0")
    out.append(f"SILU_EXP_ROOT = {dd(mp.exp(u0))}")

    def mish_g(x):
        e = mp.exp(x)
        return e**3 + 4 * e**2 + 6 * e + 4 + 4 * x + 4 * x * e

    x0 = mp.findroot(mish_g, -1.19)
    out.append(f"MISH_ROOT = {td(x0)}  # e^3x + 4e^2x + 6e^x + 4 + 4x + 4x e^x = 0")
    out.append(f"MISH_EXP_ROOT = {dd(mp.exp(x0))}")

    c, k = 2 * mp.sqrt(2 / mp.pi), mp.mpf("0.044715")
    gt = lambda x: 1 + mp.exp(c * (x + k * x**3)) + c * (x + 3 * k * x**3)  # noqa: E731
    xt = mp.findroot(gt, -0.75)
    out.append(f"GELU_TANH_ROOT = {td(xt)}  # 1 + e^u(x) + x u'(x) = 0, u = 2 sqrt(2/pi) (x + 0.044715 x^3)")
    out.append(f"GELU_TANH_EXP_ROOT = {dd(mp.exp(c * (xt + k * xt**3)))}")
    out.append(f"GELU_TANH_C = {dd(c)}  # 2 sqrt(2/pi)")
    out.append(f"GELU_TANH_K = {dd(k)}  # 0.044715")

    g = lambda x: mp.ncdf(x) + x * mp.npdf(x)  # noqa: E731
    xg = mp.findroot(g, -0.75)
    out.append(f"GELU_ROOT = {td(xg)}  # Phi(x) + x phi(x) = 0")

    lo, hi = mp.mpf(-2.5), mp.mpf(0)

    def r(s):
        x = lo + (hi - lo) * (s + 1) / 2
        if abs(x - xg) < mp.mpf(10) ** -30:
            return mp.diff(g, xg) * mp.exp(xg**2 / 2)
        return g(x) * mp.exp(x * x / 2) / (x - xg)

    coeffs, err = cheb(r, 22)
    out.append(f"GELU_DERIV_WINDOW = ({float(lo)!r}, {float(hi)!r})  # error {mp.nstr(err, 3)}")
    out.append(f"GELU_DERIV_POLY = {tuple(coeffs)!r}")

    # F(t) = (1 + a t) Q(t) e^{t^2/2} = 1/2 + sigma H(s), sigma = 1 - s =
    # kappa t / (L + t) (formed from t with a small relative error), H a
    # polynomial in s; s runs over [-1, 1] as t runs over [40, 0].
    big_l, top, a = 7, 40, mp.sqrt(2 * mp.pi) / 2
    ylo = (big_l - mp.mpf(top)) / (big_l + top)
    kappa = 4 / (1 - ylo)

    def f_of_t(t):
        return (1 + a * t) * mp.erfc(t / mp.sqrt(2)) * mp.exp(t * t / 2) / 2

    def h(s):
        sigma = 1 - s
        if sigma < mp.mpf(10) ** -30:  # dF/dsigma at t = 0: F'(0) dt/dsigma
            return (a / 2 - 1 / mp.sqrt(2 * mp.pi)) * big_l / kappa
        t = big_l * sigma / (kappa - sigma)
        return (f_of_t(t) - mp.mpf(1) / 2) / sigma

    coeffs, err = cheb(h, 24)
    out.append(f"NORMAL_TAIL_L = {big_l}.0")
    out.append(f"NORMAL_TAIL_A = {dd(a)}  # sqrt(2 pi)/2")
    out.append(f"INV_SQRT_2PI = {dd(1 / mp.sqrt(2 * mp.pi))}")
    out.append(f"NORMAL_TAIL_KAPPA = {float(kappa)!r}  # sigma = kappa t / (L + t); t <= {top}")
    out.append(f"NORMAL_TAIL_POLY = {tuple(coeffs)!r}  # error {mp.nstr(err, 3)}")

    alpha = mp.mpf("1.6732632423543772848170429916717")
    scale = mp.mpf("1.0507009873554804934193349852946")
    out.append(f"SELU_SCALE_ALPHA = {float(alpha * scale)!r}")
    del sig
    print("\n".join(out))


if __name__ == "__main__":
    main()
