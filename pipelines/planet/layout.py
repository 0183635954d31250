"""Planet files -> Layout (multi-label tags), and probabilities -> the `image_name,tags` submission."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.vision.layouts import Layout, labelled_csv, order_by_sample, test_frame


def read_planet(raw: Path) -> Layout:
    frame, notes = labelled_csv(raw, "train_v2.csv", "image_name", "tags", ("train-jpg",))
    classes = sorted({t for tags in frame.label for t in tags.split()})
    test, matches = test_frame(raw, ("test-jpg", "test-jpg-additional")), True
    sample = next((raw / n for n in ("sample_submission_v2.csv", "sample_submission.csv") if (raw / n).is_file()), None)
    if sample is not None and len(test):
        test, matches = order_by_sample(test, pd.read_csv(sample, usecols=[0]).iloc[:, 0], sample.name, notes)
    return Layout(frame.drop(columns="id"), test, classes, multi_label=True, notes=notes, sample_matches=matches)


def planet_submission(test: pd.DataFrame, probs: np.ndarray, layout: Layout, thresholds, clip: float) -> pd.DataFrame:
    """`image_name,tags`: every tag above its threshold (at least the most likely one), space-separated."""
    above = probs > np.asarray(thresholds)
    above[np.arange(len(probs)), probs.argmax(1)] = True
    classes = np.array(layout.classes)
    return pd.DataFrame({"image_name": test.id.to_numpy(), "tags": [" ".join(classes[row]) for row in above]})


def cut_planet(raw: Path, dest: Path, seed: int) -> pd.DataFrame:
    """A backtest's raw folder: an iteratively stratified fifth of the labelled chips becomes test-jpg/ (with
    a sample submission), the rest train_v2.csv + train-jpg/; returns the answers (image_name, tags)."""
    from pipelines.vision.backtest import held_out, place

    layout = read_planet(raw)
    held = held_out(list(layout.train.label), seed, multi_label=True)
    kept = layout.train[~held]
    for file in kept.file:
        place(raw / file, dest / file)
    pd.DataFrame({"image_name": [Path(f).stem for f in kept.file], "tags": kept.label}).to_csv(
        dest / "train_v2.csv", index=False
    )
    names = [f"test_{i}" for i in range(held.sum())]
    for name, file in zip(names, layout.train.file[held], strict=True):
        place(raw / file, dest / "test-jpg" / f"{name}.jpg")
    pd.DataFrame({"image_name": names, "tags": "primary"}).to_csv(dest / "sample_submission_v2.csv", index=False)
    return pd.DataFrame({"image_name": names, "tags": layout.train.label[held].to_numpy()})
