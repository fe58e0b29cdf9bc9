"""The ``simplex_map`` decorator: one definition of a vector map (softmax,
sparsemax, ...) along an axis, its vector-Jacobian and Jacobian-vector
products, turned into the public function, its public ``vjp``/``jvp``/
``jacobian``, the PyTorch autograd registration and the registry entry.

The math functions always work on the **last** axis; the front-end moves the
requested ``axis`` there and back, divides by the temperature, and handles
half precision (computed in float32, rounded once).

Signatures of the pieces (``y`` is the map's output, ``x`` its input after the
temperature, both with the map's axis last; ``params`` in declaration order):

- ``forward(x, *params, xp) -> y``
- ``vjp(x, y, g, *params, xp) -> g @ J``  (the gradient of ``<g, map(x)>``)
- ``jvp(x, y, v, *params, xp) -> J @ v``  (optional; defaults to ``vjp`` for
  maps whose Jacobian is symmetric, which every map here has)
- ``param_vjp(x, y, g, *params, xp) -> tuple``  (optional): for each
  parameter, the gradient of ``<g, map(x)>`` with respect to it, reduced over
  the map's axis (kept, size 1), or None. Used for parameters passed as
  tensors that require grad (a learned alpha); an array parameter with as
  many axes as ``x`` has its ``axis`` moved last with ``x``.

Maps that the front-end divides by the temperature and that are
shift-invariant (``shift_invariant=True``: sparsemax, entmax) get rows whose
quotient would overflow shifted first, so their top entry stays finite.

With ``exact_temperature=True`` the front-end does not divide x by the
temperature: the pieces receive the raw x and two leading parameters
``num, den`` (the map is applied to ``x * num / den``), so the math can form
the scaled differences exactly; their ``vjp``/``jvp`` include the chain-rule
factor ``num/den``. Such maps also take ``beta=`` (``num = beta``), the
inverse temperature of the Boltzmann form.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from . import _xp
from ._activation import param_annotations
from ._backend import backend_of as xp_of
from ._codegen import REQUIRED_ARG, generated_function
from .registry import REQUIRED, Entry, Param, Properties, is_finite, plain_number, register

__all__ = ["MapSpec", "simplex_map", "check_temperature", "move_axis_last", "normalize_axis"]

Math = Callable[..., Any]


class MapFunction(Protocol):
    """A public vector map ``f(x, /, *params, axis=-1, ...)`` with its
    ``vjp``, ``jvp``, ``jacobian``, registry entry and spec attached."""

    vjp: Callable[..., Any]
    jvp: Callable[..., Any]
    jacobian: Callable[..., Any]
    entry: Entry
    spec: MapSpec

    def __call__(self, x: Any, /, *params: Any, **options: Any) -> Any: ...


def check_temperature(temperature: Any, owner: str) -> float:
    """A non-zero finite number, else ValueError naming it."""
    temperature = plain_number(temperature)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"{owner}(): temperature must be a number, got {type(temperature).__name__}")
    t = float(temperature)
    if t == 0.0 or not is_finite(t):
        raise ValueError(f"{owner}(): temperature must be non-zero and finite, got {temperature!r}")
    return t


def normalize_axis(axis: Any, ndim: int, owner: str) -> int:
    """``axis`` as an int in ``[0, ndim)``: Python and NumPy integers (anything
    with ``__index__`` but a bool), else a ValueError naming it. A 0-d array
    takes axis 0 or -1, as ``torch.softmax`` does."""
    try:
        if isinstance(axis, (bool, np.bool_)):
            raise TypeError
        a = operator.index(axis)
    except TypeError:
        raise ValueError(f"{owner}(): axis must be an integer, got {axis!r}") from None
    n = max(ndim, 1)
    if not -n <= a < n:
        raise ValueError(f"{owner}(): axis {axis!r} is out of range for x with {ndim} axes")
    return a % n


SCALAR = -1
"""The axis :func:`move_axis_last` returns for a 0-d input taken as one class."""


def move_axis_last(x: Any, axis: Any, xp: Any, owner: str, scalar: bool = False) -> tuple[Any, int]:
    """``x`` with ``axis`` moved to the end, and the normalised axis.

    A 0-d ``x`` is a ValueError, or with ``scalar=True`` a single class (as
    ``torch.softmax(t, 0)`` and ``scipy.special.softmax`` take it): ``x`` of
    shape (1,) and the axis :data:`SCALAR`, which :func:`move_axis_back` undoes.
    """
    if x.ndim == 0 and not scalar:
        raise ValueError(f"{owner}(): x must have at least one axis, got a 0-d array")
    ax = normalize_axis(axis, x.ndim, owner)
    if x.ndim == 0:
        return xp.reshape(x, (1,)), SCALAR
    if ax == x.ndim - 1:
        return x, ax
    return _moveaxis(x, ax, x.ndim - 1, xp), ax


def _divide(x: Any, t: float, xp: Any, shift: bool) -> Any:
    """``x / t`` without an overflow warning. Past the float range the
    quotient is +-inf; for a map that is shift-invariant (``map(z + c) =
    map(z)``) the rows where that can happen are first shifted so that their
    top entry in ``z = x / t`` is 0: only entries that lie beyond the float
    range below it (outside any sparse support) become -inf."""
    if abs(t) >= 1.0:
        return x / t
    with xp.quiet():
        if shift:
            fin = xp.isfinite(x)
            xf = xp.where(fin, x, 0.0)
            big = xp.max(xp.abs(xf), axis=-1, keepdims=True) > float(xp.finfo(x.dtype).max) * abs(t)
            top = xp.max(xf, axis=-1, keepdims=True) if t > 0 else xp.min(xf, axis=-1, keepdims=True)
            x = x - xp.detach(xp.where(big, top, 0.0))
        return x / t


def _empty(x: Any) -> bool:
    return any(n == 0 for n in x.shape)


def _broadcast_to(v: Any, shape: tuple[int, ...], xp: Any, what: str) -> Any:
    """``v`` broadcast to ``shape`` (a copy, so kernels that read rows see
    whole rows), else a ValueError naming ``what``."""
    vs = tuple(v.shape)
    if vs == shape:
        return v
    pad = (1,) * (len(shape) - len(vs)) + vs
    if len(vs) > len(shape) or any(a not in (1, b) for a, b in zip(pad, shape)):
        raise ValueError(f"{what} has shape {vs}, which does not broadcast to x's shape {shape}")
    return xp.broadcast_to(xp.reshape(v, pad), shape) + 0.0


def _moveaxis(x: Any, src: int, dst: int, xp: Any) -> Any:
    if hasattr(xp, "moveaxis"):
        return xp.moveaxis(x, src, dst)
    order = list(range(x.ndim))
    order.insert(dst, order.pop(src))
    return xp.permute_dims(x, tuple(order))


def move_axis_back(y: Any, axis: int, xp: Any) -> Any:
    if axis == SCALAR:
        return xp.reshape(y, ())
    if axis == y.ndim - 1:
        return y
    return _moveaxis(y, y.ndim - 1, axis, xp)


@dataclass(eq=False)
class MapSpec:
    """One vector map: its math on the last axis and its derivative products."""

    name: str
    forward: Math
    vjp: Math
    jvp: Math | None = None
    params: tuple[Param, ...] = ()
    temperature: bool = True
    save_input: bool = False
    param_vjp: Math | None = None
    exact_temperature: bool = False
    masks: bool = False
    shift_invariant: bool = False

    def scale_values(self, temperature: Any, beta: Any) -> tuple[float, float]:
        """``(num, den)`` for maps that apply the temperature in their math."""
        if beta is None:
            return 1.0, check_temperature(temperature, self.name)
        beta, temperature = plain_number(beta), plain_number(temperature)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)):
            raise TypeError(f"{self.name}(): beta must be a number, got {type(beta).__name__}")
        if not is_finite(beta):
            raise ValueError(f"{self.name}(): beta must be finite, got {beta!r}")
        if not (isinstance(temperature, (int, float)) and temperature == 1.0):
            raise ValueError(f"{self.name}(): give temperature or beta, not both")
        return float(beta), 1.0

    def all_values(self, values: tuple[Any, ...], temperature: Any, beta: Any) -> tuple[Any, ...]:
        if not self.exact_temperature:
            if beta is not None:
                raise TypeError(f"{self.name}() got an unexpected keyword argument 'beta'")
            return values
        return (*self.scale_values(temperature, beta), *values)

    def divides(self, temperature: Any) -> bool:
        """True when the front-end itself divides by the temperature."""
        return self.temperature and not self.exact_temperature and temperature != 1.0

    def checked(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Validate parameters (defaults are known good and pass untouched)."""
        return tuple(v if v is p.default else p.check(v, self.name) for p, v in zip(self.params, values))

    def prepare(self, x: Any, axis: int, temperature: Any):
        """``(xp, x_last, axis, out_dtype)``: x as a float array in working
        precision, divided by the temperature, with ``axis`` last."""
        xp, x = _xp.as_float_array(x)
        x, axis = move_axis_last(x, axis, xp, self.name, scalar=True)
        if xp.native_low_precision(self.name, x):
            xw, out_dtype = x, x.dtype
        else:
            xw, out_dtype = _xp.to_working(xp, x)
        if self.temperature:
            t = check_temperature(temperature, self.name)
            if t != 1.0 and not self.exact_temperature:
                xw = _divide(xw, t, xp, self.shift_invariant)
        return xp, xw, axis, out_dtype

    def finish(self, y: Any, axis: int, out_dtype: Any, xp: Any) -> Any:
        y = y if y.dtype == out_dtype else xp.astype(y, out_dtype)
        return move_axis_back(y, axis, xp)

    def align(self, values: tuple[Any, ...], axis: int, ndim: int, xp: Any) -> tuple[Any, ...]:
        """Array parameters get ``axis`` moved last, like x: they broadcast
        against x in the caller's layout (one with fewer axes than x gets
        leading axes of size 1 first, as NumPy broadcasting aligns it)."""
        if axis == SCALAR:
            return values
        out = []
        for v in values:
            if not _xp.is_array(v):  # (isinstance: tracers answer it for symbolic floats)
                out.append(v)
                continue
            n = getattr(v, "ndim", 0)
            if 0 < n < ndim:
                v = xp_of(v).reshape(v, (1,) * (ndim - n) + tuple(v.shape))
                n = ndim
            out.append(_moveaxis(v, axis, ndim - 1, xp_of(v)) if n == ndim and axis != ndim - 1 else v)
        return tuple(out)

    def __call__(self, x: Any, values: tuple[Any, ...], axis: int, temperature: Any, beta: Any = None,
                 where: Any = None) -> Any:
        values = self.all_values(values, temperature, beta)
        if where is not None:
            from ._masking import masked_input

            x, values = masked_input(self, x, where, temperature, values)
        xp, xw, ax, out_dtype = self.prepare(x, axis, temperature)
        if _empty(xw):  # as torch.softmax: an empty result, a zero-size gradient
            return self.finish(xw * 0.0, ax, out_dtype, xp)
        values = self.align(values, ax, xw.ndim, xp)
        y = xp.apply_map(self, xw, values)
        return self.finish(y, ax, out_dtype, xp)

    def product(
        self, which: str, x: Any, v: Any, values: tuple[Any, ...], axis: int, temperature: Any, beta: Any = None
    ) -> Any:
        """The VJP or JVP at ``x`` applied to ``v`` (same shape as x), along ``axis``."""
        values = self.all_values(values, temperature, beta)
        _, x = _xp.as_float_array(x)
        arg = "g" if which == "vjp" else "v"
        _, v = _xp.as_float_array(v, arg)
        v = _broadcast_to(v, tuple(x.shape), xp_of(x), f"{self.name}.{which}(): {arg}")
        xp, xw, ax, out_dtype = self.prepare(x, axis, temperature)
        v, _ = move_axis_last(v, axis, xp, self.name, scalar=True)
        v = xp.astype(v, xw.dtype) if v.dtype != xw.dtype else v
        if _empty(xw):
            return self.finish(v * 0.0, ax, out_dtype, xp)
        values = self.align(values, ax, xw.ndim, xp)
        y = self.forward(xw, *values, xp=xp)
        fn = self.vjp if which == "vjp" or self.jvp is None else self.jvp
        out = fn(xw, y, v, *values, xp=xp)
        if self.divides(temperature):
            out = out / float(temperature)
        return self.finish(out, ax, out_dtype, xp)

    def jacobian(self, x: Any, values: tuple[Any, ...], axis: int, temperature: Any, beta: Any = None) -> Any:
        """The (..., K, K) Jacobian d map_i / d x_j, built from the VJP."""
        values = self.all_values(values, temperature, beta)
        xp, xw, ax, out_dtype = self.prepare(x, axis, temperature)
        k = xw.shape[-1]
        values = self.align(values, ax, xw.ndim, xp)
        y = self.forward(xw, *values, xp=xp)
        # array parameters (..., 1) broadcast against (..., K, K) with a new axis
        values = tuple(xp.expand_dims(v, axis=-2) if getattr(v, "ndim", 0) == xw.ndim else v for v in values)
        eye = xp.eye_like(k, xw)
        # Row i of J is the VJP with the i-th basis vector: J[..., i, :] = e_i @ J.
        xe, ye = xp.expand_dims(xw, axis=-2), xp.expand_dims(y, axis=-2)
        shape = tuple(xw.shape[:-1]) + (k, k)
        xe = xp.broadcast_to(xe, shape)
        ye = xp.broadcast_to(ye, shape)
        g = xp.broadcast_to(eye, shape)
        jac = self.vjp(xe, ye, g, *values, xp=xp)
        if self.divides(temperature):
            jac = jac / float(temperature)
        jac = jac if jac.dtype == out_dtype else xp.astype(jac, out_dtype)
        if ax not in (SCALAR, xw.ndim - 1):
            raise ValueError(f"{self.name}.jacobian(): only axis=-1 is supported")
        return jac


