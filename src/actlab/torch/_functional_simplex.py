r"""The softmax family and the sparse maps with ``torch.nn.functional``'s
signatures (``dim``, the implicit ``dim=None`` choice, ``dtype``), computed by
actlab; re-exported by :mod:`actlab.torch.functional`.

``temperature`` and ``beta`` (actlab's extras: ``map(z / T)``,
``map(beta z)``) are keyword-only.

Example:
    >>> import torch, actlab.torch.functional as AF
    >>> x = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)
    >>> torch.allclose(AF.softmax(x, dim=0), torch.softmax(x, dim=0))
    True
    >>> AF.sparsemax(torch.tensor([-2.0, 0.0, 0.5]), dim=-1).tolist()
    [0.0, 0.25, 0.75]
"""

from __future__ import annotations

import torch

from .. import simplex
from ..simplex.entmax import entmax as _entmax
from ..simplex.entmax import entmax15 as _entmax15
from ..simplex.sparsemax import sparsemax as _sparsemax
from ._torch_conventions import check_count, meta_guard, softmax_dim

Tensor = torch.Tensor

__all__ = [
    "softmax", "log_softmax", "softmin", "logsumexp", "hardmax", "spherical_softmax", "taylor_softmax",
    "gumbel_softmax", "sparsemax", "entmax15", "entmax",
]


def _cast(input: Tensor, dtype: torch.dtype | None) -> Tensor:
    return input if dtype is None else input.to(dtype)


def _mask(owner: str, where: object, input: Tensor) -> object:
    """``where`` itself; a tensor mask must be on ``input``'s device (a list or
    array is put there by the core), else a ValueError naming both."""
    if isinstance(where, Tensor) and isinstance(input, Tensor) and where.device != input.device:
        raise ValueError(f"{owner}(): where is on device {where.device}, input on {input.device}; "
                         "put the mask on the input's device")
    return where


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: torch.dtype | None = None, *,
            temperature: float = 1.0, beta: float | None = None, where: Tensor | None = None) -> Tensor:
    r""":math:`e^{z_i}/\sum_j e^{z_j}` along ``dim`` (:func:`actlab.softmax`), as ``F.softmax``.

    Args:
        input: the scores. dim: the axis; None picks PyTorch's deprecated
            implicit axis (0 for 0-, 1- and 3-d input, else 1) with its warning.
        dtype: the input is cast to it first. temperature, beta: actlab's
            ``softmax(z / T)`` / ``softmax(beta z)``.
        where: an optional boolean mask broadcastable to ``input`` (jax.nn's
            ``where``): the map is taken over the True entries only; the others
            get 0 and zero gradient, whatever their value (NaN, inf), and a row
            with no True entry gives zeros with zero gradient.

    Example:
        >>> import torch, actlab.torch.functional as AF
        >>> x = torch.tensor([[1.0, 2.0, float("nan")], [0.0, 0.0, 0.0]], dtype=torch.float64)
        >>> mask = torch.tensor([[True, True, False], [False, False, False]])
        >>> AF.softmax(x, dim=-1, where=mask).round(decimals=4).tolist()
        [[0.2689, 0.7311, 0.0], [0.0, 0.0, 0.0]]

    Returns:
        Probabilities of ``input``'s shape (``dtype`` if given).
    """
    dim = softmax_dim("softmax", dim, input.dim(), _stacklevel + 1)
    return meta_guard("softmax", simplex.softmax, _cast(input, dtype), axis=dim, temperature=temperature,
                      beta=beta, where=_mask("softmax", where, input))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: torch.dtype | None = None, *,
                temperature: float = 1.0, beta: float | None = None, where: Tensor | None = None) -> Tensor:
    r""":math:`z_i - \log\sum_j e^{z_j}` along ``dim`` (:func:`actlab.log_softmax`), as
    ``F.log_softmax``; arguments as :func:`softmax`. With ``where``, the
    entries where it is False give :math:`-\infty` with zero gradient (a row
    with none True: all :math:`-\infty`), as ``jax.nn.log_softmax``.

    Returns:
        The log-probabilities: a tensor of ``input``'s shape, dtype and device.
    """
    dim = softmax_dim("log_softmax", dim, input.dim(), _stacklevel + 1)
    return meta_guard("log_softmax", simplex.log_softmax, _cast(input, dtype), axis=dim,
                      temperature=temperature, beta=beta, where=_mask("log_softmax", where, input))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: torch.dtype | None = None, *,
            temperature: float = 1.0, beta: float | None = None) -> Tensor:
    r""":math:`\mathrm{softmax}(-z)` along ``dim`` (:func:`actlab.softmin`), as ``F.softmin``;
    arguments as :func:`softmax`.

    Returns:
        The probabilities along ``dim``: a tensor of ``input``'s shape, dtype and device.
    """
    dim = softmax_dim("softmin", dim, input.dim(), _stacklevel + 1)
    return meta_guard("softmin", simplex.softmin, _cast(input, dtype), axis=dim, temperature=temperature,
                      beta=beta)


