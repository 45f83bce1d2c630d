"""Multi-GPU training through ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node=N -m talkbench.cli train ...`` starts N processes with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` set. :func:`init_distributed` then joins the process group (NCCL on
CUDA, gloo on CPU), each rank trains on its own shard of the sequences (:func:`shard_indices`,
the ``DistributedSampler`` rule), and :func:`wrap_model` wraps the animator in DDP so gradients are
averaged across ranks. With ``WORLD_SIZE`` unset or 1 every helper is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistInfo", "init_distributed", "is_main_process", "shard_indices", "wrap_model"]


@dataclass(frozen=True)
class DistInfo:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed() -> DistInfo:
    """Join the process group when ``WORLD_SIZE > 1`` (idempotent); otherwise a single-process info."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistInfo(world, rank, local)


def is_main_process(info: DistInfo | None = None) -> bool:
    info = info or DistInfo(int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")))
    return info.rank == 0


def shard_indices(order: list[int], info: DistInfo) -> list[int]:
    """This rank's share of ``order`` (``DistributedSampler``: pad by wrapping, then every world-th)."""
    if not info.enabled:
        return list(order)
    n = len(order)
    total = -(-n // info.world_size) * info.world_size
    padded = list(order) + list(order[: total - n])
    return padded[info.rank : total : info.world_size]


def wrap_model(model: nn.Module, info: DistInfo) -> nn.Module:
    """``DistributedDataParallel(model)`` when distributed, else ``model``."""
    if not info.enabled:
        return model
    if torch.cuda.is_available():
        return nn.parallel.DistributedDataParallel(
            model, device_ids=[info.local_rank], find_unused_parameters=True
        )
    return nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
