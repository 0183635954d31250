"""Dropout whose CPU masks cost a fraction of torch's: 16 random bits per element, four from each 64-bit draw.

Why not `nn.Dropout` on CPU: its mask is `bernoulli_`, one draw of torch's (serial) CPU generator per element, and
on the Rossmann network (dropout on 512 x 1000, 512 x 500 and the 512 x ~250 embeddings per batch) it took about half
of a bf16 training step on 2 Intel AMX cores: 4.4-5.5 ms per 512 x 1000 mask against 0.6 ms for the 64-bit draws
here (`make bench COMP=rossmann PARTS=throughput` prints the network's rows/s). On CUDA and MPS, whose generators are
parallel, and in eval mode this is `nn.Dropout` exactly.

The masks come from torch's global generator, so `torch.manual_seed` makes them reproducible and a checkpoint's
saved RNG state resumes them. Keep probability is a multiple of 1/65536: p=0.1 drops with probability 0.100006.
"""

from __future__ import annotations

import torch
from torch import nn

_LEVELS = 1 << 16  # 16-bit random integers: the drop probability's resolution


def keep_threshold(p: float) -> tuple[int, float]:
    """(t, scale): keep an element whose random int16 is >= t (probability 1 - round(p * 65536) / 65536), and scale
    the kept ones by 1 / that probability, so the layer's expected output equals its input."""
    drop = round(p * _LEVELS)
    return drop - _LEVELS // 2, _LEVELS / (_LEVELS - drop)


class Dropout(nn.Dropout):
    """`nn.Dropout` with a cheaper mask on CPU (module docstring); same arguments, same state dict (none)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu" or self.p >= 1 or x.numel() == 0:
            return super().forward(x)
        t, scale = keep_threshold(self.p)
        words = torch.empty((x.numel() + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # 64 uniform bits each
        keep = words.view(torch.int16)[: x.numel()].view(x.shape) >= t
        mask = keep.to(x.dtype).mul_(scale)  # as torch's own CPU dropout: the scaled mask in the input's dtype
        return x.mul_(mask) if self.inplace else x * mask
