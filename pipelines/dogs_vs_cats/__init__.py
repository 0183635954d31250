"""Dogs vs Cats (Kaggle's redux edition, scored by log loss): is each test photo a dog? Also reads the
course's dogscats folder layout (train/<class>/, valid/<class>/)."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.download import DataSpec
from pipelines.vision import CONFIG_SECTIONS, VisionConfig, bind
from pipelines.vision import sample as _sample
from pipelines.vision.layouts import dogs_vs_cats_submission, read_dogs_vs_cats
from pipelines.vision.steps import ImageTask

SPEC = DataSpec(slug="dogs-vs-cats-redux-kernels-edition", files={"train": []}, make_sample=_sample.dogs_vs_cats)


@dataclass
class Config(VisionConfig):
    clip: float = 0.005  # log loss: a confident mistake costs at most -log(0.005) = 5.3


TASK = ImageTask("dogs-vs-cats", SPEC, read_dogs_vs_cats, dogs_vs_cats_submission, "sample_submission.csv", "id")
build_features, train, lr_find, predict, submit = bind(TASK)

__all__ = ["CONFIG_SECTIONS", "SPEC", "TASK", "Config", "build_features", "lr_find", "predict", "submit", "train"]
