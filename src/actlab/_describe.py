"""Registry entries in words: parameters, properties and plain-text tables,
shared by the command line and the gallery pages.

Example:
    >>> import actlab
    >>> params_text(actlab.get("softplus").params)
    'beta = 1 (> 0)'
    >>> property_flags(actlab.get("sigmoid").properties)
    'monotone, smooth, bounded'
    >>> print(table(["a", "b"], [["x", "1"], ["yy", "22"]]))
    a    b
    --  --
    x    1
    yy  22
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .registry import REQUIRED, Param, Properties

__all__ = ["params_text", "property_flags", "property_items", "format_number", "table"]


def format_number(v: Any, digits: int = 6) -> str:
    """A number in ``digits`` significant digits (``inf``, ``nan`` as such); other values as ``str``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}g}"


def params_text(params: Sequence[Param]) -> str:
    """``beta = 1 (> 0); approximate in {none, tanh}``; layout parameters included."""
    parts = []
    for p in params:
        if p.choices is not None:
            parts.append(f"{p.name} in {{{', '.join(map(str, p.choices))}}} (default {p.default})")
        elif p.default is REQUIRED:
            parts.append(f"{p.name} (required; {p.domain})")
        else:
            dom = f" ({p.domain})" if p.domain not in ("any", "") else ""
            parts.append(f"{p.name} = {format_number(p.default)}{dom}")
    return "; ".join(parts)


def property_items(props: Properties | None) -> list[tuple[str, bool]]:
    """``[(name, holds), ...]`` for monotone, smooth, zero-centred, bounded."""
    if props is None:
        return []
    return [("monotone", props.monotone), ("smooth", props.smooth), ("zero-centred", props.zero_centred),
            ("bounded", props.bounded)]


def property_flags(props: Properties | None) -> str:
    """The properties that hold, comma-separated (``-`` for none or not applicable)."""
    return ", ".join(n for n, v in property_items(props) if v) or "-"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False) -> str:
    """Rows as an aligned plain-text table (or a Markdown table)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(header))]

    def fmt(r: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric, strict=True)).rstrip()

    return "\n".join([fmt(cells[0]), "  ".join("-" * w for w in widths), *(fmt(r) for r in cells[1:])])


def _is_number(s: str) -> bool:
    if not s:
        return True
    try:
        float(s)
    except ValueError:
        return False
    return True
