"""The embedded Planet sample: 2x2 mosaics of digits, tags = the digits present (as planet land tags) plus a
weather tag (`haze` chips are washed out, the others `clear`); CMYK JPEGs like the real chips;
`train_v2.csv`, `train-jpg/`, `test-jpg/`, `sample_submission_v2.csv`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipelines.vision.sample import digits, save_jpeg

PLANET_TAGS = [
    "agriculture",
    "artisinal_mine",
    "bare_ground",
    "blooming",
    "blow_down",
    "conventional_mine",
    "cultivation",
    "habitation",
    "primary",
    "road",
]


def _chip(images, target, rng, cell: int = 32) -> tuple[np.ndarray, list[str]]:
    ground = rng.uniform(40, 140, 3) * np.array([0.8, 1.1, 0.7])  # greenish ground
    chip = np.broadcast_to(ground, (2 * cell, 2 * cell, 3)).copy() + rng.normal(0, 6, (2 * cell, 2 * cell, 3))
    tags = set()
    for r in range(2):
        for c in range(2):
            if rng.random() < 0.55:
                i = rng.integers(len(target))
                ink = Image.fromarray((images[i] * 255).astype(np.uint8)).resize((cell, cell), Image.Resampling.BICUBIC)
                mask = np.asarray(ink, np.float32)[..., None] / 255
                colour = rng.uniform(150, 255, 3)
                block = chip[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell]
                chip[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = block * (1 - mask) + colour * mask
                tags.add(PLANET_TAGS[target[i]])
    weather = "haze" if rng.random() < 0.3 else "clear"
    if weather == "haze":
        chip = 0.45 * chip + 0.55 * 200
    return np.clip(chip, 0, 255).astype(np.uint8), sorted(tags) + [weather]


def generate(out: Path, seed: int = 0, n_train: int = 400, n_test: int = 100) -> None:
    rng = np.random.default_rng(seed)
    images, target = digits()
    rows = []
    for k in range(n_train):
        chip, tags = _chip(images, target, rng)
        save_jpeg(chip, out / "train-jpg" / f"train_{k}.jpg", "CMYK")
        rows.append((f"train_{k}", " ".join(tags)))
    pd.DataFrame(rows, columns=["image_name", "tags"]).to_csv(out / "train_v2.csv", index=False)
    for k in range(n_test):
        save_jpeg(_chip(images, target, rng)[0], out / "test-jpg" / f"test_{k}.jpg", "CMYK")
    names = [f"test_{k}" for k in range(n_test)]
    pd.DataFrame({"image_name": names, "tags": "primary clear"}).to_csv(out / "sample_submission_v2.csv", index=False)
