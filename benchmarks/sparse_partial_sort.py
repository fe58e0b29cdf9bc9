"""Would the ``entmax`` package's partial sort (``k=``) make actlab's sparsemax
and 1.5-entmax faster? Forward time on one CPU thread, inputs ``randn``.

    python benchmarks/sparse_partial_sort.py            # (64, 50000), float32 and float64
    python benchmarks/sparse_partial_sort.py --quick    # a few seconds

Contenders, per map and dtype:

- ``actlab``: the eager search (candidate filter, exact threshold on the
  candidates; the compiled kernels on the CPU), what every ``k`` runs;
- ``array-API``: the same search without the compiled kernels (what runs on a
  GPU), for scale;
- ``topk k=...``: the package's scheme built from actlab's pieces:
  ``torch.topk`` of the k largest, the sort-based threshold of Martins &
  Astudillo 2016 (:func:`actlab.simplex.threshold.sort_cut`) on them, ``2k``
  while a row's support fills all k, then the output; checked to agree;
- ``torch.topk`` alone (the floor of any top-k scheme) and the package itself.

The median wall clock of the repeats is printed; timings on a shared machine
are noisy. Nothing is asserted or written.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def median_ms(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def topk_scheme(x, beta, k):
    """The package's partial-sort schedule on actlab's sort-based threshold."""
    import torch

    from actlab._backend import backend_of
    from actlab.simplex import threshold

    xp, n = backend_of(x), x.shape[-1]
    while True:
        top = torch.topk(x, min(k, n), dim=-1).values
        m = top[..., :1]
        cut = threshold.sort_cut(top - m, beta, xp)
        if k >= n or bool(((top - m > cut).sum(-1) < k).all()):
            break
        k *= 2
    d = torch.clamp(x - m - cut, min=0.0)
    return d if beta == 1.0 else 0.25 * d * d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small shape, few repeats")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args(argv)
    import torch

    import actlab
    from actlab.simplex import sparse_forward

    torch.set_num_threads(1)
    shape = (16, 5000) if args.quick else (64, 50000)
    reps = args.reps or (2 if args.quick else 7)
    ks = (16, 64) if args.quick else (16, 64, 256, 1024)
    try:
        import entmax as pkg
    except ImportError:
        pkg = None
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(0)
        x = torch.randn(shape, dtype=dtype)
        for name, beta, ours in (("sparsemax", 1.0, actlab.sparsemax), ("entmax15", 0.5, actlab.entmax15)):
            y = ours(x)
            res = {"actlab": median_ms(lambda ours=ours, x=x: ours(x), reps)}
            sparse_forward.USE_COMPILED = False
            try:
                res["array-API"] = median_ms(lambda ours=ours, x=x: ours(x), reps)
            finally:
                sparse_forward.USE_COMPILED = True
            for k in ks:
                tol = 1e-6 if dtype == torch.float32 else 1e-12
                assert torch.allclose(topk_scheme(x, beta, k), y, atol=tol), (name, k)
                res[f"topk k={k}"] = median_ms(lambda k=k, x=x, beta=beta: topk_scheme(x, beta, k), reps)
            for k in ks[:2]:
                res[f"torch.topk alone k={k}"] = median_ms(lambda k=k, x=x: torch.topk(x, k, dim=-1), reps)
            if pkg is not None:
                fn = pkg.sparsemax if beta == 1.0 else pkg.entmax15
                res["entmax pkg k=64"] = median_ms(lambda fn=fn, x=x: fn(x, -1, k=64), reps)
            support = int((y > 0).sum(-1).max())
            print(f"{name} {str(dtype).removeprefix('torch.')} {shape} (largest support {support}): "
                  + ", ".join(f"{key} {ms:.1f} ms" for key, ms in res.items()), flush=True)


if __name__ == "__main__":
    main()
