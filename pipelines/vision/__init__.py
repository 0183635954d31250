"""What the image competitions share: config, layouts, the embedded samples and the pipeline steps."""

from __future__ import annotations

import functools

from pipelines.vision.config import VisionConfig

STEPS = ("build_features", "train", "lr_find", "predict", "submit")


def bind(task) -> tuple:
    """The CLI's step functions (paths, cfg[, run]) for one competition's ImageTask, in the order of STEPS."""
    from pipelines.vision import steps

    return tuple(functools.partial(getattr(steps, name), task) for name in STEPS)


__all__ = ["VisionConfig", "bind"]
