"""The catalogue activations beyond the accuracy bar (``test_accuracy.py``
scores their values and x-derivatives against mpmath): the names other
libraries use, their formulas as those libraries write them (a second
algorithm, in float64 where it does not cancel), the parameter derivatives
against central differences, and the torch modules under gradcheck."""

from __future__ import annotations

import math

import numpy as np
import pytest

import actlab

torch = pytest.importorskip("torch")
import actlab.torch as at  # noqa: E402

# transformers src/transformers/activations.py, ACT2CLS
ACT2FN_KEYS = [
    "gelu", "gelu_10", "gelu_fast", "gelu_new", "gelu_python", "gelu_pytorch_tanh", "gelu_python_tanh",
    "gelu_accurate", "hardswish", "laplace", "leaky_relu", "linear", "mish", "quick_gelu", "relu", "relu2",
    "relu6", "sigmoid", "silu", "sqrtsoftplus", "swish", "tanh", "prelu", "xielu",
]
# timm timm/layers/create_act.py, _ACT_FN_DEFAULT and _ACT_LAYER_DEFAULT
TIMM_NAMES = [
    "silu", "swish", "mish", "relu", "relu6", "leaky_relu", "elu", "celu", "selu", "gelu", "gelu_tanh",
    "quick_gelu", "sigmoid", "tanh", "hard_sigmoid", "hard_swish", "hard_mish", "hardsigmoid", "hardswish",
    "prelu", "identity",
]
# jax.nn's activations (jax/_src/nn/functions.py) and Keras 3's
JAX_KERAS_NAMES = [
    "relu", "relu6", "sigmoid", "softplus", "sparse_plus", "sparse_sigmoid", "soft_sign", "silu", "swish",
    "log_sigmoid", "leaky_relu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "elu", "celu", "selu",
    "gelu", "glu", "squareplus", "mish", "identity", "linear", "exponential", "hard_shrink", "soft_shrink",
    "tanh_shrink", "softsign", "threshold",
]


@pytest.mark.parametrize("name", sorted(set(ACT2FN_KEYS + TIMM_NAMES + JAX_KERAS_NAMES)))
def test_other_libraries_names_resolve(name):
    e = actlab.get(name)
    assert e.function is not None
    y = e.function(np.array([-1.0, 0.5]), **({"weight": 0.25} if e.name == "prelu" else
                                              {"threshold": 0.0, "value": 0.0} if e.name == "threshold" else {}))
    assert y.shape[-1] in (1, 2)


def test_aliases_pick_the_right_entry():
    assert actlab.get("gelu_new").extra["alias_of"] == "gelu" and actlab.get("gelu_new").defaults() == {
        "approximate": "tanh"}
    assert actlab.get("gelu_python") is actlab.get("gelu")
    assert actlab.get("relu2").name == "relu2" and actlab.get("swish").name == "swish"
    assert actlab.get("linear").name == "identity" and actlab.get("sqrtsoftplus").name == "sqrt_softplus"
    assert actlab.get("soft_sign").name == "softsign" and actlab.get("hard_tanh").name == "hardtanh"
    assert actlab.get("hard_silu").name == "hardswish" and actlab.get("Gelu-New").extra["alias_of"] == "gelu"


def test_unknown_name_is_a_value_error_with_close_matches():
    with pytest.raises(ValueError, match="gelu_new"):
        actlab.get("gelu_neww")
    with pytest.raises(KeyError):  # still a KeyError, as before
        actlab.get("no_such_function_at_all")


# -- the formulas as the other libraries write them (float64, where they do not cancel) --------

X = np.linspace(-6.0, 6.0, 241)


def _close(ours, theirs, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=rtol, atol=atol)


def test_transformers_gelu_formulas():
    c = math.sqrt(2 / math.pi)
    x = X[X >= -2]  # 1 + tanh(u) cancels further left
    new = 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3)))
    fast = 0.5 * x * (1 + np.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x)))
    for key in ("gelu_new", "gelu_pytorch_tanh", "gelu_python_tanh", "gelu_accurate"):
        _close(actlab.get(key).function(x), new, 1e-13, 1e-15)
    _close(actlab.get("gelu_fast").function(x), fast, 1e-9, 1e-15)  # the ten-digit sqrt(2/pi)
    t = torch.from_numpy(X)
    w = np.linspace(-3.0, 18.0, 211)  # torch's erf form cancels further left
    _close(actlab.gelu_10(w), torch.clip(torch.nn.functional.gelu(torch.from_numpy(w)), -10, 10), 1e-13, 1e-16)
    _close(actlab.quick_gelu(X), t * torch.sigmoid(1.702 * t), 1e-14, 1e-16)


