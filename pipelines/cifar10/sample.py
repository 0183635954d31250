"""The embedded CIFAR-10 sample in Kaggle's layout; the ten digits stand for the ten classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipelines.vision.sample import digits, render

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def generate(out: Path, seed: int = 0, n_train: int = 600, n_test: int = 200) -> None:
    """Kaggle's CIFAR-10 layout: 32x32 PNGs `train/<n>.png` (1-based), `trainLabels.csv`, `test/<n>.png`,
    `sampleSubmission.csv`; the ten digits stand for the ten classes."""
    rng = np.random.default_rng(seed)
    images, target = digits()
    idx = rng.permutation(len(target))[: n_train + n_test]
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "test").mkdir(parents=True, exist_ok=True)
    labels = []
    for k, i in enumerate(idx[:n_train], start=1):
        Image.fromarray(render(images[i], rng, 32)).save(out / "train" / f"{k}.png")
        labels.append((k, CIFAR_CLASSES[target[i]]))
    pd.DataFrame(labels, columns=["id", "label"]).to_csv(out / "trainLabels.csv", index=False)
    for k, i in enumerate(idx[n_train:], start=1):
        Image.fromarray(render(images[i], rng, 32)).save(out / "test" / f"{k}.png")
    pd.DataFrame({"id": range(1, n_test + 1), "label": "cat"}).to_csv(out / "sampleSubmission.csv", index=False)
