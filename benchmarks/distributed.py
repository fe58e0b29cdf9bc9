"""Vocab-parallel losses and maps (``actlab.torch.distributed``): time per
forward+backward, collectives per call and bytes communicated per row.

    python benchmarks/distributed.py --quick          # 2 local ranks, 32 x 2048 (hidden 32): a few seconds
    python benchmarks/distributed.py --write          # 4 local ranks; the table into docs/distributed.md
    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        benchmarks/distributed.py --rows 4096 --vocab 131072

Without ``torchrun`` the script starts ``--world`` gloo ranks on this
machine (``torch.multiprocessing``, a FileStore in a temporary directory);
under ``torchrun`` (``RANK``/``WORLD_SIZE`` set) it joins that group
(NCCL with ``--device cuda``, gloo otherwise). Every rank holds
``vocab / world`` columns of ``(rows, vocab)`` logits (``randn * s``, ``s``
drawn per row from [0.5, 8] so that supports range from a few classes to
hundreds). Time: the median over ``--reps`` calls of forward + backward on
rank 0 (the collectives keep the ranks in step), with the single-process
function on the full logits beside it, in one process. The fused-linear
losses take ``(rows, hidden)`` inputs and each rank ``vocab / world`` rows
of the output weight; their single-process column is actlab's fused loss on
the full weight. Collectives and bytes are
counted by a wrapper around ``torch.distributed.all_reduce`` (bytes are
those of the reduced tensors, the payload each rank contributes; a ring
all-reduce moves about twice that over the wire).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DOC = ROOT / "docs" / "distributed.md"
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"


def cases():
    """name -> (parallel(z_shard, target), single(z, target), is_loss)."""
    import torch.nn.functional as F

    import actlab.torch as at
    from actlab.torch import distributed as D

    return {
        "cross_entropy": (D.vocab_parallel_cross_entropy, F.cross_entropy, True),
        "cross_entropy smoothing+z-loss": (
            lambda z, t: D.vocab_parallel_cross_entropy(z, t, label_smoothing=0.1, z_loss=1e-4),
            lambda z, t: F.cross_entropy(z, t, label_smoothing=0.1), True),
        "sparsemax_loss": (D.vocab_parallel_sparsemax_loss, at.sparsemax_loss, True),
        "entmax_loss a=1.5": (D.vocab_parallel_entmax_loss, at.entmax_loss, True),
        "entmax_loss a=1.25": (lambda z, t: D.vocab_parallel_entmax_loss(z, t, alpha=1.25),
                               lambda z, t: at.entmax_loss(z, t, alpha=1.25), True),
        "sparsemax": (lambda z, t: D.vocab_parallel_sparsemax(z), lambda z, t: at.sparsemax(z, dim=-1), False),
        "entmax a=1.5": (lambda z, t: D.vocab_parallel_entmax(z), lambda z, t: at.entmax15(z, dim=-1), False),
        "entmax a=1.25": (lambda z, t: D.vocab_parallel_entmax(z, alpha=1.25),
                          lambda z, t: at.entmax(z, alpha=1.25, dim=-1), False),
    }


def linear_cases():
    """name -> (parallel(input, weight_shard, target), single(input, weight, target)): the fused-linear losses."""
    from actlab.torch import distributed as D
    from actlab.torch import large_output as L

    return {
        "linear_cross_entropy": (D.vocab_parallel_linear_cross_entropy, L.linear_cross_entropy),
        "linear_sparsemax_loss": (D.vocab_parallel_linear_sparsemax_loss, L.linear_sparsemax_loss),
        "linear_entmax_loss a=1.5": (D.vocab_parallel_linear_entmax_loss, L.linear_entmax_loss),
    }


def _median_time(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(rank, world, args, out=None):
    import torch
    import torch.distributed as dist

    from actlab.torch.distributed import _search

    torch.manual_seed(0)
    device = torch.device(args.device if args.device == "cpu" else f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
    dtype = getattr(torch, args.dtype)
    N, V = args.rows, args.vocab - args.vocab % world
    Vl = V // world
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(N, V, generator=g) * (0.5 + 7.5 * torch.rand(N, 1, generator=g))).to(device, dtype)
    t = torch.randint(0, V, (N,), generator=g).to(device)
    gout = torch.randn(N, Vl, generator=g).to(device, dtype)
    shard = x[:, rank * Vl:(rank + 1) * Vl].contiguous()

    calls = []
    orig = dist.all_reduce

    def counting(tensor, op=dist.ReduceOp.SUM, group=None, async_op=False):
        calls.append(tensor.numel() * tensor.element_size())
        return orig(tensor, op=op, group=group, async_op=async_op)

    dist.all_reduce = counting
    rows = []
    for name, (parallel, single, is_loss) in cases().items():
        if args.only and args.only not in name:
            continue

        def step(fn=parallel, z=shard, loss=is_loss, go=gout):
            zz = z.detach().requires_grad_()
            y = fn(zz, t)
            (y if loss else (y * go).sum()).backward()
            return zz.grad

        step()  # warm-up
        calls.clear()
        zz = shard.detach().requires_grad_()
        y = parallel(zz, t)
        fwd, steps = list(calls), _search.LAST_STEPS[0]
        calls.clear()
        (y if is_loss else (y * gout).sum()).backward()
        bwd = list(calls)
        if device.type == "cuda":
            torch.cuda.synchronize()
        dist.barrier()
        par = _median_time(step, args.reps)
        dist.all_reduce = orig
        one = None
        if rank == 0 and args.single:
            def single_step(fn=single, loss=is_loss):
                zz = x.detach().requires_grad_()
                y = fn(zz, t)
                (y if loss else y.sum()).backward()

            single_step()
            one = _median_time(single_step, args.reps)
        dist.barrier()
        dist.all_reduce = counting
        rows.append(dict(name=name, fwd=len(fwd), bwd=len(bwd), steps=steps if "cross" not in name else 0,
                         bytes_per_row=(sum(fwd) + sum(bwd)) / N, ms=1e3 * par,
                         single_ms=None if one is None else 1e3 * one))
    dist.all_reduce = orig
    rows += _run_linear(rank, world, args, device, dtype, N, V, t, counting, calls)
    if rank == 0:
        meta = dict(world=world, rows=N, vocab=V, hidden=args.hidden, dtype=args.dtype, device=args.device,
                    backend=dist.get_backend(), threads=torch.get_num_threads())
        result = dict(meta=meta, rows=rows)
        if out:
            Path(out).write_text(json.dumps(result))
        else:
            print(table(result))


def _run_linear(rank, world, args, device, dtype, N, V, t, counting, calls):
    """The fused-linear rows: ``(rows, hidden)`` inputs (``randn * s``, ``s`` per row as the logits'), a
    ``(V, hidden)`` weight of ``randn / sqrt(hidden)``, each rank its ``V / world`` rows; gradients for
    the input and the weight shard."""
    import torch
    import torch.distributed as dist

    from actlab.torch.distributed import _search

    d, Vl = args.hidden, V // world
    g = torch.Generator().manual_seed(2)
    h = (torch.randn(N, d, generator=g) * (0.5 + 7.5 * torch.rand(N, 1, generator=g))).to(device, dtype)
    W = (torch.randn(V, d, generator=g) / d**0.5).to(device, dtype)
    shard = W[rank * Vl:(rank + 1) * Vl].contiguous()
    orig, rows = dist.all_reduce, []
    for name, (parallel, single) in linear_cases().items():
        if args.only and args.only not in name:
            continue

        def step(fn=parallel, w=shard):
            hh, ww = h.detach().requires_grad_(), w.detach().requires_grad_()
            fn(hh, ww, t).backward()

        step()  # warm-up
        dist.all_reduce = counting
        calls.clear()
        hh, ww = h.detach().requires_grad_(), shard.detach().requires_grad_()
        y = parallel(hh, ww, t)
        fwd, steps = list(calls), _search.LAST_STEPS[0]
        calls.clear()
        y.backward()
        bwd = list(calls)
        dist.all_reduce = orig
        if device.type == "cuda":
            torch.cuda.synchronize()
        dist.barrier()
        par = _median_time(step, args.reps)
        one = None
        if rank == 0 and args.single:
            one = _median_time(lambda fn=single: step(fn, W), args.reps)
        dist.barrier()
        rows.append(dict(name=f"{name} (d={d})", fwd=len(fwd), bwd=len(bwd), steps=steps if "cross" not in name else 0,
                         bytes_per_row=(sum(fwd) + sum(bwd)) / N, ms=1e3 * par,
                         single_ms=None if one is None else 1e3 * one))
    return rows


def table(result):
    m = result["meta"]
    lines = [f"{m['world']} ranks ({m['backend']}, {m['device']}, {m['threads']} thread(s) each), "
             f"{m['rows']} rows x {m['vocab']} classes, {m['dtype']}:", "",
             "| function | collectives fwd + bwd | search steps | bytes / row | ms (fwd+bwd) | single process, ms |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        one = "" if r["single_ms"] is None else f"{r['single_ms']:.1f}"
        lines.append(f"| {r['name']} | {r['fwd']} + {r['bwd']} | {r['steps'] or '-'} | {r['bytes_per_row']:.0f} "
                     f"| {r['ms']:.1f} | {one} |")
    return "\n".join(lines)


def _local(rank, world, args, store, out):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", store=dist.FileStore(store, world), rank=rank, world_size=world)
    try:
        run(rank, world, args, out)
    finally:
        dist.destroy_process_group()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="2 ranks, 32 x 2048, 2 reps (CI smoke run)")
    p.add_argument("--world", type=int, default=4, help="local ranks to start (ignored under torchrun)")
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--vocab", type=int, default=32768)
    p.add_argument("--hidden", type=int, default=256, help="input features of the fused-linear rows")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1, help="torch threads per local rank")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--only", default="", help="only the cases whose name contains this")
    p.add_argument("--no-single", dest="single", action="store_false", help="skip the single-process column")
    p.add_argument("--write", action="store_true", help=f"write the table into {DOC.relative_to(ROOT)}")
    args = p.parse_args(argv)
    if args.quick:
        args.world, args.rows, args.vocab, args.hidden, args.reps = 2, 32, 2048, 32, 2
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # under torchrun
        import torch
        import torch.distributed as dist

        dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
        if args.device == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        try:
            run(dist.get_rank(), dist.get_world_size(), args)
        finally:
            dist.destroy_process_group()
        return
    import torch.multiprocessing as mp

    cases()  # the heavy imports once, inherited by forked ranks
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        mp.start_processes(_local, args=(args.world, args, os.path.join(tmp, "store"), out), nprocs=args.world,
                           join=True, start_method=method)
        result = json.loads(Path(out).read_text())
    text = table(result)
    print(text)
    if args.write:
        doc = DOC.read_text(encoding="utf-8")
        head, rest = doc.split(MARK_START, 1)
        _, tail = rest.split(MARK_END, 1)
        DOC.write_text(f"{head}{MARK_START}\n{text}\n{MARK_END}{tail}", encoding="utf-8")
        (ROOT / "docs" / "distributed_benchmark.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
