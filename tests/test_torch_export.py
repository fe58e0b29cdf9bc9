"""torch.export and torch.onnx (dynamo) of a small model built from actlab
modules; the exported programs compute what the eager model computes."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import actlab.torch as at  # noqa: E402


class MLP(torch.nn.Module):
    """An MLP with actlab activations and a softmax head (no LayerNorm)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), at.GELU(), torch.nn.Linear(16, 16),
                                       at.SiLU(), torch.nn.Linear(16, 5), at.Softmax(dim=-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _model_and_input():
    torch.manual_seed(0)
    return MLP().eval(), torch.randn(3, 8)


@pytest.mark.slow
def test_torch_export():
    model, x = _model_and_input()
    program = torch.export.export(model, (x,))
    torch.testing.assert_close(program.module()(x), model(x))
    other = torch.randn(3, 8)
    torch.testing.assert_close(program.module()(other), model(other))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxscript") is None,
                    reason="torch.onnx.export(dynamo=True) needs onnx and onnxscript")
def test_torch_onnx_export_dynamo():
    from onnx.reference import ReferenceEvaluator

    model, x = _model_and_input()
    onnx_program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    evaluator = ReferenceEvaluator(onnx_program.model_proto)
    name = onnx_program.model_proto.graph.input[0].name
    (got,) = evaluator.run(None, {name: x.numpy()})
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-5, atol=1e-6)
