import torch
from torch import nn

from models.summary import model_summary
from models.tabular import TabularModel


def test_summary_lists_shapes_params_and_frozen_layers():
    m = TabularModel([(10, 4), (5, 3)], n_cont=2, layers=(8,), ps=(0.0,), emb_drop=0.0)
    m.embeds[0].weight.requires_grad_(False)
    m.train()
    bn_mean = m.layers[2].running_mean.clone()
    text = model_summary(m, torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2))
    lines = text.splitlines()
    assert lines[1].split()[:4] == ["embeds.0", "Embedding", "3x4", "40"] and lines[1].endswith("FROZEN")
    assert any(line.split()[:4] == ["layers.0", "Linear", "3x8", "80"] for line in lines)  # (4+3+2)*8 + 8
    total = sum(p.numel() for p in m.parameters())
    assert lines[-1] == f"total {total:,} parameters, {total - 40:,} trainable, 40 frozen"
    assert m.training and torch.equal(m.layers[2].running_mean, bn_mean)  # mode and BN stats untouched


def test_summary_of_a_conv_net():
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2)
    )
    text = model_summary(net, torch.zeros(2, 3, 32, 32))
    assert "2x8x32x32" in text and "2x2" in text
