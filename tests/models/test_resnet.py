"""The from-scratch ResNet and batch-level augmentation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.augment import batch_crop_flip
from models.resnet import ResNet, WhitenedNet
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


def test_whitened_net_whitens_patches_starts_from_identities_and_groups_norm_biases():
    torch.manual_seed(0)
    x = torch.randint(0, 255, (64, 3, 32, 32), dtype=torch.uint8)
    x[:, 1] = x[:, 0] // 2 + 60  # correlated channels, as in real images
    model = WhitenedNet(10, widths=(16, 32, 32), depths=(2, 1, 2))
    model.init_whitening(x)
    # the 12 filters whiten the 2x2 patches: their outputs are uncorrelated, with variance l / (l + eps) for
    # eigenvalue l: ~1 along the directions the data spans, less along the (nearly) degenerate ones
    out = torch.nn.functional.conv2d(model.normalize(x), model.whiten.weight[:12])
    flat = out.permute(1, 0, 2, 3).reshape(12, -1)
    cov = flat @ flat.T / flat.shape[1]
    var = cov.diagonal()
    assert torch.allclose(cov - torch.diag(var), torch.zeros(12, 12), atol=1e-3)
    assert (var <= 1 + 1e-3).all() and (var > 0.95).sum() >= 8
    assert (var[:-1] >= var[1:] - 1e-3).all()  # largest eigenvalue first
    assert torch.equal(model.whiten.weight[12:], -model.whiten.weight[:12])
    assert not model.whiten.weight.requires_grad
    conv = model.body[1][0]  # dirac init: the first 24 of 16 -> every filter passes one input channel through
    y = torch.randn(2, 24, 8, 8)
    assert torch.allclose(conv(y), y[:, :16])
    norm_biases, rest = model.layer_groups()
    assert all(p.ndim == 1 for p in norm_biases) and len(norm_biases) == 5  # one per BatchNorm
    assert len(norm_biases) + len(rest) == len(list(model.parameters()))
    assert model(x).shape == (64, 10)
    with pytest.raises(ValueError, match="one entry"):
        WhitenedNet(10, widths=(16, 32), depths=(2, 0))


def test_batch_crop_flip_without_flips_only_translates():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.uint8).reshape(2, 1, 4, 4)
    out = batch_crop_flip(x, 0, flip=False)
    assert torch.equal(out, x)
