"""The embedded Dog Breed sample: `labels.csv` (`id,breed`, ten digits as ten breeds), `train/<id>.jpg`,
`test/<id>.jpg`, `sample_submission.csv` with one column per breed, including a breed with no training
image (the real sample has 110 of 120 breeds)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.vision.sample import digits, mixed_mode, render, save_jpeg

BREEDS = [
    "affenpinscher",
    "afghan_hound",
    "african_hunting_dog",
    "airedale",
    "american_staffordshire_terrier",
    "appenzeller",
    "australian_terrier",
    "basenji",
    "basset",
    "beagle",
]
UNSEEN_BREED = "bedlington_terrier"  # in sample_submission.csv, never in labels.csv


def generate(out: Path, seed: int = 0, per_class: int = 40, n_test: int = 100) -> None:
    rng = np.random.default_rng(seed)
    images, target = digits()
    chosen = np.concatenate([rng.choice(np.flatnonzero(target == d), per_class, replace=False) for d in range(10)])
    rest = rng.choice(np.setdiff1d(np.arange(len(target)), chosen), n_test, replace=False)

    def new_id(i: int, kind: str) -> str:
        return hashlib.md5(f"{kind}{seed}-{i}".encode()).hexdigest()

    labels = []
    for i in rng.permutation(chosen):
        image_id = new_id(int(i), "train")
        save_jpeg(render(images[i], rng, 64), out / "train" / f"{image_id}.jpg", mixed_mode(int(i)))
        labels.append((image_id, BREEDS[target[i]]))
    pd.DataFrame(labels, columns=["id", "breed"]).to_csv(out / "labels.csv", index=False)
    test_ids = []
    for i in rest:
        test_ids.append(new_id(int(i), "test"))
        save_jpeg(render(images[i], rng, 64), out / "test" / f"{test_ids[-1]}.jpg", mixed_mode(int(i)))
    breeds = sorted([*BREEDS, UNSEEN_BREED])
    sample = pd.DataFrame({"id": test_ids, **{b: 1 / len(breeds) for b in breeds}})
    sample.to_csv(out / "sample_submission.csv", index=False)
