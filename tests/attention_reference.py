"""An independent float64 reference of attention: scores materialised with
einsum, each normaliser written out in plain torch (the sparse maps through
the ``entmax`` package, stick-breaking as a loop over keys)."""

from __future__ import annotations

import math

import torch


def _sparse(s: torch.Tensor, name: str, alpha: float | None) -> torch.Tensor:
    import entmax

    live = torch.isfinite(s).any(-1, keepdim=True)
    z = torch.where(live, s, torch.zeros_like(s))
    if name == "sparsemax":
        w = entmax.sparsemax(z, dim=-1)
    elif name == "entmax15":
        w = entmax.entmax15(z, dim=-1)
    else:
        w = entmax.entmax_bisect(z, alpha=alpha, dim=-1, n_iter=200)
    return torch.where(live, w, torch.zeros_like(w))


def reference(q, k, v, allowed=None, add=None, normalizer="softmax", scale=None, sink=None, alpha=None,
              bias=None, temperature=1.0, length_scale_factor=None):
    """attention(q, k, v) in float64 with ``allowed`` (bool, True takes part)
    and ``add`` (float) masks broadcast to (..., L, S)."""
    q, k, v = q.double(), k.double(), v.double()
    E = q.shape[-1]
    s = torch.einsum("...le,...se->...ls", q, k) * (1 / math.sqrt(E) if scale is None else scale)
    if add is not None:
        s = s + add.double()
    if allowed is None:
        allowed = torch.ones(s.shape, dtype=torch.bool)
    allowed = allowed.expand(s.shape) & (s > -math.inf)
    n = allowed.sum(-1, keepdim=True).double()
    s = s / temperature
    if length_scale_factor is not None:
        s = s * length_scale_factor * torch.log(n.clamp(min=1))
    s = torch.where(allowed, s, -math.inf)
    if normalizer == "softmax":
        if sink is None:
            m = s.amax(-1, keepdim=True).clamp(min=-1e300)
            e = torch.exp(s - m)
            w = e / e.sum(-1, keepdim=True).clamp(min=1e-300)
        else:
            c = torch.as_tensor(sink, dtype=torch.float64).reshape(-1, 1, 1).expand(*s.shape[:-1], 1)
            w = torch.softmax(torch.cat([s, c], -1), -1)[..., :-1]
    elif normalizer in ("sparsemax", "entmax15", "entmax"):
        w = _sparse(s, normalizer, alpha)
    elif normalizer == "sigmoid":
        b = -torch.log(n.clamp(min=1)) if bias is None else bias
        w = torch.where(allowed, torch.sigmoid(torch.where(allowed, s, 0.0) + b), 0.0)
    elif normalizer == "softpick":
        d = torch.where(allowed, torch.expm1(torch.where(allowed, s, 0.0)), 0.0)
        w = torch.relu(d) / (d.abs().sum(-1, keepdim=True) + 1e-6)
    elif normalizer in ("relu", "relu2"):
        r = torch.where(allowed, torch.relu(torch.where(allowed, s, 0.0)), 0.0)
        w = (r if normalizer == "relu" else r * r) / n.clamp(min=1)
    elif normalizer == "stick_breaking":
        beta = torch.where(allowed, torch.sigmoid(torch.where(allowed, s, 0.0)), 0.0)
        w = torch.zeros_like(s)
        S = s.shape[-1]
        for j in range(S):
            rest = torch.prod(1 - beta[..., j + 1:], dim=-1) if j + 1 < S else torch.ones_like(s[..., 0])
            w[..., j] = beta[..., j] * rest
    else:
        raise ValueError(normalizer)
    return w @ v
