"""What the image competitions' backtests share (pipelines/backtest.py runs them): a seeded, stratified
fifth of the labelled images becomes the hidden test set, the rest the training set, laid out the way the
competition's download is; and the metrics as Kaggle scores a submission against the hidden answers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from models.metrics import log_loss
from pipelines.backtest import Backtest

FRACTION = 0.2  # of the labelled images, held out as the hidden test set
WINDOWS = {"cut0": 0, "cut1": 1}  # window -> the seed of the cut; two, so that defaults are not tuned to one
# Beside the default on every cut: the simplest linear probe (EfficientNet-Lite0 features of the plain image,
# logistic regression, one global threshold, no clip), the baseline the default has to beat.
PEERS = {
    "probe-lite0": {
        "members": ["probe"],
        "probe_arch": "efficientnet_lite0",
        "tta": 0,
        "thresholds": "global",
        "clip": 0.0,
    }
}


def held_out(labels: list[str], seed: int, multi_label: bool = False) -> np.ndarray:
    """A boolean mask of the held-out rows: FRACTION of them, stratified by class (iteratively by tag)."""
    n = len(labels)
    if multi_label:
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        tags = sorted({t for s in labels for t in s.split()})
        y = np.array([[t in s.split() for t in tags] for s in labels], int)
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=FRACTION, random_state=seed)
    else:
        from sklearn.model_selection import StratifiedShuffleSplit

        counts = pd.Series(labels).value_counts()
        y = np.array([lab if counts[lab] > 1 else "_rare" for lab in labels])  # sklearn needs 2 of each class
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=FRACTION, random_state=seed)
    _, held = next(splitter.split(np.zeros((n, 1)), y))
    mask = np.zeros(n, bool)
    mask[held] = True
    return mask


def place(src: Path, dst: Path) -> None:
    """dst as a hard link to src (no copy of the image), or a copy where links are not possible."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def binary_log_loss(submission: pd.DataFrame, hidden: pd.DataFrame, id_col: str, column: str) -> float:
    """Kaggle's log loss of one probability column against 0/1 answers (clipped at 1e-15 as Kaggle does)."""
    merged = hidden.merge(submission, on=id_col, how="left", suffixes=("_true", ""))
    if merged[column].isna().any():
        raise ValueError(f"the submission lacks {merged[column].isna().sum()} of the hidden ids")
    p = merged[column].to_numpy(np.float64)
    return log_loss(np.stack([1 - p, p], 1), merged[f"{column}_true"].to_numpy(int))


def accuracy_of(submission: pd.DataFrame, hidden: pd.DataFrame, id_col: str, column: str) -> float:
    """Share of hidden images whose probability falls on the right side of 0.5 (dogs-vs-cats)."""
    merged = hidden.merge(submission, on=id_col, how="left", suffixes=("_true", ""))
    return float(((merged[column] > 0.5).astype(int) == merged[f"{column}_true"]).mean())


def image_backtest(cut, score, metric: str, id_col: str, column: str, greater_is_better=False, **extra) -> Backtest:
    """A competition's `BACKTEST`: its `cut(raw, dest, seed)`, and metrics `f(submission, hidden, id_col, column)`
    (`score`, and named `extra` ones) over the answers' `column`."""
    return Backtest(
        windows=WINDOWS,
        cut=cut,
        score=lambda sub, hidden: score(sub, hidden, id_col, column),
        metric=metric,
        id_col=id_col,
        greater_is_better=greater_is_better,
        extra={name: lambda sub, hidden, f=f: f(sub, hidden, id_col, column) for name, f in extra.items()},
        peers=PEERS,
    )
