"""Forward+backward of the sparse maps at short rows against torch.softmax, in
thread CPU time, with the page faults of each call: a check for noisy machines
(``benchmarks/softmax.py`` is the reference table, in wall time).

    python benchmarks/sparse_rows.py                   # (4096, 128), float32 and bfloat16
    python benchmarks/sparse_rows.py --quick           # a smoke run (CI)

Each map runs in a fresh process (the heap's state decides whether a freed
2 MB buffer goes back to the system and faults in again on the next call,
which adds ~0.6-1 ms to whichever call meets it), called in turn with
``torch.softmax`` on the same input; medians of ``time.thread_time`` (other
processes on the core do not count), and page faults per call: a softmax
column far above ~15 faults means that row's ratio is off.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

MAPS = ("sparsemax", "entmax15", "entmax(alpha=1.25)", "entmax(alpha=1.75)")


def one(dtype: str, name: str, shape: tuple[int, int], repeats: int) -> str:
    import resource
    import time

    import torch

    import actlab

    torch.set_num_threads(1)
    maps = {"sparsemax": actlab.sparsemax, "entmax15": actlab.entmax15,
            "entmax(alpha=1.25)": lambda v: actlab.entmax(v, alpha=1.25),
            "entmax(alpha=1.75)": lambda v: actlab.entmax(v, alpha=1.75)}
    torch.manual_seed(0)
    x = torch.randn(shape).to(getattr(torch, dtype)).requires_grad_()
    g = torch.randn(shape, dtype=x.dtype)
    f = maps[name]
    fns = {"ours": lambda: torch.autograd.grad(f(x), x, g),
           "softmax": lambda: torch.autograd.grad(torch.softmax(x, -1), x, g)}
    for fn in fns.values():
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    faults = dict.fromkeys(fns, 0)
    for _ in range(repeats):
        for k, fn in fns.items():
            r0 = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
            t0 = time.thread_time()
            fn()
            times[k].append(time.thread_time() - t0)
            faults[k] += resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - r0
    ours, soft = (sorted(times[k])[repeats // 2] for k in fns)
    return (f"| {name} | {dtype} | {shape} | {ours * 1e3:.3f} | {soft * 1e3:.3f} | {ours / soft:.2f} | "
            f"{faults['ours'] / repeats:.0f} / {faults['softmax'] / repeats:.0f} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=2, default=(4096, 128))
    ap.add_argument("--repeats", type=int, default=41)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # (dtype, map): run in this process
    ap.add_argument("--quick", action="store_true", help="a smoke run: (64, 128), 3 repeats, float32")
    args = ap.parse_args(argv)
    if args.quick:
        args.shape, args.repeats, args.dtypes = (64, 128), 3, "float32"
    shape = (args.shape[0], args.shape[1])
    if args.one:
        print(one(args.one[0], args.one[1], shape, args.repeats), flush=True)
        return
    print("| map | dtype | shape | ours ms | torch.softmax ms | ratio | faults/call (ours / softmax) |")
    print("|---|---|---|---|---|---|---|")
    for dtype in args.dtypes.split(","):
        for name in MAPS:
            cmd = [sys.executable, __file__, "--one", dtype, name, "--shape", *map(str, shape),
                   "--repeats", str(args.repeats)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
