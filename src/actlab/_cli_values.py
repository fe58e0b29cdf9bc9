"""What the command line computes and how it reads its arguments: parameter
values (``--param beta=0.1,1,10``), number lists, the value tables of
``actlab show`` and the side-by-side table of ``actlab compare``.

Everything here raises :class:`CommandError` with a message meant for the
user; :func:`actlab.cli.main` prints it and exits with status 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._describe import format_number
from .registry import Entry, Param, get, registry

__all__ = ["CommandError", "parse_floats", "parse_params", "show_values", "compare_rows"]

LAYOUT = ("axis", "pieces")
DEFAULT_POINTS = (-math.inf, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, math.inf)
DEFAULT_VECTOR = (3.0, 1.0, 0.2, -1.0)


class CommandError(Exception):
    """A mistake in the command line, explained."""


def parse_floats(text: str, what: str) -> list[float]:
    """``"1, 2,-3e-1"`` -> ``[1.0, 2.0, -0.3]``; CommandError naming ``what`` otherwise."""
    out = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        try:
            out.append(float(part))
        except ValueError:
            raise CommandError(f"{what} must be numbers separated by commas, got {part!r} in {text!r}") from None
    if not out:
        raise CommandError(f"{what}: no number given")
    return out


def _accepted(e: Entry) -> dict[str, Param | None]:
    from .plot.curves import takes_temperature

    accepted: dict[str, Param | None] = {p.name: p for p in e.params if p.name not in LAYOUT}
    if e.kind == "simplex" and takes_temperature(e):
        accepted["temperature"] = None
    return accepted


def _convert(e: Entry, name: str, param: Param | None, text: str) -> Any:
    if param is not None and param.choices is not None:
        return param.check(text, e.name)
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{e.name}: {name} must be a number, got {text!r}") from None
    try:
        if param is None:  # temperature of a vector map
            from ._simplex import check_temperature

            return check_temperature(value, e.name)
        return param.check(value, e.name)
    except OverflowError:  # an integer parameter given as 1e400
        raise CommandError(f"{e.name}: {name} must be a finite number, got {text!r}") from None


def parse_params(e: Entry, items: Sequence[str], several: bool) -> dict[str, list[Any]]:
    """``["beta=0.1,1,10"]`` -> ``{"beta": [0.1, 1.0, 10.0]}``, each value checked
    against the parameter's range; ``several=False`` allows one value each."""
    accepted = _accepted(e)
    out: dict[str, list[Any]] = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name or not text.strip():
            raise CommandError(f"--param expects NAME=VALUE, got {item!r}")
        if name not in accepted:
            known = ", ".join(accepted) or "none"
            raise CommandError(f"{e.name} has no parameter {name!r}; its parameters: {known}")
        values = [_convert(e, name, accepted[name], t.strip()) for t in text.split(",") if t.strip()]
        if len(values) > 1 and not several:
            raise CommandError(f"one value per parameter here, got {len(values)} for {name}")
        out[name] = values
    return out


def show_values(
    e: Entry, params: dict[str, Any], at: Sequence[float] | None, digits: int = 10
) -> list[tuple[str, list[str], list[list[str]]]]:
    """Value tables for ``actlab show``: ``[(caption, header, rows), ...]``."""
    from .plot.curves import MAXOUT_PIECES, curve, plot_params

    blocks = []
    if e.kind in ("reduction", "stochastic"):
        return _vector_values(e, params, at, digits)
    if e.kind == "simplex":
        z = np.asarray(at if at else DEFAULT_VECTOR, dtype=float)
        kwargs = plot_params(e, params)
        if not at and not _accepts(e, z, kwargs):  # a map of non-negative scores (sum_normalize)
            z = np.abs(z)
        with np.errstate(all="ignore"):
            p = np.asarray(e.function(z, **kwargs), dtype=float)
        rows = [[str(i + 1), format_number(float(zi)), format_number(float(pi), digits)] for i, (zi, pi) in enumerate(zip(z, p, strict=True))]
        rows.append(["sum", "", format_number(float(p.sum()), digits)])
        blocks.append((f"{e.name}(z) on z = [{', '.join(format_number(float(v)) for v in z)}]",
                       ["i", "z_i", f"{e.name}(z)_i"], rows))
        if at:
            return blocks
    xs = np.asarray(at if at and e.kind != "simplex" else
                    DEFAULT_POINTS if e.kind == "elementwise" else [v for v in DEFAULT_POINTS if math.isfinite(v)],
                    dtype=float)
    if e.kind == "simplex" and not _accepts(e, np.stack([xs, 0 * xs], -1), plot_params(e, params)):
        xs = xs[xs >= 0]  # the scores [t, 0] of a map of non-negative scores
    with np.errstate(all="ignore"):
        c = curve(e, xs, params)
    header = [c.xlabel.split("  ")[0], c.ylabel.replace("$", ""), c.dlabel.replace("$", "")]
    rows = [[format_number(float(x)), format_number(float(y), digits), "" if c.dy is None else format_number(float(d), digits)]
            for x, y, d in zip(xs, c.y, c.dy if c.dy is not None else xs, strict=True)]
    pieces = ", ".join(_linear(a, b) for a, b in e.extra.get("pieces", MAXOUT_PIECES))
    caption = {"gated": "the gate a * g(b) with a = 1", "grouped": f"the maximum of the pieces {pieces}",
               "simplex": "first output on scores [t, 0]", "loss": "loss of scores [t, 0], class 0 correct"}.get(e.kind, "")
    blocks.append((caption, header, rows))
    return blocks


