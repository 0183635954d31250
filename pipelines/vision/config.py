"""The image competitions' configuration: one dataclass, each competition overriding a few defaults."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VisionConfig:
    # --- data (the `features` section: changing these rebuilds the split and the pre-resized cache) ---------
    valid_pct: float = 0.2  # random validation share (layouts with a valid/ folder use that instead)
    split_seed: int = 42
    sizes: list[int] = field(default_factory=lambda: [224])  # progressive resizing: one stage per size
    cache_scale: float = 1.3  # cached images are cache_scale x the largest size (margin for random crops)
    # --- model ---------------------------------------------------------------------------------------------
    arch: str = "efficientnet_lite0"  # efficientnet_lite0 (offline ImageNet weights), resnet34, resnet50
    pretrained: bool = True
    weights: str = ""  # a local state-dict file for the body instead of the packaged/downloaded weights
    hidden: int = 512  # head width
    ps: float = 0.5  # head dropout (the first dropout is ps/2)
    # --- augmentation --------------------------------------------------------------------------------------
    aug: str = "side_on"  # side_on (flip left-right), top_down (8 dihedral symmetries), none
    max_rotate: float = 10.0
    min_scale: float = 0.5  # random resized crop keeps 50-100% of the area
    lighting: float = 0.2  # brightness/contrast jitter
    # --- training: head on precomputed activations, then (optionally) head with augmentation, then all ----
    precompute_epochs: int = 3  # body frozen, no augmentation: body features computed once, head trained on them
    precompute_lr: float = 3e-3
    frozen_epochs: int = 0  # body frozen, head trained on augmented images (full forward passes)
    frozen_lr: float = 3e-3
    epochs: list[int] = field(default_factory=lambda: [2])  # unfrozen epochs at each size of `sizes`
    lr: float = 1e-3  # head lr when unfrozen; body groups get lr/lr_div and lr/lr_div^2
    lr_div: float = 3.0
    bn_freeze: bool = False  # keep the body's BatchNorm statistics fixed after unfreezing too
    schedule: str = "one_cycle"  # one_cycle or sgdr
    cycle_len: int = 1
    cycle_mult: int = 2
    bs: int = 32
    wd: float = 1e-2
    label_smoothing: float = 0.0
    # --- prediction -----------------------------------------------------------------------------------------
    tta: int = 4  # extra augmented views averaged with the plain one (0 = off)
    thresholds: str = "per_tag"  # multi-label: per_tag or global, chosen on validation
    clip: float = 0.0  # clip single-label probabilities to [clip, 1-clip] in the submission (log-loss safety)
    cam_image: str = ""  # file (as in items) to draw the class activation map for; default: the top loss
    # --- engine ---------------------------------------------------------------------------------------------
    seed: int = 0
    device: str = "auto"
    # Mixed precision, measured on the 2-core AMX CPU (EfficientNet-Lite0, 224 px, channels_last): bf16 autocast
    # makes forward passes 1.3-1.4x faster (TTA 100 vs 77 images/s, frozen-body epochs 78-88 vs 58) but full
    # fine-tuning 1.3x slower (18 vs 23 images/s). So: `amp` for unfrozen training (gpu = CUDA only) and
    # `amp_frozen` for the frozen body (precomputed activations, frozen stage, TTA); auto/off/bf16/fp16 as well.
    amp: str = "gpu"
    amp_frozen: str = "auto"
    channels_last: bool = True
    workers: int = -1  # DataLoader workers; -1: 0 on CPU (the model needs both cores), min(8, cpus) on GPU
    lr_find_on: str = "head"  # lr finder on the head (precomputed activations) or "body" (unfrozen, augmented)


FEATURE_KEYS = ["valid_pct", "split_seed", "sizes", "cache_scale"]
TRAIN_KEYS = [k for k in VisionConfig.__dataclass_fields__ if k not in FEATURE_KEYS]
