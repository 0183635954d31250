"""The from-scratch ResNet and batch-level augmentation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.image_data import batch_crop_flip
from models.resnet import ResNet
from models.summary import model_summary


@pytest.mark.parametrize("preact", [True, False])
def test_resnet_shapes_groups_and_summary(preact):
    model = ResNet(10, widths=(16, 32, 64), depths=(1, 2, 1), preact=preact, dropout=0.2)
    x = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)
    assert model(x).shape == (4, 10)
    assert sum(len(g) for g in model.layer_groups()) == len(list(model.parameters()))
    table = model_summary(model, x)
    assert "4x64x8x8" in table and "Dropout" in table
    with pytest.raises(ValueError, match="one entry per stage"):
        ResNet(10, widths=(16, 32), depths=(1,))


@pytest.mark.parametrize("seed", range(5))
def test_batch_crop_flip_equals_reflect_pad_crop_flip_per_image(seed):
    x = torch.randint(0, 255, (6, 3, 10, 12), dtype=torch.uint8)
    pad = 3
    g = torch.Generator().manual_seed(seed)
    out = batch_crop_flip(x, pad, generator=g)
    g = torch.Generator().manual_seed(seed)
    dy = torch.randint(0, 2 * pad + 1, (6, 1), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (6, 1), generator=g)
    flip = torch.rand(6, 1, generator=g) < 0.5
    padded = F.pad(x.float(), (pad,) * 4, mode="reflect").to(torch.uint8)
    for i in range(6):
        ref = padded[i, :, dy[i, 0] : dy[i, 0] + 10, dx[i, 0] : dx[i, 0] + 12]
        assert torch.equal(out[i], ref.flip(-1) if flip[i, 0] else ref)
