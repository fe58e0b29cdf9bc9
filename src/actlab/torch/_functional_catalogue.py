r"""The maps and losses added beyond PyTorch's and the ``entmax`` package's
basics, with ``torch.nn.functional``-style signatures (``dim``, class
dimension 1, ``reduction``), computed by actlab; re-exported by
:mod:`actlab.torch.functional`.

The ``entmax`` package's names are here too (``entmax_bisect``,
``sparsemax_bisect``, ``normmax_bisect``, ``budget_bisect``, with its
argument order), so ``from actlab.torch.functional import entmax_bisect``
replaces ``from entmax import entmax_bisect``.

Example:
    >>> import torch, actlab.torch.functional as AF
    >>> x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=torch.float64)
    >>> AF.budget_bisect(x, budget=2, dim=0).tolist()
    [0.0, 0.125, 0.375, 0.625, 0.875]
"""

from __future__ import annotations

import numpy as np
import torch

from .. import losses
from ..simplex import sparse_catalogue as S
from ..simplex.entmax import entmax as _entmax
from ..simplex.sparsemax import sparsemax as _sparsemax
from ._torch_conventions import check_count, legacy_reduction, meta_guard

Tensor = torch.Tensor

__all__ = [
    "sparsegen_lin", "sparsehourglass", "alpha_relu", "softpick", "normmax", "budget_sparsemax",
    "entmax_bisect", "sparsemax_bisect", "normmax_bisect", "budget_bisect",
    "kl_div", "multilabel_soft_margin_loss", "normmax_loss",
]


def sparsegen_lin(input: Tensor, lam: float = 0.0, dim: int = -1, *, temperature: float = 1.0) -> Tensor:
    r""":math:`\operatorname{sparsemax}(z/(1-\lambda))` along ``dim`` (:func:`actlab.sparsegen_lin`; Laha et al. 2018)."""
    return meta_guard("sparsegen_lin", S.sparsegen_lin, input, lam, axis=dim, temperature=temperature)


def sparsehourglass(input: Tensor, q: float = 1.0, dim: int = -1) -> Tensor:
    r"""Sparsehourglass along ``dim`` (:func:`actlab.sparsehourglass`; Laha et al. 2018)."""
    return meta_guard("sparsehourglass", S.sparsehourglass, input, q, axis=dim)


def alpha_relu(input: Tensor, alpha: float = 1.5, tau: float = 0.0) -> Tensor:
    r""":math:`[(\alpha-1)z - \tau]_+^{1/(\alpha-1)}` entry by entry (:func:`actlab.alpha_relu`;
    Tezekbayev et al. 2022)."""
    return S.alpha_relu(input, alpha, tau)


def softpick(input: Tensor, dim: int = -1, eps: float = 1e-6) -> Tensor:
    r""":math:`\operatorname{relu}(e^{z}-1)/(\sum|e^{z}-1|+\varepsilon)` along ``dim``
    (:func:`actlab.softpick`; Zuhri et al. 2025)."""
    return S.softpick(input, eps, axis=dim)


def normmax(input: Tensor, alpha: float = 2.0, dim: int = -1, n_iter: int = 50, *, temperature: float = 1.0) -> Tensor:
    r"""alpha-normmax along ``dim`` (:func:`actlab.normmax`; Blondel et al. 2020)."""
    return meta_guard("normmax", S.normmax, input, alpha, n_iter, axis=dim, temperature=temperature)


def budget_sparsemax(input: Tensor, budget: float = 2.0, dim: int = -1, n_iter: int = 50) -> Tensor:
    r"""``clip(z - tau, 0, 1)`` summing to ``budget`` along ``dim`` (:func:`actlab.budget_sparsemax`)."""
    return meta_guard("budget_sparsemax", S.budget_sparsemax, input, budget, n_iter, axis=dim)


def _check_sum_one(owner: str, ensure_sum_one: object) -> None:
    if not isinstance(ensure_sum_one, (bool, np.bool_)):
        raise TypeError(f"{owner}(): ensure_sum_one must be a bool, got {ensure_sum_one!r}")


