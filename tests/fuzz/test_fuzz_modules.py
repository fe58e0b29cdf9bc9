"""Fuzz harness, the ``actlab.torch`` front-end: every module's constructor
at and beyond its parameters' limits (a ValueError or TypeError naming the
argument and the value, at construction, never at the first forward), every
module's forward and backward on edge tensors, learnable parameters pushed
to their limits, in-place edits of saved tensors, ``torch.func`` over the
functional API, and parameters given in the other namespace.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import actlab
import actlab.torch as at

inf, nan = math.inf, math.nan

#: (module, kwargs, the argument the error must name): each must fail at construction.
BAD_CONSTRUCTIONS = [
    (at.ELU, {"alpha": nan}, "alpha"), (at.ELU, {"alpha": inf}, "alpha"), (at.CELU, {"alpha": 0.0}, "alpha"),
    (at.Softplus, {"beta": 0.0}, "beta"), (at.Softplus, {"beta": nan}, "beta"),
    (at.Softplus, {"threshold": nan}, "threshold"),
    (at.LeakyReLU, {"negative_slope": nan}, "negative_slope"),
    (at.LeakyReLU, {"negative_slope": "0.1"}, "negative_slope"),
    (at.Hardtanh, {"min_val": 2.0, "max_val": 1.0}, "min_val"), (at.Hardtanh, {"min_val": nan}, "min_val"),
    (at.Softshrink, {"lambd": -1.0}, "lambd"), (at.Hardshrink, {"lambd": nan}, "lambd"),
    (at.Threshold, {"threshold": nan, "value": 0.0}, "threshold"),
    (at.Threshold, {"threshold": 0.0, "value": inf}, "value"),
    (at.GELU, {"approximate": "fast"}, "approximate"),
    (at.ReLU, {"inplace": "yes"}, "inplace"), (at.SELU, {"inplace": 1}, "inplace"),
    (at.GLU, {"dim": 1.5}, "dim"), (at.SwiGLU, {"dim": "0"}, "dim"),
    (at.Softmax, {"dim": 1.5}, "dim"), (at.Softmax, {"temperature": 0.0}, "temperature"),
    (at.Softmax, {"temperature": nan}, "temperature"), (at.LogSoftmax, {"temperature": inf}, "temperature"),
    (at.Softmin, {"beta": nan}, "beta"),
    (at.CrossEntropyLoss, {"reduction": "avg"}, "reduction"),
    (at.CrossEntropyLoss, {"label_smoothing": 1.5}, "label_smoothing"),
    (at.CrossEntropyLoss, {"label_smoothing": nan}, "label_smoothing"),
    (at.CrossEntropyLoss, {"ignore_index": 1.5}, "ignore_index"),
    (at.NLLLoss, {"reduction": "x"}, "reduction"), (at.BCEWithLogitsLoss, {"reduction": "x"}, "reduction"),
    (at.DistillationLoss, {"temperature": 0.0}, "temperature"),
    (at.DistillationLoss, {"temperature": 2.0, "reduction": "x"}, "reduction"),
    (at.Sparsemax, {"temperature": 0.0}, "temperature"), (at.Sparsemax, {"dim": "a"}, "dim"),
    (at.Entmax15, {"temperature": nan}, "temperature"),
    (at.Entmax, {"alpha": 0.5}, "alpha"), (at.Entmax, {"alpha": 1.0, "learnable": True}, "alpha"),
    (at.Entmax, {"n_iter": 0}, "n_iter"), (at.Entmax, {"n_iter": 1.5}, "n_iter"),
    (at.Entmax, {"dim": None}, "dim"),
    (at.SparsemaxLoss, {"reduction": "x"}, "reduction"),
    (at.EntmaxLoss, {"alpha": 0.5}, "alpha"), (at.EntmaxLoss, {"n_iter": 0}, "n_iter"),
    (at.EntmaxLoss, {"reduction": "x"}, "reduction"),
    (at.PReLU, {"num_parameters": 0}, "num_parameters"), (at.PReLU, {"init": nan}, "init"),
    (at.RReLU, {"lower": 0.5, "upper": 0.1}, "lower"), (at.RReLU, {"lower": -1.0}, "lower"),
    (at.RReLU, {"distribution": "x"}, "distribution"),
    (at.Swish, {"beta": nan}, "beta"),
    (at.Maxout, {"in_features": 4, "out_features": 2, "pieces": 0}, "pieces"),
    (at.Maxout, {"in_features": 4, "out_features": 2, "pieces": 1.5}, "pieces"),
    (at.Maxout, {"in_features": 0, "out_features": 2, "pieces": 2}, "in_features"),
    (at.LinearCrossEntropyLoss, {"reduction": "x"}, "reduction"),
    (at.LinearCrossEntropyLoss, {"label_smoothing": 2.0}, "label_smoothing"),
    (at.LinearCrossEntropyLoss, {"z_loss": nan}, "z_loss"),
    (at.LinearCrossEntropyLoss, {"softcap": 0.0}, "softcap"),
    (at.HierarchicalSoftmax, {"in_features": 4, "class_counts": [3, 0, -1]}, "class_counts"),
    (at.HierarchicalSoftmax, {"in_features": 0, "class_counts": [3, 2]}, "in_features"),
    (at.HierarchicalSoftmax, {"in_features": 4, "class_counts": [3, 2], "reduction": "x"}, "reduction"),
    (at.SampledSoftmaxLoss, {"num_sampled": 0}, "num_sampled"),
    (at.SampledSoftmaxLoss, {"num_sampled": 4, "reduction": "x"}, "reduction"),
    (at.NCELoss, {"num_sampled": -1}, "num_sampled"),
    (at.NCELoss, {"num_sampled": 4, "log_z": nan}, "log_z"),
    (at.NegativeSamplingLoss, {"num_sampled": 2.5}, "num_sampled"),
    (at.UniformSampler, {"num_classes": 0}, "num_classes"),
    (at.LogUniformSampler, {"num_classes": -3}, "num_classes"),
    (at.UnigramSampler, {"counts": []}, "counts"), (at.UnigramSampler, {"counts": [1.0, -1.0]}, "counts"),
    (at.UnigramSampler, {"counts": [1.0, nan]}, "counts"),
    (at.UnigramSampler, {"counts": [1.0, 2.0], "power": nan}, "power"),
]


@pytest.mark.parametrize(("cls", "kwargs", "arg"), BAD_CONSTRUCTIONS,
                         ids=[f"{c.__name__}-{'-'.join(f'{k}={v!r}' for k, v in kw.items())}"
                              for c, kw, _ in BAD_CONSTRUCTIONS])
def test_bad_arguments_fail_at_construction(cls, kwargs, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        cls(**kwargs)


def _modules():
    """One instance of every module, with the input it takes."""
    x = torch.tensor([[-inf, -1e308, -745.0, -1.0, -0.0, 0.0, 5e-324, 1.0, 709.8, 1e308, inf, 3.0]],
                     dtype=torch.float64)
    out = []
    for name in at.__all__:
        cls = getattr(at, name)
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            continue
        sig = __import__("inspect").signature(cls.__init__)
        required = [p for p in list(sig.parameters.values())[1:] if p.default is p.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not required:
            out.append(pytest.param(cls(), x, id=name))
    out += [pytest.param(at.Threshold(0.5, -2.0), x, id="Threshold"),
            pytest.param(at.Maxout(12, 4, pieces=3).double(), x.nan_to_num(posinf=1e3, neginf=-1e3), id="Maxout")]
    return out


#: Losses take (input, target) or (h, W, target): exercised with their targets elsewhere.
MODULES = [p for p in _modules() if p.id not in ("CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
                                                   "SparsemaxLoss", "EntmaxLoss", "LinearCrossEntropyLoss",
                                                   "LinearSparsemaxLoss", "LinearEntmaxLoss", "KLDivLoss",
                                                   "MultiLabelSoftMarginLoss", "NormmaxLoss")]


@pytest.mark.parametrize(("module", "x"), MODULES)
def test_module_forward_backward_at_edges(module, x):
    """No crash, no warning, NaN only from NaN, a gradient of the input's
    shape with no NaN where the output has none."""
    xx = x.clone().requires_grad_()
    before = x.clone()
    y = module(xx)
    assert torch.equal(x, before)
    g = torch.autograd.grad(y.sum(), xx, allow_unused=True)[0]
    assert g is None or g.shape == x.shape
    for p in module.parameters():
        assert p.grad is None or not torch.isnan(p.grad).any()


def test_entmax_learnable_alpha_reaching_one_in_float32():
    """1 + softplus(a) rounds to 1.0 in float32 for a < -17: the module must
    keep working (alpha clamped above 1), not crash in the middle of training."""
    m = at.Entmax(alpha=1.5, learnable=True)
    with torch.no_grad():
        m.a.fill_(-30.0)
    x = torch.randn(2, 4, requires_grad=True, generator=torch.Generator().manual_seed(0))
    y = m(x)
    torch.testing.assert_close(y.sum(-1), torch.ones(2))
    y[:, 0].sum().backward()
    assert torch.isfinite(m.a.grad).all() and torch.isfinite(x.grad).all()


def test_inplace_edit_of_saved_alpha_is_detected():
    a = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    alpha = a * 1.0
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(0))
    y = actlab.entmax(x, alpha=alpha)
    with torch.no_grad():
        alpha.add_(0.2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("fn", [actlab.softmax, actlab.sparsemax, actlab.entmax15, actlab.sigmoid, actlab.gelu,
                                actlab.log_softmax])
def test_inplace_edit_of_saved_input_is_detected(fn):
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(0))
    h = x * 1.0
    y = fn(h)
    with torch.no_grad():
        h.add_(1.0)
        y_saved = y.clone()
    try:
        (g,) = torch.autograd.grad((y * torch.arange(4.0, dtype=y.dtype)).sum(), x)
    except RuntimeError as err:
        assert "inplace" in str(err)
        return
    # Not saved (the backward needs only the output): the gradient is the one at the original input.
    x2 = x.detach().requires_grad_()
    (g2,) = torch.autograd.grad((fn(x2) * torch.arange(4.0, dtype=y.dtype)).sum(), x2)
    torch.testing.assert_close(g, g2)
    assert torch.equal(y, y_saved)


@pytest.mark.parametrize("weight", [[0.1, 0.2, 0.3], np.array([0.1, 0.2, 0.3]), (0.1, 0.2, 0.3),
                                    np.float32(0.2), 0.2])
def test_prelu_weight_from_the_other_namespace(weight):
    x = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = torch.as_tensor(np.broadcast_to(np.asarray(weight, dtype=np.float64), (3,)).copy())
    torch.testing.assert_close(actlab.prelu(x, weight=weight), torch.nn.functional.prelu(x, w))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_prelu_weight_gradient_sums_in_float32(dtype):
    """The weight's gradient sums x * g over the batch: in float32 and rounded
    once, not rounding each product in half precision."""
    gen = torch.Generator().manual_seed(0)
    x = -torch.rand(4096, 1, generator=gen).to(dtype) - 0.5
    w = torch.tensor([0.25], dtype=dtype, requires_grad=True)
    g = torch.rand(4096, 1, generator=gen).to(dtype)
    (gw,) = torch.autograd.grad(actlab.prelu(x, weight=w), w, g)
    exact = (x.double() * g.double()).sum()
    assert abs(gw.double().item() - exact.item()) <= 2 * torch.finfo(dtype).eps * abs(exact.item())


@pytest.mark.parametrize("seed", [0, np.int64(3), torch.Generator().manual_seed(1)])
def test_rrelu_accepts_int_seeds_and_generators(seed):
    x = -torch.ones(5)
    a = at.rrelu(x, training=True, generator=seed)
    b = at.rrelu(x, training=True, generator=seed if not isinstance(seed, torch.Generator)
                 else torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


def test_func_transforms_over_linear_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    h, w = torch.randn(4, 8, generator=gen, dtype=torch.float64), torch.randn(10, 8, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 10, (4,), generator=gen)
    g = torch.func.grad(lambda h: at.linear_cross_entropy(h, w, t))(h)
    h2 = h.clone().requires_grad_()
    torch.nn.functional.cross_entropy(h2 @ w.T, t).backward()
    torch.testing.assert_close(g, h2.grad)
    hb, tb = torch.randn(3, 4, 8, generator=gen, dtype=torch.float64), torch.randint(0, 10, (3, 4), generator=gen)
    v = torch.func.vmap(lambda h, t: at.linear_cross_entropy(h, w, t))(hb, tb)
    torch.testing.assert_close(v, torch.stack([torch.nn.functional.cross_entropy(hb[i] @ w.T, tb[i]) for i in range(3)]))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sparsemax", "entmax15", "gelu", "softplus", "mish",
                                  "cross_entropy"])
def test_func_grad_and_vmap_over_functional(name):
    f = getattr(at.functional, name)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, dtype=torch.float64, generator=gen)
    if name == "cross_entropy":
        t = torch.tensor([0, 4, 2])
        fn = lambda z: f(z, t)  # noqa: E731
        vm = torch.func.vmap(lambda z, tt: f(z[None], tt[None]))(x, t)
        torch.testing.assert_close(vm, f(x, t, reduction="none"))
    else:
        fn = (lambda z: (f(z, dim=-1) * torch.arange(5.0, dtype=z.dtype)).sum()) if name in (
            "softmax", "log_softmax", "sparsemax", "entmax15") else (lambda z: f(z).sum())
        torch.testing.assert_close(torch.func.vmap(fn)(x), torch.stack([fn(r) for r in x]))
    g = torch.func.grad(fn)(x)
    x2 = x.clone().requires_grad_()
    fn(x2).backward()
    torch.testing.assert_close(g, x2.grad)


def test_hierarchical_softmax_state_dict_of_another_tree_is_refused():
    a = at.HierarchicalSoftmax(8, class_counts=[5, 3, 2, 1])
    b = at.HierarchicalSoftmax(8, class_counts=[1, 1, 9, 4])
    with pytest.raises((ValueError, RuntimeError), match="tree"):
        b.load_state_dict(a.state_dict())


def test_unigram_sampler_near_full_draw_terminates():
    s = at.UnigramSampler([1.0, 1e-30], power=1.0)
    out = s.sample(2, generator=torch.Generator().manual_seed(0))
    assert sorted(out.ids.tolist() if hasattr(out, "ids") else out[0].tolist()) == [0, 1]
