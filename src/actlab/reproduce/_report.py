"""What every reproduction shares: its description, a progress bar, the
printed table with the paper's numbers beside it, and the JSON record.

An :class:`Experiment` names a ``run(full, progress, seed, **options)``
that returns the table's rows (a list of flat dicts, JSON-serialisable) and a
``table(rows)`` that turns them into ``(header, body)`` for printing. The
record written by :func:`write_record` is ``{"rows": [...]}`` plus the
experiment's name, title, what the paper reports and how this protocol
differs, so a record explains itself (the gallery draws from records alone).

Example:
    >>> from actlab.reproduce._report import Progress
    >>> with Progress(3, "demo", enabled=False) as bar:
    ...     for _ in range(3):
    ...         bar.step()
    >>> bar.done
    3
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Experiment", "Progress", "report_text", "write_record", "read_record", "fmt"]

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Experiment:
    """One reproduction.

    Attributes:
        name: the command's name (``actlab reproduce NAME``).
        title: one line saying what is reproduced, with the paper.
        paper: what the paper reports (numbers, or the trend its figure shows).
        protocol: how this run differs from the paper's protocol.
        fields: the keys every row has (the JSON record's columns).
        run: ``run(full=False, progress=True, seed=0, **options) -> rows``.
        table: ``table(rows) -> (header, body)``.
        needs: Python packages the run imports (named in the error when absent).
    """

    name: str
    title: str
    paper: str
    protocol: str
    fields: tuple[str, ...]
    run: Callable[..., Rows]
    table: Callable[[Rows], tuple[list[str], list[list[str]]]]
    needs: tuple[str, ...] = field(default=())


class Progress:
    """A tqdm bar on stderr (nothing when ``enabled`` is False or tqdm is absent).

    Use as a context manager; :meth:`step` advances it, :meth:`note` sets the
    text after the bar (the configuration being run)."""

    def __init__(self, total: int, desc: str, enabled: bool = True) -> None:
        self.total, self.done = total, 0
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency of the plot extra
                return
            self._bar = tqdm(total=total, desc=desc, unit="fit", file=sys.stderr, leave=False)

    def step(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def fmt(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits (``-`` for None)."""
    return "-" if x is None else f"{x:.{digits}g}"


def report_text(exp: Experiment, rows: Rows, settings: dict[str, Any]) -> str:
    """The printed report: title, settings, the table, the paper's result and
    how the protocol differs."""
    from .._describe import table

    header, body = exp.table(rows)
    how = ", ".join(f"{k} {v}" for k, v in settings.items())
    return (f"{exp.title}\n({how})\n\n{table(header, body)}\n\n"
            f"The paper: {exp.paper}\nThis run: {exp.protocol}")


def write_record(path: str | os.PathLike[str], exp: Experiment, rows: Rows, settings: dict[str, Any]) -> None:
    """Write ``{"rows": [...], "experiment": ..., ...}`` to ``path``."""
    record = {"rows": rows, "experiment": exp.name, "title": exp.title, "paper": exp.paper,
              "protocol": exp.protocol, "settings": settings}
    Path(path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def read_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A record written by :func:`write_record` (ValueError if it is not one)."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(record, dict) or not isinstance(record.get("rows"), list):
        raise ValueError(f"{str(path)!r} is not a reproduction record: no 'rows' list")
    return record


def check_rows(exp: Experiment, rows: Sequence[dict[str, Any]]) -> None:
    """AssertionError naming the first row that lacks one of ``exp.fields``."""
    for r in rows:
        missing = [f for f in exp.fields if f not in r]
        assert not missing, f"{exp.name}: row {r} lacks {missing}"
