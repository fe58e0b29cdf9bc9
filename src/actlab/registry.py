"""The registry: one entry per public function, read by the CLI, the gallery
and the generic tests.

An entry is created where the function is defined (the ``activation``
decorator for element-wise functions, :func:`register` for anything else),
so adding a function in one place lists, plots and tests it everywhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Param", "Properties", "Entry", "register", "registry", "get", "REQUIRED", "UnknownFunctionError"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Default of a parameter that has none (it must be given)."""


@dataclass(frozen=True)
class Param:
    """A parameter of a registered function.

    ``domain`` is the valid range in words ("> 0", "[0, 1]", "finite"); ``valid``
    tests a Python number against it; ``choices`` lists the allowed values of
    a categorical parameter; ``array`` says an array may be passed (a learned
    slope, say), which is then not range-checked element by element;
    ``sweep`` gives the values the gallery draws.
    """

    name: str
    default: Any
    domain: str = "any"
    valid: Callable[[Any], bool] | None = None
    choices: tuple[Any, ...] | None = None
    array: bool = False
    sweep: tuple[Any, ...] = ()
    doc: str = ""

    def check(self, value: Any, owner: str) -> Any:
        """Return ``value`` if it is allowed, else raise a ValueError naming it."""
        if value is REQUIRED:
            raise TypeError(f"{owner}() missing required argument {self.name!r}")
        value = plain_number(value)
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(
                    f"{owner}(): {self.name} must be one of {list(self.choices)}, got {value!r}"
                )
            return value
        if isinstance(value, bool):
            raise TypeError(f"{owner}(): {self.name} must be a number, got {value!r}")
        if isinstance(value, (int, float)):
            if self.valid is not None and (value != value or not self.valid(value)):
                raise ValueError(
                    f"{owner}(): {self.name} must be {self.domain}, got {value!r}"
                )
            return float(value)
        if not self.array:
            raise TypeError(
                f"{owner}(): {self.name} must be a Python number, got {type(value).__name__}"
            )
        if isinstance(value, (str, bytes)) or value is None:
            raise TypeError(f"{owner}(): {self.name} must be a number or an array, got {value!r}")
        return value


def plain_number(v: Any) -> Any:
    """A NumPy real scalar (``np.float32(2.0)``, ``np.int64(3)``, as from an
    array's ``max()`` or a shape) as the Python number it holds; anything
    else (a NumPy bool included) unchanged."""
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    return v


def is_finite(v: float) -> bool:
    """``math.isfinite`` written as comparisons, so that it also works on the
    symbolic floats of a tracer (``torch.compile(dynamic=True)``)."""
    return -math.inf < v < math.inf


def positive(v: float) -> bool:
    return v > 0 and is_finite(v)


def finite(v: float) -> bool:
    return is_finite(v)


def non_negative(v: float) -> bool:
    return v >= 0 and is_finite(v)


@dataclass(frozen=True)
class Properties:
    """Shape facts about a function, shown in ``actlab list`` and the gallery
    and checked by the generic tests."""

    output_range: tuple[float, float]
    monotone: bool
    smooth: bool
    zero_centred: bool
    bounded: bool

    def range_text(self) -> str:
        lo, hi = self.output_range

        def fmt(v: float) -> str:
            return {math.inf: "inf", -math.inf: "-inf"}.get(v, f"{v:g}")

        return f"[{fmt(lo)}, {fmt(hi)}]"


@dataclass(frozen=True)
class Entry:
    """What the library knows about one public function."""

    name: str
    kind: str  # "elementwise", "gated" (split-and-gate), "grouped", "simplex", "loss"
    family: str
    function: Callable[..., Any]
    params: tuple[Param, ...]
    latex: str
    dlatex: str
    properties: Properties | None
    reference: str
    derivative: Callable[..., Any] | None = None
    xlim: tuple[float, float] = (-5.0, 5.0)
    ylim: tuple[float, float] | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if p.default is not REQUIRED}


_REGISTRY: dict[str, Entry] = {}

FAMILY_ORDER = (
    "sigmoid", "relu", "shrink", "elu", "softplus", "self-gated", "gated linear", "maxout",
)
"""How families are listed; families not named here follow, in definition order."""


def register(entry: Entry) -> Entry:
    if entry.name in _REGISTRY:
        raise ValueError(f"{entry.name!r} is registered twice")
    _REGISTRY[entry.name] = entry
    return entry


def registry(kind: str | None = None) -> list[Entry]:
    """Every registered function (or those of one ``kind``), in definition order.

    >>> import actlab
    >>> [e.name for e in actlab.registry("elementwise")][:3]
    ['sigmoid', 'log_sigmoid', 'tanh']
    """
    import actlab  # noqa: F401  (importing the package fills the registry)

    entries = [e for e in _REGISTRY.values() if kind is None or e.kind == kind]
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}
    return sorted(entries, key=lambda e: rank.get(e.family, len(rank)))


class UnknownFunctionError(KeyError, ValueError):
    """``get`` of a name that is neither an entry nor an alias (a ValueError,
    and a KeyError as before)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _aliased(alias: str, entry: Entry, fixed: dict[str, Any]) -> Entry:
    """``entry`` under another library's name, with some parameters fixed."""
    if not fixed:
        return entry
    params = tuple(dataclasses.replace(p, default=fixed[p.name]) if p.name in fixed else p for p in entry.params)
    deriv = functools.partial(entry.derivative, **fixed) if entry.derivative is not None else None
    return dataclasses.replace(entry, function=functools.partial(entry.function, **fixed), derivative=deriv,
                               params=params, extra={**entry.extra, "alias_of": entry.name, "fixed": fixed})


def get(name: str) -> Entry:
    """The entry called ``name``, or named so by transformers (``ACT2FN``),
    timm, jax.nn, Keras or torch (see :mod:`actlab.aliases`). An alias that
    fixes parameters returns the entry with them bound (``gelu_new`` is
    ``gelu`` with ``approximate="tanh"``). An unknown name raises a
    ValueError (also a KeyError) listing the close matches.

    >>> import actlab
    >>> actlab.get("gelu_new").function(1.0).round(6).tolist(), actlab.get("soft_sign").name
    (0.841192, 'softsign')
    """
    import actlab  # noqa: F401

    from .aliases import ALIASES

    if name in _REGISTRY:
        return _REGISTRY[name]
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key in _REGISTRY:
        return _REGISTRY[key]
    if key in ALIASES:
        target, fixed = ALIASES[key]
        return _aliased(key, _REGISTRY[target], fixed)
    known = [*_REGISTRY, *ALIASES]
    close = difflib.get_close_matches(str(key), known, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownFunctionError(f"no function {name!r}{hint} ({len(_REGISTRY)} functions: actlab.registry())")
