"""The MLP training-step rows of ``elementwise_speed.py`` (not a benchmark
itself): a 3-layer MLP, float32, with torch's activation modules against
actlab.torch's, forward + backward + SGD step, same weights and batch."""

from __future__ import annotations

import copy

from _timing import Timing, interleaved

FULL = (1024, 4096, 4096, 1024, 256)  # in, hidden, hidden, out, batch
QUICK = (64, 128, 128, 64, 16)
ACTIVATIONS = ("GELU", "SiLU", "ReLU")


def _model(widths, act):
    import torch.nn as nn

    d_in, h1, h2, d_out = widths
    return nn.Sequential(nn.Linear(d_in, h1), act(), nn.Linear(h1, h2), act(), nn.Linear(h2, d_out))


def _step(model, opt, x, y):
    def run():
        opt.zero_grad(set_to_none=True)
        loss = (model(x) - y).square().mean()
        loss.backward()
        opt.step()

    return run


def mlp_rows(quick: bool, budget: float) -> list[tuple[str, str, Timing, Timing]]:
    """``(activation, shape label, torch timing, actlab timing)`` per activation."""
    import torch
    import torch.nn as nn

    import actlab.torch as at

    *widths, batch = QUICK if quick else FULL
    torch.manual_seed(0)
    x = torch.randn(batch, widths[0])
    y = torch.randn(batch, widths[-1])
    label = "-".join(map(str, widths)) + f", batch {batch}"
    rows = []
    for name in ACTIVATIONS:
        theirs = _model(widths, getattr(nn, name))
        ours = copy.deepcopy(theirs)
        for i, m in enumerate(ours):
            if isinstance(m, getattr(nn, name)):
                ours[i] = getattr(at, name)()
        fns = {"torch": _step(theirs, torch.optim.SGD(theirs.parameters(), lr=1e-3), x, y),
               "actlab": _step(ours, torch.optim.SGD(ours.parameters(), lr=1e-3), x, y)}
        t = interleaved(fns, budget, min_repeat=3)
        rows.append((name, label, t["torch"], t["actlab"]))
    return rows
