"""What the image competitions' backtests share (pipelines/backtest.py runs them): a seeded, stratified (for
numbers, random) fifth of the labelled images becomes the hidden test set, the rest the training set, laid out the
way the competition's download is; and the metrics as Kaggle scores a submission against the hidden answers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.cv import assign_folds, random_folds

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
        "ordinal": False,  # qwk: the likeliest class, not the expected one cut
    }
}


def held_out(
    labels: list[str], seed: int, multi_label: bool = False, regression: bool = False, groups=None
) -> np.ndarray:
    """A boolean mask of the held-out rows: FRACTION of them, stratified by class (iteratively by tag), at random
    for a regression's numbers; with `groups` (a value per row: the card's groups=), whole groups (stratified by
    class where the labels are single classes)."""
    n = len(labels)
    if groups is not None:
        codes, k = pd.factorize(pd.Series(list(groups)))[0], round(1 / FRACTION)
        fix = f"the backtest cuts off one part in {k}"  # FRACTION: no setting changes it
        if regression or multi_label:
            return random_folds(n, k, seed, codes, fix) == 0
        return assign_folds(pd.factorize(pd.Series(labels))[0], k, seed, codes, fix) == 0
    if regression:  # nothing to stratify: one of the random folds (pipelines.cv), FRACTION of the rows
        return random_folds(n, round(1 / FRACTION), seed) == 0
    if multi_label:
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        tags = sorted({t for s in labels for t in s.split()})
        y = np.array([[t in s.split() for t in tags] for s in labels], int)
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=FRACTION, random_state=seed)
    else:
        from sklearn.model_selection import StratifiedShuffleSplit

        counts = pd.Series(labels).value_counts()
        y = np.array([lab if counts[lab] > 1 else "_rare" for lab in labels])  # sklearn needs 2 of each class
        if round(FRACTION * n) < len(set(y)):  # more classes than held rows (Dog Breed's sample: 91 to 60), which
            # the shuffle split refuses: one fold of a stratified k-fold, its classes spread as far as they go (at
            # random where no class has k images, which the k-fold refuses)
            codes, k = pd.factorize(pd.Series(labels))[0], round(1 / FRACTION)
            return (assign_folds(codes, k, seed) if np.bincount(codes).max() >= k else random_folds(n, k, seed)) == 0
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=FRACTION, random_state=seed)
    _, held = next(splitter.split(np.zeros((n, 1)), y))
    mask = np.zeros(n, bool)
    mask[held] = True
    return mask
