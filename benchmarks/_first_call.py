"""First-call latency of each element-wise function in a fresh process (not
a benchmark itself): what the very first call costs after ``import actlab``
-- lazy imports, backend resolution, building autograd Functions, compiling
a kernel -- against the steady time of the same call, for ours and torch's.

Each function runs in its own child process (same interpreter, same
environment, so the thread pinning holds): first forward, second forward,
then first forward+backward, second forward+backward; ours before torch's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import torch
torch.set_num_threads(1)
import actlab
from _elementwise_cases import CASES
case = next(c for c in CASES if c.key == sys.argv[3])
n = int(sys.argv[4])
torch.manual_seed(0)
x = torch.randn(n) * 4
g = torch.randn(n)
xr = x.detach().requires_grad_()
out = {}
for who, f in (("ours", case.ours()), ("torch", case.torch())):
    for mode, call in (("fwd", lambda: f(x)), ("fwd+bwd", lambda: torch.autograd.grad(f(xr), xr, g))):
        ts = []
        for _ in range(2):
            t0 = time.perf_counter(); call(); ts.append(time.perf_counter() - t0)
        out[f"{who} {mode}"] = ts
print(json.dumps(out))
"""


def first_calls(key: str, n: int) -> dict[str, list[float]] | str:
    """``{"ours fwd": [first, second], ...}`` seconds, or an error message."""
    src = str(HERE.parent / "src")
    proc = subprocess.run([sys.executable, "-c", _CHILD, src, str(HERE), key, str(n)], capture_output=True,
                          text=True, env=dict(os.environ), timeout=600)
    if proc.returncode:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def first_call_table(keys: list[str], n: int, progress=None) -> tuple[list[str], list[list[str]]]:
    from _timing import fmt_ms

    header = ["function", "ours fwd: first ms", "then ms", "ours fwd+bwd: first ms", "then ms",
              "torch fwd: first ms", "then ms", "torch fwd+bwd: first ms", "then ms"]
    rows = []
    for key in keys:
        r = first_calls(key, n)
        if progress is not None:
            progress.step(f"first call {key}")
        if isinstance(r, str):
            rows.append([key, f"error: {r}"] + [""] * 7)
            continue
        cells = [key]
        for k in ("ours fwd", "ours fwd+bwd", "torch fwd", "torch fwd+bwd"):
            cells += [fmt_ms(r[k][0]), fmt_ms(r[k][1])]
        rows.append(cells)
    return header, rows
