"""Embedded samples for the image competitions, made from scikit-learn's handwritten digits (real scans of
8x8 digits that ship inside the installed package), written in each competition's exact Kaggle layout.

- dogs-vs-cats: `train/cat.N.jpg` (digit 0) and `train/dog.N.jpg` (digit 1), unlabelled `test1/N.jpg`,
  plus `sample_submission.csv` (`id,label`). A few files are greyscale or CMYK JPEGs, as real data mixes modes.
- dog-breed: `labels.csv` (`id,breed`, ten digits as ten breeds), `train/<id>.jpg`, `test/<id>.jpg`,
  `sample_submission.csv` with one column per breed, including a breed with no training image (the real
  sample has 110 of 120 breeds).
- planet: 2x2 mosaics of digits, tags = the digits present (as planet land tags) plus a weather tag
  (`haze` chips are washed out, the others `clear`); CMYK JPEGs like the real chips; `train_v2.csv`,
  `train-jpg/`, `test-jpg/`, `sample_submission_v2.csv`.

    python -m pipelines.vision.sample COMP OUT_DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipelines.vision.layouts import CIFAR_CLASSES

BREEDS = ["affenpinscher", "afghan_hound", "african_hunting_dog", "airedale", "american_staffordshire_terrier",
          "appenzeller", "australian_terrier", "basenji", "basset", "beagle"]  # fmt: skip
UNSEEN_BREED = "bedlington_terrier"  # in sample_submission.csv, never in labels.csv
PLANET_TAGS = ["agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down", "conventional_mine",
               "cultivation", "habitation", "primary", "road"]  # fmt: skip


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target


def _render(digit: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A digit scan as a colour photo-like image: random ink and paper colours, jitter and noise (HWC uint8)."""
    img = Image.fromarray((digit * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
    ink_mask = np.asarray(img, np.float32)[..., None] / 255
    paper, ink = rng.uniform(120, 255, 3), rng.uniform(0, 110, 3)
    out = paper * (1 - ink_mask) + ink * ink_mask + rng.normal(0, 8, (size, size, 3))
    shift = rng.integers(-size // 10, size // 10 + 1, 2)
    out = np.roll(out, tuple(shift), axis=(0, 1))
    return np.clip(out, 0, 255).astype(np.uint8)


def _save(arr: np.ndarray, path: Path, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, format="JPEG", quality=90)


def _mode(i: int) -> str:
    return "L" if i % 17 == 5 else "CMYK" if i % 23 == 7 else "RGB"  # a few greyscale and CMYK files


def dogs_vs_cats(out: Path, seed: int = 0, n_test: int = 60) -> None:
    rng = np.random.default_rng(seed)
    images, target = _digits()
    idx = rng.permutation(np.flatnonzero(target <= 1))
    test, train = idx[:n_test], idx[n_test:]
    counters = {"cat": 0, "dog": 0}
    for i in train:
        name = "cat" if target[i] == 0 else "dog"
        _save(_render(images[i], rng, 56), out / "train" / f"{name}.{counters[name]}.jpg", _mode(i))
        counters[name] += 1
    for k, i in enumerate(test, start=1):
        _save(_render(images[i], rng, 56), out / "test1" / f"{k}.jpg", _mode(i))
    pd.DataFrame({"id": range(1, n_test + 1), "label": 0.5}).to_csv(out / "sample_submission.csv", index=False)


def dog_breed(out: Path, seed: int = 0, per_class: int = 40, n_test: int = 100) -> None:
    rng = np.random.default_rng(seed)
    images, target = _digits()
    chosen = np.concatenate([rng.choice(np.flatnonzero(target == d), per_class, replace=False) for d in range(10)])
    rest = rng.choice(np.setdiff1d(np.arange(len(target)), chosen), n_test, replace=False)

    def new_id(i: int, kind: str) -> str:
        return hashlib.md5(f"{kind}{seed}-{i}".encode()).hexdigest()

    labels = []
    for i in rng.permutation(chosen):
        image_id = new_id(int(i), "train")
        _save(_render(images[i], rng, 64), out / "train" / f"{image_id}.jpg", _mode(int(i)))
        labels.append((image_id, BREEDS[target[i]]))
    pd.DataFrame(labels, columns=["id", "breed"]).to_csv(out / "labels.csv", index=False)
    test_ids = []
    for i in rest:
        test_ids.append(new_id(int(i), "test"))
        _save(_render(images[i], rng, 64), out / "test" / f"{test_ids[-1]}.jpg", _mode(int(i)))
    breeds = sorted([*BREEDS, UNSEEN_BREED])
    sample = pd.DataFrame({"id": test_ids, **{b: 1 / len(breeds) for b in breeds}})
    sample.to_csv(out / "sample_submission.csv", index=False)


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


def planet(out: Path, seed: int = 0, n_train: int = 400, n_test: int = 100) -> None:
    rng = np.random.default_rng(seed)
    images, target = _digits()
    rows = []
    for k in range(n_train):
        chip, tags = _chip(images, target, rng)
        _save(chip, out / "train-jpg" / f"train_{k}.jpg", "CMYK")
        rows.append((f"train_{k}", " ".join(tags)))
    pd.DataFrame(rows, columns=["image_name", "tags"]).to_csv(out / "train_v2.csv", index=False)
    for k in range(n_test):
        _save(_chip(images, target, rng)[0], out / "test-jpg" / f"test_{k}.jpg", "CMYK")
    names = [f"test_{k}" for k in range(n_test)]
    pd.DataFrame({"image_name": names, "tags": "primary clear"}).to_csv(out / "sample_submission_v2.csv", index=False)


def cifar10(out: Path, seed: int = 0, n_train: int = 600, n_test: int = 200) -> None:
    """Kaggle's CIFAR-10 layout: 32x32 PNGs `train/<n>.png` (1-based), `trainLabels.csv`, `test/<n>.png`,
    `sampleSubmission.csv`; the ten digits stand for the ten classes."""
    rng = np.random.default_rng(seed)
    images, target = _digits()
    idx = rng.permutation(len(target))[: n_train + n_test]
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "test").mkdir(parents=True, exist_ok=True)
    labels = []
    for k, i in enumerate(idx[:n_train], start=1):
        Image.fromarray(_render(images[i], rng, 32)).save(out / "train" / f"{k}.png")
        labels.append((k, CIFAR_CLASSES[target[i]]))
    pd.DataFrame(labels, columns=["id", "label"]).to_csv(out / "trainLabels.csv", index=False)
    for k, i in enumerate(idx[n_train:], start=1):
        Image.fromarray(_render(images[i], rng, 32)).save(out / "test" / f"{k}.png")
    pd.DataFrame({"id": range(1, n_test + 1), "label": "cat"}).to_csv(out / "sampleSubmission.csv", index=False)


GENERATORS = {"dogs-vs-cats": dogs_vs_cats, "dog-breed": dog_breed, "planet": planet, "cifar10": cifar10}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comp", choices=sorted(GENERATORS))
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    GENERATORS[args.comp](args.out, seed=args.seed)


if __name__ == "__main__":
    main()
