"""actlab.torch.distributed on CPU with the gloo backend: 2, 3 and 4 processes
on one machine, one process group per world size running every check.

Each rank builds the same full logits, passes its columns, and compares its
slice of the output and of the gradient with the single-process result on
the full logits: ``torch.nn.functional.cross_entropy`` (PyTorch's own) for
the cross-entropy, actlab's single-process sparsemax / entmax and their
losses (tested against mpmath, the sort algorithm and finite differences in
their own test files) for the rest; float64 to 1e-12 relative, float32 to
1e-6. The collectives are counted by a wrapper around
``torch.distributed.all_reduce`` and checked against the documented counts.
"""

from __future__ import annotations

import math
import os
import tempfile
import traceback
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

import torch.multiprocessing as mp  # noqa: E402

TOL = {torch.float64: dict(rtol=1e-12, atol=1e-14), torch.float32: dict(rtol=1e-6, atol=1e-6)}


class _Counter:
    """Records every all_reduce (op, numel, bytes); any other collective fails."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self._orig = dist.all_reduce

        def counting(t, op=dist.ReduceOp.SUM, group=None, async_op=False):
            name = "max" if op == dist.ReduceOp.MAX else "sum" if op == dist.ReduceOp.SUM else str(op)
            self.calls.append((name, t.numel(), t.numel() * t.element_size()))
            return self._orig(t, op=op, group=group, async_op=async_op)

        dist.all_reduce = counting
        for other in ("all_gather", "all_gather_into_tensor", "broadcast", "reduce_scatter", "all_to_all",
                      "reduce", "gather", "scatter"):
            setattr(dist, other, self._forbidden(other, getattr(dist, other)))

    @staticmethod
    def _forbidden(name, orig):
        def call(*args, **kwargs):
            if _Counter.strict:
                raise AssertionError(f"unexpected collective {name}")
            return orig(*args, **kwargs)
        return call

    strict = True

    def take(self) -> list[tuple[str, int, int]]:
        out, self.calls = self.calls, []
        return out


def _logits(N: int, V: int, dtype, seed: int):
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([0.05, 0.5, 1.0, 3.0, 10.0, 40.0, 1.0][:N] + [2.0] * max(0, N - 7), dtype=dtype)
    x = torch.randn(N, V, generator=g, dtype=dtype) * scale[:N, None]
    x[min(6, N - 1), : V // 3] = x[min(6, N - 1), 0]  # ties
    return x, torch.randint(0, V, (N,), generator=g)


def _close(got, want, dtype, what):
    torch.testing.assert_close(got, want, **TOL[dtype], equal_nan=True, msg=lambda m: f"{what}: {m}")


def _maps(rank, world, counter, dtype, V_local, report):
    import actlab.torch as at
    from actlab.torch.distributed import _search, vocab_parallel_entmax, vocab_parallel_sparsemax

    x, _ = _logits(7, world * V_local, dtype, 1 + V_local)
    if V_local > 512:  # long rows: leave out the nearly uniform row, so that the block screening is taken
        x = x[1:]
    N = x.shape[0]
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=dtype)
    cols = slice(rank * V_local, (rank + 1) * V_local)
    for alpha in (2.0, 1.5, 1.3, 3.0):
        full = x.clone().requires_grad_()
        ref = at.sparsemax(full, dim=-1) if alpha == 2.0 else at.entmax(full, alpha=alpha, dim=-1)
        (ref * g).sum().backward()
        loc = x[:, cols].clone().requires_grad_()
        counter.take()
        y = vocab_parallel_sparsemax(loc) if alpha == 2.0 else vocab_parallel_entmax(loc, alpha=alpha)
        fwd, t = counter.take(), _search.LAST_STEPS[0]
        (y * g[:, cols]).sum().backward()
        bwd = counter.take()
        what = f"entmax alpha={alpha} world={world} {dtype} V_local={V_local}"
        _close(y, ref[:, cols].detach(), dtype, what)
        _close(loc.grad, full.grad[:, cols], dtype, what + " grad")
        exact = alpha in (1.5, 2.0)
        assert [c[0] for c in fwd] == ["max"] + ["sum"] * (t + (not exact)), (what, fwd)
        assert 1 <= t <= (8 if exact else 30), (what, t)
        assert bwd == [("sum", N, N * x.element_size())], (what, bwd)
        report.append((what, len(fwd), t, sum(c[2] for c in fwd) / N))


def _nonfinite(rank, world, counter, dtype):
    import actlab.torch as at
    from actlab.torch.distributed import vocab_parallel_entmax

    V_local = 5
    x, _ = _logits(4, world * V_local, dtype, 3)
    x[0] = -math.inf  # masked row: zeros, zero gradient
    x[1, 2] = math.inf  # one +inf entry takes the mass
    x[2, world * V_local - 1] = math.nan
    cols = slice(rank * V_local, (rank + 1) * V_local)
    for alpha in (2.0, 1.5, 1.3):
        full = x.clone().requires_grad_()
        ref = at.entmax(full, alpha=alpha, dim=-1)
        ref[[0, 1, 3]].sum().backward()
        loc = x[:, cols].clone().requires_grad_()
        y = vocab_parallel_entmax(loc, alpha=alpha)
        y[[0, 1, 3]].sum().backward()
        _close(y, ref[:, cols].detach(), dtype, f"non-finite rows alpha={alpha}")
        _close(loc.grad[[0, 1, 3]], full.grad[[0, 1, 3], cols], dtype, f"non-finite rows grad alpha={alpha}")
        assert bool((loc.grad[0] == 0).all())
    counter.take()


def _losses(rank, world, counter, dtype, report):
    import actlab.torch as at
    from actlab.torch.distributed import (
        _search,
        vocab_parallel_cross_entropy,
        vocab_parallel_entmax_loss,
        vocab_parallel_sparsemax_loss,
    )

    N, V_local = 9, 13
    x, t = _logits(N, world * V_local, dtype, 11)
    t[3] = -100
    cols = slice(rank * V_local, (rank + 1) * V_local)
    F = torch.nn.functional
    cases = [
        ("ce", lambda z: F.cross_entropy(z, t), lambda z: vocab_parallel_cross_entropy(z, t)),
        ("ce smoothing sum", lambda z: F.cross_entropy(z, t, label_smoothing=0.2, reduction="sum"),
         lambda z: vocab_parallel_cross_entropy(z, t, label_smoothing=0.2, reduction="sum")),
        ("ce z-loss", lambda z: F.cross_entropy(z, t) + 1e-2 * (torch.logsumexp(z, -1)[t != -100] ** 2).mean(),
         lambda z: vocab_parallel_cross_entropy(z, t, z_loss=1e-2)),
        ("sparsemax loss", lambda z: at.sparsemax_loss(z, t), lambda z: vocab_parallel_sparsemax_loss(z, t)),
        ("entmax15 loss none", lambda z: at.entmax_loss(z, t, alpha=1.5, reduction="none"),
         lambda z: vocab_parallel_entmax_loss(z, t, alpha=1.5, reduction="none")),
        ("entmax 1.25 loss", lambda z: at.entmax_loss(z, t, alpha=1.25), lambda z: vocab_parallel_entmax_loss(
            z, t, alpha=1.25)),
        ("entmax 2 loss sum", lambda z: at.entmax_loss(z, t, alpha=2.0, reduction="sum"),
         lambda z: vocab_parallel_entmax_loss(z, t, alpha=2.0, reduction="sum")),
    ]
    eps, V = 0.1, world * V_local
    keepf = (t != -100).to(dtype)
    q = torch.nn.functional.one_hot(t.clamp(min=0), V).to(dtype) * (1 - eps) + eps / V  # smoothed target
    for alpha in (2.0, 1.5, 1.25):
        cases.append((f"entmax {alpha} loss smoothing none",
                      lambda z, a=alpha: at.entmax_loss(z, q, alpha=a, reduction="none") * keepf,
                      lambda z, a=alpha: vocab_parallel_entmax_loss(z, t, alpha=a, label_smoothing=eps,
                                                                    reduction="none")))
    w = torch.linspace(0.5, 1.5, N, dtype=dtype)
    for name, single, parallel in cases:
        full = x.clone().requires_grad_()
        ref = single(full)
        (ref * w if ref.dim() else ref).sum().backward()
        loc = x[:, cols].clone().requires_grad_()
        counter.take()
        got = parallel(loc)
        fwd, steps = counter.take(), _search.LAST_STEPS[0]
        (got * w if got.dim() else got).sum().backward()
        bwd = counter.take()
        what = f"{name} world={world} {dtype}"
        _close(got, ref.detach(), dtype, what)
        _close(loc.grad, full.grad[:, cols], dtype, what + " grad")
        assert bwd == [], (what, bwd)
        if name.startswith("ce"):
            assert [(c[0], c[1]) for c in fwd] == [("max", N), ("sum", 3 * N + 1)], (what, fwd)
        else:
            exact = "1.25" not in name
            assert [c[0] for c in fwd] == ["max"] + ["sum"] * (steps + (not exact)), (what, fwd)
        report.append((what, len(fwd), steps if not name.startswith("ce") else 0, sum(c[2] for c in fwd) / N))


def _linear(rank, world, counter, dtype, report):
    """The fused-linear losses against the single-process fused losses on the
    full weight (themselves tested against the losses of the full scores)."""
    from actlab.torch.distributed import (
        _search,
        vocab_parallel_linear_cross_entropy,
        vocab_parallel_linear_entmax_loss,
        vocab_parallel_linear_sparsemax_loss,
    )
    from actlab.torch.large_output import linear_cross_entropy, linear_entmax_loss, linear_sparsemax_loss

    N, d, V_local = 9, 5, 13
    V = world * V_local
    g = torch.Generator().manual_seed(41)
    scale = torch.tensor([0.02, 0.3, 1.0, 3.0, 10.0, 1.0, 0.5, 2.0, 5.0], dtype=dtype)[:, None]
    h = torch.randn(N, d, generator=g, dtype=dtype) * scale  # row 0 nearly uniform: the dense fallback
    W, b = torch.randn(V, d, generator=g, dtype=dtype), torch.randn(V, generator=g, dtype=dtype) * 0.3
    t = torch.randint(0, V, (N,), generator=g)
    t[3] = -100
    cols = slice(rank * V_local, (rank + 1) * V_local)
    ck = dict(chunk_rows=4)
    sk = dict(chunk_rows=4, vocab_chunk=4)
    cases = [
        ("linear ce", lambda h, W, b: linear_cross_entropy(h, W, t, linear_bias=b),
         lambda h, W, b: vocab_parallel_linear_cross_entropy(h, W, t, bias_shard=b, **ck)),
        ("linear ce smoothing z-loss none",
         lambda h, W, b: linear_cross_entropy(h, W, t, linear_bias=b, label_smoothing=0.2, z_loss=1e-2,
                                              reduction="none"),
         lambda h, W, b: vocab_parallel_linear_cross_entropy(h, W, t, bias_shard=b, label_smoothing=0.2,
                                                             z_loss=1e-2, reduction="none", **ck)),
        ("linear sparsemax loss", lambda h, W, b: linear_sparsemax_loss(h, W, t, linear_bias=b),
         lambda h, W, b: vocab_parallel_linear_sparsemax_loss(h, W, t, bias_shard=b, **sk)),
        ("linear entmax15 loss smoothing none",
         lambda h, W, b: linear_entmax_loss(h, W, t, 1.5, linear_bias=b, label_smoothing=0.1, reduction="none"),
         lambda h, W, b: vocab_parallel_linear_entmax_loss(h, W, t, 1.5, bias_shard=b, label_smoothing=0.1,
                                                           reduction="none", **sk)),
        ("linear entmax 1.25 loss smoothing sum",
         lambda h, W, b: linear_entmax_loss(h, W, t, 1.25, linear_bias=b, label_smoothing=0.1, reduction="sum"),
         lambda h, W, b: vocab_parallel_linear_entmax_loss(h, W, t, 1.25, bias_shard=b, label_smoothing=0.1,
                                                           reduction="sum", **sk)),
        ("linear entmax 2 loss no bias", lambda h, W, b: linear_entmax_loss(h, W, t, 2.0),
         lambda h, W, b: vocab_parallel_linear_entmax_loss(h, W, t, 2.0, chunk_rows=2, vocab_chunk=64)),
    ]
    wrow = torch.linspace(0.5, 1.5, N, dtype=dtype)
    for name, single, parallel in cases:
        with_bias = "no bias" not in name
        hf, Wf, bf = (x.clone().requires_grad_() for x in (h, W, b))
        ref = single(hf, Wf, bf if with_bias else None)
        (ref * wrow if ref.dim() else ref).sum().backward()
        hl, Wl, bl = h.clone().requires_grad_(), W[cols].clone().requires_grad_(), b[cols].clone().requires_grad_()
        counter.take()
        got = parallel(hl, Wl, bl if with_bias else None)
        fwd, steps = counter.take(), _search.LAST_STEPS[0]
        (got * wrow if got.dim() else got).sum().backward()
        bwd = counter.take()
        what = f"{name} world={world} {dtype}"
        _close(got, ref.detach(), dtype, what)
        _close(hl.grad, hf.grad, dtype, what + " input grad")
        _close(Wl.grad, Wf.grad[cols], dtype, what + " weight grad")
        if with_bias:
            _close(bl.grad, bf.grad[cols], dtype, what + " bias grad")
        assert bwd == [("sum", N * d, N * d * h.element_size())], (what, bwd)
        if " ce" in name:
            assert [(c[0], c[1]) for c in fwd] == [("max", N), ("sum", 3 * N + 1)], (what, fwd)
        else:
            exact = "1.25" not in name
            assert [c[0] for c in fwd] == ["max"] + ["sum"] * (steps + (not exact)), (what, fwd)
        report.append((what, len(fwd), steps if " ce" not in name else 0, sum(c[2] for c in fwd) / N))


def _uneven_and_dtensor(rank, world, counter, dtype, with_dtensor):
    for sizes in ([3 + 4 * r for r in range(world)], [5] * (world - 1) + [0]):  # uneven, and an empty shard
        _uneven(rank, sizes, dtype)
    if with_dtensor:
        _dtensor(rank, world, dtype)
    counter.take()


def _uneven(rank, sizes, dtype):
    import actlab.torch as at
    from actlab.torch.distributed import vocab_parallel_cross_entropy, vocab_parallel_entmax

    V, off = sum(sizes), sum(sizes[:rank])
    x, t = _logits(6, V, dtype, 21)
    cols = slice(off, off + sizes[rank])
    for alpha in (1.5, 1.3):
        full = x.clone().requires_grad_()
        ref = at.entmax(full, alpha=alpha, dim=-1)
        ref[:, 0].sum().backward()
        loc = x[:, cols].clone().requires_grad_()
        y = vocab_parallel_entmax(loc, alpha=alpha, vocab_offset=off)
        (y[:, 0].sum() if rank == 0 else y.sum() * 0).backward()
        _close(y, ref[:, cols].detach(), dtype, f"uneven {sizes} alpha={alpha}")
        _close(loc.grad, full.grad[:, cols], dtype, f"uneven {sizes} grad alpha={alpha}")
    full = x.clone().requires_grad_()
    ref = torch.nn.functional.cross_entropy(full, t, label_smoothing=0.1)
    ref.backward()
    loc = x[:, cols].clone().requires_grad_()
    got = vocab_parallel_cross_entropy(loc, t, label_smoothing=0.1, vocab_offset=off)
    got.backward()
    _close(got, ref.detach(), dtype, f"uneven {sizes} ce")
    _close(loc.grad, full.grad[:, cols], dtype, f"uneven {sizes} ce grad")
    from actlab.torch.distributed import vocab_parallel_entmax_loss

    q = torch.nn.functional.one_hot(t, V).to(dtype) * 0.8 + 0.2 / V
    for alpha in (2.0, 1.25):
        full = x.clone().requires_grad_()
        ref = at.entmax_loss(full, q, alpha=alpha)
        ref.backward()
        loc = x[:, cols].clone().requires_grad_()
        got = vocab_parallel_entmax_loss(loc, t, alpha=alpha, label_smoothing=0.2, vocab_offset=off)
        got.backward()
        _close(got, ref.detach(), dtype, f"uneven {sizes} smoothed alpha={alpha}")
        _close(loc.grad, full.grad[:, cols], dtype, f"uneven {sizes} smoothed grad alpha={alpha}")
    if min(sizes) > 0:  # the fused-linear losses on uneven rows of the weight
        from actlab.torch.distributed import (
            vocab_parallel_linear_cross_entropy,
            vocab_parallel_linear_entmax_loss,
        )
        from actlab.torch.large_output import linear_cross_entropy, linear_entmax_loss

        g = torch.Generator().manual_seed(23)
        h, W = torch.randn(6, 4, generator=g, dtype=dtype) * 2, torch.randn(V, 4, generator=g, dtype=dtype)
        for name, single, parallel in (
                ("ce", lambda h, W: linear_cross_entropy(h, W, t, label_smoothing=0.1),
                 lambda h, W: vocab_parallel_linear_cross_entropy(h, W, t, label_smoothing=0.1, vocab_offset=off,
                                                                  chunk_rows=4)),
                ("entmax 1.25", lambda h, W: linear_entmax_loss(h, W, t, 1.25, label_smoothing=0.2),
                 lambda h, W: vocab_parallel_linear_entmax_loss(h, W, t, 1.25, label_smoothing=0.2,
                                                                vocab_offset=off, chunk_rows=4, vocab_chunk=4))):
            hf, Wf = h.clone().requires_grad_(), W.clone().requires_grad_()
            single(hf, Wf).backward()
            hl, Wl = h.clone().requires_grad_(), W[cols].clone().requires_grad_()
            got = parallel(hl, Wl)
            got.backward()
            _close(got, single(h, W), dtype, f"uneven {sizes} linear {name}")
            _close(hl.grad, hf.grad, dtype, f"uneven {sizes} linear {name} input grad")
            _close(Wl.grad, Wf.grad[cols], dtype, f"uneven {sizes} linear {name} weight grad")


def _dtensor(rank, world, dtype):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Shard

    import actlab.torch as at
    from actlab.torch.distributed import vocab_parallel_sparsemax, vocab_parallel_sparsemax_loss

    _Counter.strict = False  # the mesh set-up may communicate
    mesh = init_device_mesh("cpu", (world,))
    _Counter.strict = True
    V = 5 * world + 2  # torch.chunk's uneven split
    x, t = _logits(5, V, dtype, 31)
    chunk = -(-V // world)
    cols = slice(min(rank * chunk, V), min((rank + 1) * chunk, V))
    full = x.clone().requires_grad_()
    ref = at.sparsemax_loss(full, t)
    ref.backward()
    loc = x[:, cols].clone().requires_grad_()
    xd = DTensor.from_local(loc, mesh, [Shard(-1)], run_check=False, shape=x.shape, stride=x.stride())
    got = vocab_parallel_sparsemax_loss(xd, t)
    got.backward()
    _close(got, ref.detach(), dtype, "dtensor sparsemax loss")
    _close(loc.grad, full.grad[:, cols], dtype, "dtensor sparsemax loss grad")
    yd = vocab_parallel_sparsemax(DTensor.from_local(x[:, cols], mesh, [Shard(1)], run_check=False,
                                                     shape=x.shape, stride=x.stride()))
    assert isinstance(yd, DTensor) and tuple(yd.shape) == tuple(x.shape)
    _close(yd.to_local(), at.sparsemax(x, dim=-1)[:, cols], dtype, "dtensor sparsemax")


def _worker(rank: int, world: int, store_path: str, out: str) -> None:
    torch.set_num_threads(1)
    from actlab.simplex import sparse_forward

    sparse_forward.USE_COMPILED = False  # numba's import would cost each process seconds; its kernels agree elsewhere
    store = dist.FileStore(store_path, world)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world)
    counter = _Counter()
    report: list = []
    try:
        for dtype in (torch.float64, torch.float32):
            _maps(rank, world, counter, dtype, 11, report)
            _losses(rank, world, counter, dtype, report)
            _linear(rank, world, counter, dtype, report)
        _maps(rank, world, counter, torch.float64, 600, report)  # long rows: the block screening path
        _nonfinite(rank, world, counter, torch.float64)
        _uneven_and_dtensor(rank, world, counter, torch.float64, world == 3)
        if rank == 0:
            with open(out, "w") as f:
                for row in report:
                    f.write("\t".join(map(str, row)) + "\n")
    except BaseException:
        with open(f"{out}.err{rank}", "w") as f:
            f.write(traceback.format_exc())
        raise
    finally:
        dist.destroy_process_group()


def _run(world: int, tmp: str) -> str:
    out = os.path.join(tmp, "report.tsv")
    try:
        # fork (where there is one) after the heavy imports, so that the ranks inherit them
        import torch.distributed.tensor  # noqa: F401  (torch.testing.assert_close imports it)

        import actlab.torch.distributed  # noqa: F401

        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        mp.start_processes(_worker, args=(world, os.path.join(tmp, "store"), out), nprocs=world, join=True,
                           start_method=method)
    except Exception as exc:  # the first rank to fail has the cause; the others lost their peer
        errors = sorted(Path(tmp).glob("report.tsv.err*"))
        first = min(errors, key=lambda e: e.stat().st_mtime) if errors else None
        raise AssertionError(first.read_text() if first else str(exc)) from None
    return out


@pytest.mark.slow
@pytest.mark.parametrize("world", [2, 3, 4])
def test_vocab_parallel_matches_single_process(world: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with open(_run(world, tmp)) as f:
            rows = [line.split("\t") for line in f]
    assert len(rows) == 2 * (4 + 10 + 6) + 4


def test_errors_name_the_argument() -> None:
    from actlab.torch.distributed import vocab_parallel_cross_entropy, vocab_parallel_entmax

    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group("gloo", store=dist.FileStore(os.path.join(tmp, "s"), 1), rank=0, world_size=1)
        try:
            x = torch.randn(2, 4)
            with pytest.raises(ValueError, match="alpha"):
                vocab_parallel_entmax(x, alpha=1.0)
            with pytest.raises(ValueError, match="target 7 is out of range"):
                vocab_parallel_cross_entropy(x, torch.tensor([0, 7]))
            with pytest.raises(ValueError, match="reduction"):
                vocab_parallel_cross_entropy(x, torch.tensor([0, 1]), reduction="avg")
            with pytest.raises(ValueError, match="label_smoothing"):
                vocab_parallel_cross_entropy(x, torch.tensor([0, 1]), label_smoothing=2.0)
            with pytest.raises(ValueError, match="logits_shard"):
                vocab_parallel_entmax(torch.arange(4))
            from actlab.torch.distributed import vocab_parallel_linear_entmax_loss

            with pytest.raises(ValueError, match="weight_shard must have shape"):
                vocab_parallel_linear_entmax_loss(x, torch.randn(5, 3), torch.tensor([0, 1]))
            with pytest.raises(ValueError, match="bias_shard"):
                vocab_parallel_linear_entmax_loss(x, torch.randn(5, 4), torch.tensor([0, 1]),
                                                  bias_shard=torch.randn(4))
            with pytest.raises(ValueError, match="vocab_chunk"):
                vocab_parallel_linear_entmax_loss(x, torch.randn(5, 4), torch.tensor([0, 1]), vocab_chunk=0)
        finally:
            dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="init_process_group"):
        vocab_parallel_entmax(torch.randn(2, 4))


def _one_rank_group(tmp: str) -> None:
    dist.init_process_group("gloo", store=dist.FileStore(os.path.join(tmp, "s"), 1), rank=0, world_size=1)


def test_gradcheck_on_one_rank() -> None:
    """Finite differences (float64) of the maps and losses, a group of one."""
    from actlab.torch.distributed import (
        vocab_parallel_cross_entropy,
        vocab_parallel_entmax,
        vocab_parallel_entmax_loss,
        vocab_parallel_linear_cross_entropy,
        vocab_parallel_linear_entmax_loss,
        vocab_parallel_linear_sparsemax_loss,
        vocab_parallel_sparsemax_loss,
    )

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(3, 6, generator=g, dtype=torch.float64) * 2).requires_grad_()
    t = torch.tensor([1, -100, 4])
    with tempfile.TemporaryDirectory() as tmp:
        _one_rank_group(tmp)
        try:
            for f in (lambda z: vocab_parallel_entmax(z, alpha=1.5), lambda z: vocab_parallel_entmax(z, alpha=1.3),
                      lambda z: vocab_parallel_sparsemax_loss(z, t),
                      lambda z: vocab_parallel_entmax_loss(z, t, alpha=1.7, reduction="none"),
                      lambda z: vocab_parallel_cross_entropy(z, t, label_smoothing=0.3, z_loss=0.1)):
                assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-6)
            h, w = x[:, :4].detach().clone().requires_grad_(), (torch.randn(7, 4, generator=g, dtype=torch.float64)
                                                                 .requires_grad_())
            b = torch.randn(7, generator=g, dtype=torch.float64).requires_grad_()
            for f in (lambda h, w, b: vocab_parallel_linear_cross_entropy(h, w, t, bias_shard=b, z_loss=0.1,
                                                                         label_smoothing=0.2, chunk_rows=2),
                      lambda h, w, b: vocab_parallel_linear_sparsemax_loss(h, w, t, bias_shard=b, chunk_rows=2,
                                                                          vocab_chunk=3, reduction="none"),
                      lambda h, w, b: vocab_parallel_linear_entmax_loss(h, w, t, 1.3, bias_shard=b, chunk_rows=2,
                                                                       label_smoothing=0.1)):
                assert torch.autograd.gradcheck(f, (h, w, b), eps=1e-6, atol=1e-6)
        finally:
            dist.destroy_process_group()



@pytest.mark.slow  # a TorchDispatchMode's first use costs seconds
def test_linear_losses_never_hold_the_scores(monkeypatch) -> None:
    """No tensor as large as the rows' scores is made, forward or backward (a group of one)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from actlab.simplex import sparse_forward

    monkeypatch.setattr(sparse_forward, "USE_COMPILED", False)  # numba's import and compilation cost seconds

    from actlab.torch.distributed import (
        vocab_parallel_linear_cross_entropy,
        vocab_parallel_linear_entmax_loss,
        vocab_parallel_linear_sparsemax_loss,
    )

    class Largest(TorchDispatchMode):
        most = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for o in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(o, torch.Tensor) and o.layout == torch.strided:  # memory held, not views' sizes
                    self.most = max(self.most, o.untyped_storage().nbytes() // o.element_size())
            return out

    N, d, V = 32, 8, 256
    g = torch.Generator().manual_seed(3)
    h = (torch.randn(N, d, generator=g, dtype=torch.float64) * 3).requires_grad_()
    w = torch.randn(V, d, generator=g, dtype=torch.float64).requires_grad_()
    t = torch.randint(0, V, (N,), generator=g)
    with tempfile.TemporaryDirectory() as tmp:
        _one_rank_group(tmp)
        try:
            for f in (lambda: vocab_parallel_linear_cross_entropy(h, w, t, chunk_rows=8),
                      lambda: vocab_parallel_linear_sparsemax_loss(h, w, t, chunk_rows=8, vocab_chunk=32),
                      lambda: vocab_parallel_linear_entmax_loss(h, w, t, 1.5, chunk_rows=8, vocab_chunk=32)):
                with Largest() as mode:
                    f().backward()
                assert mode.most <= 8 * V, mode.most  # one chunk of rows' scores at most
        finally:
            dist.destroy_process_group()
