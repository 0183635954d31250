"""Dog Breed Identification files -> Layout, and probabilities -> one column per breed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.vision.layouts import Layout, first_few, labelled_csv, order_by_sample, test_frame


def read_dog_breed(raw: Path) -> Layout:
    frame, notes = labelled_csv(raw, "labels.csv", "id", "breed", ("train",))
    test, matches = test_frame(raw, ("test",)), True
    if (raw / "sample_submission.csv").is_file():
        sample = pd.read_csv(raw / "sample_submission.csv", nrows=0)
        classes = list(sample.columns[1:])
        unknown = sorted(set(frame.label) - set(classes))
        if unknown:
            drop = frame.label.isin(unknown)
            notes.append(
                f"labels.csv: {int(drop.sum())} images of breeds not in sample_submission.csv were "
                f"dropped ({first_few(unknown)})"
            )
            frame = frame[~drop].reset_index(drop=True)
        unseen = sorted(set(classes) - set(frame.label))
        if unseen:
            notes.append(
                f"{len(unseen)} of {len(classes)} breeds have no training image ({first_few(unseen)}); "
                f"the model still outputs them (low probability) so the submission has every column"
            )
        ids = pd.read_csv(raw / "sample_submission.csv", usecols=[0]).iloc[:, 0]
        test, matches = order_by_sample(test, ids, "sample_submission.csv", notes)
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
