"""The image competitions' configuration: one dataclass, each competition overriding a few defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.config import setting


@dataclass
class VisionConfig:
    # --- data (the `features` section: changing these rebuilds the split and the pre-resized cache) ---------
    # random validation share (layouts with a valid/ folder use that instead)
    valid_pct: float = setting(0.2, gt=0, lt=1, step="features")
    split_seed: int = setting(42, ge=0, step="features")
    sizes: list[int] = setting(
        factory=lambda: [224], ge=16, step="features"
    )  # progressive resizing: one stage per size
    # cached images are cache_scale x the largest size (margin for random crops)
    cache_scale: float = setting(1.3, ge=1, step="features")
    # --- model ---------------------------------------------------------------------------------------------
    # efficientnet_lite0 (offline ImageNet weights), resnet34, resnet50
    arch: Literal["efficientnet_lite0", "resnet34", "resnet50"] = "efficientnet_lite0"
    pretrained: bool = True
    weights: str = ""  # a local state-dict file for the body instead of the packaged/downloaded weights
    hidden: int = setting(512, ge=1)  # head width
    ps: float = setting(0.5, ge=0, lt=1)  # head dropout (the first dropout is ps/2)
    # --- augmentation --------------------------------------------------------------------------------------
    # side_on (flip left-right), top_down (8 dihedral symmetries), none
    aug: Literal["side_on", "top_down", "none"] = "side_on"
    max_rotate: float = setting(10.0, ge=0, le=180)
    min_scale: float = setting(0.5, gt=0, le=1)  # random resized crop keeps 50-100% of the area
    lighting: float = setting(0.2, ge=0, lt=1)  # brightness/contrast jitter
    # --- training: head on precomputed activations, then (optionally) head with augmentation, then all ----
    # body frozen, no augmentation: body features computed once, head trained on them
    precompute_epochs: int = setting(3, ge=0)
    precompute_lr: float = setting(3e-3, gt=0)
    frozen_epochs: int = setting(0, ge=0)  # body frozen, head trained on augmented images (full forward passes)
    frozen_lr: float = setting(3e-3, gt=0)
    epochs: list[int] = setting(factory=lambda: [2], ge=0)  # unfrozen epochs at each size of `sizes`
    lr: float = setting(1e-3, gt=0)  # head lr when unfrozen; body groups get lr/lr_div and lr/lr_div^2
    lr_div: float = setting(3.0, gt=0)
    bn_freeze: bool = False  # keep the body's BatchNorm statistics fixed after unfreezing too
    schedule: Literal["one_cycle", "sgdr"] = "one_cycle"  # one_cycle or sgdr
    cycle_len: int = setting(1, ge=1)
    cycle_mult: int = setting(2, ge=1)
    bs: int = setting(32, ge=2)
    wd: float = setting(1e-2, ge=0)
    label_smoothing: float = setting(0.0, ge=0, lt=1)
    # --- prediction -----------------------------------------------------------------------------------------
    tta: int = setting(4, ge=0)  # extra augmented views averaged with the plain one (0 = off)
    thresholds: Literal["per_tag", "global"] = "per_tag"  # multi-label: per_tag or global, chosen on validation
    # clip single-label probabilities to [clip, 1-clip] in the submission (log-loss safety)
    clip: float = setting(0.0, ge=0, lt=0.5)
    cam_image: str = setting(
        "", result=False
    )  # file (as in items) to draw the class activation map for; default: the top loss
    # --- engine ---------------------------------------------------------------------------------------------
    seed: int = setting(0, ge=0)
    device: str = "auto"
    # Mixed precision, measured on the 2-core AMX CPU (EfficientNet-Lite0, 224 px, channels_last): bf16 autocast
    # makes forward passes 1.3-1.4x faster (TTA 100 vs 77 images/s, frozen-body epochs 78-88 vs 58) but full
    # fine-tuning 1.3x slower (18 vs 23 images/s). So: `amp` for unfrozen training (gpu = CUDA only) and
    # `amp_frozen` for the frozen body (precomputed activations, frozen stage, TTA); auto/off/bf16/fp16 as well.
    amp: Literal["auto", "gpu", "off", "bf16", "fp16"] = "gpu"
    amp_frozen: Literal["auto", "gpu", "off", "bf16", "fp16"] = "auto"
    channels_last: bool = True
    # DataLoader workers; -1: 0 on CPU (the model needs both cores), min(8, cpus) on GPU
    workers: int = setting(-1, ge=-1)
    # lr finder on the head (precomputed activations) or "body" (unfrozen, augmented)
    lr_find_on: Literal["head", "body"] = "head"