def logsumexp(input: Tensor, dim: int | tuple[int, ...] = -1, keepdim: bool = False, *,
              where: Tensor | None = None) -> Tensor:
    r""":math:`\log\sum_j e^{z_j}` over ``dim`` (:func:`actlab.logsumexp`), as ``torch.logsumexp``
    (its gradient is the softmax). ``dim`` may be a tuple of dims, as in torch: they are reduced as one.
    ``where``: an optional boolean mask broadcastable to ``input`` (jax.nn's): only its True entries
    are summed, the others get zero gradient; a slice with none gives :math:`-\infty`, zero gradient.

    Example:
        >>> import torch, actlab.torch.functional as AF
        >>> x = torch.tensor([0.0, 0.0, 1e30], dtype=torch.float64)
        >>> AF.logsumexp(x, 0, where=torch.tensor([True, True, False])).item()  # log 2
        0.6931471805599453

    Returns:
        ``log(sum(exp(input)))`` along ``dim``: that axis removed (kept with size 1 when
        ``keepdim``).
    """
    if isinstance(dim, (tuple, list)):
        if not dim or len({d % max(input.ndim, 1) if isinstance(d, int) else d for d in dim}) != len(dim):
            raise ValueError(f"logsumexp(): dim must name distinct dims, got {dim!r}")
        if where is not None:
            return meta_guard("logsumexp", simplex.logsumexp, input, axis=tuple(dim), keepdims=keepdim,
                              where=_mask("logsumexp", where, input))
        if len(dim) > 1:
            dims = sorted(d % input.ndim for d in dim)
            rest = [d for d in range(input.ndim) if d not in dims]
            flat = input.permute(*rest, *dims).reshape(*[input.shape[d] for d in rest], -1)
            out = meta_guard("logsumexp", simplex.logsumexp, flat, axis=-1, keepdims=False)
            for d in dims if keepdim else ():
                out = out.unsqueeze(d)
            return out
        dim = dim[0]
    return meta_guard("logsumexp", simplex.logsumexp, input, axis=dim, keepdims=keepdim,
                      where=_mask("logsumexp", where, input))


def hardmax(input: Tensor, dim: int = -1) -> Tensor:
    r"""1/m on each of the m maximal entries of ``dim`` (:func:`actlab.hardmax`).

    Returns:
        The probabilities along ``dim``: a tensor of ``input``'s shape, dtype and device.
    """
    return simplex.hardmax(input, axis=dim)


def spherical_softmax(input: Tensor, dim: int = -1, eps: float = 1e-6, *, temperature: float = 1.0) -> Tensor:
    r""":math:`(z_i^2 + \epsilon)/\sum_j (z_j^2 + \epsilon)` (:func:`actlab.spherical_softmax`;
    de Brebisson & Vincent 2016).

    Returns:
        The probabilities along ``dim``: a tensor of ``input``'s shape, dtype and device.
    """
    return simplex.spherical_softmax(input, eps, axis=dim, temperature=temperature)


def taylor_softmax(input: Tensor, dim: int = -1, order: int = 2, *, temperature: float = 1.0) -> Tensor:
    r""":math:`t(z_i)/\sum_j t(z_j)`, :math:`t` exp's Taylor series of even
    ``order`` (:func:`actlab.taylor_softmax`; de Brebisson & Vincent 2016).

    Returns:
        The probabilities along ``dim``: a tensor of ``input``'s shape, dtype and device.
    """
    return simplex.taylor_softmax(input, order, axis=dim, temperature=temperature)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1, *,
                   generator: torch.Generator | None = None) -> Tensor:
    r""":math:`\mathrm{softmax}((z + g)/\tau)`, :math:`g` Gumbel noise; ``hard``:
    the one-hot arg max forward, the soft sample's gradient backward
    (:func:`actlab.gumbel_softmax`; Jang et al. 2017, Maddison et al. 2017), as
    ``F.gumbel_softmax``. ``eps`` is unused, as in PyTorch; ``generator``
    makes the draw reproducible.

    Example:
        >>> import torch, actlab.torch.functional as AF
        >>> y = AF.gumbel_softmax(torch.zeros(2, 5), hard=True, generator=torch.Generator().manual_seed(0))
        >>> y.sum(-1).tolist()
        [1.0, 1.0]

    Returns:
        The probabilities along ``dim``: a tensor of ``input``'s shape, dtype and device.
    """
    return meta_guard("gumbel_softmax", simplex.gumbel_softmax, logits, tau, hard, axis=dim, generator=generator)


