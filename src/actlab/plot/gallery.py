"""``actlab gallery``: every registered function and every comparison,
rendered into a self-contained static site (HTML, CSS, PNG and SVG files;
nothing is fetched at view time).

The work is a list of independent figure jobs (one per picture), run in
order or, with ``processes > 1``, in a pool of forked workers; the pages are
written afterwards from the jobs' results, so a figure that fails becomes a
note on its page instead of stopping the build.

Example:
    >>> import tempfile, pathlib
    >>> from actlab.plot.gallery import render_gallery
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> result = render_gallery(out, progress=False, processes=1)  # doctest: +SKIP
    >>> result.index.name  # doctest: +SKIP
    'index.html'
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..registry import Entry
from ..registry import get as _get
from ..registry import registry as _all_entries

__all__ = ["Job", "GalleryResult", "plan", "render_gallery", "DRAWN_KINDS"]

DRAWN_KINDS = ("elementwise", "gated", "grouped", "simplex", "loss", "reduction", "stochastic")
SIMPLEX_TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Job:
    """One picture: ``what`` says how to draw it, ``stem`` where (relative to
    the site root, without extension), ``formats`` which files to write."""

    what: tuple[Any, ...]
    stem: str
    formats: tuple[str, ...] = ("png",)
    caption: str = ""


@dataclass
class GalleryResult:
    """Where the site is, the pictures written and the ones that failed."""

    out: Path
    index: Path
    written: dict[str, tuple[str, ...]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    """Wall time of the drawing (every figure and formula), measured by the run."""
    processes: int = 1


def _entry_jobs(e: Entry, formats: tuple[str, ...]) -> list[Job]:
    from . import curves
    from .figures import format_value, param_text

    jobs = [
        Job(("formula", e.latex), f"math/{e.name}", ("svg",)),
        Job(("formula", e.dlatex), f"math/{e.name}-d", ("svg",)),
    ]
    if e.kind not in DRAWN_KINDS:
        return jobs
    what = "slope" if e.kind == "loss" else "derivative"
    jobs.append(Job(("thumb", e.name), f"thumb/{e.name}", ("png",)))
    jobs.append(Job(("function", e.name), f"fig/{e.name}", formats, f"{e.name} and its {what}"))
    for p in curves.sweep_params(e):
        jobs.append(Job(("sweep", e.name, p.name, tuple(p.sweep)), f"fig/{e.name}--{p.name}", formats,
                        f"{e.name} for {param_text(p.name)} = {', '.join(format_value(v) for v in p.sweep)}"))
    if e.kind == "simplex":
        if curves.takes_temperature(e):
            jobs.append(Job(("sweep", e.name, "temperature", SIMPLEX_TEMPERATURES), f"fig/{e.name}--temperature",
                            formats, f"{e.name}(z / T) on z = [t, 0] for T in {', '.join(f'{t:g}' for t in SIMPLEX_TEMPERATURES)}"))
        jobs.append(Job(("plane", e.name), f"fig/{e.name}--plane", formats,
                        f"{e.name} on the score plane [t1, t2, 0] and on the 3-class simplex"))
    return jobs


def plan(entries: Sequence[Entry] | None = None, formats: Iterable[str] = (),
         reproductions: str | os.PathLike[str] | None = None) -> tuple[list[Job], dict[str, str]]:
    """The jobs for ``entries`` (default: the whole registry), the
    comparisons whose functions are all among them and the reproduction
    records in ``reproductions`` (default: those shipped with actlab), and
    the comparisons skipped (slug -> reason)."""
    from .comparisons import COMPARISONS, missing

    formats = ("png", *(f for f in formats if f != "png"))
    selected = entries is not None
    entries = list(_all_entries()) if entries is None else list(entries)
    names = {e.name for e in entries}
    jobs = [j for e in entries for j in _entry_jobs(e, formats)]
    skipped = {}
    for c in COMPARISONS:
        lacking = missing(c)
        unselected = [n for n in c.needs if n not in names and n not in lacking]
        if lacking:
            skipped[c.slug] = f"needs {', '.join(lacking)}, not registered in this version of actlab"
        elif selected and unselected:
            skipped[c.slug] = f"needs {', '.join(unselected)}, not among the functions selected"
        else:
            jobs.append(Job(("comparison", c.slug), f"fig/cmp-{c.slug}", formats, c.title))
    from .reproductions import records

    for name, path in records(reproductions).items():
        jobs.append(Job(("reproduction", str(path)), f"fig/repro-{name}", formats, name))
    return jobs, skipped


def _draw(what: tuple[Any, ...]):
    from . import figures
    from .comparisons import COMPARISONS, build
    from .simplex_figures import plane_figure

    kind, *args = what
    if kind == "function":
        return figures.function_figure(_get(args[0]))
    if kind == "thumb":
        return figures.thumbnail_figure(_get(args[0]))
    if kind == "sweep":
        return figures.sweep_figure(_get(args[0]), args[1], args[2])
    if kind == "plane":
        return plane_figure(_get(args[0]))
    if kind == "comparison":
        return build(next(c for c in COMPARISONS if c.slug == args[0]))
    if kind == "reproduction":
        from .reproductions import draw_record

        return draw_record(args[0])
    raise ValueError(f"unknown figure job {what!r}")


def run_job(job: Job, out: Path) -> tuple[str, tuple[str, ...], str | None]:
    """Draw one job into ``out``; returns ``(stem, formats written, error or None)``."""
    from .formula import render_formula
    from .style import save_figure

    try:
        target = out / job.stem
        target.parent.mkdir(parents=True, exist_ok=True)
        if job.what[0] == "formula":
            ok = render_formula(job.what[1], f"{target}.svg")
            return job.stem, (("svg",) if ok else ()), None
        fig = _draw(job.what)
        for fmt in job.formats:
            save_figure(fig, f"{target}.{fmt}", dpi=80 if job.what[0] == "thumb" else 110)
        return job.stem, job.formats, None
    except Exception as exc:  # reported on the page and in the summary
        message = f"{type(exc).__name__}: {exc}"
        return job.stem, (), message if len(message) <= 300 else message[:297] + "..."


def _run_star(args: tuple[Job, Path]):
    return run_job(*args)


def _default_processes(n_jobs: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, 4, n_jobs // 8))


FIGURE_TIMEOUT = 600.0
"""Seconds the gallery waits for the next figure from its workers before it
gives up with an error (the slowest figure takes a few seconds)."""


def _one_thread() -> None:
    """A forked worker computes on one thread: the OpenMP pool of the parent
    (torch's intra-op threads) does not survive ``fork``, and a parallel region
    entered in the child would wait for it forever."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def render_gallery(
    out: str | os.PathLike[str] = "gallery",
    formats: Iterable[str] = (),
    processes: int | None = None,
    progress: bool = True,
    entries: Sequence[Entry] | None = None,
    reproductions: str | os.PathLike[str] | None = None,
) -> GalleryResult:
    """Render the site into ``out`` and return where its index is.

    Args:
        out: the output folder (created). A previous run's files (listed in
            its manifest, ``.actlab-gallery-files``) are replaced; nothing
            else in the folder is touched.
        formats: extra vector formats for the figures: "svg", "pdf".
        processes: worker processes (default: the CPUs available, at most 4;
            1 draws in this process). Workers are forked, so entries
            registered at run time are drawn too; where fork is unavailable
            the drawing stays in this process.
        progress: show a progress bar on stderr.
        entries: the functions to include (default: the whole registry).
        reproductions: a folder of ``actlab reproduce NAME --json NAME.json``
            records to draw on the Reproductions page (default: the records
            of the default-size runs shipped with actlab).
    """
    from tqdm import tqdm

    from .site import write_site

    bad = [f for f in formats if f not in ("svg", "pdf", "png")]
    if bad:
        raise ValueError(f"formats must be among ['svg', 'pdf'], got {bad!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a folder, got a file: {str(out)!r}")
    out.mkdir(parents=True, exist_ok=True)
    before = _remove_previous(out)
    entries = list(_all_entries()) if entries is None else list(entries)
    jobs, skipped = plan(entries, formats, reproductions)
    n = _default_processes(len(jobs)) if processes is None else max(1, int(processes))
    if n > 1 and "fork" not in multiprocessing.get_all_start_methods():
        n = 1
    bar = tqdm(total=len(jobs), desc="actlab gallery", unit="fig", disable=not progress, file=sys.stderr)
    results = []
    start = time.perf_counter()
    try:
        if n == 1:
            for job in jobs:
                results.append(run_job(job, out))
                bar.update()
        else:
            ctx = multiprocessing.get_context("fork")
            order = sorted(jobs, key=lambda j: j.what[0] not in ("comparison", "plane", "sweep", "reproduction"))  # big ones first
            with ctx.Pool(n, initializer=_one_thread) as pool:
                pending = pool.imap_unordered(_run_star, [(j, out) for j in order])
                for _ in range(len(order)):
                    try:
                        results.append(pending.next(timeout=FIGURE_TIMEOUT))
                    except multiprocessing.TimeoutError:
                        raise RuntimeError(f"actlab gallery: no figure finished in {FIGURE_TIMEOUT:.0f} s; "
                                           "a worker process is stuck (run with processes=1 to see where)") from None
                    bar.update()
    finally:
        bar.close()
    result = GalleryResult(out=out, index=out / "index.html", skipped=skipped,
                           seconds=time.perf_counter() - start, processes=n)
    for stem, written, error in results:
        result.written[stem] = written
        if error:
            result.errors[stem] = error
    write_site(result, entries, jobs)
    _write_manifest(out, before)
    return result


MANIFEST = ".actlab-gallery-files"
"""The files a gallery run wrote, relative to its folder: the next run
removes these (and only these) before drawing, so figures of functions no
longer drawn do not linger and no file the gallery did not write is touched."""


def _files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.is_symlink()}


def _remove_previous(out: Path) -> set[str]:
    """Delete the files the previous run listed; return the files left (not ours)."""
    manifest = out / MANIFEST
    if manifest.is_file():
        root = out.resolve()
        for rel in manifest.read_text(encoding="utf-8").splitlines():
            p = out / rel
            if rel and p.is_file() and not p.is_symlink() and p.resolve().is_relative_to(root):
                p.unlink()
        manifest.unlink()
    return _files(out)


def _write_manifest(out: Path, before: set[str]) -> None:
    ours = sorted(_files(out) - before - {MANIFEST})
    (out / MANIFEST).write_text("\n".join(ours) + "\n", encoding="utf-8")
