r"""``where=`` masks for the vector maps, with jax.nn's semantics.

``f(x, where=mask)`` is ``f`` applied to the entries where ``mask`` is True
only: a masked entry is replaced by the score that the map sends to
probability 0 (:math:`-\infty` in the map's own coordinates, so
:math:`+\infty` for a negative temperature), which every map with
``masks=True`` handles exactly (probability 0, log-probability
:math:`-\infty`, zero gradient). A row with no unmasked entry gives zeros
(log-probabilities :math:`-\infty`) and zero gradients. NaN or infinite
values at masked positions never reach the result.

``mask`` is a boolean array broadcastable to ``x``'s shape (on the same
backend or a NumPy/Python one). With ``beta=0`` (the uniform distribution)
the masked map is uniform over the unmasked entries.

Reference: the ``where`` argument of ``jax.nn.softmax``, ``jax.nn.log_softmax``
and ``jax.nn.logsumexp`` (JAX authors, 2018-).
"""

from __future__ import annotations

import math
from typing import Any

from . import _backend, _xp

__all__ = ["as_mask", "masked_input"]


def as_mask(where: Any, x: Any, xp: Any, owner: str) -> Any:
    """``where`` as a boolean array of ``x``'s backend, broadcast to ``x``'s shape."""
    if isinstance(where, (str, bytes)):
        raise TypeError(f"{owner}(): where must be a boolean array, got {where!r}")
    if _backend.backend_of(where) is not xp:
        where = xp.asarray_like(where, x)
    if not xp.isdtype(where.dtype, "bool"):
        raise TypeError(f"{owner}(): where must be a boolean array, got dtype {where.dtype}")
    try:
        return xp.broadcast_to(where, tuple(x.shape))
    except (ValueError, RuntimeError) as exc:
        raise ValueError(
            f"{owner}(): where of shape {tuple(where.shape)} does not broadcast to x's shape {tuple(x.shape)}"
        ) from exc


def masked_input(spec: Any, x: Any, where: Any, temperature: Any, values: tuple[Any, ...]):
    """``(x, values)`` with the masked entries of ``x`` replaced by the score
    that ``spec``'s map sends to 0; ``values`` are the map's full parameter
    values (``num, den`` first for maps with ``exact_temperature``)."""
    if not spec.masks:
        raise TypeError(f"{spec.name}() got an unexpected keyword argument 'where'")
    xp, x = _xp.as_float_array(x)
    mask = as_mask(where, x, xp, spec.name)
    if spec.exact_temperature:
        num, den, *rest = values
        if num == 0.0:  # beta = 0: uniform over the unmasked entries
            return xp.where(mask, x * 0.0, -math.inf), (1.0, 1.0, *rest)
        sign = (num > 0) == (den > 0)
    else:
        sign = not (spec.temperature and isinstance(temperature, (int, float)) and temperature < 0)
    return xp.where(mask, x, -math.inf if sign else math.inf), values
