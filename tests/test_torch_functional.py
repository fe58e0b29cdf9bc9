"""actlab.torch.functional as a drop-in for torch.nn.functional: the same call
gives PyTorch's answer (values and gradients), inplace and dim semantics, the
class dimension of the losses, and signatures equal to PyTorch's."""

from __future__ import annotations

import ast
import inspect
import itertools
import math
import re
import warnings

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import actlab.torch as at  # noqa: E402
import actlab.torch.functional as AF  # noqa: E402

G = torch.Generator().manual_seed(0)

# name -> (args after input, kwargs) for a call that is valid for both
ELEMENTWISE = {
    "sigmoid": ((), {}), "tanh": ((), {}), "logsigmoid": ((), {}), "relu": ((), {}), "relu6": ((), {}),
    "leaky_relu": ((0.2,), {}), "elu": ((0.7,), {}), "selu": ((), {}), "celu": ((1.5,), {}),
    "gelu": ((), {"approximate": "tanh"}), "softplus": ((2.0, 5.0), {}), "silu": ((), {}), "mish": ((), {}),
    "hardtanh": ((-2.0, 0.5), {}), "hardsigmoid": ((), {}), "hardswish": ((), {}), "softsign": ((), {}),
    "tanhshrink": ((), {}), "softshrink": ((0.3,), {}), "hardshrink": ((0.3,), {}),
    "threshold": ((0.1, 20.0), {}), "glu": ((0,), {}), "rrelu": ((0.1, 0.3), {}),
}
# PyTorch's hardsigmoid backward multiplies by a float32 1/6 even in float64
GRAD_RTOL = {"hardsigmoid": 1e-7}
INPLACE = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "silu", "mish", "hardtanh", "hardsigmoid",
           "hardswish", "threshold", "rrelu"]


def _torch_fn(name):
    return getattr(torch, name) if name in ("sigmoid", "tanh") else getattr(F, name)


def _x(shape=(4, 12)):
    return torch.linspace(-7, 7, torch.Size(shape).numel(), dtype=torch.float64).reshape(shape)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_same_call_same_answer(name):
    args, kwargs = ELEMENTWISE[name]
    x = _x()
    torch.testing.assert_close(getattr(AF, name)(x, *args, **kwargs), _torch_fn(name)(x, *args, **kwargs),
                               rtol=1e-12, atol=1e-14)
    # input= as a keyword, where PyTorch's Python wrapper allows it
    sig = _torch_signature(name)
    if "input" in sig.parameters and name not in ("sigmoid", "tanh"):
        bound = dict(sig.bind(x, *args, **kwargs).arguments)
        torch.testing.assert_close(getattr(AF, name)(**bound), _torch_fn(name)(**bound), rtol=1e-12, atol=1e-14)
    # gradients through a non-leaf
    xa, xt = x.clone().requires_grad_(), x.clone().requires_grad_()
    g = torch.randn(getattr(AF, name)(x, *args, **kwargs).shape, dtype=torch.float64, generator=G)
    (getattr(AF, name)(xa * 1.0, *args, **kwargs) * g).sum().backward()
    (_torch_fn(name)(xt * 1.0, *args, **kwargs) * g).sum().backward()
    torch.testing.assert_close(xa.grad, xt.grad, rtol=GRAD_RTOL.get(name, 1e-10), atol=1e-12)


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_writes_into_the_input_like_torch(name):
    args, kwargs = ELEMENTWISE[name]
    x = _x()
    want = _torch_fn(name)(x.clone(), *args, inplace=True, **kwargs)
    y = x.clone()
    out = getattr(AF, name)(y, *args, inplace=True, **kwargs)
    assert out is y
    torch.testing.assert_close(y, want, rtol=1e-12, atol=1e-14)
    # under autograd: a non-leaf is allowed and its gradient is torch's
    la, lt = x.clone().requires_grad_(), x.clone().requires_grad_()
    a, t = la * 2.0, lt * 2.0
    ra = getattr(AF, name)(a, *args, inplace=True, **kwargs)
    rt = _torch_fn(name)(t, *args, inplace=True, **kwargs)
    assert ra is a and a._version > 0
    (ra ** 2).sum().backward()
    (rt ** 2).sum().backward()
    torch.testing.assert_close(la.grad, lt.grad, rtol=GRAD_RTOL.get(name, 1e-10), atol=1e-12)
    # a leaf that requires grad is refused, as by PyTorch
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(AF, name)(x.clone().requires_grad_(), *args, inplace=True, **kwargs)


