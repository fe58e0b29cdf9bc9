"""Training-step time and peak memory of the fused linear sparsemax / entmax
losses against actlab's fused cross-entropy (the bar: at most 1.2x its peak
memory and 1.5x its time at N = 4096, d = 512, V = 128k on CPU).

One training step = forward + backward of the loss of hidden (N, d) against
targets over V classes, gradients for the hidden states and the weight.
Methods: ``fused-ce`` (``linear_cross_entropy``, default budget),
``fused-sparsemax`` (``linear_sparsemax_loss``), ``fused-entmax15``
(``linear_entmax_loss``, alpha = 1.5), and in ``--quick`` the unfused
``sparsemax_loss`` / ``entmax_loss`` on the full scores as a check of the
values. The weight is ``randn / sqrt(d)``, hidden ``randn``: scores of unit
variance; targets uniform.

Memory, as in ``benchmarks/large_output.py``: each case runs in a fresh
subprocess; after a warm-up step on 64 rows the resident-set high-water mark
is reset (``/proc/self/clear_refs``) and the peak is ``VmHWM`` after the
measured step minus ``VmRSS`` before it (the step's extra memory, gradients
included, inputs and weight excluded). The analytic column is the size of
the step's largest buffers: the chunk's scores (the cross-entropy's
``rows x V`` chunk; the sparse losses' ``rows x vocab_chunk`` tile) plus the
weight and input gradients. Time: CPU time of the process (all threads) and
wall time of one step.

Usage::

    python benchmarks/fused_sparse_losses.py            # full size, writes docs/fused_sparse_losses.md
    python benchmarks/fused_sparse_losses.py --threads 1  # one torch thread (steadier on a busy machine)
    python benchmarks/fused_sparse_losses.py --quick    # seconds: small sizes, one process
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_output import _reset_peak, _status  # noqa: E402

METHODS = ("fused-ce", "fused-sparsemax", "fused-entmax15")


def build(method: str, n: int, d: int, v: int):
    """(step function, analytic MiB of the largest buffers, loss function of the scores or None)."""
    import torch

    import actlab
    from actlab.torch.large_output import (
        DEFAULT_MEMORY_BUDGET,
        fused_sparse_losses,
        linear_cross_entropy,
        linear_entmax_loss,
        linear_sparsemax_loss,
    )

    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(n, d, generator=g).requires_grad_()
    weight = (torch.randn(v, d, generator=g) / d**0.5).requires_grad_()
    target = torch.randint(0, v, (n,), generator=g)
    grads = (v * d + n * d) * 4
    if method == "fused-ce":
        budget = max(DEFAULT_MEMORY_BUDGET, 2 * v * d * 4)
        rows = min(n, max(1, budget // (v * 4)))
        loss_fn = lambda: linear_cross_entropy(hidden, weight, target)
        buffers = rows * v * 4
    else:
        rows = min(n, fused_sparse_losses.DEFAULT_CHUNK_ROWS)
        cols = min(v, max(1, fused_sparse_losses.DEFAULT_TILE_BYTES // (rows * 4)))
        buffers = rows * cols * 4
        if method == "fused-sparsemax":
            loss_fn = lambda: linear_sparsemax_loss(hidden, weight, target)
        else:
            loss_fn = lambda: linear_entmax_loss(hidden, weight, target, 1.5)
    unfused = {"fused-sparsemax": lambda: actlab.sparsemax_loss(hidden @ weight.T, target),
               "fused-entmax15": lambda: actlab.entmax_loss(hidden @ weight.T, target, 1.5)}.get(method)

    def step() -> float:
        hidden.grad = weight.grad = None
        loss = loss_fn()
        loss.backward()
        return float(loss.detach())

    return step, (buffers + grads) / 2**20, unfused, (hidden, weight)


def support_size(hidden, weight, alpha: float) -> float:
    """Mean support size of entmax over the first 64 rows' scores."""
    import torch

    import actlab

    with torch.no_grad():
        p = actlab.entmax(hidden[:64] @ weight.T, alpha)
    return float((p > 0).sum(1).double().mean())


