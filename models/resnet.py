"""A configurable ResNet for small (32x32) images, trained from random weights: widths and depths per stage,
pre-activation (He et al. 2016, identity mappings) or post-activation blocks, BatchNorm, dropout before the
classifier. Its layer groups are (stem + stages, head), so the shared Learner trains it like any model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.vision import Normalize

CIFAR_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


def conv_bn(c_in: int, c_out: int, stride: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if act else nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut (1x1 convolution when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, preact: bool = True):
        super().__init__()
        self.preact = preact
        if preact:  # BN-ReLU-conv, BN-ReLU-conv; the shortcut skips the normalisations
            self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        else:  # conv-BN-ReLU, conv-BN, add, ReLU
            self.body = nn.Sequential(conv_bn(c_in, c_out, stride), conv_bn(c_out, c_out, act=False))
        self.shortcut = (
            nn.Identity() if stride == 1 and c_in == c_out else nn.Conv2d(c_in, c_out, 1, stride, bias=False)
        )
        self.relu = nn.ReLU(inplace=not preact)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preact:
            out = self.relu(self.bn1(x))
            shortcut = self.shortcut(out) if not isinstance(self.shortcut, nn.Identity) else x
            out = self.conv1(out)
            out = self.conv2(torch.relu(self.bn2(out)))
            return out + shortcut
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """stem (3x3 conv) -> stages (`depths[i]` blocks of width `widths[i]`, stride 2 from the second stage on)
    -> BN-ReLU (pre-activation) -> global average pool -> dropout -> linear. Takes uint8 images."""

    def __init__(self, n_out: int = 10, widths: Sequence[int] = (64, 128, 256), depths: Sequence[int] = (1, 1, 1),
                 preact: bool = True, dropout: float = 0.1, stats=CIFAR_STATS):  # fmt: skip
        super().__init__()
        if len(widths) != len(depths) or not widths:
            raise ValueError(f"widths {list(widths)} and depths {list(depths)} need one entry per stage")
        self.normalize = Normalize(*stats)
        self.stem = conv_bn(3, widths[0])
        blocks, c_in = [], widths[0]
        for i, (w, d) in enumerate(zip(widths, depths, strict=True)):
            for j in range(d):
                blocks.append(BasicBlock(c_in, w, stride=2 if i > 0 and j == 0 else 1, preact=preact))
                c_in = w
        self.stages = nn.Sequential(*blocks)
        self.final = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(inplace=True)) if preact else nn.Identity()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, n_out))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.final(self.stages(self.stem(self.normalize(x)))))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        body = [*self.stem.parameters(), *self.stages.parameters(), *self.final.parameters()]
        return [body, list(self.head.parameters())]
