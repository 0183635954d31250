"""The pipeline steps every image competition shares, one module each: features (`data`: split + pre-resized
cache), train (`train`: precomputed activations -> frozen -> unfrozen with differential lrs, one stage per
progressive-resizing size; `evaluate`: validation with TTA), predict and submit (`predict`). A competition
only supplies an `ImageTask` (`task`): how to read its files and write its submission.
"""

from __future__ import annotations

from pipelines.vision.data import build_features
from pipelines.vision.predict import predict
from pipelines.vision.task import submit
from pipelines.vision.train import lr_find, train

__all__ = ["build_features", "lr_find", "predict", "submit", "train"]
