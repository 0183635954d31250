"""Planet: Understanding the Amazon from Space (multi-label, scored by sample-averaged F2): train_v2.csv +
train-jpg/ (CMYK JPEG chips), test in test-jpg/ (+ test-jpg-additional/); a card on the image kind
(pipelines/vision/card.py) with its own defaults and embedded sample."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.download import DataSpec
from pipelines.planet import sample
from pipelines.vision import VisionConfig
from pipelines.vision.card import ImageCard

# The course's sample has neither a sample submission nor test chips (nor one label file only): id and target
# say what the submission holds, labels= which file.
CARD = ImageCard(
    slug="planet-understanding-the-amazon-from-space",
    metric="f2",
    labels="train_v2.csv",
    id="image_name",
    target="tags",
    train=("train-jpg",),  # not the TIFF folders, when they are unpacked too
    test=("test-jpg", "test-jpg-additional"),  # either may be absent (the course's sample has neither)
)
SPEC = DataSpec(
    slug="planet-understanding-the-amazon-from-space",
    files={"train_v2.csv": ["image_name", "tags"], "train-jpg": []},
    make_sample=sample.generate,
)


@dataclass
class Config(VisionConfig):
    sizes: list[int] = field(default_factory=lambda: [64, 128, 256])  # progressive resizing
    # the net's recipe (members=[net]): chosen on the real sample before the probe became the default; bn_freeze
    # stays off, satellite chips are not ImageNet photos
    epochs: list[int] = field(default_factory=lambda: [2, 2, 2])
    lr: float = 2e-3
    tta: int = 7  # the 7 other dihedral symmetries: exact views of a top-down chip
    aug: str = "top_down"  # satellite chips have no up or left: all 8 dihedral views are valid
    min_scale: float = 0.75
    lighting: float = 0.05
    cache_scale: float = 1.0  # the chips are 256 px already: a larger cache would only upsample
