"""CIFAR-10 files (Kaggle's or class folders) -> Layout, and probabilities -> the `id,label` submission."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.images import list_images
from pipelines.vision.layouts import Layout, first_few, labelled_csv, order_by_sample, test_frame

# The training images' per-channel mean and std (of pixel / 255): the nets normalise their uint8 input with them.
CIFAR_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _check_cifar_classes(labels: pd.Series, where: str) -> None:
    """Every label one of CIFAR-10's ten classes, or a ValueError naming the others with their counts."""
    counts = labels[~labels.isin(CIFAR_CLASSES)].value_counts()
    if len(counts):
        named = first_few([f"{name!r} ({n:,})" for name, n in counts.items()])
        raise ValueError(
            f"{where}: {int(counts.sum()):,} images labelled with classes CIFAR-10 does not have: {named}; "
            f"the classes are {', '.join(CIFAR_CLASSES)}: fix those labels"
        )


def read_cifar10(raw: Path) -> Layout:
    """Kaggle's `train/<n>.png` + `trainLabels.csv` (`id,label`), unlabelled `test/<n>.png`; or class folders
    `train/<class>/`, `test/<class>/` (then the test images carry labels, kept in test.label for scoring).
    A label or folder that is not one of the ten classes is an error naming it."""
    if (raw / "trainLabels.csv").is_file():
        frame, notes = labelled_csv(raw, "trainLabels.csv", "id", "label", ("train",))
        _check_cifar_classes(frame.label, str(raw / "trainLabels.csv"))
        test, matches = test_frame(raw, ("test",)), True
        sample = raw / "sampleSubmission.csv"
        if sample.is_file():
            test, matches = order_by_sample(test, pd.read_csv(sample, usecols=[0]).iloc[:, 0], sample.name, notes)
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
        raise ValueError(f"{raw}/test has class folders with no training images: {first_few(unknown)}")
    test["id"] = test.file.str.removeprefix("test/").str.rsplit(".", n=1).str[0]
    return Layout(frame, test[["file", "id", "label"]], classes)


def cifar10_submission(test: pd.DataFrame, probs: np.ndarray, layout: Layout, thresholds, clip: float) -> pd.DataFrame:
    """`id,label`: the most likely class name."""
    ids = pd.to_numeric(test.id, errors="coerce")
    ids = ids.astype("int64") if ids.notna().all() else test.id
    return pd.DataFrame({"id": ids.to_numpy(), "label": np.array(layout.classes)[probs.argmax(1)]})
