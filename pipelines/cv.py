"""Cross-validation for any competition: fold assignment and choices made out of fold.

`assign_folds` gives every labelled row one fold: stratified by class for single-label targets (scikit-learn's
`StratifiedKFold`), iteratively stratified over the tags for multi-label ones (`MultilabelStratifiedKFold`
of the `iterative-stratification` package: rare tags spread over the folds instead of landing in one).

A setting chosen on predictions flatters the score measured on the same predictions (planet's per-tag
thresholds tuned on 160 chips overstated the hidden F2 by 0.07). `choose_out_of_fold` chooses the setting
on all out-of-fold rows for the submission, and reports the honest figure: each fold scored with the setting
chosen on the other folds' rows only. For a metric that is not a mean over rows (AUC, F1, kappa), `out_of_fold`
assembles every row's prediction made with the choice of the other folds, to be scored once over all rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def random_folds(
    n: int, k: int, seed: int = 0, groups: np.ndarray | None = None, too_few: str = "set fewer folds="
) -> np.ndarray:
    """The fold (0..k-1) of each of n rows at random, the same share in each (a regression's folds: nothing to
    stratify); with `groups` (a code 0..g-1 per row), each group's rows in one fold (fewer groups than folds: an
    error naming `too_few`, the caller's fix)."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.permutation(n) % k
    _enough_groups(groups, k, too_few)
    return (rng.permutation(groups.max() + 1) % k)[groups]


def _enough_groups(groups: np.ndarray, k: int, too_few: str) -> None:
    """Each of k parts needs a whole group of its own: say so, naming the fix, before a part comes out empty."""
    if (g := len(np.unique(groups))) < k:
        raise ValueError(
            f"the groups= column has {g} groups; keeping each whole in {k} parts needs {k} or more: {too_few}, "
            f"or name a column of more groups in groups="
        )


def assign_folds(
    target: np.ndarray, k: int, seed: int = 0, groups: np.ndarray | None = None, too_few: str = "set fewer folds="
) -> np.ndarray:
    """The fold (0..k-1) of each row, stratified. `target`: class indices (N,) or a 0/1 tag matrix (N, T);
    `groups`: a code per row, each group's rows kept in one fold (stratified by class; with a tag matrix, whole groups
    at random: the iterative stratification keeps no groups)."""
    target = np.asarray(target)
    n = len(target)
    if k < 2 or k > n:
        raise ValueError(f"folds={k}: need 2 <= folds <= the {n} labelled rows")
    if groups is not None:
        _enough_groups(groups, k, too_few)
    if target.ndim == 2 and groups is not None:
        return random_folds(n, k, seed, groups)
    if target.ndim == 2:
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        splitter = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    elif groups is not None:
        from sklearn.model_selection import StratifiedGroupKFold

        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    else:
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = np.full(n, -1)
    with warnings.catch_warnings():
        # Classes with fewer than k images (dog-breed samples) cannot be in every fold; sklearn warns and
        # spreads them as far as they go, which is what we want.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for i, (_, held) in enumerate(splitter.split(np.zeros((n, 1)), target, groups)):
            folds[held] = i
    assert (folds >= 0).all()
    return folds


def choose_out_of_fold(
    choose: Callable[[np.ndarray, np.ndarray], Any],
    score: Callable[[np.ndarray, np.ndarray, Any], float],
    probs: np.ndarray,
    target: np.ndarray,
    folds: np.ndarray,
) -> tuple[Any, float]:
    """(the setting chosen on every row, the score of settings chosen out of fold).

    `choose(probs, target)` picks a setting (thresholds, a clip); `score(probs, target, setting)` is the metric of
    a mean-decomposable kind (F2 averaged over samples, log loss averaged over rows), so the folds' scores are
    averaged weighted by their sizes."""
    honest = 0.0
    for f in np.unique(folds):
        held = folds == f
        honest += held.sum() * score(probs[held], target[held], choose(probs[~held], target[~held]))
    return choose(probs, target), float(honest / len(folds))


def out_of_fold(choose: Callable[[np.ndarray], Any], apply: Callable[[np.ndarray, Any], Any], folds) -> np.ndarray:
    """Every row's `apply(rows, choice)` with the choice made by `choose(other_rows)` on the other folds' rows
    (both take boolean masks), assembled in row order: predictions that chose nothing about themselves."""
    out = None
    for f in np.unique(folds):
        held = folds == f
        part = np.asarray(apply(held, choose(~held)))
        out = np.zeros((len(folds), *part.shape[1:]), part.dtype) if out is None else out
        out[held] = part
    return out
