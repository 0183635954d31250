"""Augmentation of whole uint8 image batches on their device, in plain torch (CIFAR-10's training imports no
torchvision, whose import costs a second of every step)."""

from __future__ import annotations

import torch


def batch_crop_flip(
    x: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None, flip: bool = True
) -> torch.Tensor:
    """Random `pad`-pixel translations with reflection padding and (with `flip`) random horizontal flips for a
    whole (N, C, H, W) batch in one gather, any dtype, on any device: no per-image Python work, which on small
    images (CIFAR's 32 px) would cost more than the network."""
    n, _, h, w = x.shape
    dev = x.device

    def reflected(size: int) -> torch.Tensor:  # index of padded position p in the original: reflect at the edges
        p = torch.arange(-pad, size + pad, device=dev).abs()
        return torch.where(p > size - 1, 2 * (size - 1) - p, p)

    g, at = generator, (generator.device if generator is not None else dev)  # drawn on the device: no copy
    dy = torch.randint(0, 2 * pad + 1, (n, 1), generator=g, device=at).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), generator=g, device=at).to(dev)
    flips = (torch.rand(n, 1, generator=g, device=at) < 0.5).to(dev) & flip
    rows = reflected(h)[dy + torch.arange(h, device=dev)]  # (n, h)
    cols = reflected(w)[dx + torch.arange(w, device=dev)]  # (n, w)
    cols = torch.where(flips, cols.flip(1), cols)
    batch = torch.arange(n, device=dev)[:, None, None]
    return x.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()