def entmax_bisect(X: Tensor, alpha: float | Tensor = 1.5, dim: int = -1, n_iter: int = 50,
                  ensure_sum_one: bool = True) -> Tensor:
    r"""The ``entmax`` package's ``entmax_bisect``: :func:`actlab.entmax` (alpha > 0; a
    tensor alpha > 1 is learned; Peters, Niculae & Martins 2019).

    ``ensure_sum_one``: in the ``entmax`` package, whether the last bisection
    iterate :math:`p(\tau_m)` is divided by its sum; with False the package
    returns that iterate, off the simplex by the bisection's residual (which
    depends on ``n_iter`` and the dtype). actlab's result is the normalised map
    whatever the flag: for alpha in {1, 1.5, 2} the closed form on the exact
    support, for other alphas Newton's method on the threshold to a few ulps,
    the output then divided by the (compensated) sum of the values written. So
    with True the output sums to 1 within a few ulps of its dtype (at most 8 eps
    on rows of up to 1e5 entries in float32 and float64, in the tests), and
    False returns the same tensor: the package's unnormalised iterate is an
    artefact of where its bisection stopped, not a property of the map, and is
    not reproduced. The flag must be a bool (TypeError otherwise).

    Example:
        >>> import math, torch, actlab.torch.functional as AF
        >>> x = torch.zeros(3, 12345)  # near-ties and a large alpha: the hard case of a threshold search
        >>> y = AF.entmax_bisect(x, alpha=10.0, ensure_sum_one=False)
        >>> all(abs(math.fsum(row) - 1.0) <= 8 * 2.0 ** -23 for row in y.double().tolist())
        True
    """
    _check_sum_one("entmax_bisect", ensure_sum_one)
    return meta_guard("entmax_bisect", _entmax, X, alpha, n_iter, axis=dim)


def sparsemax_bisect(X: Tensor, dim: int = -1, n_iter: int = 50, ensure_sum_one: bool = True) -> Tensor:
    r"""The ``entmax`` package's ``sparsemax_bisect``: :func:`actlab.sparsemax`, exact (Martins &
    Astudillo 2016), whatever ``n_iter`` (a positive integer) and ``ensure_sum_one`` (as in
    :func:`entmax_bisect`; the package itself ignores both here)."""
    check_count("sparsemax_bisect", "n_iter", n_iter)
    _check_sum_one("sparsemax_bisect", ensure_sum_one)
    return meta_guard("sparsemax_bisect", _sparsemax, X, axis=dim)


def normmax_bisect(X: Tensor, alpha: float = 2.0, dim: int = -1, n_iter: int = 50) -> Tensor:
    r"""The ``entmax`` package's ``normmax_bisect``: :func:`actlab.normmax`."""
    return normmax(X, alpha, dim, n_iter)


def budget_bisect(X: Tensor, budget: float = 2.0, dim: int = -1, n_iter: int = 50) -> Tensor:
    r"""The ``entmax`` package's ``budget_bisect``: :func:`actlab.budget_sparsemax`."""
    return budget_sparsemax(X, budget, dim, n_iter)


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    r""":math:`q(\log q - \mathrm{input})` pointwise, reduced (:func:`actlab.kl_div`), as ``F.kl_div``
    (``input`` log-probabilities, ``target`` probabilities or, with ``log_target``, log-probabilities;
    ``reduction="batchmean"`` is the KL divergence per sample)."""
    if reduction != "batchmean":
        reduction = legacy_reduction(size_average, reduce, reduction)
    return losses.kl_div(input, target, reduction=reduction, log_target=log_target)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    r"""The mean over classes of the sigmoid cross-entropy (:func:`actlab.multilabel_soft_margin_loss`),
    as ``F.multilabel_soft_margin_loss`` (classes last)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return losses.multilabel_soft_margin_loss(input, target, weight=weight, reduction=reduction)


def normmax_loss(input: Tensor, target: Tensor, alpha: float = 2.0, weight: Tensor | None = None,
                 ignore_index: int = -100, reduction: str = "mean", *, n_iter: int = 50) -> Tensor:
    r"""The alpha-normmax Fenchel-Young loss (:func:`actlab.normmax_loss`; class dimension 1)."""
    return meta_guard("normmax_loss", losses.normmax_loss, input, target, alpha, n_iter=n_iter, weight=weight,
                      ignore_index=ignore_index, reduction=reduction)
