"""Dogs vs Cats files -> Layout, and probabilities -> the `id,label` submission."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from features.images import list_images
from pipelines.vision.layouts import Layout, first_few, order_by_sample, relative, test_frame

REDUX_NAME = re.compile(r"^(?P<label>[A-Za-z_]+)\.\d+$")


def read_dogs_vs_cats(raw: Path) -> Layout:
    """Kaggle redux (`train/cat.0.jpg`, `test/` or `test1/`) or the course's dogscats folders
    (`train/<class>/`, `valid/<class>/`, `test1/`)."""
    train_dir = raw / "train"
    subdirs = sorted(p for p in train_dir.iterdir() if p.is_dir()) if train_dir.is_dir() else []
    notes = []
    if subdirs:  # folder per class
        rows = []
        for split in ("train", "valid"):
            for d in sorted(p for p in (raw / split).glob("*") if p.is_dir()):
                rows += [(f, d.name, split == "valid") for f in list_images(d)]
        frame = pd.DataFrame(rows, columns=["file", "label", "valid"])
        frame["file"] = relative(frame.file, raw)
        if not frame.valid.any():
            frame = frame.drop(columns="valid")
    else:
        files = list_images(train_dir)
        labels = [m["label"].lower() if (m := REDUX_NAME.match(f.stem)) else None for f in files]
        unnamed = [f.name for f, lab in zip(files, labels, strict=True) if lab is None]
        if unnamed:
            notes.append(
                f"{len(unnamed)} files in train/ are not named <class>.<n>.jpg and were skipped: {first_few(unnamed)}"
            )
        frame = pd.DataFrame({"file": relative(files, raw), "label": labels}).dropna()
    if frame.empty:
        raise FileNotFoundError(f"{raw}: no labelled images (expected train/cat.0.jpg ... or train/<class>/*.jpg)")
    test, matches = test_frame(raw, ("test", "test1")), True
    if (raw / "sample_submission.csv").is_file():
        ids = pd.read_csv(raw / "sample_submission.csv").iloc[:, 0]
        test, matches = order_by_sample(test, ids, "sample_submission.csv", notes)
    return Layout(frame.reset_index(drop=True), test, sorted(frame.label.unique()), notes=notes, sample_matches=matches)


def dogs_vs_cats_submission(
    test: pd.DataFrame, probs: np.ndarray, layout: Layout, thresholds, clip: float
) -> pd.DataFrame:
    """`id,label`: the probability of the second class (dog), clipped so one confident mistake costs little."""
    if len(layout.classes) != 2:
        raise ValueError(f"dogs-vs-cats needs 2 classes, found {layout.classes}")
    p = probs[:, 1].clip(clip, 1 - clip)
    ids = pd.to_numeric(test.id, errors="coerce")
    return pd.DataFrame({"id": ids.astype("int64") if ids.notna().all() else test.id, "label": p})


def cut_dogs_vs_cats(raw: Path, dest: Path, seed: int) -> pd.DataFrame:
    """A backtest's raw folder: a stratified fifth of train/ becomes test1/<n>.jpg (with a sample submission),
    the rest stays train/; returns the answers (id, label: 1 for a dog)."""
    from pipelines.vision.backtest import held_out, place

    layout = read_dogs_vs_cats(raw)
    if "valid" in layout.train.columns or any(f.count("/") > 1 for f in layout.train.file):
        raise ValueError(f"{raw}: the backtest cuts Kaggle's redux layout (train/cat.0.jpg ...), not class folders")
    held = held_out(list(layout.train.label), seed)
    for file in layout.train.file[~held]:
        place(raw / file, dest / file)
    is_dog = (layout.train.label[held] == "dog").astype(int).to_numpy()
    hidden = pd.DataFrame({"id": np.arange(1, held.sum() + 1), "label": is_dog})
    for i, file in zip(hidden.id, layout.train.file[held], strict=True):
        place(raw / file, dest / "test1" / f"{i}.jpg")
    hidden.assign(label=0.5).to_csv(dest / "sample_submission.csv", index=False)
    return hidden
