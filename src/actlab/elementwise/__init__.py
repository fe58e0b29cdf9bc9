"""Element-wise activations ."""

from .exponential import celu, elu, selu, softplus
from .gated_linear import clamped_swiglu, geglu, glu, reglu, swiglu
from .gelu_variants import gelu_10, laplace, quick_gelu
from .log_exp import exponential, golu, identity, log1mexp, logit, sqrt_softplus
from .maxout import maxout
from .periodic import sine, snake, snake_beta
from .rectifiers import hardshrink, leaky_relu, prelu, relu, relu6, rrelu, softshrink, threshold
from .self_gated import gelu, hardswish, mish, silu, swish
from .sigmoid_like import hardsigmoid, hardtanh, log_sigmoid, sigmoid, softsign, tanh, tanhshrink
from .squared import hard_mish, poly_relu, relu2, sparse_plus, sparse_sigmoid, squareplus, star_relu
from .trainable_shapes import dyt, xielu

__all__ = [
    "sigmoid", "log_sigmoid", "tanh", "relu", "relu6", "leaky_relu", "prelu", "rrelu",
    "elu", "selu", "celu", "gelu", "softplus", "swish", "silu", "mish", "hardtanh",
    "hardsigmoid", "hardswish", "softsign", "tanhshrink", "softshrink", "hardshrink",
    "threshold", "glu", "reglu", "geglu", "swiglu", "maxout",
    # the catalogue of the other libraries' activations
    "relu2", "star_relu", "squareplus", "sparse_plus", "sparse_sigmoid", "hard_mish", "quick_gelu", "gelu_10",
    "laplace", "identity", "exponential", "log1mexp", "logit", "sqrt_softplus", "golu", "sine", "snake",
    "snake_beta", "xielu", "dyt", "clamped_swiglu", "poly_relu",
]
