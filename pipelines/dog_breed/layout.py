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


def cut_dog_breed(raw: Path, dest: Path, seed: int) -> pd.DataFrame:
    """A backtest's raw folder: a stratified fifth of the labelled images becomes test/ (with a sample
    submission of every breed column), the rest labels.csv + train/; returns the answers (id, breed)."""
    from pipelines.vision.backtest import held_out, place

    layout = read_dog_breed(raw)
    held = held_out(list(layout.train.label), seed)
    ids = np.array([Path(f).stem for f in layout.train.file])
    for file in layout.train.file[~held]:
        place(raw / file, dest / file)
    pd.DataFrame({"id": ids[~held], "breed": layout.train.label[~held].to_numpy()}).to_csv(
        dest / "labels.csv", index=False
    )
    for file in layout.train.file[held]:
        place(raw / file, dest / "test" / Path(file).name)
    sample = pd.DataFrame(1 / len(layout.classes), index=range(held.sum()), columns=layout.classes)
    pd.concat([pd.DataFrame({"id": ids[held]}), sample], axis=1).to_csv(dest / "sample_submission.csv", index=False)
    return pd.DataFrame({"id": ids[held], "breed": layout.train.label[held].to_numpy()})