def run_case(method: str, n: int, d: int, v: int, warm_rows: int, threads: int) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    step, analytic, _, (hidden, weight) = build(method, n, d, v)
    small, *_ = build(method, min(warm_rows, n), d, v)
    small()  # JIT and allocator warm-up on a few rows
    del small
    gc.collect()
    before = _status("VmRSS")
    exact = _reset_peak()
    c0, w0 = time.process_time(), time.perf_counter()
    loss = step()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    peak = (_status("VmHWM") - before) / 1024 if exact else float("nan")
    alpha = {"fused-sparsemax": 2.0, "fused-entmax15": 1.5}.get(method)
    support = support_size(hidden, weight, alpha) if alpha else float("nan")
    return dict(method=method, N=n, d=d, V=v, cpu=cpu, wall=wall, peak_mib=peak, analytic_mib=analytic,
                loss=loss, support=support, threads=torch.get_num_threads())


def run_in_subprocess(args: list[str], timeout: float) -> dict | str:
    cmd = [sys.executable, __file__, "--case-json", *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if out.returncode != 0:
        return "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:160]
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    ref = next((r for r in results if r["method"] == "fused-ce" and "cpu" in r), None)
    lines = [
        "| method | CPU s | wall s | peak MiB | analytic MiB | CPU vs CE | wall vs CE | peak vs CE | mean support | loss |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "cpu" not in r:
            lines.append(f"| {r['method']} | - | - | - | - | - | - | - | - | {r['note']} |")
            continue

        def ratio(key: str, r: dict = r) -> str:
            return f"{r[key] / ref[key]:.2f}" if ref and ref[key] > 0 else "-"

        sup = "-" if r["support"] != r["support"] else f"{r['support']:.1f}"
        lines.append(f"| {r['method']} | {r['cpu']:.2f} | {r['wall']:.2f} | {r['peak_mib']:.0f} | "
                     f"{r['analytic_mib']:.0f} | {ratio('cpu')} | {ratio('wall')} | {ratio('peak_mib')} | {sup} | "
                     f"{r['loss']:.4f} |")
    return "\n".join(lines) + "\n"


def quick() -> None:
    """Small sizes in one process: every method runs, the fused values match the unfused ones."""
    import torch

    n, d, v = 128, 16, 2048
    results = []
    for m in METHODS:
        step, analytic, unfused, _ = build(m, n, d, v)
        step()
        gc.collect()
        before = _status("VmRSS")
        exact = _reset_peak()
        c0, w0 = time.process_time(), time.perf_counter()
        loss = step()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        peak = (_status("VmHWM") - before) / 1024 if exact else float("nan")
        if unfused is not None:
            with torch.no_grad():
                want = float(unfused())
            assert abs(loss - want) <= 1e-4 * abs(want), (m, loss, want)
        results.append(dict(method=m, cpu=cpu, wall=wall, peak_mib=peak, analytic_mib=analytic, loss=loss,
                            support=float("nan")))
    print(f"N = {n}, d = {d}, V = {v} (quick; fused values checked against the unfused losses)")
    print(table(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes in one process (seconds)")
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=128_000)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", default=str(ROOT / "docs" / "fused_sparse_losses.md"))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--case-json", nargs=5, metavar=("METHOD", "N", "D", "V", "THREADS"))
    args = ap.parse_args()
    if args.case_json:
        m, n, d, v, threads = args.case_json
        print(json.dumps(run_case(m, int(n), int(d), int(v), 64, int(threads))))
        return
    if args.quick:
        quick()
        return
    results = []
    for m in args.methods:
        r = run_in_subprocess([m, str(args.n), str(args.d), str(args.vocab), str(args.threads)], args.timeout)
        results.append(r if isinstance(r, dict) else dict(method=m, note=r))
        print(results[-1], flush=True)
    head = (f"N = {args.n}, d = {args.d}, V = {args.vocab}, float32, CPU ({os.cpu_count()} cores, "
            f"{results[0].get('threads', '?')} torch threads), one training step (forward + backward), "
            "one run per method, each in a fresh process.\n\n")
    text = head + table(results)
    print(text)
    out = Path(args.out)
    if out.exists():
        doc = out.read_text()
        start, end = doc.find("<!-- table -->"), doc.find("<!-- /table -->")
        if start >= 0 and end > start:
            out.write_text(doc[: start + len("<!-- table -->")] + "\n" + text + doc[end:])
            return
    print(f"({out} has no <!-- table --> markers: not written)")


if __name__ == "__main__":
    main()
