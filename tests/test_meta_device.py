"""Every module, functional and large-output loss on tensors of the meta
device (shapes, dtypes and devices only: the same code a device-agnostic run
takes on CUDA or MPS, with no data). Where actlab reads values (the softmax
family's check for non-finite rows, the sparse maps' support search,
hierarchical paths, accidental hits) meta must raise a clear
NotImplementedError instead; those cases are listed here so that a change of
behaviour shows."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import actlab.torch as at  # noqa: E402
import actlab.torch.functional as AF  # noqa: E402
from actlab.torch.large_output import HierarchicalSoftmax, UnigramSampler  # noqa: E402

META = torch.device("meta")
N, C, D = 6, 10, 4


def meta(*shape, dtype=torch.float32, grad=True):
    return torch.empty(*shape, device=META, dtype=dtype, requires_grad=grad)


def labels(*shape):
    return torch.zeros(*shape, device=META, dtype=torch.long)


ELEMENTWISE = ["sigmoid", "tanh", "logsigmoid", "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu",
               "softplus", "silu", "mish", "swish", "hardtanh", "hardsigmoid", "hardswish", "softsign", "tanhshrink",
               "softshrink", "hardshrink", "rrelu"]
MODULES = ["Sigmoid", "LogSigmoid", "Tanh", "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "Softplus",
           "SiLU", "Mish", "Hardtanh", "Hardsigmoid", "Hardswish", "Softsign", "Tanhshrink", "Softshrink",
           "Hardshrink", "RReLU", "Swish"]
# functions that read values: meta gives a clear NotImplementedError (see the module docstring)
VALUE_DEPENDENT = {
    "softmax": lambda x: AF.softmax(x, dim=1), "log_softmax": lambda x: AF.log_softmax(x, dim=1),
    "softmin": lambda x: AF.softmin(x, dim=1), "logsumexp": lambda x: AF.logsumexp(x, 1),
    "gumbel_softmax": lambda x: AF.gumbel_softmax(x), "sparsemax": lambda x: AF.sparsemax(x),
    "entmax15": lambda x: AF.entmax15(x), "entmax": lambda x: AF.entmax(x, 1.3),
    "cross_entropy": lambda x: AF.cross_entropy(x, labels(N)),
    "sparsemax_loss": lambda x: AF.sparsemax_loss(x, labels(N)),
    "Softmax": lambda x: at.Softmax(dim=1)(x), "CrossEntropyLoss": lambda x: at.CrossEntropyLoss()(x, labels(N)),
    "Entmax": lambda x: at.Entmax(1.5, learnable=True).to(META)(x),
}


def _check(y, shape, dtype=torch.float32):
    assert y.device.type == "meta" and tuple(y.shape) == tuple(shape) and y.dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_functionals_forward_and_backward(name, dtype):
    x = meta(N, C, dtype=dtype)
    y = getattr(AF, name)(x)
    _check(y, (N, C), dtype)
    (g,) = torch.autograd.grad(y.sum(), x)
    _check(g, (N, C), dtype)


@pytest.mark.parametrize("name", MODULES)
def test_modules_forward_and_backward(name):
    x = meta(N, C)
    y = getattr(at, name)()(x)
    _check(y, (N, C))
    _check(torch.autograd.grad(y.sum(), x)[0], (N, C))


def test_layers_with_parameters_and_gated_units():
    x = meta(N, C)
    for m, out in [(at.PReLU(C), (N, C)), (at.Maxout(C, 3, pieces=2), (N, 3)), (at.GLU(), (N, C // 2)),
                   (at.SwiGLU(), (N, C // 2)), (at.Swish(1.0, learnable=True), (N, C)),
                   (at.Threshold(0.1, 0.0), (N, C))]:
        m = m.to(META)
        y = m(x)
        _check(y, out)
        grads = torch.autograd.grad(y.sum(), [x, *m.parameters()])
        assert all(g.device.type == "meta" for g in grads)
    y = AF.relu(x * 1.0, inplace=True)
    _check(y, (N, C))
    _check(AF.binary_cross_entropy_with_logits(x, meta(N, C, grad=False)), ())
    _check(AF.hardmax(x), (N, C))


@pytest.mark.parametrize("name", sorted(VALUE_DEPENDENT))
def test_maps_with_value_dependent_fast_paths_run_their_static_path(name):
    """On meta the backend declares that values cannot be read, so the maps
    take the shape-static path that torch.compile uses."""
    x = meta(N, C)
    y = VALUE_DEPENDENT[name](x)
    losses = ("cross_entropy", "sparsemax_loss", "CrossEntropyLoss")
    _check(y, () if name in losses else (N,) if name == "logsumexp" else (N, C))
    (g,) = torch.autograd.grad(y.sum(), x)
    _check(g, (N, C))


@pytest.mark.parametrize("opts", [dict(), dict(label_smoothing=0.1, z_loss=1e-3), dict(softcap=3.0),
                                  dict(reduction="none"), dict(weight="class")])
def test_linear_cross_entropy(opts):
    h, w, b = meta(N, D), meta(C, D), meta(C)
    if opts.get("weight") == "class":
        opts = dict(weight=torch.ones(C, device=META))
    loss = at.linear_cross_entropy(h, w, labels(N), linear_bias=b, **opts)
    _check(loss, (N,) if opts.get("reduction") == "none" else ())
    grads = torch.autograd.grad(loss.sum(), [h, w, b])
    for g, p in zip(grads, [h, w, b]):
        _check(g, p.shape)
    half = at.linear_cross_entropy(meta(N, D, dtype=torch.bfloat16), meta(C, D, dtype=torch.bfloat16), labels(N))
    _check(half, (), torch.bfloat16)


def test_sampled_losses_and_hierarchical_softmax():
    h, w, b, t = meta(N, D), meta(C, D), meta(C), labels(N)
    g = torch.Generator().manual_seed(0)
    for loss in [at.sampled_softmax_loss(h, w, t, 4, b, remove_accidental_hits=False, generator=g),
                 at.sampled_softmax_loss(h, w, t, 4, b, sampler=UnigramSampler(range(1, C + 1)),
                                         remove_accidental_hits=False, generator=g),
                 at.nce_loss(h, w, t, 4, b, generator=g), at.negative_sampling_loss(h, w, t, 4, b, generator=g)]:
        _check(loss, ())
        for grad, p in zip(torch.autograd.grad(loss, [h, w, b]), [h, w, b]):
            _check(grad, p.shape)
    with pytest.raises(NotImplementedError, match="meta"):
        at.sampled_softmax_loss(h, w, t, 4, b, generator=g)  # accidental hits are data-dependent
    hs = HierarchicalSoftmax(D, class_counts=list(range(1, C + 1))).to(META)
    full = hs.full_log_prob(h)
    _check(full, (N, C))
    _check(torch.autograd.grad(full.sum(), hs.weight)[0], hs.weight.shape)
    with pytest.raises(NotImplementedError, match="meta"):
        hs(h, t)
