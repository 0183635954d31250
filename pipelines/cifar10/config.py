"""CIFAR-10's files and default configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.download import DataSpec
from pipelines.vision import sample as _sample
from pipelines.vision.config import FEATURE_KEYS
from pipelines.vision.layouts import cifar10_submission, read_cifar10
from pipelines.vision.steps import ImageTask

SPEC = DataSpec(slug="cifar-10", files={"train": []}, make_sample=_sample.cifar10)
TASK = ImageTask("cifar10", SPEC, read_cifar10, cifar10_submission, "sampleSubmission.csv", "id")


@dataclass
class Cifar10Config:
    # --- data (the features section, shared with the image competitions) ------------------------------------
    valid_pct: float = 0.1
    split_seed: int = 42
    sizes: list[int] = field(default_factory=lambda: [32])
    cache_scale: float = 1.0  # the images are 32 px: cached as they are
    # --- model ---------------------------------------------------------------------------------------------
    widths: list[int] = field(default_factory=lambda: [64, 128, 256])
    depths: list[int] = field(default_factory=lambda: [1, 1, 1])
    preact: bool = True
    dropout: float = 0.1
    lsuv: bool = True  # layer-sequential unit-variance init on one training batch
    # --- training ------------------------------------------------------------------------------------------
    epochs: int = 10
    bs: int = 512
    opt: str = "adamw"  # adamw (decoupled weight decay) or sgd (nesterov)
    lr: float = 3e-3
    wd: float = 0.05
    adam_eps: float = 1e-8
    label_smoothing: float = 0.1
    mixup: float = 0.0  # mixup alpha; 0 = off
    pad: int = 4  # random translations with reflection padding, plus horizontal flips
    telemetry: bool = True  # activation mean/std/near-zero per layer over training -> telemetry.png
    tta: bool = True  # flip + small translations, averaged
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = True


TRAIN_KEYS = [k for k in Cifar10Config.__dataclass_fields__ if k not in FEATURE_KEYS]
CONFIG_SECTIONS = {"features": FEATURE_KEYS, "train": TRAIN_KEYS}
