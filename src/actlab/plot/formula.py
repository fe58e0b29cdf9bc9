r"""Formulas from the registry's LaTeX, rendered offline with matplotlib's
mathtext (no TeX installation, no network).

mathtext understands most of the LaTeX the entries use, but not all of it:
``\begin{cases}`` (no environments at all), ``\tfrac``, ``\le``/``\ge``,
``\text`` and unbraced arguments such as ``\sqrt2`` fail. :func:`to_mathtext`
rewrites those into equivalents it parses; :func:`mathtext_or_none` returns
``None`` when the result still does not parse, and the gallery then shows
the LaTeX source as text instead of a broken image.

Example:
    >>> to_mathtext(r"\begin{cases}x & x\ge0\\ a x & x<0\end{cases}")
    '\\left\\{\\genfrac{}{}{0}{0}{x \\quad x\\geq0}{a x \\quad x<0}\\right.'
"""

from __future__ import annotations

import functools
import os
import re

__all__ = ["to_mathtext", "mathtext_or_none", "render_formula"]

_SIMPLE = (
    (re.compile(r"\\[td]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\sqrt\s*(\d)"), r"\\sqrt{\1}"),
    (re.compile(r"\\(le|ge|ne)(?![a-zA-Z])"), r"\\\1q"),
    (re.compile(r"\\(?:displaystyle|limits|nolimits|big[lr]?|Big[lr]?|bigg[lr]?|Bigg[lr]?)(?![a-zA-Z])"), ""),
    (re.compile(r"\\boldsymbol(?![a-zA-Z])"), r"\\mathbf"),
    (re.compile(r"\\operatorname\*"), r"\\operatorname"),
    (re.compile(r"\\[lr]Vert(?![a-zA-Z])"), r"\\Vert"),
    (re.compile(r"\\coloneqq(?![a-zA-Z])"), ":="),
    (re.compile(r"\\(?:mathrm|text)\{([^{}]*)\}"), lambda m: r"\mathrm{" + m.group(1).replace(" ", r"\ ") + "}"),
    # a binary minus right after a relation or an opening bracket is a sign
    (re.compile(r"(\\leq|\\geq|<|>|=|\(|\[|\{)\s*-"), r"\1{-}"),
)

_CASES = re.compile(r"\\begin\{cases\}(.*?)\\end\{cases\}", re.S)


def _cases(match: re.Match[str]) -> str:
    rows = [r.strip() for r in match.group(1).split(r"\\") if r.strip()]
    cells = []
    for row in rows:
        value, _, cond = row.partition("&")
        cond = cond.strip()
        cond = re.sub(r"^\\(?:text|mathrm)\{\s*if\s*\}\s*", "", cond)
        cells.append(f"{value.strip()} \\quad {cond}" if cond else value.strip())
    body = cells[-1]
    for cell in reversed(cells[:-1]):  # stack the rows: nested fractions without a bar
        body = "\\genfrac{}{}{0}{0}{" + cell + "}{" + body + "}"
    return "\\left\\{" + body + "\\right."


def to_mathtext(latex: str) -> str:
    """Rewrite ``latex`` into the dialect matplotlib's mathtext parses."""
    s = _CASES.sub(_cases, latex)
    for pattern, repl in _SIMPLE:
        s = pattern.sub(repl, s)
    return s.strip()


@functools.lru_cache(maxsize=512)
def mathtext_or_none(latex: str) -> str | None:
    """``$...$`` ready for matplotlib text if the rewritten formula parses, else ``None``."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    if not latex or not latex.strip():
        return None
    s = "$" + to_mathtext(latex) + "$"
    try:
        MathTextParser("path").parse(s, 72, FontProperties(size=12))
    except Exception:
        return None
    return s


def render_formula(latex: str, path: str | os.PathLike[str], fontsize: float = 15.0) -> bool:
    """Write the formula as an image (format from the extension: svg, png, pdf).

    Returns ``False`` (and writes nothing) when the formula cannot be
    rendered; the caller then shows the LaTeX source.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import math_to_image

    s = mathtext_or_none(latex)
    if s is None:
        return False
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "actlab", "mathtext.fontset": "dejavusans"}):
        math_to_image(s, path, prop=FontProperties(size=fontsize), dpi=150 if ext == "png" else None, format=ext)
    return True