def _accepts(e: Entry, z: np.ndarray, kwargs: dict[str, Any]) -> bool:
    try:
        with np.errstate(all="ignore"):
            e.function(z, **kwargs)
    except ValueError:
        return False
    return True


def _vector_values(e: Entry, params: dict[str, Any], at: Sequence[float] | None, digits: int):
    """``show`` for a reduction (logsumexp: one number per score vector) and a
    random map (Gumbel-softmax: one draw, with a fixed seed so that the table
    is reproducible)."""
    from .plot.curves import plot_params

    z = np.asarray(at if at else DEFAULT_VECTOR, dtype=float)
    kwargs = plot_params(e, params)
    if e.kind == "stochastic":
        kwargs["generator"] = 0
    with np.errstate(all="ignore"):
        y = np.asarray(e.function(z, **kwargs), dtype=float)
    zs = f"[{', '.join(format_number(float(v)) for v in z)}]"
    if e.kind == "reduction":
        return [(f"{e.name}(z) on z = {zs}", ["z", f"{e.name}(z)"], [[zs, format_number(float(y), digits)]])]
    rows = [[str(i + 1), format_number(float(zi)), format_number(float(yi), digits)]
            for i, (zi, yi) in enumerate(zip(z, y, strict=True))]
    rows.append(["sum", "", format_number(float(y.sum()), digits)])
    return [(f"{e.name}(z) on z = {zs}, one draw (seed 0)", ["i", "z_i", f"{e.name}(z)_i"], rows)]


def _linear(slope: float, intercept: float) -> str:
    """``0.5x - 1`` for (0.5, -1); ``-x`` for (-1, 0)."""
    head = {1.0: "x", -1.0: "-x", 0.0: ""}.get(slope, f"{slope:g}x")
    if intercept == 0.0:
        return head or "0"
    sign = "-" if intercept < 0 else "+"
    return f"{head} {sign} {abs(intercept):g}" if head else f"{intercept:g}"


def compare_rows(scores: Sequence[float], maps: Sequence[str], temperature: float, digits: int):
    """``(header, rows, problems, drawn)`` for ``actlab compare``: one row per
    score, one column per map that could be applied; ``problems`` explains
    each map that could not; ``drawn`` is ``[(name, probabilities), ...]``."""
    from .plot.curves import takes_temperature

    if not math.isfinite(temperature) or temperature == 0.0:
        raise CommandError(f"--temperature must be non-zero and finite, got {temperature!r}")
    known = {e.name for e in registry()}
    z = np.asarray(scores, dtype=float)
    drawn: list[tuple[str, np.ndarray]] = []
    problems = []
    for name in maps:
        if name not in known:
            problems.append(f"{name}: not registered in this version of actlab")
            continue
        e = get(name)
        if e.kind != "simplex":
            problems.append(f"{name}: not a vector map (kind {e.kind}); compare takes maps such as softmax")
            continue
        kwargs: dict[str, Any] = {}
        if takes_temperature(e):
            kwargs["temperature"] = temperature
        elif temperature != 1.0:
            problems.append(f"{name}: takes no temperature; applied to the scores as given")
        try:
            p = np.asarray(e.function(z, **kwargs), dtype=float)
        except (ValueError, TypeError) as exc:
            problems.append(f"{name}: cannot be applied to these scores: {exc}")
            continue
        drawn.append((name, p))
    header = ["i", "z_i", *(n for n, _ in drawn)]
    rows = [[str(i + 1), format_number(float(zi)), *(format_number(float(p[i]), digits) for _, p in drawn)]
            for i, zi in enumerate(z)]
    if drawn:
        rows.append(["sum", "", *(format_number(float(p.sum()), digits) for _, p in drawn)])
        rows.append(["non-zero", "", *(str(int(np.count_nonzero(p))) for _, p in drawn)])
    return header, rows, problems, drawn
