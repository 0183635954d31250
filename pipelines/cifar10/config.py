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
    # whitened: airbench's net (patch-whitening stem, dirac-initialised conv groups; models/resnet.py);
    # resnet: the course's residual net (then also set e.g. opt=adamw lr=3e-3 wd=0.05 schedule=one_cycle
    # bn_bias_lr_mult=1)
    arch: str = "whitened"
    widths: list[int] = field(default_factory=lambda: [64, 256, 256])
    depths: list[int] = field(default_factory=lambda: [2, 2, 2])  # convs per group (whitened), blocks (resnet)
    preact: bool = True  # resnet: pre-activation blocks
    dropout: float = 0.1  # resnet: before the classifier
    lsuv: bool = False  # layer-sequential unit-variance init on one training batch (after the whitening stem)
    # --- training ------------------------------------------------------------------------------------------
    epochs: int = 10
    bs: int = 1024
    opt: str = "sgd"  # sgd (nesterov) or adamw (decoupled weight decay)
    schedule: str = "triangular"  # triangular (linear up from 0.2x over 23%, down to 0.07x) or one_cycle
    # airbench's 11.5 per 1024 examples with summed loss and its momentum correction = 1.5 on the mean loss
    lr: float = 1.5
    momentum: float = 0.85  # SGD momentum / Adam beta1 (one_cycle cycles it 0.95 -> 0.85 -> 0.95 instead)
    bn_bias_lr_mult: float = 64.0  # BatchNorm biases train at lr x this (airbench); 1 = same lr
    wd: float = 1.33e-3  # on weights, not biases: with SGD, lr x wd = 0.002 of each weight per step at peak
    adam_eps: float = 1e-8
    label_smoothing: float = 0.2
    mixup: float = 0.0  # mixup alpha; 0 = off
    pad: int = 2  # random translations with reflection padding
    flip: str = "alternate"  # alternate: each image flipped on every other epoch (airbench); random; none
    lookahead: bool = True  # weights pulled to their running average every 5 steps from epoch 3 (airbench)
    telemetry: bool = True  # activation mean/std/near-zero per layer over training -> activations.png
    tta: bool = True  # flip + 1-pixel translations, averaged
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = True


TRAIN_KEYS = [k for k in Cifar10Config.__dataclass_fields__ if k not in FEATURE_KEYS]
CONFIG_SECTIONS = {"features": FEATURE_KEYS, "train": TRAIN_KEYS}