def test_laplace_is_the_normal_cdf_of_mega():
    from scipy.special import ndtr

    x = np.linspace(-1.0, 2.5, 71)
    _close(actlab.laplace(x), ndtr((x - 0.707107) / 0.282095), 1e-14, 1e-300)
    _close(actlab.laplace(x, 0.0, 1.0), 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2))), 1e-14)


def test_xielu_is_transformers_formula():
    t = torch.from_numpy(X)
    ap, an, beta, eps = 0.8, 0.8, 0.5, -1e-6
    ref = torch.where(t > 0, ap * t * t + beta * t, (torch.expm1(torch.clamp(t, max=eps)) - t) * an + beta * t)
    _close(actlab.xielu(X), ref, 1e-12, 1e-15)
    mod = at.XIELU(dtype=torch.float64)
    _close(mod(t).detach(), ref, 1e-12, 1e-15)


def test_clamped_swiglu_is_gpt_oss_formula():
    g = np.random.default_rng(0)
    x = g.normal(size=(5, 8)) * 6
    t = torch.from_numpy(x)
    glu, lin = t[..., ::2], t[..., 1::2]  # gpt-oss's layout
    glu = glu.clamp(max=7.0)
    lin = lin.clamp(min=-7.0, max=7.0)
    ref = glu * torch.sigmoid(1.702 * glu) * (lin + 1)
    _close(actlab.clamped_swiglu(x, interleaved=True), ref, 1e-13, 1e-15)
    halves = np.concatenate([x[..., 1::2], x[..., ::2]], axis=-1)  # (linear, gate) halves
    _close(actlab.clamped_swiglu(halves), ref, 1e-13, 1e-15)


def test_other_shapes_against_plain_formulas():
    t = torch.from_numpy(X)
    _close(actlab.relu2(X), torch.relu(t) ** 2, 1e-15)
    _close(actlab.squareplus(X), (t + torch.sqrt(t * t + 4)) / 2, 1e-14)
    _close(actlab.hard_mish(X), 0.5 * t * (t + 2).clamp(min=0, max=2), 1e-15)
    _close(actlab.sparse_sigmoid(X), np.clip((X + 1) / 2, 0, 1), 1e-15)
    _close(actlab.sparse_plus.derivative(X), actlab.sparse_sigmoid(X), 1e-15)  # sparse_plus' = sparse_sigmoid
    _close(actlab.golu(X), t * torch.exp(-torch.exp(-t)), 1e-13, 1e-300)
    _close(actlab.sqrt_softplus(X), torch.sqrt(torch.nn.functional.softplus(t)), 1e-14)
    _close(actlab.snake(X, 0.7), t + torch.sin(0.7 * t) ** 2 / 0.7, 1e-13, 1e-15)
    _close(actlab.dyt(X, 0.7, 1.5, 0.25), 1.5 * torch.tanh(0.7 * t) + 0.25, 1e-14)
    p = np.linspace(0.01, 0.99, 99)
    _close(actlab.logit(p), np.log(p / (1 - p)), 1e-13, 1e-15)
    _close(actlab.sigmoid(actlab.logit(p)), p, 1e-15)  # logit inverts the sigmoid
    import mpmath as mp

    xn = -np.geomspace(1e-6, 30, 50)
    with mp.workdps(40):
        _close(actlab.log1mexp(xn), [float(mp.log(-mp.expm1(mp.mpf(v)))) for v in xn], 1e-15)


def test_sine_keeps_its_relative_precision_at_its_zeros():
    """w0 x formed exactly: sin(w0 x) near k pi / w0 (w0 = 0.75, 30: not powers
    of two) within 4 ULP of mpmath, for |x| up to 1e6."""
    import mpmath as mp

    for w0 in (0.75, 30.0):
        with mp.workdps(60):
            zeros = [float(k * mp.pi / w0) for k in (1, 2, 7, -3, 1000, -123457, 3183098)]
        x = np.array([np.nextafter(z, s * np.inf) for z in zeros for s in (-1, 1)] + zeros)
        for what, f in (("value", mp.sin), ("derivative", mp.cos)):
            y = actlab.sine(x, w0) if what == "value" else actlab.sine.derivative(x, w0)
            with mp.workdps(80):
                ref = np.array([float(f(mp.mpf(w0) * mp.mpf(v)) * (1 if what == "value" else w0)) for v in x])
            ulp = np.spacing(np.abs(ref))
            assert np.max(np.abs(y - ref) / ulp) <= 4, (w0, what)


