"""CIFAR-10 (Kaggle's "Object Recognition in Images", scored by accuracy): a ResNet trained from random weights.

Reads Kaggle's `train/<n>.png` + `trainLabels.csv` + `test/` and the class-folder layout
(`train/<class>/`, `test/<class>/`). Features (split + uint8 cache) are the image competitions' shared step;
training is from scratch on whole-dataset tensors with batch-level augmentation (pipelines/cifar10/model.py).
"""

from __future__ import annotations

from pipelines.cifar10.config import SPEC, TASK, Cifar10Config
from pipelines.registry import lazy_steps
from pipelines.vision import bind

Config = Cifar10Config
DISTRIBUTED = True  # `make train COMP=cifar10 NPROC=2` runs under torchrun with DistributedDataParallel
# the shared split + cache step, and the shared submit (validate again, send with the validation scores)
build_features, *_, submit = bind(TASK)


def _model():
    from pipelines.cifar10 import model  # torch: imported when a step runs

    return model


train, lr_find, predict = lazy_steps(_model, ("train", "lr_find", "predict"))
HEADLINE = "valid_accuracy_tta"  # make runs / make report: validation accuracy with TTA
__all__ = ["HEADLINE", "SPEC", "TASK", "Config", "build_features", "submit", "train", "lr_find", "predict"]
