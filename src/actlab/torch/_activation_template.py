"""The one template of actlab's parameter-free activation modules (those
with no learned parameter: ``ReLU``, ``Sigmoid``, ``GLU``, ``Squareplus``,
...): :func:`activation_class` makes each a real class, with its own name,
``__module__`` (so it pickles), constructor signature (what ``help`` shows:
the registry's numeric parameters, then torch's ``dim`` and ``inplace``
where torch has them), ``extra_repr`` and a docstring written from the
registry entry (formula, parameters, reference) with a runnable example.
``forward`` calls one function, so ``torch.export`` and
``torch.compile(fullgraph=True)`` trace it like a hand-written module.

Example:
    >>> import inspect, actlab.torch as at
    >>> inspect.signature(at.ReLU), inspect.signature(at.Squareplus)
    (<Signature (inplace: bool = False) -> None>, <Signature (b: float = 4.0) -> None>)
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["FixedActivation", "activation_class"]

_ELEMENTWISE = "input: any shape; the output has the input's shape and dtype."

_DOC = """{summary}, :func:`actlab.{function}`:

.. math:: {latex}
{args}
Shape:
    {shape}

Example:
    >>> import torch, actlab.torch as at
    >>> {call}
    {result}

Reference: {reference}
"""


class FixedActivation(nn.Module):
    """A parameter-free activation: ``forward`` applies ``_fn`` to the input,
    the constructor arguments named in ``_args`` and, where the class takes
    it, ``inplace=``; an ``inplace`` flag is shown by ``extra_repr`` only
    when True (and not at all where torch's own module does not show it)."""

    _fn: Any = None
    _args: tuple[str, ...] = ()
    _inplace = False
    _show_inplace = True

    def __init__(self) -> None:
        super().__init__()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        args = (getattr(self, a) for a in self._args)
        if self._inplace:
            return type(self)._fn(input, *args, inplace=self.inplace)
        return type(self)._fn(input, *args)

    def extra_repr(self) -> str:
        parts = [f"{a}={getattr(self, a)!r}" for a in self._args]
        if self._inplace and self.inplace and self._show_inplace:
            parts.append("inplace=True")
        return ", ".join(parts)


def _number(owner: str, name: str, value: Any, positive: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or (positive and value <= 0):
        raise ValueError(f"{owner}: {name} must be a {'positive ' if positive else ''}finite number, got {value!r}")
    return float(value)


def _check(owner: str, name: str, value: Any, domain: str) -> Any:
    """A constructor argument checked against its domain: ValueError or TypeError naming it and the value."""
    if domain == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
        return value
    if domain == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
        return value
    return _number(owner, name, value, positive=domain == "> 0")


def _constructor(module: str, owner: str, args: list[tuple[str, Any, str, type]]) -> Callable[..., None]:
    """``__init__`` of ``module.owner`` whose real signature is ``args`` (name, default, domain, type)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    sig = inspect.Signature([inspect.Parameter("self", kind),
                             *(inspect.Parameter(n, kind, default=d, annotation=t) for n, d, _, t in args)],
                            return_annotation=None)

    def __init__(self: FixedActivation, *a: Any, **kw: Any) -> None:
        try:
            bound = sig.bind(self, *a, **kw)
        except TypeError as e:
            raise TypeError(f"{owner}(): {e}") from None
        bound.apply_defaults()
        FixedActivation.__init__(self)
        for name, _, domain, _ in args:
            setattr(self, name, _check(owner, name, bound.arguments[name], domain))

    __init__.__signature__ = sig  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{owner}.__init__"
    __init__.__module__ = module
    __init__.__doc__ = f"Checks and keeps {', '.join(a[0] for a in args)} (the class docstring says what they are)."
    return __init__


def activation_class(module: str, name: str, fn: Any, entry: Any, summary: str, call: str, result: str, *,
                     dim: bool = False, inplace: bool = False, show_inplace: bool = True,
                     shape: str = _ELEMENTWISE, arg_docs: dict[str, str] | None = None) -> type[FixedActivation]:
    """The class ``name`` of module ``module`` whose ``forward`` is ``fn``
    (called with the registry ``entry``'s numeric parameters, then ``dim``,
    positionally, and ``inplace=`` by keyword). Its docstring: ``summary``,
    the entry's formula, the parameters (``arg_docs`` says what each of the
    entry's is), ``shape``, the example ``call`` -> ``result`` (``{cls}``
    stands for ``at.<name>``) and the entry's reference."""
    arg_docs = arg_docs or {}
    params: list[tuple[str, Any, str, type]] = [(p.name, p.default, p.domain, float) for p in entry.params
                                                if not (dim and p.name == "axis")]
    assert set(arg_docs) == {p[0] for p in params} and all(p[2] in ("> 0", "finite") for p in params), name
    docs = [f"    {n}: {arg_docs[n]} ({domain}; default {default!r})." for n, default, domain, _ in params]
    if dim:
        params.append(("dim", -1, "int", int))
        docs.append("    dim: the dimension split into the halves (a, b), as torch's (default -1).")
    if inplace:
        params.append(("inplace", False, "bool", bool))
        docs.append("    inplace: write the result into the input, as torch's (default False).")
    args = "\nArgs:\n" + "\n".join(docs) + "\n" if docs else ""
    doc = _DOC.format(summary=summary, function=entry.name, latex=entry.latex, reference=entry.reference,
                      args=args, shape=shape, call=call.format(cls=f"at.{name}"), result=result)
    body: dict[str, Any] = {"__doc__": doc, "__module__": module, "__qualname__": name, "_fn": fn,
                            "_args": tuple(p[0] for p in params if p[0] != "inplace"), "_inplace": inplace,
                            "_show_inplace": show_inplace}
    if params:
        body["__init__"] = _constructor(module, name, params)
    return type(name, (FixedActivation,), body)