def _temperature_param(sweep: tuple[float, ...]) -> tuple[Param, ...]:
    if not sweep:
        return ()
    return (
        Param(
            "temperature", 1.0, "non-zero, finite",
            valid=lambda t: t != 0 and is_finite(t), sweep=tuple(sweep),
            doc="the map is applied to x / temperature (keyword-only)",
        ),
    )


def simplex_map(
    *,
    family: str,
    latex: str,
    dlatex: str,
    vjp: Math,
    reference: str,
    jvp: Math | None = None,
    params: tuple[Param, ...] = (),
    temperature: bool = True,
    properties: Properties | None = None,
    notes: str = "",
    name: str | None = None,
    extra: Mapping[str, Any] | None = None,
    exact_temperature: bool = False,
    temperature_sweep: tuple[float, ...] = (),
    param_vjp: Math | None = None,
    masks: bool = False,
    shift_invariant: bool = False,
) -> Callable[[Math], MapFunction]:
    """Decorate the forward math of a map along an axis (last axis in the math).

    The public function is ``f(x, /, *params, axis=-1, temperature=1.0)``
    (no ``temperature`` when ``temperature=False``; ``where=`` when ``masks``:
    see :mod:`actlab._masking`); it gains ``f.vjp(x, g,
    ...)``, ``f.jvp(x, v, ...)``, ``f.jacobian(x, ...)`` and ``f.entry``.
    """

    def build(forward: Math) -> MapFunction:
        fname = name or forward.__name__
        spec = MapSpec(
            fname, forward, vjp, jvp, tuple(params), temperature,
            exact_temperature=exact_temperature, param_vjp=param_vjp, shift_invariant=shift_invariant,
            masks=masks,
        )

        def call(x: Any, values: tuple[Any, ...], axis: int = -1, temperature: Any = 1.0, beta: Any = None,
                 where: Any = None) -> Any:
            return spec(x, spec.checked(values), axis, temperature, beta, where)

        def product(which: str) -> Callable[..., Any]:
            def run(x: Any, v: Any, values: tuple[Any, ...], axis: int = -1, temperature: Any = 1.0,
                    beta: Any = None) -> Any:
                return spec.product(which, x, v, spec.checked(values), axis, temperature, beta)

            return run

        def jacobian(x: Any, values: tuple[Any, ...], axis: int = -1, temperature: Any = 1.0, beta: Any = None) -> Any:
            return spec.jacobian(x, spec.checked(values), axis, temperature, beta)

        positional = [(p.name, REQUIRED_ARG if p.default is REQUIRED else p.default) for p in params]
        kw: list[tuple[str, Any]] = [("axis", -1)]
        if temperature:
            kw.append(("temperature", 1.0))
        if exact_temperature:
            kw.append(("beta", None))
        public_kw = [*kw, ("where", None)] if masks else kw
        mod = forward.__module__
        hints = param_annotations(params)
        hints.update(axis="int", temperature="float", beta="float | None", where="Any")
        public = generated_function(fname, fname, mod, positional, public_kw, call, forward.__doc__, annotations=hints)
        public_vjp, public_jvp = (
            generated_function(
                f"{fname}_{w}", f"{fname}.{w}", mod, positional, kw, product(w), doc, first=("x", "g" if w == "vjp" else "v")
            )
            for w, doc in (
                ("vjp", f"Vector-Jacobian product of :func:`{fname}`: the gradient of <g, {fname}(x)>. ${dlatex}$"),
                ("jvp", f"Jacobian-vector product of :func:`{fname}`: J v. ${dlatex}$"),
            )
        )
        public_jacobian = generated_function(
            f"{fname}_jacobian", f"{fname}.jacobian", mod, positional, kw, jacobian,
            f"The (..., K, K) Jacobian of :func:`{fname}` along the last axis. ${dlatex}$",
        )
        entry = register(
            Entry(
                name=fname,
                kind="simplex",
                family=family,
                function=public,
                params=tuple(params) + _temperature_param(temperature_sweep),
                latex=latex,
                dlatex=dlatex,
                properties=properties,
                reference=reference,
                derivative=public_vjp,
                notes=notes,
                extra={"spec": spec, **(extra or {})},
            )
        )
        public.vjp = public_vjp  # type: ignore[attr-defined]
        public.jvp = public_jvp  # type: ignore[attr-defined]
        public.jacobian = public_jacobian  # type: ignore[attr-defined]
        public.entry = entry  # type: ignore[attr-defined]
        public.spec = spec  # type: ignore[attr-defined]
        return public  # type: ignore[return-value]

    return build


_ = field  # dataclasses.field kept for subclasses' use
