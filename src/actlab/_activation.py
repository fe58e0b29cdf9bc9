"""The ``activation`` decorator: turns one definition of an element-wise
function (its forward math and its derivative, written against the array
API) into the public function, its public derivative, the PyTorch autograd
registration and the registry entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import _backend, _xp
from ._codegen import REQUIRED_ARG, generated_function
from .registry import REQUIRED, Entry, Param, Properties, register

__all__ = ["ElementwiseSpec", "ElementwiseFunction", "activation"]

Math = Callable[..., Any]
_UNRESOLVED = object()


class ElementwiseFunction(Protocol):
    """A public element-wise function: ``f(x, /, *params)`` with its
    derivative, registry entry and spec attached."""

    derivative: Callable[..., Any]
    entry: Entry
    spec: ElementwiseSpec

    def __call__(self, x: Any, /, *params: Any) -> Any: ...


@dataclass(eq=False)
class ElementwiseSpec:
    """Everything needed to evaluate one element-wise function and its derivatives.

    ``math(x, *params, xp=...)`` and ``derivative(x, *params, xp=...)`` receive
    ``x`` already in working precision and the parameters in declaration order.
    ``param_derivatives`` maps a parameter name to the element-wise partial
    derivative with respect to it. ``promote32`` names what ("forward",
    "derivative") is computed in float64 for float32 input, where a float32
    formula cannot reach a few ULPs. ``prepare`` may reshape array parameters
    so they broadcast against ``x`` (PReLU's per-channel slope).
    """

    name: str
    math: Math
    derivative: Math
    params: tuple[Param, ...] = ()
    param_derivatives: Mapping[str, Math] = field(default_factory=dict)
    promote32: tuple[str, ...] = ()
    prepare: Callable[..., tuple[Any, ...]] | None = None

    # -- arguments ---------------------------------------------------------
    def _arrays(self, x: Any, values: tuple[Any, ...]):
        xp, x = _xp.as_float_array(x)
        values = tuple(
            v if isinstance(v, (int, float, str)) or v is None else _array_param(v, p.name, xp, x)
            for p, v in zip(self.params, values)
        )
        if self.prepare is not None:
            values = self.prepare(x, *values, xp=xp)
        return xp, x, values

    # -- evaluation ----------------------------------------------------------
    def evaluate(self, fn: Math, x: Any, values: tuple[Any, ...], xp: Any, what: str) -> Any:
        """``fn(x, *values)`` in working precision, rounded once to x's dtype."""
        return evaluate(fn, x, values, xp, what in self.promote32)

    def __call__(self, x: Any, values: tuple[Any, ...]) -> Any:
        xp, x, values = self._arrays(x, values)
        return xp.apply_elementwise(self, x, values)

    def value(self, x: Any, values: tuple[Any, ...], xp: Any) -> Any:
        """The function's value at ``x`` (no autograd recording)."""
        return evaluate(self.math, x, values, xp, "forward" in self.promote32)

    def checked(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Validate parameters (defaults are known good and pass untouched)."""
        return tuple(v if v is p.default else p.check(v, self.name) for p, v in zip(self.params, values))

    def grad(self, x: Any, values: tuple[Any, ...], wrt: str = "x") -> Any:
        xp, x, values = self._arrays(x, values)
        if wrt == "x":
            return self.evaluate(self.derivative, x, values, xp, "derivative")
        if wrt not in self.param_derivatives:
            known = ["x", *self.param_derivatives]
            raise ValueError(f"{self.name}.derivative(): wrt must be one of {known}, got {wrt!r}")
        return self.evaluate(self.param_derivatives[wrt], x, values, xp, "derivative")


def param_annotations(params: Sequence[Param], first: Sequence[str] = ("x",)) -> dict[str, Any]:
    """Annotations (as strings) of a generated public function: arrays in
    and out, numbers or arrays for parameters that take either."""
    hints: dict[str, Any] = {n: "ArrayLike" for n in first}
    for p in params:
        if p.choices is not None:
            hints[p.name] = "str"
        elif p.array:
            hints[p.name] = "float | ArrayLike"
        else:
            hints[p.name] = "int" if type(p.default) is int else "float"
    hints["return"] = "Array"
    return hints


def _array_param(v: Any, name: str, xp: Any, x: Any) -> Any:
    """An array parameter as a float array of x's backend and device."""
    vb, v = _xp.as_float_array(v, name)
    return v if vb is xp else xp.asarray_like(v, x)


def evaluate(fn: Math, x: Any, values: tuple[Any, ...], xp: Any, promote32: bool) -> Any:
    """``fn(x, *values, xp=xp)`` in working precision, rounded once to x's dtype."""
    xw, out_dtype = _xp.to_working(xp, x, promote32)
    if xw.dtype != x.dtype:
        values = tuple(xp.astype(v, xw.dtype) if _xp.is_array(v) else v for v in values)
    y = fn(xw, *values, xp=xp)
    return _xp.as_ndarray(_xp.astype_rounded(y, out_dtype, xp=xp))


def activation(
    *,
    family: str,
    latex: str,
    dlatex: str,
    derivative: Math,
    properties: Properties,
    reference: str,
    params: tuple[Param, ...] = (),
    param_derivatives: Mapping[str, Math] | None = None,
    promote32: tuple[str, ...] = (),
    prepare: Callable[..., tuple[Any, ...]] | None = None,
    xlim: tuple[float, float] = (-5.0, 5.0),
    ylim: tuple[float, float] | None = None,
    notes: str = "",
    name: str | None = None,
    domain: tuple[float, float] | None = None,
    undefined_at_inf: tuple[str, ...] = (),
) -> Callable[[Math], ElementwiseFunction]:
    """Decorate the forward math of an element-wise function.

    The decorated name becomes the public function ``f(x, /, *params)``; it
    gains ``f.derivative(x, *params, wrt="x")`` and ``f.entry`` (its registry
    entry). PyTorch tensors go through a ``torch.autograd.Function`` whose
    backward is ``derivative``.

    ``domain`` (lo, hi): the closed interval where the function is real (NaN
    outside, logit's [0, 1]); ``undefined_at_inf`` names what ("value",
    "derivative") has no limit at +-inf (a sine's), NaN there. Both are kept
    in the entry's ``extra`` for the generic tests.
    """

    def build(math: Math) -> ElementwiseFunction:
        fname = name or math.__name__
        spec = ElementwiseSpec(
            name=fname,
            math=math,
            derivative=derivative,
            params=params,
            param_derivatives=dict(param_derivatives or {}),
            promote32=promote32,
            prepare=prepare,
        )

        lanes: dict[type, Any] = {}

        def lanes_for(x: Any) -> Any:
            t = type(x)
            got = lanes.get(t, _UNRESOLVED)
            if got is _UNRESOLVED:
                backend = _backend.resolved_backend(t)
                if backend is None and hasattr(x, "dtype"):
                    backend = _backend.backend_of(x)  # an array type seen for the first time
                if backend is None:
                    return None  # numbers, lists: the function's own path
                got = lanes[t] = backend.elementwise_lanes(spec)
            return got

        def call(x: Any, values: tuple[Any, ...]) -> Any:
            fast = lanes_for(x)
            if fast is not None:
                y = fast[0](x, values)
                if y is not NotImplemented:
                    return y
            return spec(x, spec.checked(values))

        def grad(x: Any, values: tuple[Any, ...], wrt: str = "x") -> Any:
            fast = lanes_for(x) if wrt == "x" else None
            if fast is not None:
                d = fast[1](x, values)
                if d is not NotImplemented:
                    return d
            return spec.grad(x, spec.checked(values), wrt)

        positional = [(p.name, REQUIRED_ARG if p.default is REQUIRED else p.default) for p in params]
        hints = param_annotations(params)
        public = generated_function(
            fname, fname, math.__module__, positional, (), call, math.__doc__, annotations=hints
        )
        public_derivative = generated_function(
            f"{fname}_derivative", f"{fname}.derivative", math.__module__, positional, [("wrt", "x")], grad,
            f"Derivative of :func:`{fname}`: ${dlatex}$.\n\n"
            f"``wrt`` selects the variable: 'x' (default)"
            + "".join(f", {k!r}" for k in spec.param_derivatives)
            + " (an element-wise partial derivative, shaped like x)."
            + (f"\n\n{notes}" if notes else ""),
            annotations={**hints, "wrt": "str"},
        )
        entry = register(
            Entry(
                name=fname,
                kind="elementwise",
                family=family,
                function=public,
                params=params,
                latex=latex,
                dlatex=dlatex,
                properties=properties,
                reference=reference,
                derivative=public_derivative,
                xlim=xlim,
                ylim=ylim,
                notes=notes,
                extra={"spec": spec, "domain": domain, "undefined_at_inf": undefined_at_inf},
            )
        )
        public.derivative = public_derivative  # type: ignore[attr-defined]
        public.entry = entry  # type: ignore[attr-defined]
        public.spec = spec  # type: ignore[attr-defined]
        return public  # type: ignore[return-value]

    return build