def check_k(owner: str, k: int | None) -> int | None:
    r"""The ``entmax`` package's partial-sort budget ``k``: None or a positive
    integer (NumPy integers too), else a TypeError/ValueError naming the value.

    In the package (Peters, Niculae & Martins 2019), ``sparsemax(X, dim, k)`` and
    ``entmax15(X, dim, k)`` sort only the ``k`` largest entries of a row
    (``torch.topk``) and, where the support fills all ``k``, retry with ``2k``:
    the same result as a full sort, faster on long rows. actlab's result, values
    and gradient, is bitwise the same for every ``k``, because it never sorts in
    eager mode: a one-pass filter keeps the entries within ``1/beta`` of the
    running maximum (Condat 2016), then the exact threshold is found on those
    candidates only (Michelot's pivots for sparsemax; Newton's method then the
    closed form on the support for 1.5-entmax), in the compiled kernels on the
    CPU and in the block-screened array-API search elsewhere. On (64, 50000)
    rows on one CPU thread, in float32 and float64, ``torch.topk`` alone (k = 16
    or 64) took about as long as that whole search, and the best top-k scheme
    (``torch.topk``, the sort-based threshold of Martins & Astudillo 2016 on the
    k values, the retry; best k of 16-1024) 2.3-5.8 times as long
    (``benchmarks/sparse_partial_sort.py``, on a busy machine), so no partial
    sort is done. Traced code
    (``torch.compile``, ``torch.func`` transforms, meta tensors) takes the
    full-sort algorithm; a partial sort there would need the data-dependent
    retry ("does the support fit in k?"), which traced code cannot take.
    """
    return None if k is None else check_count(owner, "k", k)


def sparsemax(input: Tensor, dim: int = -1, k: int | None = None, *, temperature: float = 1.0) -> Tensor:
    r"""The Euclidean projection of ``input`` onto the simplex along ``dim``
    (:func:`actlab.sparsemax`; Martins & Astudillo 2016), as the ``entmax``
    package's ``sparsemax(X, dim, k)``. ``k``: its partial-sort budget, checked
    (None or a positive integer); the result is the same for every ``k`` (see
    :func:`check_k` for why actlab does no partial sort).

    Example:
        >>> import torch, actlab.torch.functional as AF
        >>> x = torch.tensor([-2.0, 0.0, 0.5, 0.25])
        >>> torch.equal(AF.sparsemax(x, 0, k=1), AF.sparsemax(x, 0))  # support 3 > k: still exact
        True

    Returns:
        The probabilities along ``dim``: a tensor of ``input``'s shape, dtype and device.
    """
    check_k("sparsemax", k)
    return meta_guard("sparsemax", _sparsemax, input, axis=dim, temperature=temperature)


def entmax15(input: Tensor, dim: int = -1, k: int | None = None, *, temperature: float = 1.0) -> Tensor:
    r"""1.5-entmax along ``dim`` (:func:`actlab.entmax15`; Peters et al. 2019), as the ``entmax``
    package's ``entmax15(X, dim, k)``; ``k`` as in :func:`sparsemax` (same result for every ``k``).

    Returns:
        The probabilities along ``dim``: a tensor of ``input``'s shape, dtype and device.
    """
    check_k("entmax15", k)
    return meta_guard("entmax15", _entmax15, input, axis=dim, temperature=temperature)


def entmax(input: Tensor, alpha: float | Tensor = 1.5, dim: int = -1, n_iter: int = 50, *,
           temperature: float = 1.0) -> Tensor:
    r""":math:`\alpha`-entmax along ``dim`` (:func:`actlab.entmax`; Peters et al. 2019);
    ``alpha`` may be a tensor (learned, broadcast with size 1 along ``dim``).

    Returns:
        The probabilities along ``dim``: a tensor of ``input``'s shape, dtype and device.
    """
    return meta_guard("entmax", _entmax, input, alpha, n_iter, axis=dim, temperature=temperature)
