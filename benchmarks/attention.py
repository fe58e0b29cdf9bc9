"""Attention with each normaliser against torch's scaled_dot_product_attention
(CPU, float32, one batch, one head, head dim 64, causal): forward+backward
time and peak memory.

    python benchmarks/attention.py            # L = S = 1024 and 4096, written into docs/attention.md
    python benchmarks/attention.py --quick    # a smoke run (L = 128), printed only

Each (normaliser, L) runs in a fresh process (glibc told to return freed
blocks at once, two threads): one warm-up call, then forward+backward timed
(median of ``--repeat``), and the peak resident size (VmHWM, reset just
before the measured call) above the size before it. The inputs, the output
and the gradients (5 x L x 64 floats) are counted; the L x S scores alone are
4 MiB at L = 1024 and 64 MiB at 4096.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"

METHODS = {
    "torch SDPA": ("torch", {}),
    "softmax (dispatches to SDPA)": ("softmax", {}),
    "softmax, dense path": ("softmax", {"path": "dense"}),
    "softmax, blocked path": ("softmax", {"path": "blocked"}),
    "softmax + sink (softmax_1)": ("softmax", {"sink": 0.0}),
    "sparsemax": ("sparsemax", {}),
    "entmax15": ("entmax15", {}),
    "entmax alpha=1.3": ("entmax", {"alpha": 1.3}),
    "sigmoid": ("sigmoid", {}),
    "softpick": ("softpick", {}),
    "relu2": ("relu2", {}),
    "stick_breaking": ("stick_breaking", {}),
    "softmax, length_scale=log": ("softmax", {"length_scale": "log"}),
}

CHILD = r"""
import json, statistics, sys, time, torch
sys.path.insert(0, sys.argv[1])
import actlab
jobs, n, repeat = json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
def run(L, name, opts):
    q, k, v = (torch.randn(1, 1, L, 64, requires_grad=True) for _ in range(3))
    if name == "torch":
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        out = actlab.attention(q, k, v, is_causal=True, normalizer=name, **opts)
    out.sum().backward()
for name, opts in jobs:
    run(n, name, opts)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = rss()
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); run(n, name, opts); times.append(time.perf_counter() - t)
    print(json.dumps({"ms": 1e3 * statistics.median(times), "peak_mib": (rss() - base) / 2**20}))
"""


def measure(jobs: list, n: int, repeat: int) -> list[dict]:
    """Run ``jobs`` ((normaliser, options) pairs) in one fresh process."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0", OMP_NUM_THREADS="2")
    args = [sys.executable, "-c", CHILD, str(ROOT / "src"), json.dumps(jobs), str(n), str(repeat)]
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    return [json.loads(line) for line in out.stdout.strip().splitlines()[-len(jobs):]]


def table(results: dict, lengths: list[int]) -> str:
    head = "| normaliser | " + " | ".join(f"L={n} time (ms) | x SDPA | peak (MiB)" for n in lengths) + " |"
    sep = "|---|" + "---:|---:|---:|" * len(lengths)
    rows = [head, sep]
    for label in METHODS:
        cells = []
        for n in lengths:
            r, ref = results[(label, n)], results[("torch SDPA", n)]
            cells.append(f"{r['ms']:.0f} | {r['ms'] / ref['ms']:.1f} | {r['peak_mib']:.1f}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="L = 128 in one process, printed only")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    lengths = [128] if a.quick else [1024, 4096]
    results = {}
    for n in lengths:
        if a.quick:  # one process for everything: a smoke run
            for label, r in zip(METHODS, measure(list(METHODS.values()), n, 1)):
                results[(label, n)] = r
            continue
        for label, job in METHODS.items():
            results[(label, n)] = measure([job], n, a.repeat if n <= 1024 else 1)[0]
            print(f"{label:32s} L={n:5d} {results[(label, n)]}", file=sys.stderr)
    text = table(results, lengths)
    print(text)
    if not a.quick:
        doc = ROOT / "docs" / "attention.md"
        body = doc.read_text()
        start, end = body.index(MARK_START) + len(MARK_START), body.index(MARK_END)
        doc.write_text(body[:start] + "\n" + text + "\n" + body[end:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
