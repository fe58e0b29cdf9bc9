"""Run every reproduction at its default size, store the records the gallery
draws (src/actlab/reproduce/records/NAME.json) and write
docs/reproductions.md with each table and figure (docs/img/reproduce-NAME.png).

Usage::

    python scripts/make_reproductions.py                 # run all, then write the page
    python scripts/make_reproductions.py --only NAME ... # run these, then write the page
    python scripts/make_reproductions.py --docs-only     # rewrite the page from the stored records
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from actlab._describe import table  # noqa: E402
from actlab.reproduce import EXPERIMENTS, RECORDS, read_record, write_record  # noqa: E402

INTRO = """# Reproductions of the articles' experiments

`actlab reproduce NAME` reruns an experiment of the source articles with
actlab's own maps and losses, prints its table beside what the paper reports,
writes `--json FILE` (`{"rows": [...]}`) and `--plot FILE`; `--full` runs the
paper-sized version. The tables below are the default-size runs (at most ten
minutes each on two cores), made by `python scripts/make_reproductions.py`;
their records are stored in `src/actlab/reproduce/records/` and drawn on the
gallery's Reproductions page (`actlab gallery`; `--reproductions DIR` draws
your own records instead). Timings come from a machine shared with other
jobs and are noisy. Needs `pip install 'actlab[reproduce]'` (scipy,
scikit-learn, river; torch for large-vocabulary) and, for large-vocabulary,
Debian's `bible-kjv`.
"""


def run(names: list[str]) -> None:
    try:
        from threadpoolctl import threadpool_limits
        limits: contextlib.AbstractContextManager = threadpool_limits(1)
    except ImportError:
        limits = contextlib.nullcontext()
    RECORDS.mkdir(exist_ok=True)
    with limits:
        for name in names:
            exp = EXPERIMENTS[name]
            start = time.perf_counter()
            rows = exp.run(full=False, progress=True, seed=0)
            wall = time.perf_counter() - start
            write_record(RECORDS / f"{name}.json", exp, rows, {"full": False, "seed": 0, "wall_s": round(wall, 1)})
            print(f"{name}: {wall:.0f} s", flush=True)


def docs() -> None:
    from actlab.plot.reproductions import draw_record
    from actlab.plot.style import save_figure

    parts = [INTRO]
    for name, exp in EXPERIMENTS.items():
        path = RECORDS / f"{name}.json"
        parts.append(f"## {exp.title}\n\nCommand: `actlab reproduce {name}` (`--full` for the paper's size)\n")
        if not path.is_file():
            parts.append("Not run yet.\n")
            continue
        record = read_record(path)
        header, body = exp.table(record["rows"])
        wall = record.get("settings", {}).get("wall_s")
        parts.append(("" if wall is None else f"Wall time of this run: {wall:.0f} s.\n\n")
                     + table(header, body, markdown=True) + "\n")
        img = ROOT / "docs" / "img" / f"reproduce-{name}.png"
        save_figure(draw_record(path), img)
        parts.append(f"![{name}](img/{img.name})\n")
        parts.append(f"**The paper:** {exp.paper}\n\n**This run:** {exp.protocol}\n")
        notes = ROOT / "docs" / "reproductions_notes" / f"{name}.md"
        if notes.is_file():
            parts.append(notes.read_text(encoding="utf-8"))
    (ROOT / "docs" / "reproductions.md").write_text("\n".join(parts), encoding="utf-8")
    print("wrote docs/reproductions.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=list(EXPERIMENTS))
    ap.add_argument("--docs-only", action="store_true")
    args = ap.parse_args()
    if not args.docs_only:
        run(args.only or list(EXPERIMENTS))
    docs()


if __name__ == "__main__":
    main()