def test_underscore_variants_and_modules_inplace():
    x = _x()
    for fn, ref in [(AF.relu_, F.relu_), (AF.elu_, F.elu_), (AF.leaky_relu_, F.leaky_relu_),
                    (AF.hardtanh_, F.hardtanh_), (AF.selu_, F.selu_), (AF.celu_, F.celu_)]:
        y = x.clone()
        assert fn(y) is y
        torch.testing.assert_close(y, ref(x.clone()))
    y = x.clone()
    assert AF.threshold_(y, 0.5, -1.0) is y
    torch.testing.assert_close(y, F.threshold(x, 0.5, -1.0))
    for cls in ["ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Hardsigmoid", "Hardswish", "ELU", "CELU", "LeakyReLU",
                "Hardtanh", "RReLU"]:
        m, ref = getattr(at, cls)(inplace=True).eval(), getattr(torch.nn, cls)(inplace=True).eval()
        y = x.clone()
        assert m(y) is y
        torch.testing.assert_close(y, ref(x.clone()), rtol=1e-12, atol=1e-14)
        assert repr(m) == repr(ref)
    m = at.Threshold(0.1, 20.0, inplace=True)
    assert repr(m) == repr(torch.nn.Threshold(0.1, 20.0, inplace=True))


def test_softplus_threshold_matches_torch_and_none_is_exact():
    x = torch.tensor([-30.0, -1.0, 0.0, 9.9, 10.1, 19.0, 21.0, 40.0], dtype=torch.float64)
    for beta, threshold in [(1.0, 20.0), (2.0, 20.0), (0.5, 5.0), (1.0, 0.0)]:
        xa, xt = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yt = AF.softplus(xa, beta, threshold), F.softplus(xt, beta, threshold)
        torch.testing.assert_close(ya, yt, rtol=1e-15, atol=0)
        ya.sum().backward(), yt.sum().backward()
        torch.testing.assert_close(xa.grad, xt.grad, rtol=1e-15, atol=0)
        torch.testing.assert_close(at.Softplus(beta, threshold)(x), torch.nn.Softplus(beta, threshold)(x),
                                   rtol=1e-15, atol=0)
    exact = AF.softplus(torch.tensor([25.0], dtype=torch.float64), threshold=None)
    assert exact.item() == 25.0 + math.log1p(math.exp(-25.0))
    assert torch.autograd.gradcheck(lambda v: AF.softplus(v, 2.0, 3.0), (torch.tensor([-1.0, 0.2, 4.0],
                                    dtype=torch.float64, requires_grad=True),))


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_softmax_dim_and_implicit_dim(name, ndim):
    x = torch.randn(*(3, 4, 5, 2)[:ndim], dtype=torch.float64, generator=G)
    for dim in range(-ndim, ndim):
        torch.testing.assert_close(getattr(AF, name)(x, dim=dim), getattr(F, name)(x, dim=dim))
        torch.testing.assert_close(getattr(AF, name)(x, dim), getattr(F, name)(x, dim))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        ours = getattr(AF, name)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(F, name)(x)
        mod = {"softmax": at.Softmax, "log_softmax": at.LogSoftmax, "softmin": at.Softmin}[name]()(x)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(mod, ref)
    torch.testing.assert_close(getattr(AF, name)(x, -1, dtype=torch.float32),
                               getattr(F, name)(x, -1, dtype=torch.float32))


def test_softmax_modules_take_dim_and_axis():
    x = torch.randn(2, 3, 4, dtype=torch.float64, generator=G)
    torch.testing.assert_close(at.Softmax(dim=1)(x), torch.nn.Softmax(dim=1)(x))
    torch.testing.assert_close(at.Softmax(axis=0)(x), torch.softmax(x, 0))
    torch.testing.assert_close(at.Sparsemax(dim=1)(x), at.sparsemax(x, dim=1))
    torch.testing.assert_close(at.Sparsemax(axis=1)(x), at.sparsemax(x, dim=1))
    assert repr(at.Softmax(dim=1)) == repr(torch.nn.Softmax(dim=1))
    with pytest.raises(TypeError, match="dim or axis"):
        at.Softmax(dim=1, axis=0)


