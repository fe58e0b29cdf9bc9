"""Speed and memory of actlab's sparse maps against the ``entmax`` package and
``torch.softmax``: forward+backward time (float32, CPU) and forward peak memory.

    python benchmarks/sparse.py            # full table, written into docs/sparse.md
    python benchmarks/sparse.py --quick    # a few seconds, printed only

Timing: wall clock, each method run once per round, rounds interleaved, the
median reported with its ratio to torch.softmax. Memory: each forward runs in a
fresh process (glibc told to return freed blocks at once); the peak resident
size (VmHWM, reset just before the call) above the size before it, which
holds the input, is reported as a multiple of the input's bytes. The output
itself counts: a map that allocates only its result scores 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SHAPES = [(256, 32000), (32, 262144), (4096, 10), (1024, 1000)]
QUICK_SHAPES = [(64, 2000), (512, 10)]
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"


def methods():
    """name -> (group, callable on a tensor)."""
    import torch

    import actlab

    out = {"torch.softmax": ("softmax", lambda v: torch.softmax(v, -1))}
    out["actlab.sparsemax"] = ("sparsemax", actlab.sparsemax)
    out["actlab.entmax15"] = ("entmax15", actlab.entmax15)
    for a in (1.25, 1.75):
        out[f"actlab.entmax a={a}"] = (f"entmax a={a}", lambda v, a=a: actlab.entmax(v, alpha=a))
    try:
        import entmax as pkg
    except ImportError:
        return out
    out["entmax.sparsemax"] = ("sparsemax", lambda v: pkg.sparsemax(v, -1))
    out["entmax.entmax15"] = ("entmax15", lambda v: pkg.entmax15(v, -1))
    for a in (1.25, 1.75):
        out[f"entmax.entmax_bisect a={a}"] = (f"entmax a={a}", lambda v, a=a: pkg.entmax_bisect(v, a, -1))
    return out


def time_shape(shape, reps, names):
    import torch

    torch.manual_seed(0)
    x = torch.randn(shape)
    g = torch.randn(shape)
    table = methods()
    runs = {}
    for name in names:
        fn = table[name][1]

        def run(fn=fn):
            xr = x.detach().requires_grad_()
            fn(xr).backward(g)

        run()  # warm-up (and numba compilation)
        runs[name] = run
    times = {name: [] for name in names}
    for _ in range(reps):
        for name in names:
            slow = name.startswith("entmax.") and len(times[name]) >= 3
            if slow:
                continue
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) * 1e3 for name, v in times.items()}


_MEMORY_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(int(sys.argv[4]))
sys.path.insert(0, sys.argv[5])
import sparse as bench
shape = tuple(json.loads(sys.argv[2]))
fn = bench.methods()[sys.argv[3]][1]
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
with torch.no_grad():
    fn(torch.randn(8, shape[1]))            # load code, compile kernels
    x = torch.randn(shape)
    open("/proc/self/clear_refs", "w").write("5")   # reset the peak to the current size
    before = hwm()
    y = fn(x)
    after = hwm()
print(json.dumps({"extra": (after - before) / (x.numel() * 4)}))
"""


def memory(shape, name, threads):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    args = [sys.executable, "-c", _MEMORY_CHILD, str(ROOT / "src"), json.dumps(shape), name, str(threads),
            str(Path(__file__).parent)]
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["extra"]


def render(rows, threads, command):
    lines = [
        f"Forward+backward, float32, CPU ({threads} thread{'s' if threads > 1 else ''}), inputs `randn`; "
        "time is the median wall clock, `x softmax` its ratio to `torch.softmax` on the same input, "
        "memory the forward's peak above the input in multiples of the input's size.",
        "",
        f"Command: `{command}`",
        "",
        "| shape | map | actlab ms | x softmax | entmax pkg ms | x softmax | pkg / actlab | mem actlab | mem pkg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        pkg = r.get("pkg_ms")
        pkg_cells = (f"{pkg:.1f}", f"{pkg / r['softmax_ms']:.1f}", f"{pkg / r['ms']:.1f}") if pkg else ("-",) * 3
        mem = r.get("mem"), r.get("pkg_mem")
        mem_cells = tuple(f"{m:.2f}" if m is not None else "-" for m in mem)
        lines.append(
            f"| {r['shape']} | {r['group']} | {r['ms']:.1f} | {r['ms'] / r['softmax_ms']:.2f} | "
            + " | ".join(pkg_cells) + " | " + " | ".join(mem_cells) + " |"
        )
    soft = [r for r in rows if r["group"] == "sparsemax"]
    lines += ["", "torch.softmax itself: " + ", ".join(
        f"{r['shape']} {r['softmax_ms']:.1f} ms (memory {r['softmax_mem']:.2f})" if r.get("softmax_mem") is not None
        else f"{r['shape']} {r['softmax_ms']:.1f} ms" for r in soft) + "."]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, few rounds, no memory, print only")
    ap.add_argument("--threads", type=int, default=None, help="torch (and kernel) threads; default: torch's")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--out", default=None, help="markdown file to update (default docs/sparse.md, not with --quick)")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    shapes = QUICK_SHAPES if args.quick else SHAPES
    reps = args.reps or (2 if args.quick else 9)
    table = methods()
    rows = []
    for shape in shapes:
        ms = time_shape(shape, reps, list(table))
        mem = {}
        if not (args.quick or args.no_memory):
            mem = {name: memory(shape, name, threads) for name in table}
        groups = {}
        for name, (group, _) in table.items():
            groups.setdefault(group, {})["pkg" if name.startswith("entmax.") else "ours"] = name
        for group, names in groups.items():
            if group == "softmax":
                continue
            row = {"shape": f"({shape[0]}, {shape[1]})", "group": group, "ms": ms[names["ours"]],
                   "softmax_ms": ms["torch.softmax"], "mem": mem.get(names["ours"]),
                   "softmax_mem": mem.get("torch.softmax")}
            if "pkg" in names:
                row["pkg_ms"], row["pkg_mem"] = ms[names["pkg"]], mem.get(names["pkg"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    command = "python benchmarks/sparse.py" + (f" --threads {args.threads}" if args.threads else "")
    text = render(rows, threads, command)
    print(text)
    out = args.out or (None if args.quick else str(ROOT / "docs" / "sparse.md"))
    if out:
        path = Path(out)
        old = path.read_text() if path.exists() else f"{MARK_START}\n{MARK_END}\n"
        head, _, rest = old.partition(MARK_START)
        _, _, tail = rest.partition(MARK_END)
        path.write_text(f"{head}{MARK_START}\n{text}\n{MARK_END}{tail}")


if __name__ == "__main__":
    main()