def test_domains_and_roots():
    assert np.isnan(actlab.logit(np.array([-0.1, 1.1]))).all() and actlab.logit(0.0) == -math.inf
    assert np.isnan(actlab.log1mexp(0.5)) and actlab.log1mexp(0.0) == -math.inf
    root = -0.5671432904097838  # -W(1), where golu' changes sign
    d = actlab.golu.derivative(np.array([np.nextafter(root, -1), np.nextafter(root, 0)]))
    assert d[0] < 0 < d[1] and np.abs(d).max() < 1e-15
    assert actlab.logit(0.5) == 0.0 and actlab.xielu(0.0) < 0  # expm1(eps) * alpha_n at 0


# -- parameter derivatives against central differences -------------------------------------------

PARAM_CASES = [
    ("star_relu", {"scale": 0.9, "bias": -0.4}), ("squareplus", {"b": 2.5}), ("laplace", {"mu": 0.3, "sigma": 0.6}),
    ("sine", {"w0": 2.3}), ("snake", {"alpha": 0.7}), ("snake_beta", {"alpha": 0.7, "beta": 1.3}),
    ("xielu", {"alpha_p": 0.7, "alpha_n": 0.9, "beta": 0.4, "eps": -1e-6}),
    ("dyt", {"alpha": 0.7, "weight": 1.5, "bias": 0.2}),
    ("poly_relu", {"a1": 0.3, "a2": -0.2, "a3": 0.5, "bias": 0.1}),
]


