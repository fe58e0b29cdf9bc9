"""Peak memory of the blocked path, measured in a subprocess (VmHWM minus the
resident size before the call): it never holds the L x S score matrix."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
if not os.path.exists("/proc/self/status"):
    pytest.skip("needs /proc", allow_module_level=True)

SCRIPT = r"""
import json, sys, torch, actlab
def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
n, name = int(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
q, k, v = (torch.randn(1, 1, n, 64, requires_grad=True) for _ in range(3))
x = torch.randn(1, 1, 8, 64); actlab.attention(x, x, x, normalizer=name, path="blocked").sum()  # warm up
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current resident size
base = rss("VmHWM:")
out = actlab.attention(q, k, v, normalizer=name, is_causal=sys.argv[3] == "1", path="blocked")
out.sum().backward()
print(json.dumps({"peak_mib": (rss("VmHWM:") - base) / 2**20}))
"""


def _peak(n, name, causal=False):
    env = dict(os.environ, OMP_NUM_THREADS="2", MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(n), name, "1" if causal else "0"], capture_output=True,
                       text=True, env=env, timeout=1800, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["peak_mib"]


@pytest.mark.slow
def test_blocked_path_memory_is_below_the_scores_alone():
    # L = S = 4096: the score matrix alone is 64 MiB (the dense path's
    # forward + backward holds several of them)
    assert _peak(4096, "sigmoid") < 48


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("ACTLAB_LARGE_MEMORY_TESTS"),
                    reason="minutes per normaliser on 2 cores; set ACTLAB_LARGE_MEMORY_TESTS=1 to run")
@pytest.mark.parametrize("name", ["sparsemax", "softpick"])
def test_peak_memory_at_16384_is_under_256_mib(name):
    assert _peak(16384, name, causal=True) < 256
