"""Shared timing helpers of the benchmark scripts (not a benchmark itself).

Method: one process, one thread, the contenders of a row called in turn
(ours, theirs, ours, ...), the median of the repeats reported, the warm-up
excluded but its first call kept as the *first-call latency* (what a user
pays once, e.g. when a path compiles). Repeats adapt to a time budget per
row, so a fast implementation gets many repeats and a slow one a few.

``pin_threads`` must run before NumPy or torch is imported.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")


def pin_threads(n: int = 1) -> None:
    """Set the thread-count variables of OpenMP, MKL, OpenBLAS, ... to ``n``
    (before NumPy/torch are imported, or they are ignored)."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)


def set_torch_threads(n: int = 1) -> None:
    import torch

    torch.set_num_threads(n)


@dataclass
class Timing:
    """Seconds: ``first`` (the very first call), ``median`` of the ``n``
    timed repeats after it."""

    first: float
    median: float
    n: int
    samples: list[float] = field(default_factory=list, repr=False)


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fns: dict[str, Callable[[], object]], budget: float = 1.0, *, min_repeat: int = 3,
                max_repeat: int = 500, once_above: float | None = None) -> dict[str, Timing]:
    """Time each zero-argument function of ``fns``, interleaved.

    1. the first call of each, in order: the first-call latency, never part of the median;
    2. a second call of each: discarded as a warm-up if the first call was cheap (under a tenth of
       the contender's share of the budget, ``share = budget / len(fns)``), else the first sample;
    3. ``n_k = clamp(share / second_call, min_repeat, max_repeat)`` samples of contender k (just one
       if its call is longer than its share), spread evenly over the rounds so that the contenders
       alternate.

    So a slow contender costs exactly two calls (first, and one timed); the budget bounds the
    repeats, not the length of a call. A contender whose first call takes longer than
    ``once_above`` seconds is called only once: its time is that first call (``n = 0``), which a
    compiling path would overstate by its compile time -- for calls of many seconds only.
    """
    share = budget / max(len(fns), 1)
    first = {k: _timed(f) for k, f in fns.items()}
    samples: dict[str, list[float]] = {k: [] for k in fns}
    counts, once = {}, set()
    for k, f in fns.items():
        if once_above is not None and first[k] > once_above:
            samples[k], counts[k] = [first[k]], 0
            once.add(k)
            continue
        t = _timed(f)
        if first[k] >= share / 10:
            samples[k].append(t)
        fit = share / max(t, 1e-9)  # calls that fit in the share; a call longer than the share: one
        counts[k] = int(min(max(fit, min_repeat) if fit >= 1 else 1, max_repeat)) - len(samples[k])
    rounds = max(counts.values(), default=0)
    for r in range(rounds):
        for k, f in fns.items():
            n = counts[k]
            if n > 0 and (r + 1) * n // rounds > r * n // rounds:
                samples[k].append(_timed(f))
    return {k: Timing(first[k], statistics.median(samples[k]), 0 if k in once else len(samples[k]), samples[k])
            for k in fns}


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 2) -> float:
    """The median of ``repeat`` calls after ``warmup`` calls (one contender)."""
    for _ in range(warmup):
        fn()
    return statistics.median(_timed(fn) for _ in range(repeat))


def machine_description() -> str:
    """Platform, CPU, Python, NumPy/SciPy/torch versions and thread counts, as a markdown line."""
    import numpy as np

    parts = [f"{platform.system()} {platform.release()}", _cpu_name(), f"{os.cpu_count()} logical CPUs",
             f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    try:
        import scipy

        parts.append(f"scipy {scipy.__version__}")
    except ImportError:
        pass
    try:
        import torch

        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} thread"
                     f"{'s' if torch.get_num_threads() != 1 else ''})")
    except ImportError:
        pass
    pinned = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in THREAD_VARS[:3])
    parts.append(pinned)
    parts.append(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    if hasattr(os, "getloadavg"):  # a shared machine inflates wall times; the ratios are interleaved
        parts.append("load average {:.1f} / {:.1f} / {:.1f} (1 / 5 / 15 min) at the end".format(*os.getloadavg()))
    return "; ".join(parts)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def verdict(ratio: float, bar: float | None) -> str:
    if bar is None:
        return "info"
    if math.isnan(ratio):
        return "**miss** (error)"
    return "pass" if ratio <= bar else "**miss**"


def fmt_ms(seconds: float) -> str:
    """Milliseconds with three significant digits."""
    if seconds != seconds:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 1000 else f"{ms:.0f}"


def fmt_ratio(r: float) -> str:
    return "-" if r != r else (f"{r:.2f}" if r < 100 else f"{r:.0f}")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def summary_line(verdicts: list[str], what: str = "rows") -> str:
    judged = [v for v in verdicts if v != "info"]
    met = sum(v == "pass" for v in judged)
    return f"**{met} of {len(judged)} {what} meet their bar.**"


class Progress:
    """Prints ``[done/total] label (elapsed)`` lines to stderr."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total, self.done, self.quiet, self.t0 = total, 0, quiet, time.perf_counter()

    def step(self, label: str) -> None:
        import sys

        self.done += 1
        if not self.quiet:
            print(f"[{self.done}/{self.total}] {label} ({time.perf_counter() - self.t0:.0f} s)",
                  file=sys.stderr, flush=True)