@pytest.mark.parametrize("name,params", PARAM_CASES, ids=[c[0] for c in PARAM_CASES])
def test_parameter_derivatives_match_central_differences(name, params):
    f = getattr(actlab, name)
    x = np.array([-3.1, -1.7, -0.6, -0.05, 0.2, 0.9, 2.4])
    for p in f.spec.param_derivatives:
        h = 1e-6 * max(1.0, abs(params[p]))
        up, down = dict(params, **{p: params[p] + h}), dict(params, **{p: params[p] - h})
        num = (f(x, **up) - f(x, **down)) / (2 * h)
        np.testing.assert_allclose(f.derivative(x, **params, wrt=p), num, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{name}: d/d{p}")
    num = (f(x + 1e-6, **params) - f(x - 1e-6, **params)) / 2e-6
    np.testing.assert_allclose(f.derivative(x, **params), num, rtol=1e-6, atol=1e-8, err_msg=f"{name}: d/dx")


# -- torch modules -----------------------------------------------------------------------------

MODULES = [
    lambda: at.StarReLU(), lambda: at.Snake(3, 0.7), lambda: at.SnakeBeta(3, 0.7, 1.3), lambda: at.XIELU(),
    lambda: at.DyT(4), lambda: at.Squareplus(2.0), lambda: at.Laplace(), lambda: at.Sine(2.0), lambda: at.GoLU(),
    lambda: at.ReLU2(), lambda: at.QuickGELU(), lambda: at.GELU10(), lambda: at.HardMish(), lambda: at.SparsePlus(),
    lambda: at.SqrtSoftplus(), lambda: at.ClampedSwiGLU(), lambda: at.PolyReLU(), lambda: at.PolyNorm(),
]


@pytest.mark.parametrize("make", MODULES, ids=lambda m: type(m()).__name__)
def test_module_gradcheck_with_parameters(make):
    m = make().double()
    x = (torch.randn(2, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2)
    x = (x + 0.01).requires_grad_(True)  # off the kinks

    def fn(inp, *params):
        return m(inp)

    assert torch.autograd.gradcheck(fn, (x, *m.parameters()))


def test_poly_modules_are_polycoms_formulas():
    x = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    m = at.PolyReLU().double()
    with torch.no_grad():
        m.weight.copy_(torch.tensor([0.5, -0.25, 2.0]))
        m.bias.fill_(0.125)
    r = torch.relu(x)
    torch.testing.assert_close(m(x), 0.5 * r**3 - 0.25 * r**2 + 2.0 * r + 0.125)
    n = at.PolyNorm().double()

    def norm(v):
        return v / torch.sqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6)

    torch.testing.assert_close(n(x), (norm(x**3) + norm(x**2) + norm(x)) / 3)


FIXED = {"ReLU2": (), "SparsePlus": (), "SparseSigmoid": (), "HardMish": (), "QuickGELU": (), "GELU10": (),
         "Exponential": (), "SqrtSoftplus": (), "GoLU": (), "Squareplus": (2.0,), "Laplace": (0.5, 0.3),
         "Sine": (2.0,)}


def test_parameter_free_modules_are_classes_with_the_registrys_signature():
    """Each parameter-free module is its own class (name, module, pickle),
    whose constructor takes its function's registered parameters with their
    defaults and whose docstring gives its formula and reference."""
    import inspect
    import pickle

    x = torch.linspace(-3, 3, 12, dtype=torch.float64)
    for name, args in FIXED.items():
        cls = getattr(at, name)
        entry = cls._fn.entry
        assert cls.__name__ == cls.__qualname__ == name and cls.__module__ == "actlab.torch.catalogue_modules"
        params = [(p.name, p.default) for p in inspect.signature(cls).parameters.values()]
        assert params == [(p.name, p.default) for p in entry.params]
        assert entry.latex in cls.__doc__ and entry.reference in cls.__doc__ and ">>> " in cls.__doc__
        m = cls(*args)
        back = pickle.loads(pickle.dumps(m))
        assert type(back) is cls and repr(back) == repr(m)
        torch.testing.assert_close(back(x), entry.function(x, *args))
    assert repr(at.Laplace(0.5, 0.3)) == "Laplace(mu=0.5, sigma=0.3)"
    with pytest.raises(TypeError, match="Squareplus"):
        at.Squareplus(c=1.0)


@pytest.mark.slow
def test_parameter_free_modules_export_and_compile_whole():
    """torch.export traces a model of all of them, torch.compile(fullgraph=True)
    (AOT-eager, as test_torch_frontend's graph of every function) three of
    them (one generated class each way is the same code); values and
    gradients equal eager mode."""
    model = torch.nn.ModuleList([getattr(at, name)(*args) for name, args in FIXED.items()])

    def run(x):
        return torch.stack([m(x) for m in model])

    class All(torch.nn.Module):
        def forward(self, x):
            return run(x)

    x = torch.linspace(-3, 3, 24).reshape(4, 6)
    torch.testing.assert_close(torch.export.export(All(), (x,)).module()(x), run(x))
    few = model[:3]  # (compiling all twelve adds half a minute to CI for the same code path)

    def run_few(x):
        return torch.stack([m(x) for m in few])

    xe, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    ye, yc = run_few(xe), torch.compile(run_few, fullgraph=True, backend="aot_eager")(xc)
    torch.testing.assert_close(yc, ye)
    ye.sum().backward()
    yc.sum().backward()
    torch.testing.assert_close(xc.grad, xe.grad)


def test_modules_refuse_bad_arguments():
    for bad in (lambda: at.Snake(0), lambda: at.Snake(3, -1.0), lambda: at.Squareplus(0.0),
                lambda: at.XIELU(eps=1e-3), lambda: at.XIELU(alpha_n_init=0.4), lambda: at.DyT(2.5),
                lambda: at.Laplace(sigma=0.0), lambda: at.ClampedSwiGLU(limit=math.inf)):
        with pytest.raises((ValueError, TypeError)):
            bad()


@pytest.mark.slow
def test_jax_gradients_of_learned_parameters_are_the_partial_derivatives():
    """jax.grad with respect to an array parameter is the registered partial
    (the custom JVP of the JAX backend), e.g. xIELU's alpha_p and DyT's alpha."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    x = np.array([-2.5, -0.7, 0.3, 1.9], dtype=np.float32)
    xj = jnp.asarray(x)
    for name, params, wrt in (("xielu", {"alpha_p": 0.8, "alpha_n": 0.9, "beta": 0.5}, "alpha_p"),
                              ("xielu", {"alpha_p": 0.8, "alpha_n": 0.9, "beta": 0.5}, "alpha_n"),
                              ("dyt", {"alpha": 0.6, "weight": 1.2, "bias": 0.1}, "alpha"),
                              ("snake", {"alpha": 0.7}, "alpha"), ("star_relu", {"scale": 0.9, "bias": -0.4}, "scale")):
        f = getattr(actlab, name)

        def total(v, f=f, params=params, wrt=wrt):
            return jnp.sum(f(xj, **{**params, wrt: v}))

        g = jax.grad(total)(jnp.float32(params[wrt]))
        want = f.derivative(x, **params, wrt=wrt).sum()
        np.testing.assert_allclose(float(g), want, rtol=1e-5, err_msg=f"{name} d/d{wrt}")
