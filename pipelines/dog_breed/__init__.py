"""Dog Breed Identification (scored by multi-class log loss over 120 breeds): labels.csv + train/<id>.jpg."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.dog_breed import sample
from pipelines.dog_breed.layout import cut_dog_breed, dog_breed_submission, read_dog_breed
from pipelines.download import DataSpec
from pipelines.submit import probability
from pipelines.vision import STEPS, VisionConfig, bind
from pipelines.vision import backtest as vbt
from pipelines.vision.task import ImageTask

SPEC = DataSpec(
    slug="dog-breed-identification",
    files={"labels.csv": ["id", "breed"], "train": [], "test": [], "sample_submission.csv": ["id"]},
    make_sample=sample.generate,
)


@dataclass
class Config(VisionConfig):
    # ImageNet already knows dog breeds: most of the gain is in the head; the body only needs a light touch.
    precompute_epochs: int = 5
    epochs: list[int] = field(default_factory=lambda: [1])


# Scored by multi-class log loss: one probability column per breed.
TASK = ImageTask(
    "dog-breed",
    SPEC,
    read_dog_breed,
    dog_breed_submission,
    "sample_submission.csv",
    "id",
    lambda classes: {c: probability() for c in classes},
)
build_features, train, lr_find, predict, submit = bind(TASK)
DISTRIBUTED = True  # `make train NPROC=2`: the net's stages train data-parallel under torchrun

# make backtest: a seeded, stratified fifth of the labelled images as the hidden test set
BACKTEST = vbt.image_backtest(cut_dog_breed, vbt.multiclass_log_loss, "logloss", "id", "breed")
HEADLINE = "oof_logloss"  # make runs / make report: multi-class log loss out of fold, as Kaggle scores it
__all__ = ["BACKTEST", "DISTRIBUTED", "HEADLINE", "SPEC", "TASK", "Config", *STEPS]
