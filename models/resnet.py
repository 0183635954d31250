"""Networks for small (32x32) images, trained from random weights.

- `ResNet`: widths and depths per stage, pre-activation (He et al. 2016, identity mappings) or post-activation
  blocks, BatchNorm, dropout before the classifier.
- `WhitenedNet`: the airbench recipe (Keller Jordan, "94% on CIFAR-10 in 3.29 seconds", 2024): a frozen
  2x2 patch-whitening stem computed from the training images, conv-pool-BN-GELU groups whose convolutions
  start as identities (dirac), BatchNorm with fixed unit scale, max-pooled features, logits scaled by 1/9.

Both take uint8 images and have two layer groups, (BatchNorm biases, everything else), so the shared Learner
can give BatchNorm biases their own (higher) learning rate, as airbench does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.vision import Normalize

# Per-channel mean and std of uint8 images / 255 when the data's own are not given (pass them: `stats=`).
DEFAULT_STATS = ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def conv_bn(c_in: int, c_out: int, stride: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if act else nn.Sequential(*layers)


def shortcut(c_in: int, c_out: int, stride: int) -> nn.Module:
    """Identity, or when the shape changes ResNet-D's shortcut (He et al. 2019, "Bag of Tricks"; fastai's
    default): average-pool by `stride`, then a stride-1 1x1 convolution.

    Not the original strided 1x1 convolution: it drops 3 of every 4 pixels, and on AVX-512 CPUs without AMX
    its channels_last backward pass crashes or returns wrong weight gradients when c_in < 16 and the batch is
    odd (oneDNN's "rtus" workspace overrun, uxlfoundation/oneDNN#6035; tests/models/test_conv_formats.py).
    """
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    pool = nn.AvgPool2d(stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
    return nn.Sequential(pool, nn.Conv2d(c_in, c_out, 1, bias=False))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut (average pool + 1x1 convolution when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, preact: bool = True):
        super().__init__()
        self.preact = preact
        if preact:  # BN-ReLU-conv, BN-ReLU-conv; the shortcut skips the normalisations
            self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        else:  # conv-BN-ReLU, conv-BN, add, ReLU
            self.body = nn.Sequential(conv_bn(c_in, c_out, stride), conv_bn(c_out, c_out, act=False))
        self.shortcut = shortcut(c_in, c_out, stride)
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

    def __init__(
        self,
        n_out: int = 10,
        widths: Sequence[int] = (64, 128, 256),
        depths: Sequence[int] = (1, 1, 1),
        preact: bool = True,
        dropout: float = 0.1,
        stats=DEFAULT_STATS,
    ):
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
        return norm_bias_groups(self)


def norm_bias_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """[the BatchNorm biases, every other parameter]."""
    norm_biases = [m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.bias is not None]
    ids = {id(p) for p in norm_biases}
    return [norm_biases, [p for p in model.parameters() if id(p) not in ids]]


class FixedScaleBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose scale stays 1 (only the bias trains). `momentum` is torch's: the weight of the new batch
    in the running statistics (airbench's 0.6 decay = 0.4 here)."""

    def __init__(self, c: int, momentum: float = 0.4, eps: float = 1e-12):
        super().__init__(c, eps=eps, momentum=momentum)
        self.weight.requires_grad_(False)


def dirac_conv(c_in: int, c_out: int) -> nn.Conv2d:
    """3x3 conv (no bias) whose first `c_in` filters start as identities: an implicit residual at init."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[: min(c_in, c_out)])
    return conv


class ConvGroup(nn.Sequential):
    """conv -> max-pool 2 -> BN -> GELU, then (n_convs - 1) x (conv -> BN -> GELU), all 3x3 at width `c_out`."""

    def __init__(self, c_in: int, c_out: int, n_convs: int = 2):
        layers = [dirac_conv(c_in, c_out), nn.MaxPool2d(2), FixedScaleBatchNorm(c_out), nn.GELU()]
        for _ in range(n_convs - 1):
            layers += [dirac_conv(c_out, c_out), FixedScaleBatchNorm(c_out), nn.GELU()]
        super().__init__(*layers)


class WhitenedNet(nn.Module):
    """normalise -> 2x2 patch-whitening conv (frozen weights, trained bias) -> GELU -> one ConvGroup per width
    (`depths[i]` convolutions, each group halving the resolution) -> global max-pool -> linear (no bias) x
    `scale`. Call `init_whitening(images)` with training images before training."""

    def __init__(
        self,
        n_out: int = 10,
        widths: Sequence[int] = (64, 256, 256),
        depths: Sequence[int] = (2, 2, 2),
        scale: float = 1 / 9,
        stats=DEFAULT_STATS,
    ):
        super().__init__()
        if len(widths) != len(depths) or not widths or min(depths) < 1:
            raise ValueError(f"widths {list(widths)} and depths {list(depths)} need one entry (>= 1) per group")
        self.normalize = Normalize(*stats)
        self.whiten = nn.Conv2d(3, 24, 2, bias=True)  # 12 eigen-patches of 2x2x3 and their negatives
        self.whiten.weight.requires_grad_(False)
        nn.init.zeros_(self.whiten.bias)
        c_in, groups = 24, []
        for w, d in zip(widths, depths, strict=True):
            groups.append(ConvGroup(c_in, w, d))
            c_in = w
        self.body = nn.Sequential(nn.GELU(), *groups)
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, n_out, bias=False))
        self.scale = scale

    @torch.no_grad()
    def init_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the stem's filters to the eigenvectors of the covariance of all 2x2 patches of `images` (uint8
        N,3,H,W; a few thousand suffice), each divided by the square root of its eigenvalue, and their negatives."""
        x = self.normalize(images.to(self.whiten.weight.device)).float()
        k = self.whiten.kernel_size[0]
        patches = x.unfold(2, k, 1).unfold(3, k, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * k * k)
        cov = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)  # ascending
        filters = (eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]).flip(0).reshape(-1, 3, k, k)
        self.whiten.weight.copy_(torch.cat([filters, -filters]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.whiten(self.normalize(x)))) * self.scale

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return norm_bias_groups(self)
