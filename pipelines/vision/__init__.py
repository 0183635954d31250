"""What the image competitions share: config, layouts, the image card (card.py), the embedded samples and the
pipeline steps."""

from __future__ import annotations

from pipelines.vision.config import VisionConfig

STEPS = ("build_features", "train", "lr_find", "predict", "submit")

__all__ = ["STEPS", "VisionConfig"]
