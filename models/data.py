"""Batches from in-memory tensors through torch.utils.data, reproducible per epoch (for exact resume)."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, Sampler, SequentialSampler, TensorDataset


class EpochSampler(Sampler[int]):
    """A random permutation seeded by (seed, epoch): the same epoch always sees the same order.

    `set_epoch` follows DistributedSampler's convention, so the learner treats both alike.
    """

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def tensor_loader(*tensors: torch.Tensor, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    """A DataLoader over tensors already in memory (or on the GPU) that indexes a whole batch at once.

    `batch_size=None` with a BatchSampler makes TensorDataset gather each batch with one fancy index
    instead of collating `batch_size` single rows: the per-row path costs more than the model here.
    """
    ds = TensorDataset(*tensors)
    order = EpochSampler(len(ds), seed) if shuffle else SequentialSampler(ds)
    return DataLoader(ds, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None)


def set_epoch(loader, epoch: int) -> None:
    """Call `set_epoch` on whichever sampler of `loader` has it (EpochSampler, DistributedSampler)."""
    for s in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        for candidate in (s, getattr(s, "sampler", None)):
            if hasattr(candidate, "set_epoch"):
                candidate.set_epoch(epoch)
                return
