"""Griffe extension for the API site: actlab's docstrings are written for
``help()`` and doctest (reST roles, bare ``>>>`` examples); this turns them
into Markdown as mkdocstrings reads them. The docstrings themselves are not
changed.

- a run of ``>>>`` lines and their output becomes a ``pycon`` code block;
- ``:math:`x```, ``:func:`f```, ``:class:`C``` and the like become code.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:math|func|class|mod|meth|attr|data|obj|exc):`([^`]*)`")


def markdown_docstring(text: str) -> str:
    """``text`` with its doctest runs fenced and its reST roles turned into code."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        out.append(_ROLE.sub(r"`\1`", line))
        i += 1
    return "\n".join(out)


class ActlabDocstrings(griffe.Extension):
    """Apply :func:`markdown_docstring` to every loaded object."""

    def _fix(self, obj) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)

    def on_instance(self, *, obj, **kwargs) -> None:  # griffe >= 1.0
        self._fix(obj)
