"""Element-wise activations ."""

from .exponential import celu, elu, selu, softplus
from .gated_linear import geglu, glu, reglu, swiglu
from .maxout import maxout
from .rectifiers import hardshrink, leaky_relu, prelu, relu, relu6, rrelu, softshrink, threshold
from .self_gated import gelu, hardswish, mish, silu, swish
from .sigmoid_like import hardsigmoid, hardtanh, log_sigmoid, sigmoid, softsign, tanh, tanhshrink

__all__ = [
    "sigmoid", "log_sigmoid", "tanh", "relu", "relu6", "leaky_relu", "prelu", "rrelu",
    "elu", "selu", "celu", "gelu", "softplus", "swish", "silu", "mish", "hardtanh",
    "hardsigmoid", "hardswish", "softsign", "tanhshrink", "softshrink", "hardshrink",
    "threshold", "glu", "reglu", "geglu", "swiglu", "maxout",
]
