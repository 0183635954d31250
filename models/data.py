"""Batches from in-memory tensors through torch.utils.data, reproducible per epoch (for exact resume)."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, Sampler, SequentialSampler, TensorDataset

from models.distributed import rank, world_size


class EpochSampler(Sampler[int]):
    """A random permutation seeded by (seed, epoch): the same epoch always sees the same order.

    Data-parallel (`world` > 1), every rank draws the same permutation and takes every world-th index from
    its own offset, the tail trimmed so all ranks run the same number of batches (DDP needs them in step).
    `set_epoch` follows DistributedSampler's convention, so the learner treats both alike.
    """

    def __init__(self, n: int, seed: int = 0, rank: int = 0, world: int = 1):
        self.n, self.seed, self.rank, self.world, self.epoch = n, seed, rank, world, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=g)
        return iter(order[: len(self) * self.world][self.rank :: self.world].tolist())

    def __len__(self) -> int:
        return self.n // self.world


def drop_last_default(n: int, batch_size: int, shuffle: bool) -> bool:
    """Training loaders (shuffled) drop the last, partial batch when there is a full one, as fastai's do: a
    final batch of one row would break BatchNorm in training mode, and a tiny one gives a noisy step."""
    return shuffle and n > batch_size


def tensor_loader(
    *tensors: torch.Tensor, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool | None = None
) -> DataLoader:
    """A DataLoader over tensors already in memory (or on the GPU) that indexes a whole batch at once.

    `batch_size=None` with a BatchSampler makes TensorDataset gather each batch with one fancy index
    instead of collating `batch_size` single rows: the per-row path costs more than the model here.
    """
    ds = TensorDataset(*tensors)
    # shuffled = training: under torchrun each rank gets its shard (the whole data when not distributed)
    order = EpochSampler(len(ds), seed, rank(), world_size()) if shuffle else SequentialSampler(ds)
    if drop_last is None:
        drop_last = drop_last_default(len(order), batch_size, shuffle)
    return DataLoader(ds, sampler=BatchSampler(order, batch_size, drop_last=drop_last), batch_size=None)


def set_epoch(loader, epoch: int) -> None:
    """Call `set_epoch` on whichever sampler of `loader` has it (EpochSampler, DistributedSampler)."""
    for s in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        for candidate in (s, getattr(s, "sampler", None)):
            if hasattr(candidate, "set_epoch"):
                candidate.set_epoch(epoch)
                return
