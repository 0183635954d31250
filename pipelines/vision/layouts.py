"""Each image competition's files as Kaggle ships them -> one `Layout` (labelled items, test items, classes),
and the model's probabilities -> that competition's submission frame.

Labels that name images not on disk are reported (how many, the first few) and dropped; the class list
comes from sample_submission.csv where the competition has one, so a submission can never name an unknown
class or miss a column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.images import IMAGE_SUFFIXES, list_images


@dataclass
class Layout:
    """train: file (relative to raw/), label (multi-label: space-separated tags), valid (bool, or absent when
    the split is random); test: file, id; classes in model-output order."""

    train: pd.DataFrame
    test: pd.DataFrame
    classes: list[str]
    multi_label: bool = False
    notes: list[str] = field(default_factory=list)
    sample_matches: bool = True  # test ids are exactly the sample submission's (when there is one)


def _rel(paths, raw: Path) -> list[str]:
    return [str(Path(p).relative_to(raw)) for p in paths]


def _first(names, k: int = 5) -> str:
    names = list(names)
    return ", ".join(map(str, names[:k])) + (", ..." if len(names) > k else "")


def _test_frame(raw: Path, folders: tuple[str, ...]) -> pd.DataFrame:
    files = [f for name in folders if (raw / name).is_dir() for f in list_images(raw / name)]
    return pd.DataFrame({"file": _rel(files, raw), "id": [f.stem for f in files]})


def _order_by_sample(
    layout_test: pd.DataFrame, ids: pd.Series, what: str, notes: list[str]
) -> tuple[pd.DataFrame, bool]:
    """Test items in the sample submission's order, and whether the two match. When the sample names ids
    with no test image (a partial copy of the data), that is reported in `notes` and the test images on
    disk are kept in their own order: the submission then covers them but is not submittable as is."""
    by_id = layout_test.set_index("id")
    ids = ids.astype(str)
    missing = [i for i in ids if i not in by_id.index]
    if missing:
        notes.append(f"{what} lists {len(missing):,} of {len(ids):,} ids with no test image ({_first(missing)}); "
                     f"predicting the {len(layout_test):,} test images on disk instead: that submission cannot go "
                     f"to Kaggle until the test folder is complete")  # fmt: skip
        return layout_test, False
    extra = len(by_id) - len(ids)
    if extra:
        notes.append(f"{extra:,} test images are not in {what} and are not predicted")
    return by_id.loc[ids].reset_index()[["file", "id"]], True


# ---- Dogs vs Cats ------------------------------------------------------------------------------------------
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
        frame["file"] = _rel(frame.file, raw)
        if not frame.valid.any():
            frame = frame.drop(columns="valid")
    else:
        files = list_images(train_dir)
        labels = [m["label"].lower() if (m := REDUX_NAME.match(f.stem)) else None for f in files]
        unnamed = [f.name for f, lab in zip(files, labels, strict=True) if lab is None]
        if unnamed:
            notes.append(
                f"{len(unnamed)} files in train/ are not named <class>.<n>.jpg and were skipped: {_first(unnamed)}"
            )
        frame = pd.DataFrame({"file": _rel(files, raw), "label": labels}).dropna()
    if frame.empty:
        raise FileNotFoundError(f"{raw}: no labelled images (expected train/cat.0.jpg ... or train/<class>/*.jpg)")
    test, matches = _test_frame(raw, ("test", "test1")), True
    if (raw / "sample_submission.csv").is_file():
        ids = pd.read_csv(raw / "sample_submission.csv").iloc[:, 0]
        test, matches = _order_by_sample(test, ids, "sample_submission.csv", notes)
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


# ---- Dog Breed Identification -----------------------------------------------------------------------------
def _labelled_csv(raw: Path, csv: str, id_col: str, label_col: str, folders: tuple[str, ...], suffix: str = ".jpg"):
    """Rows of a label file whose image exists; the missing ones reported and dropped."""
    labels = pd.read_csv(raw / csv, dtype=str)
    for col in (id_col, label_col):
        if col not in labels.columns:
            raise ValueError(f"{raw / csv}: no column {col!r} (has {list(labels.columns)})")
    notes = []
    dupes = labels[id_col].duplicated()
    if dupes.any():
        notes.append(
            f"{csv}: {int(dupes.sum())} duplicated {id_col}s, kept the first ({_first(labels[id_col][dupes])})"
        )
        labels = labels[~dupes]
    on_disk = {}
    for folder in folders:
        if (raw / folder).is_dir():
            on_disk.update({p.stem: f"{folder}/{p.name}" for p in (raw / folder).iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES})  # fmt: skip
    files = labels[id_col].map(on_disk)
    missing = labels[id_col][files.isna()]
    if len(missing):
        notes.append(f"{csv}: {len(missing):,} of {len(labels):,} labelled images are not in {'/'.join(folders)}/ "
                     f"and were dropped ({_first(missing)})")  # fmt: skip
    frame = pd.DataFrame({"file": files, "label": labels[label_col].fillna("").str.strip(), "id": labels[id_col]})
    return frame[files.notna()].reset_index(drop=True), notes


def read_dog_breed(raw: Path) -> Layout:
    frame, notes = _labelled_csv(raw, "labels.csv", "id", "breed", ("train",))
    test, matches = _test_frame(raw, ("test",)), True
    if (raw / "sample_submission.csv").is_file():
        sample = pd.read_csv(raw / "sample_submission.csv", nrows=0)
        classes = list(sample.columns[1:])
        unknown = sorted(set(frame.label) - set(classes))
        if unknown:
            drop = frame.label.isin(unknown)
            notes.append(f"labels.csv: {int(drop.sum())} images of breeds not in sample_submission.csv were "
                         f"dropped ({_first(unknown)})")  # fmt: skip
            frame = frame[~drop].reset_index(drop=True)
        unseen = sorted(set(classes) - set(frame.label))
        if unseen:
            notes.append(f"{len(unseen)} of {len(classes)} breeds have no training image ({_first(unseen)}); "
                         f"the model still outputs them (low probability) so the submission has every column")  # fmt: skip
        ids = pd.read_csv(raw / "sample_submission.csv", usecols=[0]).iloc[:, 0]
        test, matches = _order_by_sample(test, ids, "sample_submission.csv", notes)
    else:
        classes = sorted(frame.label.unique())
    return Layout(frame.drop(columns="id"), test, classes, notes=notes, sample_matches=matches)


def dog_breed_submission(
    test: pd.DataFrame, probs: np.ndarray, layout: Layout, thresholds, clip: float
) -> pd.DataFrame:
    """`id` + one probability column per breed, in sample_submission.csv's column order."""
    p = probs.clip(clip, 1 - clip) if clip else probs
    p = p / p.sum(1, keepdims=True)
    return pd.concat([pd.DataFrame({"id": test.id.to_numpy()}), pd.DataFrame(p, columns=layout.classes)], axis=1)


