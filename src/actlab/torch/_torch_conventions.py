"""PyTorch's calling conventions, shared by :mod:`actlab.torch.functional` and
the ``torch.nn`` modules: ``inplace=``, the implicit softmax dimension, the
legacy ``size_average``/``reduce`` arguments and meta-device errors.

None of this is math: each helper only arranges the call to the one actlab
definition of a function.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["apply_inplace", "softmax_dim", "legacy_reduction", "resolve_dim", "meta_guard", "check_number",
           "check_count", "check_dim", "check_choice", "transforms_active"]


def check_number(owner: str, name: str, value: Any, *, finite: bool = True, low: float | None = None,
                 low_open: bool = False, allow_none: bool = False) -> Any:
    """A constructor argument that must be a real number (not NaN; finite
    unless ``finite=False``; ``>= low`` or ``> low``): ValueError/TypeError
    naming it and its value, so a module fails when it is built, not at its
    first forward."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
            hasattr(value, "__float__") and getattr(value, "ndim", 0) == 0 and not isinstance(value, str)):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    v = float(value)
    if v != v or (finite and not -float("inf") < v < float("inf")) or (
            low is not None and (v <= low if low_open else v < low)):
        bound = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        what = ", ".join(w for w in ("finite" if finite else "not NaN", bound) if w)
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}")
    return value


def check_count(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """An integer argument >= ``minimum`` (NumPy integers accepted)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        import operator

        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}") from None
    if v < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return v


def check_dim(owner: str, value: Any, allow_none: bool = False, name: str = "dim") -> Any:
    if value is None and allow_none:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        import operator

        return operator.index(value)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be an int{' or None' if allow_none else ''}, got {value!r}") from None


def check_choice(owner: str, name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {list(choices)}, got {value!r}")
    return value


def transforms_active() -> bool:
    """Whether a ``torch.func`` transform (grad, vmap, jvp, ...) is running."""
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(active()) if active is not None else False


def apply_inplace(fn: Callable[..., torch.Tensor], input: torch.Tensor, inplace: bool, *args: Any,
                  **kwargs: Any) -> torch.Tensor:
    """``fn(input, ...)``; with ``inplace`` the result is written into
    ``input`` and ``input`` is returned, as ``torch.nn.functional`` does.

    Under autograd the function is applied to a (differentiable) copy of the
    input, so the derivative actlab records keeps the values it saved; the
    copy back (``input.copy_``) is what autograd sees as the in-place
    operation, with PyTorch's own checks (a leaf that requires grad is
    refused, as by ``F.relu(x, inplace=True)``). ``inplace`` therefore keeps
    PyTorch's semantics, not its memory saving.
    """
    if not isinstance(inplace, bool):
        raise TypeError(f"inplace must be a bool, got {inplace!r}")
    if not inplace:
        return fn(input, *args, **kwargs)
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"inplace=True needs a tensor input, got {type(input).__name__}")
    source = input.clone() if input.requires_grad and torch.is_grad_enabled() else input
    return input.copy_(fn(source, *args, **kwargs))


def softmax_dim(name: str, dim: int | None, ndim: int, stacklevel: int) -> int:
    """``dim``, or PyTorch's deprecated implicit choice when it is None (0 for
    0-, 1- and 3-d input, else 1), with PyTorch's warning."""
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def resolve_dim(owner: str, dim: Any, axis: Any, default: Any) -> Any:
    """``dim`` (PyTorch's name) or ``axis`` (the NumPy API's), not both."""
    if axis is not None:
        if dim is not None and dim != default:
            raise TypeError(f"{owner}: pass dim or axis, not both (got dim={dim!r}, axis={axis!r})")
        return axis
    return default if dim is None else dim


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` pair to
    ``reduction`` (with its warning), ``reduction`` when both are None."""
    if size_average is None and reduce is None:
        return reduction
    from torch.nn import _reduction

    return _reduction.legacy_get_string(size_average, reduce)


def meta_guard(name: str, fn: Callable[..., torch.Tensor], input: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
    """``fn(input, ...)``; on the meta device a data-dependent step (a check
    of the values, which meta tensors do not have) becomes a clear error."""
    try:
        return fn(input, *args, **kwargs)
    except (RuntimeError, NotImplementedError) as err:
        if isinstance(input, torch.Tensor) and input.is_meta and ("meta" in str(err) or "data-dependent" in str(err)):
            raise NotImplementedError(
                f"actlab.torch.{name}: this function inspects the input's values (a check for non-finite "
                f"entries or a data-dependent support size), which tensors on the meta device do not have"
            ) from err
        raise
