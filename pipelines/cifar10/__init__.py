"""CIFAR-10 (Kaggle's "Object Recognition in Images", scored by accuracy): a ResNet trained from random weights.

A card on the image kind (pipelines/vision/card.py) reads the files: Kaggle's `train/<n>.png` + `trainLabels.csv`
+ `test/` + `sampleSubmission.csv`, or the course's class folders `train/<class>/`, `test/<class>/` (whose test
labels are scored too). The features (split + uint8 cache), the submission's checks, `make submit` and `make
backtest` are the card's; training is CIFAR-10's own, from scratch on whole-dataset tensors with batch-level
augmentation (pipelines/cifar10/model.py).
"""

from __future__ import annotations

from dataclasses import replace

from pipelines.cifar10 import sample
from pipelines.cifar10.config import Cifar10Config
from pipelines.download import DataSpec
from pipelines.env import keep_freed_memory
from pipelines.registry import lazy_steps
from pipelines.vision.card import ImageCard, competition

# id and target: the course's class-folder copy has no sample submission to read them from
CARD = ImageCard(slug="cifar-10", metric="accuracy", sample="sampleSubmission.csv", id="id", target="label")
SPEC = DataSpec(slug="cifar-10", files={"train": []}, make_sample=sample.generate)
Config = Cifar10Config
DISTRIBUTED = True  # `make train COMP=cifar10 NPROC=2` runs under torchrun with DistributedDataParallel
# the card's backtest (a stratified fifth of the labelled images), without the pretrained kind's probe peer
BACKTEST = replace(competition(CARD, __name__)["BACKTEST"], peers={})


def _model():
    from pipelines.cifar10 import model  # torch: imported when a step runs

    keep_freed_memory()  # a CPU's convolutions (pipelines/env.py)
    return model


train, lr_find, predict = lazy_steps(_model, ("train", "lr_find", "predict"))
HEADLINE = "valid_accuracy_tta"  # make runs / make report: validation accuracy with TTA
__all__ = ["BACKTEST", "CARD", "HEADLINE", "SPEC", "Config", "train", "lr_find", "predict"]
