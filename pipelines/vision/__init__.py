"""What the image competitions share: config, layouts, the embedded samples and the pipeline steps."""

from __future__ import annotations

from pipelines.vision.config import VisionConfig

STEPS = ("build_features", "train", "lr_find", "predict", "submit")


def bind(task) -> tuple:
    """The CLI's step functions (paths, cfg[, run]) for one competition's ImageTask, in the order of STEPS.
    Each imports the steps (and torch) when it runs, not before: download, sample and config need neither."""

    def step(name: str):
        def run(*args, **kwargs):
            from pipelines.vision import steps

            return getattr(steps, name)(task, *args, **kwargs)

        run.__name__ = run.__qualname__ = name
        return run

    return tuple(step(name) for name in STEPS)


__all__ = ["VisionConfig", "bind"]
