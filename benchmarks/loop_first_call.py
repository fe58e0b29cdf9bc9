"""First-call latency of the generated element-wise loops (numba): for every
(function, dtype) whose torch execution is a loop, the first forward call,
the first derivative call and the first forward+backward, in a fresh
process, once with an empty loop cache (numba compiles) and once with the
cache the first process left (numba loads the machine code).

    python benchmarks/loop_first_call.py           # writes docs/loop_first_call.md (about a minute)
    python benchmarks/loop_first_call.py --quick   # two entries, prints only

Each phase runs in its own subprocess with ``ACTLAB_CACHE_DIR`` pointing at
a temporary folder, on 1000-element tensors, one thread; times are wall
clock of the single call (milliseconds), so they include tracing the
formula and, in the cold phase, numba's compilation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "loop_first_call.md"

_CHILD = r"""
import json, sys, time
import torch
import actlab
from actlab.backends.torch import fast_paths as fp
torch.set_num_threads(1)
rows = []
for name, dtname, values in json.loads(sys.argv[1]):
    dt = getattr(torch, dtname)
    f = actlab.get(name).function
    x = torch.linspace(-6.0, 6.0, 1000, dtype=dt)
    ex = fp.execution_of(name, dt, tuple(values))
    out = {}
    t0 = time.perf_counter(); f(x, *values); out["forward"] = time.perf_counter() - t0
    if ex.backward == "loop":
        t0 = time.perf_counter(); actlab.get(name).derivative(x, *values); out["derivative"] = time.perf_counter() - t0
        xr = x.clone().requires_grad_(True)
        t0 = time.perf_counter(); f(xr, *values).sum().backward(); out["fwd+bwd"] = time.perf_counter() - t0
    rows.append([name, dtname, values, ex.forward, ex.backward, out])
print(json.dumps(rows))
"""


def _entries(quick: bool) -> list[tuple[str, str, list]]:
    import torch

    from actlab.backends.torch import fast_paths as fp

    names = {torch.float32: "float32", torch.float64: "float64", torch.bfloat16: "bfloat16"}
    out = [(name, names[dt], []) for (name, dt), ex in fp.TABLE.items() if "loop" in (ex.forward, ex.backward)]
    out += [("gelu", names[dt], ["tanh"]) for dt, ex in fp.GELU_TANH.items() if "loop" in (ex.forward, ex.backward)]
    return out[:2] if quick else out


def _phase(entries: list, cache: str) -> tuple[list, float]:
    env = {**os.environ, "ACTLAB_CACHE_DIR": cache, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(entries)], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two entries; print, write nothing")
    args = ap.parse_args()
    entries = _entries(args.quick)
    with tempfile.TemporaryDirectory() as cache:
        cold, t_cold = _phase(entries, cache)
        warm, t_warm = _phase(entries, cache)
    import numba
    import torch

    lines = [
        "# First call of the generated loops",
        "",
        "Regenerate: `python benchmarks/loop_first_call.py` "
        f"({t_cold + t_warm:.0f} s on this machine).",
        "",
        f"Machine: {platform.platform()}; {platform.processor() or platform.machine()}; "
        f"Python {platform.python_version()}; numba {numba.__version__}; torch {torch.__version__} (1 thread).",
        "",
        "The first call of a function for a dtype traces its formula and compiles the loop with numba "
        "(*empty cache*); the machine code is then kept in actlab's cache directory "
        "(`$ACTLAB_CACHE_DIR`, else `~/.cache/actlab/loops`), so a later process loads it "
        "(*warm cache*). A call that compiles for more than a second prints a one-line notice. "
        "Milliseconds of one call on 1000 elements, each phase in a fresh process "
        f"(whole phases: {t_cold:.1f} s empty, {t_warm:.1f} s warm, imports included).",
        "",
        "| function | dtype | forward / backward | empty cache: forward | derivative | fwd+bwd "
        "| warm cache: forward | derivative | fwd+bwd |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c, w in zip(cold, warm):
        name = c[0] + (f"({', '.join(map(str, c[2]))})" if c[2] else "")
        co, wo = c[5], w[5]
        lines.append(f"| {name} | {c[1]} | {c[3]} / {c[4]} | {_ms(co.get('forward'))} | {_ms(co.get('derivative'))} "
                     f"| {_ms(co.get('fwd+bwd'))} | {_ms(wo.get('forward'))} | {_ms(wo.get('derivative'))} "
                     f"| {_ms(wo.get('fwd+bwd'))} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        OUT.write_text(text)
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