def test_other_functions_match_torch():
    x = torch.randn(3, 6, dtype=torch.float64, generator=G)
    torch.testing.assert_close(AF.logsumexp(x, 1), torch.logsumexp(x, 1))
    torch.testing.assert_close(AF.logsumexp(x, 0, keepdim=True), torch.logsumexp(x, 0, keepdim=True))
    w = torch.rand(6, dtype=torch.float64, generator=G)
    torch.testing.assert_close(AF.prelu(x, w), F.prelu(x, w))
    y = torch.rand(3, 6, dtype=torch.float64, generator=G)
    pw = torch.rand(6, dtype=torch.float64, generator=G) + 0.5
    torch.testing.assert_close(AF.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="sum"),
                               F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="sum"))
    hard = AF.gumbel_softmax(x, tau=0.5, hard=True, dim=1, generator=torch.Generator().manual_seed(3))
    assert hard.shape == x.shape and torch.all(hard.sum(1) == 1) and torch.all((hard == 0) | (hard == 1))
    assert torch.all(AF.rrelu(-torch.ones(500), 0.1, 0.3, training=True) <= -0.1)


CE_SHAPES = [((5,), ()), ((6, 5), (6,)), ((4, 5, 5), (4, 5)), ((3, 4, 2, 3), (3, 2, 3))]


@pytest.mark.parametrize("shapes,reduction,smoothing,weighted,ignore",
                         list(itertools.product(CE_SHAPES, ["mean", "sum", "none"], [0.0, 0.25], [False, True],
                                                [False, True])))
