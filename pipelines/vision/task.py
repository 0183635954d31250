"""What is particular to one image competition: an `ImageTask` (how to read its files, write and check its
submission). Torch-free: the download and features steps import it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines import submit as submitlib
from pipelines.download import DataSpec
from pipelines.vision.layouts import Layout


@dataclass(frozen=True)
class ImageTask:
    """What is particular to one image competition."""

    comp: str  # COMP name
    spec: DataSpec
    read: Callable[[Path], Layout]
    submission: Callable[..., pd.DataFrame]  # (test, probs, layout, thresholds, clip) -> frame
    sample_file: str | None  # sample submission to validate against, when raw/ has it
    id_col: str
    # classes -> what each submission column must hold (pipelines.submit.Column), as Kaggle scores it
    columns: Callable[[list[str]], dict[str, submitlib.Column]] = lambda classes: {}
    metric: str = ""  # the card's metric (models.metrics), when not log loss or sample F2 (pipelines/vision/choices.py)
