"""Every public function under ``torch.compile(fullgraph=True)``, compiled on
its own (each has its own code object, so compiling them one by one does not
hit Dynamo's recompile limit), and with ``dynamic=True`` and float
parameters passed as arguments (symbolic floats). Dynamo's tracing is what
is tested, so the cheap ``eager`` backend is used; inductor is covered by
the accuracy tests' compiled run."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import actlab  # noqa: E402
import actlab.torch  # noqa: E402, F401

pytestmark = pytest.mark.slow

SKIP = {"rrelu", "gumbel_softmax", "maxout", "prelu"}  # random draws / own tests / required arrays


def _cases():
    for e in actlab.registry():
        if e.kind not in ("elementwise", "simplex", "reduction") or e.name in SKIP:
            continue
        args = tuple(p.sweep[-1] if p.sweep else p.default for p in e.params if p.name != "temperature")
        if any(a is actlab.registry.__class__ for a in args):
            continue
        yield pytest.param(e, args, id=e.name)


@pytest.mark.parametrize(("entry", "args"), list(_cases()))
def test_each_function_compiles_on_its_own(entry, args):
    torch._dynamo.reset()
    x = torch.linspace(-4, 4, 24, dtype=torch.float64).reshape(4, 6)
    if entry.name == "sum_normalize":
        x = x.abs() + 0.1
    compiled = torch.compile(entry.function, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x, *args), entry.function(x, *args), equal_nan=True)  # NaN off a domain


@pytest.mark.parametrize(("name", "values"), [
    ("softplus", (0.5, 2.0)), ("elu", (0.5, 2.0)), ("celu", (0.5, 2.0)), ("leaky_relu", (0.1, 0.3)),
    ("swish", (0.5, 1.5)), ("softshrink", (0.25, 1.0)),
])
def test_dynamic_shapes_and_float_parameters(name, values):
    fn = getattr(actlab, name)
    compiled = torch.compile(fn, fullgraph=True, dynamic=True, backend="eager")
    for n, v in zip((7, 11), values):
        x = torch.linspace(-3, 3, n, dtype=torch.float64)
        torch.testing.assert_close(compiled(x, v), fn(x, v))


def test_dynamic_softmax_temperature_and_module():
    compiled = torch.compile(actlab.softmax, fullgraph=True, dynamic=True, backend="eager")
    for n, t in ((5, 0.5), (9, 2.0)):
        x = torch.randn(3, n, dtype=torch.float64)
        torch.testing.assert_close(compiled(x, temperature=t), actlab.softmax(x, temperature=t))
    m = actlab.torch.Softplus(beta=2.0)
    cm = torch.compile(m, fullgraph=True, dynamic=True, backend="eager")
    x = torch.randn(6, dtype=torch.float64)
    torch.testing.assert_close(cm(x), m(x))
