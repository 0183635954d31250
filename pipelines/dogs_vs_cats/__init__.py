"""Dogs vs Cats (Kaggle's redux edition, scored by log loss): is each test photo a dog? A card on the image kind
(pipelines/vision/card.py): the labels are in the file names (train/cat.0.jpg); the course's dogscats folders
(train/<class>/, valid/<class>/: the fixed validation split) read too."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.dogs_vs_cats import sample
from pipelines.download import DataSpec
from pipelines.vision import VisionConfig
from pipelines.vision.card import ImageCard

# id and target: the real sample has no sample submission; P(dog), the last class, in `label`
CARD = ImageCard(slug="dogs-vs-cats-redux-kernels-edition", metric="logloss", names=r"(?P<label>[a-z]+)\.\d+",
                 id="id", target="label")  # fmt: skip
SPEC = DataSpec(slug="dogs-vs-cats-redux-kernels-edition", files={"train": []}, make_sample=sample.generate)


@dataclass
class Config(VisionConfig):
    # the net's recipe (members=[net]): after the head, a gentle fine-tune won on the real sample (lr 3e-4 and 1e-3
    # did worse)
    frozen_epochs: int = 2  # the head also sees augmented images before the body moves
    lr: float = 1e-4
    bn_freeze: bool = True  # ImageNet statistics suit these photos; batch statistics of 32 images hurt
    min_scale: float = 0.5
