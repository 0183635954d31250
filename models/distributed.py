"""Data-parallel training on PyTorch's own engine: the same command runs alone or under
`torchrun --nproc_per_node=N` (NCCL on GPUs, gloo on CPU).

Under torchrun every process trains a replica wrapped in DistributedDataParallel (gradients averaged in the
backward pass, so replicas stay identical), each on its own shard of every epoch's permutation; the
training loss is averaged across ranks, validation runs on the whole set on every rank (identical numbers
everywhere, nothing to gather), and only rank 0 writes files.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_distributed() -> tuple[int, int]:
    """(rank, world size): starts the process group when launched by torchrun with more than one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
    return rank(), world_size()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0 (or when not distributed): the process that prints and writes files."""
    return rank() == 0


def device_for_rank(name: str) -> str:
    """'auto' under torchrun on GPUs means this rank's GPU."""
    if name == "auto" and is_distributed() and torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return name


def mean_across_ranks(value: float) -> float:
    if not is_distributed():
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def barrier() -> None:
    """Wait for every rank (no-op alone): e.g. for rank 0 to finish writing a file the others then read."""
    if is_distributed():
        dist.barrier()


def finish() -> None:
    """Wait for every rank (rank 0 may still be writing its results), then close the process group: a rank
    that exits while others still talk to it makes gloo abort them."""
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


def sync_buffers(module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank. DDP does this at the start of each
    forward pass; after the last training step each rank has folded in its own batch, so do it once more."""
    if is_distributed():
        for buf in module.buffers():
            dist.broadcast(buf, 0)
