"""The Python blocks of the docs sections on the added maps and losses run as
written, top to bottom in one namespace per section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
SECTIONS = [
    ("softmax.md", "## Masks, weighted logsumexp, softpick"),
    ("sparse.md", "## More sparse maps: sparsegen-lin, sparsehourglass, alpha-ReLU, normmax, budget"),
]


@pytest.mark.parametrize(("page", "heading"), SECTIONS)
def test_section_python_blocks_run(page, heading):
    pytest.importorskip("torch")
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    blocks = re.findall(r"```python\n(.*?)```", text[start:end if end >= 0 else None], re.S)
    assert blocks
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page} {heading!r} python block {i}", "exec"), namespace)  # noqa: S102