# ---- Planet ------------------------------------------------------------------------------------------------
def read_planet(raw: Path) -> Layout:
    frame, notes = _labelled_csv(raw, "train_v2.csv", "image_name", "tags", ("train-jpg",))
    classes = sorted({t for tags in frame.label for t in tags.split()})
    test, matches = _test_frame(raw, ("test-jpg", "test-jpg-additional")), True
    sample = next((raw / n for n in ("sample_submission_v2.csv", "sample_submission.csv") if (raw / n).is_file()), None)
    if sample is not None and len(test):
        test, matches = _order_by_sample(test, pd.read_csv(sample, usecols=[0]).iloc[:, 0], sample.name, notes)
    return Layout(frame.drop(columns="id"), test, classes, multi_label=True, notes=notes, sample_matches=matches)


def planet_submission(test: pd.DataFrame, probs: np.ndarray, layout: Layout, thresholds, clip: float) -> pd.DataFrame:
    """`image_name,tags`: every tag above its threshold (at least the most likely one), space-separated."""
    above = probs > np.asarray(thresholds)
    above[np.arange(len(probs)), probs.argmax(1)] = True
    classes = np.array(layout.classes)
    return pd.DataFrame({"image_name": test.id.to_numpy(), "tags": [" ".join(classes[row]) for row in above]})


# ---- CIFAR-10 ----------------------------------------------------------------------------------------------
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _check_cifar_classes(labels: pd.Series, where: str) -> None:
    """Every label one of CIFAR-10's ten classes, or a ValueError naming the others with their counts."""
    counts = labels[~labels.isin(CIFAR_CLASSES)].value_counts()
    if len(counts):
        named = _first([f"{name!r} ({n:,})" for name, n in counts.items()])
        raise ValueError(f"{where}: {int(counts.sum()):,} images labelled with classes CIFAR-10 does not have: {named}; "
                         f"the classes are {', '.join(CIFAR_CLASSES)}: fix those labels")  # fmt: skip


def read_cifar10(raw: Path) -> Layout:
    """Kaggle's `train/<n>.png` + `trainLabels.csv` (`id,label`), unlabelled `test/<n>.png`; or class folders
    `train/<class>/`, `test/<class>/` (then the test images carry labels, kept in test.label for scoring).
    A label or folder that is not one of the ten classes is an error naming it."""
    if (raw / "trainLabels.csv").is_file():
        frame, notes = _labelled_csv(raw, "trainLabels.csv", "id", "label", ("train",))
        _check_cifar_classes(frame.label, str(raw / "trainLabels.csv"))
        test, matches = _test_frame(raw, ("test",)), True
        sample = raw / "sampleSubmission.csv"
        if sample.is_file():
            test, matches = _order_by_sample(test, pd.read_csv(sample, usecols=[0]).iloc[:, 0], sample.name, notes)
        return Layout(frame.drop(columns="id"), test, sorted(frame.label.unique()), notes=notes, sample_matches=matches)
    rows = {"train": [], "test": []}
    for split in rows:
        for d in sorted(p for p in (raw / split).glob("*") if p.is_dir()):
            rows[split] += [(str(f.relative_to(raw)), d.name) for f in list_images(d)]
    if not rows["train"]:
        raise FileNotFoundError(f"{raw}: no trainLabels.csv and no train/<class>/ folders")
    frame = pd.DataFrame(rows["train"], columns=["file", "label"])
    _check_cifar_classes(frame.label, f"{raw}/train/<class>/ folders")
    classes = sorted(frame.label.unique())
    test = pd.DataFrame(rows["test"], columns=["file", "label"])
    unknown = sorted(set(test.label) - set(classes))
    if unknown:
        raise ValueError(f"{raw}/test has class folders with no training images: {_first(unknown)}")
    test["id"] = test.file.str.removeprefix("test/").str.rsplit(".", n=1).str[0]
    return Layout(frame, test[["file", "id", "label"]], classes)


def cifar10_submission(test: pd.DataFrame, probs: np.ndarray, layout: Layout, thresholds, clip: float) -> pd.DataFrame:
    """`id,label`: the most likely class name."""
    ids = pd.to_numeric(test.id, errors="coerce")
    ids = ids.astype("int64") if ids.notna().all() else test.id
    return pd.DataFrame({"id": ids.to_numpy(), "label": np.array(layout.classes)[probs.argmax(1)]})
