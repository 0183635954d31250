"""Dog Breed Identification (scored by multi-class log loss over 120 breeds): labels.csv + train/<id>.jpg, a
card on the image kind (pipelines/vision/card.py) with its own defaults and embedded sample."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.dog_breed import sample
from pipelines.download import DataSpec
from pipelines.vision import VisionConfig
from pipelines.vision.card import ImageCard

CARD = ImageCard(slug="dog-breed-identification", metric="mlogloss", labels="labels.csv")  # the course sample has two
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
