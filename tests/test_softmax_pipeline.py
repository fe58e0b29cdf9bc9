"""The row-pipelined numba kernels of the softmax family (float32 softmax and
log-softmax, bfloat16 log-softmax: one loop works on three rows at once) on
batches: every row of a batch against the mpmath references, the first,
middle and last rows of a batch (each takes a different branch) against the
general path, the row minima the log-softmax kernels report, and the
log-softmax backward that trusts them.

Oracles: the stored mpmath references (``tests/data/softmax_references.npz``),
the general array-API path in float64 rounded once, NumPy's minimum, and the
float64 VJP ``g' - exp(y) sum(g')`` (``g'``: ``g`` with the -inf entries
dropped) written here apart from the library.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from softmax_reference_data import load, ulp_error

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

import actlab  # noqa: E402
from actlab.backends import numba_softmax as ns  # noqa: E402
from actlab.backends.numba_softmax_bf16 import log_softmax_rows_bf16_min  # noqa: E402
from actlab.backends.numba_width import empty_apart  # noqa: E402
from actlab.backends.torch import BACKEND  # noqa: E402
from actlab.simplex.softmax import log_softmax_shifted, softmax_shifted  # noqa: E402

ULP_BAR = 4.0
NAMES = ("softmax", "log_softmax")


def _batches():
    """The float32 reference rows (T = 1) stacked into batches: rows of one
    length in order, and each row three times (so that it is a middle row)."""
    rows = [r for r in load() if r["x"].dtype == np.float32 and r["num"] == 1.0 and r["den"] == 1.0]
    by_len: dict[int, list] = {}
    for r in rows:
        by_len.setdefault(len(r["x"]), []).append(r)
    yield from by_len.values()
    for r in rows:
        yield [r, r, r]


@pytest.mark.parametrize("backend", ["torch", "numpy"])
@pytest.mark.parametrize("name", NAMES)
def test_batched_rows_within_4_ulp_of_mpmath(name, backend):
    worst = 0.0
    for group in _batches():
        x = np.stack([r["x"] for r in group])
        y = getattr(actlab, name)(torch.from_numpy(x) if backend == "torch" else x)
        y = y.numpy() if backend == "torch" else np.asarray(y)
        for yi, r in zip(y, group, strict=True):
            worst = max(worst, float(np.max(ulp_error(yi, r[name], np.float32))))
    assert worst <= ULP_BAR


def _special_rows():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(9, 300, generator=g) * torch.tensor([1.0, 30.0, 300.0]).repeat(3)[:, None]
    x[0, 3] = 60.0  # dominant entry: log1p(s) tiny, summed again without the top term
    x[1, :] = -math.inf
    x[1, 5] = 2.0  # one finite entry among -inf
    x[2, 7] = -math.inf
    x[3, :] = -math.inf  # fully masked: the general path
    x[4, 9] = math.nan  # the general path
    x[5, 1] = math.inf  # the general path
    x[6, :] = 1e30  # ties at a huge value
    x[7, 11] = -1e30  # an entry whose exponential underflows
    x[8, :] = 1e-40  # subnormal logits
    return x


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 9])
def test_first_middle_and_last_rows_are_the_general_path(name, n):
    """Each special row first, in the middle and last of batches of 1 to 9 rows."""
    x = _special_rows()
    general = {"softmax": softmax_shifted, "log_softmax": log_softmax_shifted}[name]
    for shift in range(x.shape[0]):
        xb = torch.roll(x, shift, 0)[:n].contiguous()
        got = getattr(actlab, name)(xb)
        ref = general(xb, 1.0, 1.0, BACKEND).to(torch.float32)
        torch.testing.assert_close(got, ref, rtol=0, atol=0, equal_nan=True)


def test_log_softmax_kernels_report_row_minima():
    x = _special_rows().numpy()
    _, ok, lo = ns.log_softmax_rows_min(x)
    clean = [i for i in range(x.shape[0]) if not np.isnan(x[i]).any()]
    np.testing.assert_array_equal(lo[clean], x[clean].min(1).astype(np.float64))
    assert ok.tolist() == [i not in (3, 4, 5) for i in range(x.shape[0])]
    xb = torch.from_numpy(np.where(np.isfinite(x), np.clip(x, -1e30, 1e30), x)).bfloat16()
    _, ok16, lo16 = log_softmax_rows_bf16_min(xb.view(torch.uint16).numpy())
    np.testing.assert_array_equal(lo16[clean], xb.float().numpy()[clean].min(1))
    assert ok16.tolist() == ok.tolist()


def _vjp64(x, g):
    """``g' - exp(y) sum(g')`` in float64, ``g'`` = g without the -inf entries of x."""
    y = torch.log_softmax(x.double(), -1)
    gm = torch.where(x == -math.inf, 0.0, g.double())
    return gm - torch.exp(y) * gm.sum(-1, keepdim=True)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 2.0**-18), (torch.bfloat16, 2.0**-6)])
def test_log_softmax_backward_after_the_kernels(dtype, tol):
    g0 = torch.Generator().manual_seed(6)
    x = (torch.randn(6, 200, generator=g0) * 4).to(dtype)
    g = torch.randn(6, 200, generator=g0).to(dtype)

    def check(xin):  # tol: the rounding of torch's float32 / bfloat16 sum of g over a row
        xr = xin.clone().requires_grad_()
        (got,) = torch.autograd.grad(actlab.log_softmax(xr), xr, g)
        ref = _vjp64(xin, g)
        scale = ref.abs().amax(-1, keepdim=True)
        assert float(((got.double() - ref).abs() / scale).max()) <= tol
        assert torch.all(got[xin == -math.inf] == 0)

    check(x)  # no masked entry: the backward skips its pass over x
    masked = x.clone()
    masked[2, :7] = -math.inf
    check(masked)  # masked entries: their gradient is 0
    # an input edited in place after a forward that saw no -inf: the record is stale
    xr = x.clone().requires_grad_()
    y = actlab.log_softmax(xr)
    with torch.no_grad():
        xr[1, :5] = -math.inf
    y2 = actlab.log_softmax(xr)
    (got,) = torch.autograd.grad(y2, xr, g)
    assert torch.all(got[1, :5] == 0)
    del y


@pytest.mark.parametrize("n", [1, 5, 4096, 100_000])
@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_empty_apart_is_like_its_input_2_kib_away(n, dtype):
    x = np.zeros((n, 3), dtype)
    y = empty_apart(x)
    assert y.shape == x.shape and y.dtype == x.dtype and y.flags.c_contiguous
    if x.nbytes >= 1 << 16:  # (small arrays: a plain allocation)
        assert (y.ctypes.data - x.ctypes.data) % 4096 == 2048
