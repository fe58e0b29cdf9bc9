"""The names other libraries give actlab's functions, read by
:func:`actlab.registry.get`: every key of transformers' ``ACT2FN``, timm's
``get_act_fn`` / ``get_act_layer`` names, jax.nn's and Keras 3's spellings,
and torch.nn.functional's where they differ.

Each alias maps to ``(entry name, parameters)``: the parameters are fixed
(``gelu_new`` is ``gelu`` with ``approximate="tanh"``). A library's name that
means something else than actlab's function of that name is noted here, not
remapped: jax.nn.gelu is the tanh form by default, ``get("gelu")`` is the
exact one (ask for ``gelu_tanh``).

Sources: transformers ``src/transformers/activations.py`` (``ACT2CLS``),
timm ``timm/layers/create_act.py`` (``_ACT_FN_DEFAULT``, ``_ACT_LAYER_DEFAULT``),
jax ``jax/_src/nn/functions.py``, Keras 3 ``keras.activations``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALIASES"]

_TANH: dict[str, Any] = {"approximate": "tanh"}

# fmt: off
ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    # transformers ACT2FN (gelu, gelu_10, laplace, leaky_relu, mish, quick_gelu, relu, relu2, relu6,
    # sigmoid, silu, swish, tanh, prelu, xielu, hardswish are actlab's own names)
    "gelu_python": ("gelu", {}),            # x/2 (1 + erf(x/sqrt 2))
    "gelu_new": ("gelu", _TANH),            # x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))
    "gelu_pytorch_tanh": ("gelu", _TANH),   # F.gelu(approximate="tanh")
    "gelu_python_tanh": ("gelu", _TANH),    # the same formula written out
    "gelu_accurate": ("gelu", _TANH),       # the same, sqrt(2/pi) precomputed
    "gelu_fast": ("gelu", _TANH),           # 0.7978845608 for sqrt(2/pi): 3.6e-12 relative apart
    "linear": ("identity", {}),
    "sqrtsoftplus": ("sqrt_softplus", {}),
    # timm
    "gelu_tanh": ("gelu", _TANH),
    "hard_sigmoid": ("hardsigmoid", {}),
    "hard_swish": ("hardswish", {}),
    # jax.nn and Keras 3
    "soft_sign": ("softsign", {}),
    "hard_tanh": ("hardtanh", {}),
    "hard_silu": ("hardswish", {}),
    "hard_shrink": ("hardshrink", {}),
    "soft_shrink": ("softshrink", {}),
    "tanh_shrink": ("tanhshrink", {}),
    "relu_squared": ("relu2", {}),
    "squared_relu": ("relu2", {}),
    # torch.nn.functional
    "logsigmoid": ("log_sigmoid", {}),
    # other spellings of the new entries
    "starrelu": ("star_relu", {}),
    "snakebeta": ("snake_beta", {}),
    "dynamic_tanh": ("dyt", {}),
    "swiglu_oai": ("clamped_swiglu", {}),
    "swigluoai": ("clamped_swiglu", {}),
    "gompertz": ("golu", {}),
    "exp": ("exponential", {}),
}
# fmt: on
