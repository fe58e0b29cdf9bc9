"""Speed of actlab's element-wise activations against the op a user would
otherwise call: ``torch.nn.functional`` (forward and forward+backward) and
SciPy/NumPy (forward), float32, 1e7 elements by default.

    python benchmarks/elementwise_speed.py            # full run, writes docs/elementwise_speed.md
    python benchmarks/elementwise_speed.py --quick    # a smoke run on 1e5 elements
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import markdown_table, median_seconds  # noqa: E402

import actlab  # noqa: E402


def torch_pairs():
    import torch
    import torch.nn.functional as F

    return {
        "sigmoid": torch.sigmoid, "log_sigmoid": F.logsigmoid, "tanh": torch.tanh, "relu": F.relu,
        "relu6": F.relu6, "leaky_relu": F.leaky_relu, "elu": F.elu, "selu": F.selu, "celu": F.celu,
        "gelu": F.gelu, "softplus": F.softplus, "silu": F.silu, "mish": F.mish, "hardtanh": F.hardtanh,
        "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish, "softsign": F.softsign,
        "tanhshrink": F.tanhshrink, "softshrink": F.softshrink, "hardshrink": F.hardshrink,
    }


def numpy_pairs():
    import scipy.special as sc

    return {
        "sigmoid": sc.expit, "log_sigmoid": sc.log_expit, "tanh": np.tanh,
        "relu": lambda x: np.maximum(x, 0), "softplus": lambda x: np.logaddexp(0, x),
        "gelu": lambda x: 0.5 * x * sc.erfc(-x / np.sqrt(2)),
    }


def run(n: int, repeat: int) -> str:
    import torch

    torch.manual_seed(0)
    x = torch.randn(n) * 4
    rows = []
    for name, ref in torch_pairs().items():
        ours = actlab.get(name).function
        t_ref = median_seconds(lambda ref=ref: ref(x), repeat)
        t_ours = median_seconds(lambda ours=ours: ours(x), repeat)

        def fb(f):
            xr = x.detach().requires_grad_()
            f(xr).sum().backward()

        tb_ref = median_seconds(lambda ref=ref: fb(ref), repeat)
        tb_ours = median_seconds(lambda ours=ours: fb(ours), repeat)
        rows.append([name, f"{t_ref*1e3:.1f}", f"{t_ours*1e3:.1f}", f"{t_ours/t_ref:.2f}",
                     f"{tb_ref*1e3:.1f}", f"{tb_ours*1e3:.1f}", f"{tb_ours/tb_ref:.2f}"])
    torch_table = markdown_table(
        ["function", "torch fwd ms", "ours fwd ms", "ratio", "torch fwd+bwd ms", "ours fwd+bwd ms", "ratio"], rows)
    xn = x.numpy()
    rows = []
    for name, ref in numpy_pairs().items():
        ours = actlab.get(name).function
        t_ref = median_seconds(lambda ref=ref: ref(xn), repeat)
        t_ours = median_seconds(lambda ours=ours: ours(xn), repeat)
        rows.append([name, f"{t_ref*1e3:.1f}", f"{t_ours*1e3:.1f}", f"{t_ours/t_ref:.2f}"])
    numpy_table = markdown_table(["function", "SciPy/NumPy ms", "ours ms", "ratio"], rows)
    return (
        f"float32, {n:.0e} elements, median of {repeat} runs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}.\n\n"
        f"### PyTorch (CPU)\n\n{torch_table}\n\n### NumPy / SciPy\n\n{numpy_table}\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1e5 elements, 2 repeats, no file written")
    ap.add_argument("-n", type=int, default=10_000_000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "elementwise_speed.md"))
    args = ap.parse_args()
    text = run(100_000 if args.quick else args.n, 2 if args.quick else 7)
    print(text)
    if not args.quick:
        with open(args.out, "w") as fh:
            fh.write("# Element-wise activations: speed\n\nReproduce: `python benchmarks/elementwise_speed.py`\n\n" + text)


if __name__ == "__main__":
    main()
