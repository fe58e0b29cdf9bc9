"""Every Python block of the README and of ``docs/**/*.md`` runs as written,
top to bottom in one namespace per file (as a reader would paste them), and
where a block is followed by a ``text`` block (with at most one line of prose
between, such as "prints"), what the block prints is that text."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def blocks(text: str) -> list[tuple[str, str | None]]:
    """``(python source, expected output or None)`` for each Python block of ``text``."""
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in _BLOCK.finditer(text)]
    out = []
    for i, (lang, body, _, end) in enumerate(found):
        if lang != "python":
            continue
        expected = None
        if i + 1 < len(found) and found[i + 1][0] == "text":
            between = text[end:found[i + 1][2]].strip()
            if "\n" not in between:
                expected = found[i + 1][1]
        out.append((body, expected))
    return out


@pytest.mark.parametrize("path", [p for p in FILES if "```python" in p.read_text(encoding="utf-8")],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run_and_print_what_the_text_says(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the blocks write (figures, a gallery) land here
    text = path.read_text(encoding="utf-8")
    if "torch" in text:
        pytest.importorskip("torch")
    if "import jax" in text:
        pytest.importorskip("jax")
    found = blocks(text)
    assert found
    namespace: dict = {"__name__": f"docs_{path.stem}"}
    for i, (source, expected) in enumerate(found):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(source, f"{path.relative_to(ROOT)} python block {i}", "exec"), namespace)  # noqa: S102
        if expected is not None:
            assert printed.getvalue().strip() == expected.strip(), f"python block {i} of {path.name}"


def test_a_block_followed_by_text_is_compared():
    text = "```python\nprint(1)\n```\n\nprints\n\n```text\n1\n```\n\n```python\nx = 2\n```\n"
    assert blocks(text) == [("print(1)\n", "1\n"), ("x = 2\n", None)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    text = _BLOCK.sub("", path.read_text(encoding="utf-8"))
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [h.split("#")[0] for h in links if not h.startswith(("http:", "https:", "mailto:", "#"))]
    missing = [h for h in local if h and not (path.parent / h).exists()]
    assert not missing, f"{path.name} links to missing files: {missing}"


def test_readme_function_counts_are_the_registry_s():
    import collections

    import actlab

    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    m = re.search(r"The registry holds (\d+) functions \(`actlab.registry\(\)`\): (\d+) element-wise .*?"
                  r"(\d+) gated and grouped units .*?(\d+) maps and reductions and (\d+) losses", text)
    assert m, "the README's sentence on the registry's counts is gone"
    kinds = collections.Counter(e.kind for e in actlab.registry())
    counts = (sum(kinds.values()), kinds["elementwise"], kinds["gated"] + kinds["grouped"],
              kinds["simplex"] + kinds["reduction"] + kinds["stochastic"], kinds["loss"])
    assert tuple(int(g) for g in m.groups()) == counts
