"""The API site's build hook: every registered function lands on a family
page (so a new function appears without editing a page), the accuracy rows
are found for it, and the docstrings' doctests and reST roles become
Markdown. ``mkdocs build --strict`` itself runs in CI (.ci/run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")

import actlab  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, DOCS / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_function_has_a_page_with_its_marker():
    hook = _load("actlab_api")
    pages = {p: (DOCS / "api" / f"{p}.md").read_text(encoding="utf-8") for p in hook.PAGES}
    for e in actlab.registry():
        page = hook.page_of(e)
        assert f"<!-- actlab-entries: {page} -->" in pages[page], (e.name, page)


def test_a_function_section_has_formula_figure_accuracy_and_docstring():
    hook = _load("actlab_api")
    hook._drawn = {"sigmoid": {"f", "d", "fig"}}
    text = hook._section(actlab.get("sigmoid"), hook._accuracy_rows())
    assert "img/sigmoid.svg" in text and "img/sigmoid-d.svg" in text and "img/sigmoid.png" in text
    assert "| float64 | `sigmoid` |" in text and "| float32 | `sigmoid` |" in text
    assert "::: actlab.sigmoid" in text


def test_docstring_roles_and_doctests_become_markdown():
    pytest.importorskip("griffe")
    ext = _load("griffe_docstrings")
    text = "See :func:`actlab.sparsemax`.\n\nExample:\n    >>> 1 + 1\n    2\n\nReference: X."
    out = ext.markdown_docstring(text)
    assert "`actlab.sparsemax`" in out and ":func:" not in out
    assert "    ```pycon\n    >>> 1 + 1\n    2\n    ```" in out


def test_user_facing_text_names_the_literature_not_internal_documents():
    import inspect
    import re

    internal = re.compile(r"\bseeds? ?\d{3}\b|\bSPEC\b|\bissue \d+\b", re.I)
    for e in actlab.registry():
        for what, text in (("reference", e.reference), ("notes", e.notes),
                           ("docstring", inspect.getdoc(getattr(actlab, e.name)))):
            assert not internal.search(text or ""), f"{e.name} {what}: {text}"
