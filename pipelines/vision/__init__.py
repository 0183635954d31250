"""What the image competitions share: config, layouts, the embedded samples and the pipeline steps."""

from __future__ import annotations

from pipelines.registry import lazy_steps
from pipelines.vision.config import VisionConfig

STEPS = ("build_features", "train", "lr_find", "predict", "submit")


def _steps():
    from pipelines.vision import steps  # torch: imported when a step runs (download, sample, config need none)

    return steps


def bind(task) -> tuple:
    """The CLI's step functions (paths, cfg[, run]) for one competition's ImageTask, in the order of STEPS."""
    return lazy_steps(_steps, STEPS, task)


__all__ = ["VisionConfig", "bind"]
