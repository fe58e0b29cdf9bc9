"""The first numba compilation of the sparse kernels says so on stderr (it
takes tens of seconds on a fresh cache); a call that is quick prints nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actlab.backends.compile_notice import SPARSE_NOTICE, CompileNotice

SRC = Path(__file__).resolve().parents[1] / "src"


def test_a_slow_first_call_prints_the_notice_once(capsys):
    notice = CompileNotice("compiling the kernels...", delay=0.02)
    slow = notice.wrap(lambda x: time.sleep(0.2) or x, key=lambda x: type(x))
    assert slow(1) == 1 and slow(2.0) == 2.0
    assert capsys.readouterr().err.count("compiling the kernels...") == 1


def test_a_quick_call_prints_nothing(capsys):
    notice = CompileNotice("compiling the kernels...", delay=5.0)
    quick = notice.wrap(lambda x: x + 1)
    assert [quick(i) for i in range(3)] == [1, 2, 3]
    assert capsys.readouterr().err == "" and not notice.printed


@pytest.mark.slow
def test_fresh_numba_cache_prints_the_compile_notice(tmp_path):
    pytest.importorskip("numba")
    code = ("import numpy as np, actlab\n"
            "x = np.random.default_rng(0).standard_normal((8, 50)).astype(np.float32)\n"
            "actlab.sparsemax(x)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"), "PYTHONPATH": str(SRC)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert SPARSE_NOTICE.message in run.stderr
