"""The HTML of the gallery: an index grouped by family, one page per
function, a comparisons page and a style sheet. Plain static files with
relative links: they open from disk (``file://``) or any static server,
and nothing is fetched from the network.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._describe import params_text, property_items
from ..registry import Entry, Properties

__all__ = ["write_site", "CSS", "properties_text"]

CSS = """
:root { --fn: #1f5fa8; --dfn: #d9480f; --ink: #222; --muted: #667; --line: #e3e3e8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); background: #fafafb; }
header.top { background: #1d2733; color: #fff; padding: 14px 28px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
header.top h1 { margin: 0; font-size: 22px; font-weight: 600; }
header.top a { color: #cfe3ff; text-decoration: none; margin-right: 16px; }
header.top a:hover { text-decoration: underline; }
main { max-width: 1240px; margin: 0 auto; padding: 18px 28px 48px; }
a { color: #1f5fa8; }
.lead { color: #333; max-width: 900px; }
.key { display: inline-block; width: 26px; height: 0; border-top: 3px solid var(--fn); vertical-align: middle; margin: 0 4px; }
.key.d { border-top: 3px dashed var(--dfn); }
nav.toc { display: flex; flex-wrap: wrap; gap: 6px 10px; margin: 10px 0 6px; }
nav.toc a { background: #eef3fa; border: 1px solid #d6e2f2; border-radius: 14px; padding: 2px 11px; text-decoration: none; font-size: 14px; }
h2 { overflow-wrap: anywhere; margin: 30px 0 10px; font-size: 19px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h2 .count { color: var(--muted); font-weight: normal; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 14px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; display: flex; flex-direction: column; gap: 6px; min-width: 0; }
.card h3 { margin: 0; font-size: 16px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.card h3 a { text-decoration: none; }
.card .kind { color: var(--muted); font-size: 12px; font-family: system-ui, sans-serif; font-weight: normal; margin-left: 6px; white-space: nowrap; }
.thumb { width: 100%; max-width: 240px; height: auto; align-self: center; }
.formula { min-height: 30px; display: flex; align-items: center; overflow-x: auto; }
.formula img { max-width: 100%; height: auto; max-height: 64px; }
.card .formula img { max-height: 52px; }
code.latex { font-size: 12.5px; color: #444; background: #f3f3f6; padding: 2px 5px; border-radius: 4px; word-break: break-all; }
dl.facts { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.yes { color: #1d6b35; }
.no { color: #9aa0a6; }
.note { background: #fff7e6; border: 1px solid #f3d49b; border-radius: 6px; padding: 8px 12px; font-size: 14px; }
.error { background: #fdecea; border-color: #f5b7b1; }
figure { margin: 18px 0 26px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { color: #333; font-size: 14px; margin-top: 8px; }
figcaption .dl { color: var(--muted); font-size: 13px; margin-left: 8px; }
table.formulas td { padding: 4px 14px 4px 0; vertical-align: middle; }
table.formulas td:first-child { color: var(--muted); white-space: nowrap; }
.pager { display: flex; justify-content: space-between; margin-top: 30px; }
footer { color: var(--muted); font-size: 13px; margin-top: 40px; border-top: 1px solid var(--line); padding-top: 10px; }
"""


FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d2733"/>'
    '<path d="M3 26 C 13 26, 19 6, 29 6" stroke="#5fa8ff" stroke-width="3" fill="none"/>'
    '<path d="M3 24 C 12 24, 13 12, 16 12 C 19 12, 20 24, 29 24" stroke="#ff8a50" stroke-width="2.2" '
    'stroke-dasharray="3 2" fill="none"/></svg>'
)


def esc(s: Any) -> str:
    return html.escape(str(s), quote=True)


def properties_text(props: Properties | None) -> str:
    """HTML list of the properties (true ones plain, false ones greyed), each unbreakable."""
    if props is None:
        return '<span class="no">(not applicable)</span>'
    items = []
    for name, holds in property_items(props):
        text = name.replace("-", "\u2011")  # a non-breaking hyphen
        items.append(f'<span class="yes">{text}</span>' if holds else f'<span class="no">not\u00a0{text}</span>')
    return " &middot; ".join(items)


def _formula(latex: str, stem: str, written: dict[str, tuple[str, ...]], prefix: str) -> str:
    if "svg" in written.get(stem, ()):
        return f'<img src="{prefix}{stem}.svg" alt="{esc(latex)}" title="{esc(latex)}">'
    return f'<code class="latex" title="LaTeX source (mathtext cannot draw it)">{esc(latex)}</code>'


def _page(title: str, body: str, prefix: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<link rel=\"stylesheet\" href=\"{prefix}style.css\">\n"
        f"<link rel=\"icon\" type=\"image/svg+xml\" href=\"{prefix}favicon.svg\">\n</head>\n<body>\n"
        f"<header class=\"top\"><h1>actlab gallery</h1><nav><a href=\"{prefix}index.html\">Functions</a>"
        f"<a href=\"{prefix}comparisons.html\">Comparisons</a><a href=\"{prefix}reproductions.html\">Reproductions</a>"
        f"</nav></header>\n<main>\n{body}\n"
        "<footer>Drawn by <code>actlab gallery</code> with matplotlib; static files only, nothing is loaded "
        "from the network. Function: <span class=\"key\"></span> solid; derivative: <span class=\"key d\"></span> "
        "dashed, in the same colours on every page.</footer>\n</main>\n</body>\n</html>\n"
    )


def _figure(stem: str, caption: str, result: Any, prefix: str) -> str:
    written = result.written.get(stem, ())
    if "png" not in written:
        err = result.errors.get(stem, "not drawn")
        return f'<p class="note error">Figure <code>{esc(stem)}</code> could not be drawn: {esc(err)}</p>'
    extra = " ".join(f'<a href="{prefix}{stem}.{f}">{f.upper()}</a>' for f in written if f != "png")
    dl = f'<span class="dl">download: {extra}</span>' if extra else ""
    return (f'<figure><img src="{prefix}{stem}.png" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}{dl}</figcaption></figure>")


def _families(entries: Sequence[Entry]) -> dict[str, list[Entry]]:
    fams: dict[str, list[Entry]] = {}
    for e in entries:
        fams.setdefault(e.family, []).append(e)
    return fams


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower())


def _card(e: Entry, result: Any) -> str:
    thumb = f"thumb/{e.name}"
    img = (f'<a href="f/{e.name}.html"><img class="thumb" src="{thumb}.png" alt="{esc(e.name)}: function and derivative"></a>'
           if "png" in result.written.get(thumb, ()) else "")
    rng = e.properties.range_text() if e.properties else "&mdash;"
    return (f'<article class="card" id="{esc(e.name)}">{img}'
            f'<h3><a href="f/{e.name}.html">{esc(e.name)}</a><span class="kind">{esc(e.kind)}</span></h3>'
            f'<div class="formula">{_formula(e.latex, f"math/{e.name}", result.written, "")}</div>'
            f'<dl class="facts"><dt>range</dt><dd>{rng}</dd><dt>shape</dt><dd>{properties_text(e.properties)}</dd>'
            f"<dt>parameters</dt><dd>{esc(params_text(e.params) or 'none')}</dd></dl></article>")


def _index(entries: Sequence[Entry], result: Any) -> str:
    fams = _families(entries)
    toc = "".join(f'<a href="#fam-{_slug(f)}">{esc(f)} ({len(es)})</a>' for f, es in fams.items())
    n_fig = sum(1 for w in result.written.values() if "png" in w)
    n_formulas = sum(1 for w in result.written.values() if "svg" in w and "png" not in w)
    seconds = getattr(result, "seconds", 0.0)
    workers = getattr(result, "processes", 1)
    timing = (f" Drawn in {seconds:.0f} s ({n_fig} figures and {n_formulas} formulas, "
              f"{workers} worker process{'es' if workers != 1 else ''}) by this run of <code>actlab gallery</code>."
              if seconds else "")
    problems = ""
    if result.errors:
        problems = f'<p class="note error">{len(result.errors)} picture(s) could not be drawn; see the pages concerned.</p>'
    body = [
        f"<p class=\"lead\">{len(entries)} functions in {len(fams)} families, {n_fig} figures. Each card shows the "
        "formula, the output range, the shape properties, the parameters and a thumbnail of the function "
        "(<span class=\"key\"></span>) with its derivative (<span class=\"key d\"></span>); open a function for "
        "its full figure and parameter sweeps, or see the <a href=\"comparisons.html\">comparisons</a> the "
        f"articles draw.{timing}</p>{problems}<nav class=\"toc\">{toc}</nav>"
    ]
    for fam, es in fams.items():
        body.append(f'<section><h2 id="fam-{_slug(fam)}">{esc(fam)} <span class="count">{len(es)}</span></h2>'
                    f'<div class="cards">{"".join(_card(e, result) for e in es)}</div></section>')
    return _page("actlab gallery", "\n".join(body), "")


def _function_page(e: Entry, jobs: Sequence[Any], result: Any, prev: Entry | None, nxt: Entry | None) -> str:
    p = "../"
    rng = e.properties.range_text() if e.properties else "&mdash;"
    rows = (f'<table class="formulas"><tr><td>function</td><td class="formula">{_formula(e.latex, f"math/{e.name}", result.written, p)}</td></tr>'
            f'<tr><td>derivative</td><td class="formula">{_formula(e.dlatex, f"math/{e.name}-d", result.written, p)}</td></tr></table>')
    facts = (f'<dl class="facts"><dt>family</dt><dd>{esc(e.family)} ({esc(e.kind)})</dd><dt>range</dt><dd>{rng}</dd>'
             f"<dt>shape</dt><dd>{properties_text(e.properties)}</dd><dt>parameters</dt><dd>{esc(params_text(e.params) or 'none')}</dd>"
             f"<dt>reference</dt><dd>{esc(e.reference)}</dd></dl>")
    notes = f'<p class="note">{esc(e.notes)}</p>' if e.notes else ""
    figs = [_figure(j.stem, j.caption, result, p) for j in jobs
            if j.what[0] not in ("formula", "thumb") and len(j.what) > 1 and j.what[1] == e.name]
    if not figs:
        figs = [f'<p class="note">No figure is drawn for entries of kind {esc(e.kind)}.</p>']
    pager = '<div class="pager">' + (f'<a href="{prev.name}.html">&larr; {esc(prev.name)}</a>' if prev else "<span></span>")
    pager += (f'<a href="{nxt.name}.html">{esc(nxt.name)} &rarr;</a>' if nxt else "<span></span>") + "</div>"
    body = (f'<p><a href="{p}index.html#fam-{_slug(e.family)}">&larr; {esc(e.family)} family</a></p>'
            f"<h2>{esc(e.name)}</h2>{rows}{facts}{notes}{''.join(figs)}{pager}")
    return _page(f"{e.name} - actlab gallery", body, p)


def _comparisons_page(jobs: Sequence[Any], result: Any) -> str:
    from .comparisons import COMPARISONS, present

    parts = ['<p class="lead">The pictures of the source articles, redrawn from the library\'s own functions. '
             "A comparison whose functions are not registered yet is listed with what it needs.</p>"]
    parts.append('<nav class="toc">' + "".join(f'<a href="#{c.slug}">{esc(c.title)}</a>' for c in COMPARISONS) + "</nav>")
    for c in COMPARISONS:
        parts.append(f'<section><h2 id="{c.slug}">{esc(c.title)}</h2><p>{esc(c.caption)} <span class="no">({esc(c.source)})</span></p>')
        if c.slug in result.skipped:
            parts.append(f'<p class="note">Not drawn: {esc(result.skipped[c.slug])}.</p>')
        else:
            parts.append(_figure(f"fig/cmp-{c.slug}", c.title, result, ""))
            absent = [n for n in c.optional if n not in present(c.optional)]
            if absent:
                parts.append(f'<p class="note">Also drawn when registered: {esc(", ".join(absent))}.</p>')
        parts.append("</section>")
    return _page("Comparisons - actlab gallery", "\n".join(parts), "")


def write_site(result: Any, entries: Sequence[Entry], jobs: Sequence[Any]) -> None:
    """Write index.html, comparisons.html, f/NAME.html and style.css into ``result.out``."""
    out = Path(result.out)
    (out / "f").mkdir(parents=True, exist_ok=True)
    (out / "style.css").write_text(CSS.lstrip(), encoding="utf-8")
    (out / "favicon.svg").write_text(FAVICON, encoding="utf-8")
    (out / "index.html").write_text(_index(entries, result), encoding="utf-8")
    (out / "comparisons.html").write_text(_comparisons_page(jobs, result), encoding="utf-8")
    from .reproductions import page_body

    found = {j.stem.removeprefix("fig/repro-"): Path(j.what[1]) for j in jobs if j.what[0] == "reproduction"}
    (out / "reproductions.html").write_text(
        _page("Reproductions - actlab gallery", page_body(found, result, esc, _figure), ""), encoding="utf-8")
    for i, e in enumerate(entries):
        prev = entries[i - 1] if i > 0 else None
        nxt = entries[i + 1] if i + 1 < len(entries) else None
        (out / "f" / f"{e.name}.html").write_text(_function_page(e, jobs, result, prev, nxt), encoding="utf-8")
