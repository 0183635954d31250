"""The image competitions' configuration: one dataclass, each competition overriding a few defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.config import setting


@dataclass
class VisionConfig:
    # --- data (the `features` section: changing these rebuilds the split and the pre-resized cache) ---------
    # random validation share (layouts with a valid/ folder use that instead)
    # share of the labelled images held out (when the layout has no valid/ folder)
    valid_pct: float = setting(0.2, gt=0, lt=1, step="features")
    split_seed: int = setting(42, ge=0, step="features")  # seed of that split
    # px of each training size, in order (progressive resizing); the cache is cache_scale x the largest
    sizes: list[int] = setting(factory=lambda: [224], ge=16, le=2048, min_items=1, step="features")
    # cached images are cache_scale x the largest size (margin for random crops), or the images' own where every
    # one is smaller (data.cache_size: 32 px photos are cached at 32 px, not upsampled to 83)
    cache_scale: float = setting(1.3, ge=1, step="features")
    # --- members, cross-validation and the blend (pipelines/vision/choices.py) -----------------------------
    # probe: a frozen ImageNet backbone's pooled features of every TTA view + logistic regression, k-fold
    # cross-validated (minutes on a CPU); net: the fine-tuning recipe below (precompute -> frozen -> unfrozen,
    # progressive resizing), validated on the holdout split. With both, the blend's weights are fitted on the
    # holdout images, chosen out of fold like thresholds and clipping.
    # table: LightGBM on the columns the competition ships beside its images (train.csv's and test.csv's: PetFinder's
    # flags, SIIM-ISIC's age and site) and the probe's predictions, k-fold on the probe's folds (pipelines/vision/
    # table.py); trained where there are such columns, else left out
    members: list[Literal["probe", "net", "table"]] = setting(factory=lambda: ["probe", "table"], member="ensemble")
    folds: int = setting(5, ge=2)  # k of the probe's k-fold cross-validation (stratified; iterative for tags)
    fold_seed: int = setting(0, ge=0)  # seed of the probe's folds
    # the probe's backbone: as `arch` below (another timm architecture needs probe_weights=, its weights file)
    probe_arch: str = setting("efficientnet_lite2", member="probe")
    # a weights file for probe_arch (needed by a timm architecture other than efficientnet_lite0/1/2)
    probe_weights: str = setting("", member="probe")
    probe_size: int = setting(0, ge=0, member="probe")  # px the probe's backbone sees; 0: its native size
    # the logistic regression's C (inverse L2 strength); a number an image's ridge chooses its own (leave-one-out)
    probe_c: float = setting(0.01, gt=0, member="probe")
    # the table member's LightGBM (pipelines/vision/README.md: chosen out of fold on two generated tables)
    table_rounds: int = setting(2000, ge=1, member="table")  # the most rounds: early stopping on each fold picks fewer
    table_lr: float = setting(0.03, gt=0, le=1, member="table")  # the table member's learning rate
    table_leaves: int = setting(7, ge=2, member="table")  # leaves a tree of the table member
    table_min_leaf: int = setting(40, ge=1, member="table")  # the table member's rows a leaf at least
    # --- model ---------------------------------------------------------------------------------------------
    # efficientnet_lite0/1/2 (offline ImageNet weights), resnet34, resnet50 (torchvision's, downloaded), or any
    # timm CNN by name with weights= its weights file (models/vision.py: timm_body)
    arch: str = setting("efficientnet_lite0", member="net")
    pretrained: bool = setting(True, member="net")  # ImageNet weights for the net's body (false: random initialisation)
    # a local weights file for the body (.safetensors, .pth) instead of the packaged/downloaded weights
    weights: str = setting("", member="net")
    hidden: int = setting(512, ge=1, member="net")  # head width
    ps: float = setting(0.5, ge=0, lt=1, member="net")  # head dropout (the first dropout is ps/2)
    # --- augmentation --------------------------------------------------------------------------------------
    # side_on (flip left-right), top_down (8 dihedral symmetries), none
    # basic: side_on's crops, rotation and lighting without the flip (digits, letters: a mirror is another one)
    aug: Literal["side_on", "top_down", "basic", "none"] = "side_on"
    max_rotate: float = setting(10.0, ge=0, le=180, member="net")  # degrees of random rotation (side_on)
    min_scale: float = setting(0.5, gt=0, le=1, member="net")  # random resized crop keeps 50-100% of the area
    lighting: float = setting(0.2, ge=0, lt=1, member="net")  # brightness/contrast jitter
    # --- training: head on precomputed activations, then (optionally) head with augmentation, then all ----
    # body frozen, no augmentation: body features computed once, head trained on them
    precompute_epochs: int = setting(3, ge=0, le=1000, member="net")
    precompute_lr: float = setting(3e-3, gt=0, member="net")  # lr of the head on precomputed activations
    # body frozen, head trained on augmented images (full forward passes)
    frozen_epochs: int = setting(0, ge=0, le=1000, member="net")
    frozen_lr: float = setting(3e-3, gt=0, member="net")  # lr of the head on augmented images, body frozen
    epochs: list[int] = setting(factory=lambda: [2], ge=0, le=1000, member="net")  # unfrozen epochs at each of `sizes`
    # head lr when unfrozen; body groups get lr/lr_div and lr/lr_div^2
    lr: float = setting(1e-3, gt=0, le=10, member="net")
    # differential lrs: lr/lr_div^2, lr/lr_div, lr for (body early, body late, head)
    lr_div: float = setting(3.0, gt=0, member="net")
    # keep the body's BatchNorm statistics fixed after unfreezing too
    bn_freeze: bool = setting(False, member="net")
    # one_cycle, or sgdr (cycle_len, cycle_mult)
    schedule: Literal["one_cycle", "sgdr"] = setting("one_cycle", member="net")
    cycle_len: int = setting(1, ge=1, member="net")  # sgdr: epochs of the first cycle
    cycle_mult: int = setting(2, ge=1, member="net")  # sgdr: each cycle this many times longer than the last
    bs: int = setting(32, ge=2, le=65536, member="net")  # images per batch
    wd: float = setting(1e-2, ge=0, member="net")  # decoupled weight decay (AdamW)
    label_smoothing: float = setting(0.0, ge=0, lt=1, member="net")  # cross-entropy label smoothing (single-label)
    # --- prediction -----------------------------------------------------------------------------------------
    tta: int = setting(4, ge=0)  # extra augmented views averaged with the plain one (0 = off)
    # multi-label: one global threshold, per-tag ones shrunk toward it (by each tag's positives), or auto: the
    # one that scores better out of fold (chosen on the other folds, scored on each)
    thresholds: Literal["auto", "per_tag", "global"] = setting("auto", member="ensemble")
    # single-label: clip probabilities to [clip, 1-clip] in the submission (log loss); -1: chosen out of fold
    clip: float = setting(-1.0, ge=-1, lt=0.5, member="ensemble")
    # qwk's ordered classes: submit each image's expected class (the classes' indices weighted by their
    # probabilities) cut into classes at thresholds chosen out of fold (true); or the likeliest class (false)
    ordinal: bool = setting(True, member="ensemble")
    # the image (file name, as in items) cam.png explains; empty: the top loss
    cam_image: str = setting("", result=False)
    # --- engine ---------------------------------------------------------------------------------------------
    seed: int = setting(0, ge=0)  # seed of the weights, the batches and the augmentation
    device: str = "auto"  # auto = CUDA, then MPS, then CPU
    # Mixed precision, measured on the 2-core AMX CPU (EfficientNet-Lite0, 224 px, channels_last): bf16 autocast
    # makes forward passes 1.3-1.4x faster (TTA 100 vs 77 images/s, frozen-body epochs 78-88 vs 58) but full
    # fine-tuning 1.3x slower (18 vs 23 images/s). So: `amp` for unfrozen training (gpu = CUDA only) and
    # `amp_frozen` for the frozen body (precomputed activations, frozen stage, TTA); auto/off/bf16/fp16 as well.
    amp: Literal["auto", "gpu", "off", "bf16", "fp16"] = setting("gpu", member="net")
    # autocast for the frozen body's forward passes (probe features, precomputed activations, TTA)
    amp_frozen: Literal["auto", "gpu", "off", "bf16", "fp16"] = "auto"
    channels_last: bool = True  # NHWC memory format for the convolutions
    # DataLoader workers; -1: 0 on CPU (the model needs both cores), min(8, cpus) on GPU
    workers: int = setting(-1, ge=-1)
    # lr finder on the head (precomputed activations) or "body" (unfrozen, augmented)
    lr_find_on: Literal["head", "body"] = setting("head", member="net")


def net_amp(cfg: VisionConfig) -> str:
    """The autocast the fine-tuned net is evaluated and predicts with: its last stage's, `amp` after unfrozen epochs
    (fp32 on CPU by default), `amp_frozen` after frozen ones only. A net trained in fp32 lost in bf16: Aerial
    Cactus, 24 validation images, log loss 0.184 -> 0.209, accuracy 0.958 -> 0.917 (one image)."""
    return cfg.amp if any(cfg.epochs) else cfg.amp_frozen
