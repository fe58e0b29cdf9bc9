"""MkDocs hook: the API reference pages are filled from actlab's registry.

A page of ``docs/api/`` that contains the line ``<!-- actlab-entries: PAGE -->``
gets, in its place, one section per registered function that belongs on
``PAGE`` (see :func:`page_of`): the formula and the derivative (rendered to SVG
offline with matplotlib's mathtext, as the gallery does), the facts of the
registry entry, the measured accuracy (the rows of ``docs/accuracy.md`` that
name the function), the gallery's figure of the function and its derivative,
and the docstring (parameters, returns, the doctested example) through
mkdocstrings. A function added to the registry appears on its page without
any page being edited.

The figures and formulas are drawn once per build into a temporary folder and
added to the site as generated files (``api/img/``); nothing is fetched from
the network.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from mkdocs.structure.files import File

MARKER = re.compile(r"^<!-- actlab-entries: *([a-z_]+) *-->$", re.M)
PAGES = ("elementwise", "softmax", "sparse", "losses")
_DOCS = Path(__file__).resolve().parents[1]
_IMG = "api/img"
_tmp: Path | None = None


def page_of(entry) -> str:
    """The API page a registry entry is documented on."""
    if entry.kind == "loss":
        return "losses"
    if entry.kind in ("elementwise", "gated", "grouped"):
        return "elementwise"
    if entry.family == "sparse":
        return "sparse"
    return "softmax"


def _entries():
    import actlab

    return list(actlab.registry())


def _accuracy_rows() -> dict[str, list[tuple[str, str, list[str], list[str]]]]:
    """``name -> [(section, label, header, cells)]`` from the tables of docs/accuracy.md."""
    rows: dict[str, list[tuple[str, str, list[str], list[str]]]] = {}
    path = _DOCS / "accuracy.md"
    if not path.is_file():
        return rows
    section, header = "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section, header = line[3:].strip(), []
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            m = re.fullmatch(r"`([A-Za-z0-9_]+)(\[.*\])?`", cells[0])
            if m is None:
                header = cells
            elif header:
                rows.setdefault(m.group(1), []).append((section, m.group(0), header, cells))
    return rows


def _draw(entries, out: Path) -> dict[str, set[str]]:
    """Formula SVGs and function figures for ``entries`` into ``out``; returns what was drawn."""
    from actlab.plot.figures import function_figure
    from actlab.plot.formula import render_formula
    from actlab.plot.gallery import DRAWN_KINDS
    from actlab.plot.style import save_figure

    drawn: dict[str, set[str]] = {}
    for e in entries:
        have = drawn.setdefault(e.name, set())
        if render_formula(e.latex, str(out / f"{e.name}.svg")):
            have.add("f")
        if e.dlatex and render_formula(e.dlatex, str(out / f"{e.name}-d.svg")):
            have.add("d")
        if e.kind in DRAWN_KINDS:
            fig = function_figure(e)
            save_figure(fig, out / f"{e.name}.png", dpi=80)
            have.add("fig")
    return drawn


_drawn: dict[str, set[str]] = {}


def on_files(files, config):
    global _tmp, _drawn
    _tmp = Path(tempfile.mkdtemp(prefix="actlab-docs-"))
    _drawn = _draw(_entries(), _tmp)
    for p in sorted(_tmp.iterdir()):
        files.append(File.generated(config, f"{_IMG}/{p.name}", abs_src_path=os.fspath(p)))
    return files


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _section(e, accuracy) -> str:
    from actlab._describe import params_text

    have = _drawn.get(e.name, set())
    formula = f"![{_md_escape(e.latex)}](img/{e.name}.svg)" if "f" in have else f"`{_md_escape(e.latex)}`"
    deriv = (f"![{_md_escape(e.dlatex)}](img/{e.name}-d.svg)" if "d" in have
             else f"`{_md_escape(e.dlatex)}`" if e.dlatex else "—")
    rng = e.properties.range_text() if e.properties else "—"
    lines = [
        f"### `{e.name}` {{#{e.name}}}", "",
        "| | |", "|---|---|",
        f"| function | {formula} |",
        f"| derivative | {deriv} |",
        f"| family | {e.family} ({e.kind}) |",
        f"| output range | {_md_escape(rng)} |",
        f"| parameters | {_md_escape(params_text(e.params) or 'none')} |",
        f"| reference | {_md_escape(e.reference or '—')} |",
    ]
    if e.notes:
        lines.append(f"| notes | {_md_escape(e.notes)} |")
    lines.append("")
    rows = accuracy.get(e.name, [])
    if rows:
        lines += ["Largest error in ULPs against mpmath (from [the accuracy tables](../accuracy.md)):", ""]
        header = rows[0][2]
        lines += ["| dtype | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
        lines += [f"| {sec} | " + " | ".join(cells) + " |" for sec, _, _, cells in rows]
        lines.append("")
    if "fig" in have:
        lines += [f"![{e.name} (solid) and its derivative (dashed), as in the gallery](img/{e.name}.png)", ""]
    lines += [f"::: actlab.{e.name}", "    options:", "      show_root_heading: false", "      show_root_toc_entry: false", "      heading_level: 4", ""]
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    m = MARKER.search(markdown)
    if m is None:
        return markdown
    which = m.group(1)
    if which not in PAGES:
        raise ValueError(f"{page.file.src_uri}: unknown actlab-entries page {which!r}; one of {PAGES}")
    accuracy = _accuracy_rows()
    mine = [e for e in _entries() if page_of(e) == which]
    groups: dict[str, list] = {}
    for e in mine:
        groups.setdefault(e.family, []).append(e)
    parts = []
    for fam, es in groups.items():
        parts.append(f"## {fam.capitalize()} ({len(es)})\n")
        parts += [_section(e, accuracy) for e in es]
    return markdown[: m.start()] + "\n".join(parts) + markdown[m.end():]
