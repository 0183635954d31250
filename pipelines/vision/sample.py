"""Embedded samples for the image competitions are made from scikit-learn's handwritten digits (real scans of
8x8 digits that ship inside the installed package), rendered as photo-like colour images; each competition's
`sample.py` writes them in its exact Kaggle layout. These are the shared drawing helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digit scans (N, 8, 8) in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target


def render(digit: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A digit scan as a colour photo-like image: random ink and paper colours, jitter and noise (HWC uint8)."""
    img = Image.fromarray((digit * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
    ink_mask = np.asarray(img, np.float32)[..., None] / 255
    paper, ink = rng.uniform(120, 255, 3), rng.uniform(0, 110, 3)
    out = paper * (1 - ink_mask) + ink * ink_mask + rng.normal(0, 8, (size, size, 3))
    shift = rng.integers(-size // 10, size // 10 + 1, 2)
    out = np.roll(out, tuple(shift), axis=(0, 1))
    return np.clip(out, 0, 255).astype(np.uint8)


def save_jpeg(arr: np.ndarray, path: Path, mode: str = "RGB") -> None:
    """Save an HWC uint8 image as a JPEG (quality 90) in `mode`, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, format="JPEG", quality=90)


def mixed_mode(i: int) -> str:
    """The JPEG mode of sample image `i`: RGB, with a few greyscale and CMYK files as real data mixes modes."""
    return "L" if i % 17 == 5 else "CMYK" if i % 23 == 7 else "RGB"  # a few greyscale and CMYK files


# Synthetic image competitions laid out six ways Kaggle ships them, for `make new KIND=image` -> `make all` in
# the tests: kind -> the metric the card names.
KINDS = {
    "binary": "auc",
    "classes": "mlogloss",
    "folders": "accuracy",
    "tags": "f2",
    "number": "rmse",
    "pixels": "accuracy",
}


def write_competition(kind: str, folder: Path, n: int = 240, n_test: int = 60, seed: int = 0) -> Path:
    """One synthetic image competition of `kind` (KINDS) in `folder`, digits as the classes:
    binary: train.csv (`id` = file name, `has_cactus` 0/1: is the digit < 5), train/, test/, the sample 0.5;
    classes: labels.csv (`id` = stem, `breed`), one probability column per class in the sample;
    folders: train/<class>/*.png, test/, the sample `id,label`;
    tags: train_v2.csv (`image_name`, `tags`: "small"/"big" and "even"/"odd"), train-jpg/, test-jpg/;
    number (Pawpularity's layout): train.csv (`Id` = stem, a 0/1 `Blur` column of noise, `Age` 10..99,
    `Pawpularity` = 10 x the digit + Age // 10), test.csv (`Id`, `Blur`, `Age`), the sample `Id,Pawpularity`;
    pixels (Digit Recognizer's layout): no image files, train.csv (`label`, `pixel0..pixel783`: 28x28 greyscale,
    white ink on black), test.csv (the pixels alone), the sample `ImageId,Label` numbering the test's rows from 1."""
    rng = np.random.default_rng(seed)
    images, target = digits()
    pick = rng.choice(len(target), n + n_test, replace=False)
    if kind == "pixels":
        return _pixel_tables(folder, images[pick], target[pick], n)
    names = [f"img{i:05d}" for i in range(n + n_test)]
    classes = [f"d{d}" for d in range(10)]
    train_dir, test_dir = {"tags": ("train-jpg", "test-jpg")}.get(kind, ("train", "test"))
    rows = []
    for j, (i, name) in enumerate(zip(pick, names, strict=True)):
        d, test = int(target[i]), j >= n
        sub = train_dir if not test else test_dir
        if kind == "folders" and not test:
            sub = f"{train_dir}/{classes[d]}"
        suffix = ".png" if kind == "folders" else ".jpg"
        path = folder / sub / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(render(images[i], rng, 32)).save(path)
        tags = f"{'small' if d < 5 else 'big'} {'even' if d % 2 == 0 else 'odd'}"
        rows.append({"name": name, "file": path.name, "digit": d, "tags": tags, "test": test})
    frame = pd.DataFrame(rows)
    train, test = frame[~frame.test], frame[frame.test]
    if kind == "binary":
        train.assign(has_cactus=(train.digit < 5).astype(int))[["file", "has_cactus"]].rename(
            columns={"file": "id"}
        ).to_csv(folder / "train.csv", index=False)
        pd.DataFrame({"id": test.file, "has_cactus": 0.5}).to_csv(folder / "sample_submission.csv", index=False)
    elif kind == "classes":
        pd.DataFrame({"id": train.name, "breed": [classes[d] for d in train.digit]}).to_csv(
            folder / "labels.csv", index=False
        )
        pd.DataFrame({"id": test.name, **{c: 0.1 for c in classes}}).to_csv(
            folder / "sample_submission.csv", index=False
        )
    elif kind == "folders":
        pd.DataFrame({"id": test.name, "label": "d0"}).to_csv(folder / "sample_submission.csv", index=False)
    elif kind == "number":
        blur, age = rng.integers(0, 2, len(frame)), rng.integers(10, 100, len(frame))
        score = 10 * frame.digit + age // 10  # the image's digit and the table's age: each says a part
        meta = pd.DataFrame({"Id": frame.name, "Blur": blur, "Age": age})
        meta[: len(train)].assign(Pawpularity=score[: len(train)]).to_csv(folder / "train.csv", index=False)
        meta[len(train) :].to_csv(folder / "test.csv", index=False)
        pd.DataFrame({"Id": test.name, "Pawpularity": 50.0}).to_csv(folder / "sample_submission.csv", index=False)
    else:
        pd.DataFrame({"image_name": train.name, "tags": train.tags}).to_csv(folder / "train_v2.csv", index=False)
        pd.DataFrame({"image_name": test.name, "tags": "small"}).to_csv(
            folder / "sample_submission_v2.csv", index=False
        )
    return folder


def _pixel_tables(folder: Path, images: np.ndarray, target: np.ndarray, n: int) -> Path:
    """Digit Recognizer's files: the first `n` digits labelled in train.csv, the others in test.csv, 28x28 px."""
    folder.mkdir(parents=True, exist_ok=True)
    side = 28
    pixels = np.stack(
        [
            np.asarray(Image.fromarray((d * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BICUBIC))
            for d in images
        ]
    ).reshape(len(images), -1)
    columns = [f"pixel{i}" for i in range(side * side)]
    train = pd.DataFrame(pixels[:n], columns=columns)
    train.insert(0, "label", target[:n])
    train.to_csv(folder / "train.csv", index=False)
    pd.DataFrame(pixels[n:], columns=columns).to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"ImageId": np.arange(1, len(images) - n + 1), "Label": 0}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return folder
