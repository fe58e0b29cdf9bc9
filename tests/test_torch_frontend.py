"""The PyTorch front-end: nn modules, learnable parameters, torch.compile,
torch.func transforms."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import actlab  # noqa: E402
import actlab.torch as at  # noqa: E402

F = torch.nn.functional

MODULES = {
    "Sigmoid": (torch.nn.Sigmoid, {}), "LogSigmoid": (torch.nn.LogSigmoid, {}), "Tanh": (torch.nn.Tanh, {}),
    "ReLU": (torch.nn.ReLU, {}), "ReLU6": (torch.nn.ReLU6, {}), "LeakyReLU": (torch.nn.LeakyReLU, {"negative_slope": 0.2}),
    "ELU": (torch.nn.ELU, {"alpha": 0.7}), "SELU": (torch.nn.SELU, {}), "CELU": (torch.nn.CELU, {"alpha": 1.5}),
    "GELU": (torch.nn.GELU, {"approximate": "tanh"}), "Softplus": (torch.nn.Softplus, {"beta": 2.0}),
    "SiLU": (torch.nn.SiLU, {}), "Mish": (torch.nn.Mish, {}), "Hardtanh": (torch.nn.Hardtanh, {"min_val": -2.0, "max_val": 0.5}),
    "Hardsigmoid": (torch.nn.Hardsigmoid, {}), "Hardswish": (torch.nn.Hardswish, {}), "Softsign": (torch.nn.Softsign, {}),
    "Tanhshrink": (torch.nn.Tanhshrink, {}), "Softshrink": (torch.nn.Softshrink, {"lambd": 0.3}),
    "Hardshrink": (torch.nn.Hardshrink, {"lambd": 0.3}), "Threshold": (torch.nn.Threshold, {"threshold": 0.1, "value": 20.0}),
    "GLU": (torch.nn.GLU, {"dim": 0}),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_match_torch_nn(name):
    ref_cls, kwargs = MODULES[name]
    x = torch.linspace(-6, 6, 48, dtype=torch.float64).reshape(4, 12)
    ours = getattr(at, name)(**kwargs)
    torch.testing.assert_close(ours(x), ref_cls(**kwargs)(x), rtol=1e-12, atol=1e-14)
    assert repr(ours).startswith(name)


def test_modules_take_torchs_constructor_arguments_and_repr():
    """The modules made from one template keep torch.nn's signature (names,
    order, defaults: ``inplace=False``, ``dim=-1``) and repr, torch's own
    classes being the oracle; each is a class of its own that pickles."""
    import inspect
    import pickle

    for name in ("ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Hardsigmoid", "Hardswish", "GLU"):
        ours, ref = getattr(at, name), getattr(torch.nn, name)
        params = [(p.name, p.default) for p in inspect.signature(ours).parameters.values()]
        assert params == [(p.name, p.default) for p in inspect.signature(ref).parameters.values()], name
        kw = {"dim": 0} if name == "GLU" else {"inplace": True}
        assert repr(ours(**kw)) == repr(ref(**kw)) and repr(ours()) == repr(ref())
        m = pickle.loads(pickle.dumps(ours(**kw)))
        assert type(m) is ours and ours.__module__ == "actlab.torch.activations" and ours.__qualname__ == name
    with pytest.raises(TypeError, match="inplace"):
        at.SiLU(inplace=1)
    with pytest.raises(TypeError, match="ReLU"):
        at.ReLU(True, 1)


def test_module_arguments_are_validated_at_construction():
    with pytest.raises(ValueError, match="alpha"):
        at.ELU(alpha=float("nan"))
    with pytest.raises(ValueError, match="beta"):
        at.Softplus(beta=-1.0)
    with pytest.raises(ValueError, match="num_parameters"):
        at.PReLU(0)
    with pytest.raises(ValueError, match="pieces"):
        at.Maxout(4, 2, pieces=0)


def test_prelu_module_learns_per_channel_slopes():
    m = at.PReLU(3).double()
    ref = torch.nn.PReLU(3).double()
    x = torch.randn(5, 3, 7, dtype=torch.float64)
    torch.testing.assert_close(m(x), ref(x))
    m(x).square().sum().backward()
    ref(x).square().sum().backward()
    torch.testing.assert_close(m.weight.grad, ref.weight.grad)


def test_rrelu_module_train_and_eval():
    m = at.RReLU(0.1, 0.3)
    x = -torch.ones(1000)
    y = m(x, generator=torch.Generator().manual_seed(1))
    assert ((y <= -0.1) & (y >= -0.3)).all() and y.unique().numel() > 100
    torch.testing.assert_close(m.eval()(x), torch.full_like(x, -0.2))


def test_swish_learnable_beta_gradient():
    m = at.Swish(beta=1.5, learnable=True).double()
    x = torch.randn(50, dtype=torch.float64)
    m(x).sum().backward()
    beta = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    (x * torch.sigmoid(beta * x)).sum().backward()
    torch.testing.assert_close(m.beta.grad, beta.grad)
    assert list(at.Swish(2.0).parameters()) == []


def test_maxout_layer_is_max_of_linear_pieces():
    m = at.Maxout(4, 3, pieces=2).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    pieces = m.linear(x).reshape(6, 3, 2)
    torch.testing.assert_close(m(x), pieces.max(dim=-1).values)
    m(x).sum().backward()
    assert m.linear.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_torch_compile_fullgraph_every_elementwise_function():
    """One compiled graph applies every element-wise function to inputs that
    require grad; values and gradients equal eager mode. AOT-eager: the graph
    is traced whole (dynamo and AOT autograd, what fullgraph is about) without
    Inductor's code generation, which takes minutes for 50 functions in one
    graph; Inductor's own code is exercised by test_accuracy.py's compiled
    run and by the compiled fused losses."""
    entries = actlab.registry("elementwise")
    args = {"prelu": (0.25,), "threshold": (0.5, -1.0)}

    def all_functions(x):
        outs = [e.function(x, *args.get(e.name, ())) for e in entries]
        outs.append(actlab.glu(x))
        outs.append(actlab.swiglu(x))
        outs.append(actlab.maxout(x, 2))
        return torch.cat([o.reshape(-1) for o in outs])

    compiled = torch.compile(all_functions, fullgraph=True, backend="aot_eager")
    x = torch.linspace(-5, 5, 64, dtype=torch.float32).reshape(8, 8)
    xe, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    ye, yc = all_functions(xe), compiled(xc)
    torch.testing.assert_close(yc, ye, rtol=1e-6, atol=1e-6, equal_nan=True)  # NaN outside logit's domain
    w = torch.randn_like(ye).masked_fill(torch.isnan(ye), 0.0)
    (ye * w).sum().backward()
    (yc * w).sum().backward()
    torch.testing.assert_close(xc.grad, xe.grad, rtol=1e-5, atol=1e-5, equal_nan=True)


def test_torch_func_transforms():
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    g = torch.func.vmap(torch.func.grad(lambda v: actlab.gelu(v)))(x)
    torch.testing.assert_close(g, actlab.gelu.derivative(x))
    jac = torch.func.jacrev(actlab.mish)(x)
    torch.testing.assert_close(torch.diagonal(jac), actlab.mish.derivative(x))
    hess = torch.func.vmap(torch.func.grad(torch.func.grad(lambda v: actlab.silu(v))))(x)
    s = torch.sigmoid(x)
    torch.testing.assert_close(hess, s * (1 - s) * (2 + x * (1 - 2 * s)))


def test_non_contiguous_and_devices_kept():
    x = torch.randn(6, 4, dtype=torch.float64).T
    assert not x.is_contiguous()
    torch.testing.assert_close(actlab.gelu(x), F.gelu(x))
    assert np.isfinite(actlab.gelu(x).numpy()).all()
