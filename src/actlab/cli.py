"""The ``actlab`` command line: list, show, plot, gallery, compare, reproduce.

Every command reads the registry, so a function added to the library is
listed, shown, plotted and drawn in the gallery without touching this file.

Example:
    >>> from actlab.cli import main
    >>> main(["show", "sigmoid", "--at=0"])  # doctest: +ELLIPSIS
    sigmoid  (family sigmoid, kind elementwise)
    ...
    0
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence

from . import __version__
from ._cli_values import CommandError, compare_rows, parse_floats, parse_params, show_values
from ._describe import params_text, property_flags, table
from .registry import Entry, get, registry

__all__ = ["main", "build_parser"]

_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf(inity)?|nan)$", re.IGNORECASE)


def _entry(name: str) -> Entry:
    try:
        return get(name)
    except KeyError:
        known = sorted(e.name for e in registry())
        close = [k for k in known if name.lower() in k or k in name.lower()]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise CommandError(f"unknown function {name!r}.{hint} Run 'actlab list' for the {len(known)} known names.") from None


def cmd_list(args: argparse.Namespace) -> int:
    entries = [e for e in registry() if (args.kind is None or e.kind == args.kind)
               and (args.family is None or e.family == args.family)]
    if not entries:
        raise CommandError(f"no function matches kind={args.kind!r} family={args.family!r}")
    rows = [[e.name, e.family, e.kind, e.properties.range_text() if e.properties else "-", property_flags(e.properties), params_text(e.params)]
            for e in entries]
    header = ["name", "family", "kind", "output range", "properties", "parameters"]
    print(table(header, rows, markdown=args.markdown))
    if not args.markdown:
        print(f"\n{len(entries)} functions. 'actlab show NAME' for formulas and values.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    e = _entry(args.name)
    params = parse_params(e, args.param, several=False)
    at = parse_floats(args.at, "--at") if args.at else None
    if not 1 <= args.digits <= 17:
        raise CommandError(f"--digits must be between 1 and 17, got {args.digits}")
    blocks = show_values(e, {k: v[0] for k, v in params.items()}, at, args.digits)  # errors before any output
    print(f"{e.name}  (family {e.family}, kind {e.kind})")
    print(f"  formula     {e.latex}")
    print(f"  derivative  {e.dlatex}")
    if e.properties is not None:
        print(f"  range       {e.properties.range_text()}   properties: {property_flags(e.properties)}")
    print(f"  parameters  {params_text(e.params) or 'none'}")
    if e.reference:
        print(f"  reference   {e.reference}")
    if e.notes:
        print(f"  notes       {e.notes}")
    for caption, header, rows in blocks:
        print(f"\n{caption}:" if caption else "")
        print(table(header, rows))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    e = _entry(args.name)
    params = parse_params(e, args.param, several=True)
    swept = [k for k, v in params.items() if len(v) > 1]
    if len(swept) > 1:
        raise CommandError(f"sweep one parameter at a time; several values given for {', '.join(swept)}")
    xlim = None
    if args.xlim:
        lo_hi = parse_floats(args.xlim, "--xlim")
        if len(lo_hi) != 2 or not lo_hi[0] < lo_hi[1] or not all(map(math.isfinite, lo_hi)):
            raise CommandError(f"--xlim must be two finite numbers LOW,HIGH with LOW < HIGH, got {args.xlim!r}")
        xlim = (lo_hi[0], lo_hi[1])
    from .plot import figures, save_figure
    from .plot.gallery import DRAWN_KINDS
    from .plot.simplex_figures import plane_figure

    if e.kind not in DRAWN_KINDS:
        raise CommandError(f"{e.name} is of kind {e.kind!r}, which has no figure")
    fixed = {k: v[0] for k, v in params.items() if len(v) == 1}
    out = args.output or f"{e.name}.png"
    if args.plane:
        if e.kind != "simplex":
            raise CommandError(f"--plane draws vector maps only; {e.name} is of kind {e.kind!r}")
        temperature = fixed.pop("temperature", 1.0)
        fig = plane_figure(e, fixed, temperature=temperature)
    elif swept:
        fig = figures.sweep_figure(e, swept[0], params[swept[0]], fixed, derivative=args.derivative, xlim=xlim)
    else:
        fig = figures.function_figure(e, fixed, derivative=args.derivative, xlim=xlim)
    try:
        save_figure(fig, out)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {out!r}: {exc.strerror or exc}") from None
    print(f"wrote {out}")
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from .plot.gallery import render_gallery

    entries = [_entry(n.strip()) for n in args.only.split(",") if n.strip()] if args.only else None
    if args.jobs is not None and args.jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {args.jobs}")
    result = render_gallery(args.out, formats=args.format or (), processes=args.jobs, progress=not args.quiet,
                            entries=entries, reproductions=args.reproductions)
    n = sum(1 for w in result.written.values() if "png" in w)
    print(f"wrote {n} figures in {result.seconds:.0f} s; open {result.index.resolve()}")
    for slug, why in result.skipped.items():
        print(f"  comparison {slug} skipped: {why}")
    for stem, err in result.errors.items():
        print(f"  figure {stem} failed: {err}", file=sys.stderr)
    return 1 if result.errors else 0


def cmd_compare(args: argparse.Namespace) -> int:
    scores = parse_floats(",".join(args.scores), "scores")
    if len(scores) < 1:
        raise CommandError("give at least one score")
    maps = [m.strip() for m in args.maps.split(",") if m.strip()]
    if not 1 <= args.digits <= 17:
        raise CommandError(f"--digits must be between 1 and 17, got {args.digits}")
    header, rows, problems, drawn = compare_rows(scores, maps, args.temperature, args.digits)
    t = f", temperature {args.temperature:g}" if args.temperature != 1.0 else ""
    print(f"scores z = [{', '.join(f'{s:g}' for s in scores)}]{t}")
    if drawn:
        print(table(header, rows))
    for line in problems:
        print(f"  {line}")
    if not drawn:
        raise CommandError("none of the requested maps could be applied (see above)")
    if args.plot:
        from .plot.compare_figure import compare_figure
        from .plot.style import save_figure

        try:
            save_figure(compare_figure(scores, drawn, args.temperature), args.plot)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        print(f"wrote {args.plot}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    import contextlib

    from .reproduce import experiment, report_text, write_record

    exp = experiment(args.experiment)
    options: dict = {}
    if args.experiment == "attention-saturation":
        if args.dims:
            options["dims"] = tuple(int(d) for d in parse_floats(args.dims, "--dims"))
        options.update(keys=args.keys, queries=args.queries)
    elif args.experiment == "large-vocabulary":
        options.update(corpus=args.corpus, steps=args.steps)
    elif args.dims or args.corpus or args.steps or args.queries:
        raise CommandError("--dims, --keys, --queries, --corpus and --steps belong to other experiments")
    try:
        from threadpoolctl import threadpool_limits  # comes with scikit-learn
        limits: contextlib.AbstractContextManager = threadpool_limits(1)
    except ImportError:
        limits = contextlib.nullcontext()
    with limits:  # one BLAS thread: on a shared 2-core machine more threads mostly wait for each other
        rows = exp.run(full=args.full, progress=not args.quiet, seed=args.seed, **options)
    settings = {"full": args.full, "seed": args.seed, **{k: v for k, v in options.items() if v is not None}}
    print(report_text(exp, rows, settings))
    if args.json:
        write_record(args.json, exp, rows, settings)
        print(f"wrote {args.json}")
    if args.plot:
        from .plot.reproductions import figure
        from .plot.style import save_figure

        save_figure(figure(exp.name, rows), args.plot)
        print(f"wrote {args.plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="actlab", description="Activation functions and probability maps: "
                                "list them, show their formulas and values, plot them, render the gallery.")
    p.add_argument("--version", action="version", version=f"actlab {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("list", help="a table of every registered function")
    s.add_argument("--kind", help="only this kind (elementwise, gated, grouped, simplex, loss)")
    s.add_argument("--family", help="only this family")
    s.add_argument("--markdown", action="store_true", help="print a Markdown table")
    s.set_defaults(run=cmd_list)

    s = sub.add_parser("show", help="formula, derivative, properties and values of one function")
    s.add_argument("name")
    s.add_argument("--param", action="append", default=[], metavar="K=V", help="a parameter value (repeatable)")
    s.add_argument("--at", metavar="X1,X2,...", help="where to evaluate (write --at=-1,0,1 for negative numbers); "
                   "for a vector map, the score vector")
    s.add_argument("--digits", type=int, default=10, help="significant digits shown (default 10)")
    s.set_defaults(run=cmd_show)

    s = sub.add_parser("plot", help="draw one function (PNG, SVG or PDF by the file's extension)")
    s.add_argument("name")
    s.add_argument("--derivative", action="store_true", help="draw the derivative too")
    s.add_argument("--param", action="append", default=[], metavar="K=V[,V2,...]",
                   help="a parameter value; several values draw a sweep (repeatable)")
    s.add_argument("--xlim", metavar="LOW,HIGH", help="x range (write --xlim=-3,3)")
    s.add_argument("--plane", action="store_true", help="vector maps: the score plane and the 3-class simplex")
    s.add_argument("-o", "--output", metavar="FILE", help="output file (default NAME.png)")
    s.set_defaults(run=cmd_plot)

    s = sub.add_parser("gallery", help="render the HTML gallery of every function and comparison")
    s.add_argument("--out", default="gallery", metavar="DIR", help="output folder (default ./gallery)")
    s.add_argument("--format", action="append", choices=("svg", "pdf"), help="also write vector figures (repeatable)")
    s.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes (default: CPUs, at most 4)")
    s.add_argument("--only", metavar="NAME,NAME,...", help="only these functions (and the comparisons among them)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--reproductions", metavar="DIR", help="draw the reproduction records NAME.json in DIR "
                   "(written by 'actlab reproduce NAME --json DIR/NAME.json'; default: the shipped ones)")
    s.set_defaults(run=cmd_gallery)

    s = sub.add_parser("compare", help="vector maps side by side on the same scores")
    s._negative_number_matcher = _NEGATIVE_NUMBER  # scores such as -inf, -1e3, -.5 are numbers, not options
    s.add_argument("scores", nargs="+", metavar="X", help="the scores (numbers; commas also separate)")
    s.add_argument("--maps", default="softmax,sparsemax,entmax15,sum_normalize",
                   help="comma-separated map names (default: %(default)s)")
    s.add_argument("--temperature", type=float, default=1.0, metavar="T", help="divide the scores by T first")
    s.add_argument("--digits", type=int, default=4, help="significant digits shown (default 4)")
    s.add_argument("--plot", metavar="FILE", help="also draw the table as a bar chart")
    s.set_defaults(run=cmd_compare)

    from .reproduce import EXPERIMENTS

    s = sub.add_parser("reproduce", help="rerun an experiment of the source articles and print its table")
    s.add_argument("experiment", choices=tuple(EXPERIMENTS), help="; ".join(
        f"{name}: {e.title}" for name, e in EXPERIMENTS.items()).replace("%", "%%"))
    s.add_argument("--full", action="store_true", help="the paper-sized run (default: at most ten minutes)")
    s.add_argument("--json", metavar="FILE", help="also write {\"rows\": [...]} to FILE")
    s.add_argument("--plot", metavar="FILE", help="also draw the figure (PNG, SVG or PDF)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--dims", metavar="D1,D2,...", help="attention-saturation: the d_k values (default 8,16,...,1024)")
    s.add_argument("--keys", type=int, default=64, help="attention-saturation: keys per query (default 64)")
    s.add_argument("--queries", type=int, default=None, help="attention-saturation: queries (default 256)")
    s.add_argument("--corpus", metavar="FILE", help="large-vocabulary: a text file instead of the KJV Bible")
    s.add_argument("--steps", type=int, default=None, help="large-vocabulary: training steps per loss")
    s.set_defaults(run=cmd_reproduce)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        return int(args.run(args))
    except CommandError as exc:
        print(f"actlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:  # a parameter the function itself rejects
        print(f"actlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output path that cannot be written
        where = f": {exc.filename}" if exc.filename else ""
        print(f"actlab {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2

