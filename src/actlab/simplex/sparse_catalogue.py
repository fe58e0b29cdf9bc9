"""The sparse and rectified maps beyond sparsemax and entmax, in registration
order: sparsegen-lin and sparsehourglass (Laha et al. 2018), alpha-ReLU
(Tezekbayev et al. 2022), softpick (Zuhri et al. 2025), alpha-normmax and
budget sparsemax (the ``entmax`` package's ``normmax_bisect`` and
``budget_bisect``)."""

# isort: off
from .controllable import sparsegen_lin, sparsehourglass
from .alpha_relu import alpha_relu
from .softpick import softpick
from .normmax import normmax
from .budget import budget_sparsemax
# isort: on

__all__ = ["sparsegen_lin", "sparsehourglass", "alpha_relu", "softpick", "normmax", "budget_sparsemax"]
