"""The embedded Dogs vs Cats sample: `train/cat.N.jpg` (digit 0) and `train/dog.N.jpg` (digit 1), unlabelled
`test1/N.jpg`, `sample_submission.csv` (`id,label`); a few files greyscale or CMYK, as real data mixes modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.vision.sample import digits, mixed_mode, render, save_jpeg


def generate(out: Path, seed: int = 0, n_test: int = 60) -> None:
    rng = np.random.default_rng(seed)
    images, target = digits()
    idx = rng.permutation(np.flatnonzero(target <= 1))
    test, train = idx[:n_test], idx[n_test:]
    counters = {"cat": 0, "dog": 0}
    for i in train:
        name = "cat" if target[i] == 0 else "dog"
        save_jpeg(render(images[i], rng, 56), out / "train" / f"{name}.{counters[name]}.jpg", mixed_mode(i))
        counters[name] += 1
    for k, i in enumerate(test, start=1):
        save_jpeg(render(images[i], rng, 56), out / "test1" / f"{k}.jpg", mixed_mode(i))
    pd.DataFrame({"id": range(1, n_test + 1), "label": 0.5}).to_csv(out / "sample_submission.csv", index=False)
