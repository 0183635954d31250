"""CIFAR-10's settings (`make config COMP=cifar10`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.config import setting

# The training images' per-channel mean and std (of pixel / 255): the nets normalise their uint8 input with them.
CIFAR_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


@dataclass
class Cifar10Config:
    # --- data (the features section, shared with the image competitions) ------------------------------------
    # share of the labelled images held out for validation
    valid_pct: float = setting(0.1, gt=0, lt=1, step="features")
    split_seed: int = setting(42, ge=0, step="features")  # seed of that split
    # px of the decoded-image cache (CIFAR-10: its native 32)
    sizes: list[int] = setting(factory=lambda: [32], ge=8, le=1024, min_items=1, step="features")
    cache_scale: float = setting(1.0, ge=1, step="features")  # the images are 32 px: cached as they are
    # --- model ---------------------------------------------------------------------------------------------
    # whitened: airbench's net (patch-whitening stem, dirac-initialised conv groups; models/resnet.py);
    # resnet: the course's residual net (then also set e.g. opt=adamw lr=3e-3 wd=0.05 schedule=one_cycle
    # bn_bias_lr_mult=1)
    arch: Literal["whitened", "resnet"] = "whitened"
    widths: list[int] = setting(factory=lambda: [64, 256, 256], ge=1)  # channels of the three conv groups
    depths: list[int] = setting(factory=lambda: [2, 2, 2], ge=1)  # convs per group (whitened), blocks (resnet)
    preact: bool = True  # resnet: pre-activation blocks
    dropout: float = setting(0.1, ge=0, lt=1)  # resnet: before the classifier
    lsuv: bool = False  # layer-sequential unit-variance init on one training batch (after the whitening stem)
    # --- training ------------------------------------------------------------------------------------------
    epochs: int = setting(10, ge=1, le=1000)  # training epochs
    bs: int = setting(1024, ge=2, le=65536)  # images per batch
    opt: Literal["sgd", "adamw"] = "sgd"  # sgd (nesterov) or adamw (decoupled weight decay)
    # triangular (linear up from 0.2x over 23%, down to 0.07x) or one_cycle
    schedule: Literal["triangular", "one_cycle"] = "triangular"
    # airbench's 11.5 per 1024 examples with summed loss and its momentum correction = 1.5 on the mean loss
    lr: float = setting(1.5, gt=0, le=100)
    # SGD momentum / Adam beta1 (one_cycle cycles it 0.95 -> 0.85 -> 0.95 instead)
    momentum: float = setting(0.85, ge=0, lt=1)
    bn_bias_lr_mult: float = setting(64.0, gt=0)  # BatchNorm biases train at lr x this (airbench); 1 = same lr
    # on weights, not biases: with SGD, lr x wd = 0.002 of each weight per step at peak
    wd: float = setting(1.33e-3, ge=0)
    adam_eps: float = setting(1e-8, gt=0)  # AdamW's epsilon (opt=adamw)
    label_smoothing: float = setting(0.2, ge=0, lt=1)  # cross-entropy label smoothing
    mixup: float = setting(0.0, ge=0)  # mixup alpha; 0 = off
    pad: int = setting(2, ge=0)  # random translations with reflection padding
    # alternate: each image flipped on every other epoch (airbench); random; none
    flip: Literal["alternate", "random", "none"] = "alternate"
    lookahead: bool = True  # weights pulled to their running average every 5 steps from epoch 3 (airbench)
    # whitened: the whitening stem's bias trains this many epochs, then stays (airbench: 3); 0 = trains throughout
    # (3 measured 0.004 lower on validation with TTA, 3 seeds: pipelines/cifar10/README.md)
    whiten_bias_epochs: int = setting(0, ge=0)
    telemetry: bool = True  # activation mean/std/near-zero per layer over training -> activations.png
    tta: bool = True  # flip + 1-pixel translations, averaged
    # after the validated run, the same training on every labelled image (validation too); predict uses that model
    refit: bool = False
    seed: int = setting(0, ge=0)  # seed of the weights, the batches and the augmentation
    device: str = "auto"  # auto = CUDA, then MPS, then CPU
    # auto = bf16 autocast on CUDA and on CPUs with AMX or AVX512-BF16; gpu: on CUDA only; off; bf16; fp16 (GPU)
    amp: Literal["auto", "gpu", "off", "bf16", "fp16"] = "auto"
    channels_last: bool = True  # NHWC memory format for the convolutions
