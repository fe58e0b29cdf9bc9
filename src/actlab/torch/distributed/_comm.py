"""The process group, the shard's place in the vocabulary, DTensor inputs and
the one collective the vocab-parallel functions use.

Every collective goes through :func:`all_reduce`, which looks
``torch.distributed.all_reduce`` up at each call (so a counting wrapper put
there sees every call) and sends one contiguous tensor of a few scalars per
row.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import torch
import torch.distributed as dist

__all__ = ["Shard", "all_reduce", "shard_of", "wrap_like", "local_target"]


class Shard(NamedTuple):
    """This rank's slice of the class dimension: columns ``[offset, offset + size)``
    of ``num_classes`` (None when the shards' sizes are not known here)."""

    local: torch.Tensor
    group: Any
    offset: int
    size: int
    num_classes: int | None
    mesh: Any = None  # the DTensor's mesh and placements, to wrap outputs
    placements: Any = None
    global_shape: Any = None


def all_reduce(t: torch.Tensor, op: str, group: Any) -> torch.Tensor:
    """``t`` reduced over ``group`` with ``"sum"`` or ``"max"`` (in place on a
    contiguous copy; returned)."""
    t = t.contiguous()
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX, group=group)
    return t


def _is_dtensor(x: Any) -> bool:
    module = sys.modules.get("torch.distributed.tensor")  # not imported: x cannot be one (importing costs seconds)
    return module is not None and isinstance(x, module.DTensor)


def shard_of(logits: Any, group: Any, vocab_offset: int | None, owner: str) -> Shard:
    """The local logits and their place: a DTensor sharded on its last
    dimension (``Shard(-1)`` on a 1-D mesh) brings its own group and offset;
    a plain tensor is the columns ``[rank * V_local, (rank + 1) * V_local)``
    unless ``vocab_offset`` says where they start (uneven shards)."""
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(f"{owner}(): torch.distributed has no process group; call "
                           "torch.distributed.init_process_group first")
    if _is_dtensor(logits):
        from torch.distributed.tensor import Shard as DShard

        mesh, placements = logits.device_mesh, tuple(logits.placements)
        last = logits.ndim - 1
        if mesh.ndim != 1 or len(placements) != 1 or not isinstance(placements[0], DShard) \
                or placements[0].dim not in (-1, last):
            raise ValueError(f"{owner}(): a DTensor logits_shard must be sharded on its last (class) dimension "
                             f"over a 1-D mesh, Shard(-1); got placements {placements} on a {mesh.ndim}-D mesh")
        if group is not None or vocab_offset is not None:
            raise ValueError(f"{owner}(): a DTensor brings its own group and offset; do not pass group= or "
                             "vocab_offset=")
        group = mesh.get_group()
        world, rank = dist.get_world_size(group), dist.get_rank(group)
        V = logits.shape[-1]
        chunk = -(-V // world)  # torch.chunk's split, as Shard(-1) uses
        local = logits.to_local()
        return Shard(local, group, min(rank * chunk, V), local.shape[-1], V, mesh, placements, logits.shape)
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ValueError(f"{owner}(): logits_shard must be a floating-point tensor, got "
                         f"{type(logits).__name__}{'' if not isinstance(logits, torch.Tensor) else ' ' + str(logits.dtype)}")
    if logits.dim() < 1:
        raise ValueError(f"{owner}(): logits_shard must have a class dimension (last), got a 0-d tensor")
    V_local = logits.shape[-1]
    if vocab_offset is None:
        world, rank = dist.get_world_size(group), dist.get_rank(group)
        return Shard(logits, group, rank * V_local, V_local, world * V_local)
    if isinstance(vocab_offset, bool) or not isinstance(vocab_offset, int) or vocab_offset < 0:
        raise ValueError(f"{owner}(): vocab_offset must be a non-negative int, got {vocab_offset!r}")
    return Shard(logits, group, vocab_offset, V_local, None)


def wrap_like(y: torch.Tensor, shard: Shard) -> Any:
    """``y`` (this rank's slice of a map's output) as the input was: a DTensor
    with the input's placements, or the plain tensor."""
    if shard.mesh is None:
        return y
    from torch.distributed.tensor import DTensor

    return DTensor.from_local(y, shard.mesh, shard.placements, run_check=False, shape=shard.global_shape,
                              stride=torch.empty(shard.global_shape, device="meta").stride())


def local_target(target: Any, shard: Shard, ignore_index: int, owner: str):
    """``(keep, local, here)`` for global class indices ``target`` (the
    logits' shape without the class dimension): the rows that count, the
    index into this shard (0 where not here) and whether it is here."""
    if _is_dtensor(target):
        target = target.full_tensor()
    batch = tuple(shard.local.shape[:-1])
    if not isinstance(target, torch.Tensor) or target.is_floating_point() or target.is_complex() \
            or target.dtype == torch.bool:
        raise ValueError(f"{owner}(): target must be an integer tensor of global class indices, got "
                         f"{type(target).__name__}{'' if not isinstance(target, torch.Tensor) else ' ' + str(target.dtype)}")
    if tuple(target.shape) != batch:
        raise ValueError(f"{owner}(): target shape {tuple(target.shape)} must be the logits' shape without the "
                         f"class dimension, {batch}")
    if target.device != shard.local.device:
        raise ValueError(f"{owner}(): target is on {target.device}, logits_shard on {shard.local.device}")
    keep = target != ignore_index
    if shard.num_classes is not None and not target.is_meta:
        bad = keep & ((target < 0) | (target >= shard.num_classes))
        if bool(bad.any()):
            raise ValueError(f"{owner}(): target {int(target[bad][0])} is out of range for {shard.num_classes} "
                             f"classes (ignore_index={ignore_index})")
    rel = target.long() - shard.offset
    here = keep & (rel >= 0) & (rel < shard.size)
    return keep, torch.where(here, rel, torch.zeros_like(rel)), here