def test_cross_entropy_class_indices_like_torch(shapes, reduction, smoothing, weighted, ignore):
    in_shape, t_shape = shapes
    c = in_shape[1] if len(in_shape) > 1 else in_shape[0]
    x = torch.randn(*in_shape, dtype=torch.float64, generator=G) * 2
    t = torch.randint(0, c, t_shape, generator=G)
    ignore_index = -100
    if ignore and t.dim():
        t.view(-1)[::3] = 2  # ignore one real class, with weights and smoothing
        ignore_index = 2
    w = torch.rand(c, dtype=torch.float64, generator=G) + 0.2 if weighted else None
    kwargs = dict(weight=w, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    xa, xt = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, ref = AF.cross_entropy(xa, t, **kwargs), F.cross_entropy(xt, t, **kwargs)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(at.CrossEntropyLoss(**kwargs)(x, t), ref.detach(), rtol=1e-12, atol=1e-13)
    g = torch.randn(ref.shape, dtype=torch.float64, generator=G)
    (ours * g).sum().backward(), (ref * g).sum().backward()
    torch.testing.assert_close(xa.grad, xt.grad, rtol=1e-11, atol=1e-13)
    if not smoothing:
        lp = torch.log_softmax(x, dim=1 if x.dim() > 1 else 0)
        kw = {k: v for k, v in kwargs.items() if k != "label_smoothing"}
        torch.testing.assert_close(AF.nll_loss(lp, t, **kw), F.nll_loss(lp, t, **kw), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shapes,reduction,smoothing,weighted",
                         list(itertools.product(CE_SHAPES, ["mean", "sum", "none"], [0.0, 0.3], [False, True])))
def test_cross_entropy_probability_targets_like_torch(shapes, reduction, smoothing, weighted):
    in_shape, _ = shapes
    cdim = 1 if len(in_shape) > 1 else 0
    x = torch.randn(*in_shape, dtype=torch.float64, generator=G)
    q = torch.softmax(torch.randn(*in_shape, dtype=torch.float64, generator=G), dim=cdim)
    w = torch.rand(in_shape[cdim], dtype=torch.float64, generator=G) + 0.2 if weighted else None
    kwargs = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
    torch.testing.assert_close(AF.cross_entropy(x, q, **kwargs), F.cross_entropy(x, q, **kwargs),
                               rtol=1e-12, atol=1e-13)


def test_cross_entropy_class_dim_one_gradcheck_and_legacy_reduction():
    x = torch.randn(3, 4, 2, dtype=torch.float64, generator=G, requires_grad=True)
    t = torch.tensor([[0, 3], [1, -100], [2, 2]])
    w = torch.tensor([0.5, 1.0, 2.0, 0.1], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: AF.cross_entropy(v, t, weight=w, label_smoothing=0.1), (x,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.testing.assert_close(AF.cross_entropy(x, t, size_average=False), F.cross_entropy(x, t, size_average=False))
        torch.testing.assert_close(at.CrossEntropyLoss(reduce=False)(x, t), torch.nn.CrossEntropyLoss(reduce=False)(x, t))
    all_ignored = torch.full((3, 2), -100)
    assert torch.isnan(AF.cross_entropy(x, all_ignored)) and torch.isnan(F.cross_entropy(x, all_ignored))


# ---- signatures ------------------------------------------------------------

def _torch_signature(name):
    fn = _torch_fn(name) if hasattr(F, name) or name in ("sigmoid", "tanh") else getattr(torch, name)
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin: its signature is the docstring's first line
        first = next(line for line in fn.__doc__.strip().splitlines() if "(" in line)
        params = re.match(r"\s*[\w.]+\((.*)\)", first).group(1)
        tree = ast.parse(f"def f({params}): pass").body[0].args
        ps = [inspect.Parameter(a.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in tree.args]
        defaults = [eval(compile(ast.Expression(d), "<doc>", "eval")) for d in tree.defaults]
        for i, d in enumerate(defaults):
            ps[len(ps) - len(defaults) + i] = ps[len(ps) - len(defaults) + i].replace(default=d)
        return inspect.Signature(ps)


FUNCTIONS = sorted(set(ELEMENTWISE) | {"softmax", "log_softmax", "softmin", "prelu", "cross_entropy", "nll_loss",
                                       "binary_cross_entropy_with_logits", "gumbel_softmax", "linear_cross_entropy",
                                       "relu_", "elu_", "leaky_relu_", "hardtanh_", "rrelu_", "threshold_",
                                       "selu_", "celu_", "logsumexp"})
MODULE_NAMES = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "Softplus", "SiLU",
                "Mish", "Hardtanh", "Hardsigmoid", "Hardswish", "Softshrink", "Hardshrink", "Threshold", "GLU",
                "Softmax", "LogSoftmax", "Softmin", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss"]


def _same_parameters(ours: inspect.Signature, theirs: inspect.Signature, what: str) -> None:
    """PyTorch's parameters come first, in order, with PyTorch's defaults and
    kinds; anything after them is actlab's and keyword-only or defaulted."""
    ps, ts = list(ours.parameters.values()), list(theirs.parameters.values())
    assert [p.name for p in ps[:len(ts)]] == [t.name for t in ts], what
    for p, t in zip(ps, ts):
        if t.default is not inspect.Parameter.empty:
            assert p.default == t.default or (t.default == 1 and p.default == 1.0), (what, p.name)
        if t.kind is inspect.Parameter.KEYWORD_ONLY or t.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            assert p.kind is t.kind, (what, p.name)
    for p in ps[len(ts):]:
        assert p.kind is inspect.Parameter.KEYWORD_ONLY or p.default is not inspect.Parameter.empty, (what, p.name)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functional_signatures_match_torch(name):
    ours = inspect.signature(getattr(AF, name))
    _same_parameters(ours, _torch_signature(name), name)
    assert all(p.annotation is not inspect.Parameter.empty for p in ours.parameters.values()), name
    assert getattr(at, name) is getattr(AF, name)


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_module_signatures_match_torch(name):
    ours = inspect.signature(getattr(at, name).__init__)
    _same_parameters(ours, inspect.signature(getattr(torch.nn, name).__init__), name)
    assert "args" not in ours.parameters
    fwd = inspect.signature(getattr(at, name).forward)
    assert list(fwd.parameters)[:2] == list(inspect.signature(getattr(torch.nn, name).forward).parameters)[:2]


def test_every_module_has_a_real_signature():
    for name in at.__all__:
        obj = getattr(at, name)
        if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
            assert "kwargs" not in inspect.signature(obj).parameters, name


def test_construction_errors_name_the_argument():
    for make, word in [(lambda: at.ELU(alpha=float("nan")), "alpha"), (lambda: at.GELU("fast"), "approximate"),
                       (lambda: at.Softplus(beta=-1.0), "beta"), (lambda: at.Softplus(threshold="x"), "threshold"),
                       (lambda: at.Hardtanh(1.0, -1.0), "min_val"), (lambda: at.ReLU(inplace=1), "inplace"),
                       (lambda: at.Softmax(dim=1.5), "dim"), (lambda: at.CrossEntropyLoss(reduction="avg"), "reduction"),
                       (lambda: at.CrossEntropyLoss(label_smoothing=2.0), "label_smoothing"),
                       (lambda: at.RReLU(0.5, 0.1), "lower|upper"), (lambda: at.Softshrink(-1.0), "lambd")]:
        with pytest.raises((ValueError, TypeError), match=word):
            make()
