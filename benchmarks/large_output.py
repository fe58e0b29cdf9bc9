"""Training-step time and peak memory of the output layer at large V (issue 5).

One training step = forward + backward of the loss of hidden (N, d) against
targets over V classes, gradients for the hidden states and the output
layer's parameters. Methods:

- plain: ``F.cross_entropy(h @ W.T, t)`` (materialises the N x V logits);
- fused: ``actlab.torch.large_output.linear_cross_entropy`` (chunks, default budget);
- torch-chunked: PyTorch's ``F.linear_cross_entropy`` with
  ``LinearCrossEntropyOptions`` (default, and with ``batch_chunk_size`` tuned);
- cce: cut-cross-entropy's ``impl="torch_compile"`` (if importable);
- hierarchical: ``HierarchicalSoftmax`` over a Huffman tree of the counts;
- sampled / nce: ``sampled_softmax_loss`` / ``nce_loss``, S candidates from
  the log-uniform sampler;
- adaptive: ``torch.nn.AdaptiveLogSoftmaxWithLoss`` (cutoffs V/16, V/4).

Targets follow a Zipf law (count of class k proportional to 1/(k+1)), the
counts the Huffman tree is built from.

Memory: each case runs in a fresh subprocess; after a warm-up step the
kernel's resident-set high-water mark is reset (``/proc/self/clear_refs``,
value 5) and the reported peak is ``VmHWM`` after the measured step minus
``VmRSS`` before it: the extra resident memory the step needed, gradients
included, inputs and parameters excluded. Time: the median over the measured
steps of the process CPU time (all threads) and of the wall time.

Usage::

    python benchmarks/large_output.py            # full run, writes docs/large_output_benchmark.md
    python benchmarks/large_output.py --quick    # seconds: small sizes, in one process
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

FULL_VOCABS = (32_000, 128_000, 1_000_000)
METHODS = ("plain", "fused", "torch-chunked", "torch-chunked-tuned", "cce", "hierarchical", "sampled", "nce",
           "adaptive")


def _status(key: str) -> int:
    """A ``/proc/self/status`` field in KiB."""
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+)", f.read()).group(1))


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def build(method: str, n: int, d: int, v: int, num_sampled: int, chunk: int | None):
    """(step function, setup seconds) for one method; the step does forward + backward."""
    import torch
    import torch.nn.functional as F

    from actlab.torch.large_output import (
        HierarchicalSoftmax,
        linear_cross_entropy,
        nce_loss,
        sampled_softmax_loss,
    )

    g = torch.Generator().manual_seed(0)
    counts = 1.0 / torch.arange(1, v + 1, dtype=torch.float64)
    target = torch.multinomial(counts.float(), n, replacement=True, generator=g)
    hidden = torch.randn(n, d, generator=g).requires_grad_()
    start = time.perf_counter()
    params: list = [hidden]
    if method == "hierarchical":
        layer = HierarchicalSoftmax(d, class_counts=counts.numpy())
        params += list(layer.parameters())
        loss_fn = lambda: layer(hidden, target)
    elif method == "adaptive":
        layer = torch.nn.AdaptiveLogSoftmaxWithLoss(d, v, cutoffs=[v // 16, v // 4])
        params += list(layer.parameters())
        loss_fn = lambda: layer(hidden, target).loss
    else:
        weight = (torch.randn(v, d, generator=g) / d**0.5).requires_grad_()
        params.append(weight)
        if method == "plain":
            loss_fn = lambda: F.cross_entropy(hidden @ weight.T, target)
        elif method == "fused":
            loss_fn = lambda: linear_cross_entropy(hidden, weight, target)
        elif method.startswith("torch-chunked"):
            if not hasattr(F, "linear_cross_entropy"):
                raise RuntimeError("this PyTorch has no F.linear_cross_entropy")
            opts = torch.nn.LinearCrossEntropyOptions(batch_chunk_size=chunk)
            loss_fn = lambda: F.linear_cross_entropy(hidden, weight, target, options=opts)
        elif method == "cce":
            from cut_cross_entropy import linear_cross_entropy as cce

            loss_fn = lambda: cce(hidden, weight, target, impl="torch_compile")
        elif method == "sampled":
            sg = torch.Generator().manual_seed(1)
            loss_fn = lambda: sampled_softmax_loss(hidden, weight, target, num_sampled, generator=sg)
        elif method == "nce":
            sg = torch.Generator().manual_seed(1)
            loss_fn = lambda: nce_loss(hidden, weight, target, num_sampled, generator=sg)
        else:
            raise ValueError(method)
    setup = time.perf_counter() - start

    def step() -> float:
        for p in params:
            p.grad = None
        loss = loss_fn()
        loss.backward()
        return float(loss.detach())

    return step, setup


def run_case(method: str, n: int, d: int, v: int, num_sampled: int, chunk: int | None, repeats: int,
             warm_rows: int | None) -> dict:
    import torch

    step, setup = build(method, n, d, v, num_sampled, chunk)
    if warm_rows and warm_rows < n:  # warm-up on fewer rows: the same kernels, less time
        small, _ = build(method, warm_rows, d, v, num_sampled, chunk)
        small()
        del small
    else:
        step()
    gc.collect()
    before = _status("VmRSS")
    exact = _reset_peak()
    cpu, wall = [], []
    loss = float("nan")
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        loss = step()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    peak = (_status("VmHWM") - before) / 1024 if exact else float("nan")
    return dict(method=method, V=v, N=n, d=d, cpu=statistics.median(cpu), wall=statistics.median(wall),
                peak_mib=peak, loss=loss, setup=setup, chunk=chunk, threads=torch.get_num_threads())


def run_in_subprocess(args: list[str], timeout: float) -> dict | str:
    cmd = [sys.executable, __file__, "--case-json", *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return f"failed: {tail[:120]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def plan(quick: bool, vocabs, n: int, d: int) -> list[tuple[str, int, int | None, str]]:
    """(method, V, chunk, skip reason or '') for every case."""
    cases = []
    have_cce = _have_cce()
    for v in vocabs:
        for m in METHODS:
            skip = ""
            chunks: list[int | None] = [None]
            if m == "torch-chunked-tuned":
                chunks = [256, 1024] if quick else ([512, 1024, 2048] if v <= 32_000 else [256, 1024])
            if m == "plain" and n * v * 4 * 4 > 20 * 2**30 * 0.5:
                skip = f"needs ~{n * v * 4 * 3 / 2**30:.0f} GiB of logits and their gradients: does not fit in 24 GiB"
            if m in ("torch-chunked", "torch-chunked-tuned", "cce") and v >= 1_000_000:
                skip = "not run: one step takes minutes on 2 cores (compute-bound like fused)"
            if m == "cce" and not have_cce:
                skip = "cut-cross-entropy or triton not importable"
            if m == "cce" and quick:
                skip = "skipped in --quick (compiles for ~20 s)"
            for c in chunks:
                cases.append((m, v, c, skip))
    return cases


def _have_cce() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(p) is not None for p in ("cut_cross_entropy", "triton"))


def table(results: list[dict], n: int, d: int, num_sampled: int) -> str:
    lines = [
        f"N = {n}, d = {d}, float32, CPU ({os.cpu_count()} cores), one training step (forward + backward); "
        f"S = {num_sampled} candidates for sampled/NCE. Peak = extra resident memory of the step "
        "(VmHWM after minus VmRSS before, in a fresh process). Ratios: CPU time and peak against `plain` "
        "at the same V (against `fused`, the same exact full softmax, where `plain` does not fit).",
        "",
        "| V | method | CPU s | wall s | peak MiB | CPU vs full | peak vs full | loss |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    by_v: dict[int, list[dict]] = {}
    for r in results:
        by_v.setdefault(r["V"], []).append(r)
    for v, rows in by_v.items():
        ref = next((r for r in rows if r["method"] == "plain" and "cpu" in r), None)
        ref = ref or next((r for r in rows if r["method"] == "fused" and "cpu" in r), None)
        for r in rows:
            name = r["method"] + (f" (chunk {r['chunk']})" if r.get("chunk") else "")
            if "cpu" not in r:
                lines.append(f"| {v} | {name} | - | - | - | - | - | {r['note']} |")
                continue
            rc = f"{r['cpu'] / ref['cpu']:.3f}" if ref else "-"
            rp = f"{r['peak_mib'] / ref['peak_mib']:.3f}" if ref and ref["peak_mib"] > 0 else "-"
            lines.append(f"| {v} | {name} | {r['cpu']:.2f} | {r['wall']:.2f} | {r['peak_mib']:.0f} | {rc} | {rp} "
                         f"| {r['loss']:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes in one process (seconds)")
    ap.add_argument("--vocab", type=int, nargs="*", help="vocabulary sizes (default 32000 128000 1000000)")
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--num-sampled", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", default=str(ROOT / "docs" / "large_output_benchmark.md"))
    ap.add_argument("--fresh", action="store_true", help="ignore the cached results next to --out")
    ap.add_argument("--case-json", nargs=7, metavar=("METHOD", "N", "D", "V", "S", "CHUNK", "REPEATS"))
    args = ap.parse_args()

    if args.case_json:
        m, n, d, v, s, chunk, reps = args.case_json
        warm = None if m == "cce" else min(int(n), 512)
        res = run_case(m, int(n), int(d), int(v), int(s), None if chunk == "-" else int(chunk), int(reps), warm)
        print(json.dumps(res))
        return

    if args.quick:
        n, d, s, reps = 512, 64, 256, 1
        vocabs = args.vocab or [4000]
    else:
        n, d, s, reps = args.n, args.d, args.num_sampled, args.repeats
        vocabs = args.vocab or list(FULL_VOCABS)
    cache = Path(args.out).with_suffix(".json")
    saved = [] if args.quick or args.fresh or not cache.exists() else json.loads(cache.read_text())
    key = lambda r: (r["method"], r["V"], r.get("chunk"))
    results = {key(r): r for r in saved}
    for m, v, chunk, skip in plan(args.quick, vocabs, n, d):
        if m not in args.methods:
            continue
        if skip:
            r = dict(method=m, V=v, chunk=chunk, note=skip)
        elif args.quick:
            r = run_case(m, n, d, v, min(s, v), chunk, reps, None)
        else:
            r = run_in_subprocess([m, str(n), str(d), str(v), str(min(s, v)), str(chunk or "-"),
                                   str(1 if v >= 1_000_000 else reps)], args.timeout)
            if isinstance(r, str):
                r = dict(method=m, V=v, chunk=chunk, note=r)
        results[key(r)] = r
        msg = r.get("note") or f"cpu {r['cpu']:.2f} s  wall {r['wall']:.2f} s  peak {r['peak_mib']:.0f} MiB"
        print(f"{m:>20} V={v:>8} chunk={chunk}: {msg}", flush=True)
        if not args.quick:
            cache.write_text(json.dumps(list(results.values()), indent=1))
    order = {m: i for i, m in enumerate(METHODS)}
    rows = sorted(results.values(), key=lambda r: (r["V"], order.get(r["method"], 99), r.get("chunk") or 0))
    text = table(rows, n, d, s)
    print(text)
    if not args.quick:
        Path(args.out).write_text("# Large output spaces: training-step benchmark\n\nCommand: "
                                  "`python benchmarks/large_output.py` (results cached in "
                                  f"`{cache.name}`; `--methods`/`--vocab` re-run a subset)\n\n" + text)


if __name__ == "__main__":
    main()
