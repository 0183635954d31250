"""The pipeline steps every image competition shares, one module each: features (`data`: split + pre-resized
cache), train (`train`: precomputed activations -> frozen -> unfrozen with differential lrs, one stage per
progressive-resizing size; `evaluate`: validation with TTA), predict and submit (`predict`). A competition
only supplies an `ImageTask` (`task`): how to read its files and write its submission.

Each step's module is imported when that step is first asked for (PEP 562's module `__getattr__`), so `make
features` decodes and resizes images without importing torch, torchvision and timm (about 5 s a run on 2 CPU
cores).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for readers and type checkers; at run time each comes from __getattr__ below
    from pipelines.vision.data import build_features
    from pipelines.vision.predict import predict
    from pipelines.vision.task import submit
    from pipelines.vision.train import lr_find, train

__all__ = ["build_features", "lr_find", "predict", "submit", "train"]


def __getattr__(name: str):
    # import statements, not module names in strings: registry.code_files reads them to fingerprint the code
    if name == "build_features":
        from pipelines.vision.data import build_features

        return build_features
    if name == "predict":
        from pipelines.vision.predict import predict

        return predict
    if name == "submit":
        from pipelines.vision.task import submit

        return submit
    if name in ("train", "lr_find"):
        from pipelines.vision.train import lr_find, train

        return train if name == "train" else lr_find
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
