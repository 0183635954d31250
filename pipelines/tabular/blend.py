"""From the members' predictions to what the metric scores: the blend's weights (and the f1 / mcc threshold, the cuts
between ordinal classes, RMSPE's log shift), chosen for each fold, or each of 4 groups of the time holdout, on the
other rows only, so the headline figure scores predictions that chose nothing."""

from __future__ import annotations

import numpy as np

from models.metrics import Metric, binary_log_loss, defined_score, log_loss, quadratic_weighted_kappa, rmspe_log_shift
from pipelines.cv import out_of_fold
from pipelines.ensemble import blend, fit_weights
from pipelines.tabular.schema import Schema
from pipelines.tabular.submission import submission_form


def best_threshold(metric: Metric, schema: Schema, p: np.ndarray, y: np.ndarray) -> float:
    """The cut of P(class 1) that scores best on these rows (f1, mcc: 0.5 is poor on an imbalanced target); 0.5
    where every row has one probability (a target of one value: its class, not the other)."""
    grid = np.unique(np.quantile(p, np.linspace(0.02, 0.98, 49)))
    if len(grid) == 1:
        return 0.5
    scores = [metric.score(y, submission_form(metric, schema, p, {"threshold": t})) for t in grid]
    return float(grid[int(np.argmax(scores))])


def best_cuts(metric: Metric, p: np.ndarray, y: np.ndarray, k: int) -> list[float]:
    """The k - 1 cuts of a predicted class number (0..k-1) that score best on these rows (qwk): from the midpoints
    0.5, 1.5, ..., each cut in turn moved to the best of 40 quantiles of the predictions between its neighbours,
    three passes over them (the "optimized rounder" of Kaggle's ordinal competitions; scipy's Nelder-Mead, which it
    usually runs on, stalls on a score made of steps). Scored on the class indices 0..k-1 as they are (qwk's
    labels known: no sort of them a candidate, 2 s on 200,000 rows)."""
    assert metric.name == "qwk", metric.name  # the one ordinal metric: scored below without its label sort

    def score(cuts: np.ndarray) -> float:
        return quadratic_weighted_kappa(y, np.digitize(p, cuts), k=k)

    cuts = np.arange(k - 1) + 0.5
    best = score(cuts)
    for _ in range(3):
        for i in range(k - 1):
            lo, hi = cuts[i - 1] if i else -np.inf, cuts[i + 1] if i < k - 2 else np.inf
            inside = p[(p > lo) & (p < hi)]
            for c in np.unique(np.quantile(inside, np.linspace(0.025, 0.975, 40))) if len(inside) else ():
                trial = np.concatenate([cuts[:i], [c], cuts[i + 1 :]])
                if (trial_score := score(trial)) > best:
                    best, cuts = trial_score, trial
    return [float(c) for c in cuts]


def smooth_loss(metric: Metric, schema: Schema, y: np.ndarray, ok: np.ndarray, ordinal: bool = False):
    """What the blend's weights minimise (the metric itself may be a step function, as accuracy is): the squared
    or absolute error on the training target (an ordinal class's number), or the log loss of the probabilities."""
    if schema.task == "regression" or ordinal:
        power = 1 if metric.loss == "l1" else 2
        return lambda p: float(np.mean(np.abs(p[ok] - y[ok]) ** power))
    if schema.task == "binary":
        return lambda p: binary_log_loss(y, p)
    return lambda p: log_loss(p, y)


def choose_blend(preds: dict, y, ok, truth_, groups, metric: Metric, schema: Schema, offset=0.0, ordinal=False):
    """(weights, chosen, the honest submission form): the weights and `chosen` (the f1 / mcc threshold, the cuts
    of `ordinal` classes, RMSPE's log shift: submission.submission_form reads them) fitted on every row, and each
    group's predictions with its blend and choices fitted on the other groups' rows only, so its score chose
    nothing. `offset`: each row's adjustment (the card's `adjust=`), added to the blend in the submission form."""

    def choose(rows: np.ndarray) -> tuple[dict, dict]:
        members = {n: p[rows] for n, p in preds.items()}
        weights = fit_weights(members, smooth_loss(metric, schema, y[rows], ok[rows], ordinal))
        chosen, blended = {"threshold": 0.5, "log_shift": 0.0}, blend(members, weights)
        if ordinal:
            chosen["cuts"] = best_cuts(metric, blended, truth_[rows], len(schema.classes))
        elif metric.threshold and schema.task == "binary":
            chosen["threshold"] = best_threshold(metric, schema, blended, truth_[rows])
        if metric.shift:
            chosen["log_shift"] = rmspe_log_shift(float(np.mean((blended - y[rows])[ok[rows]] ** 2)))
        return weights, chosen

    def apply(rows: np.ndarray, fitted: tuple[dict, dict]):
        weights, chosen = fitted
        blended = blend({n: p[rows] for n, p in preds.items()}, weights)
        if np.ndim(offset):
            blended = blended + offset[rows]
        return submission_form(metric, schema, blended, chosen)

    return (*choose(np.ones(len(groups), bool)), out_of_fold(choose, apply, groups))


def score_or_none(metric: Metric, true: np.ndarray, pred) -> float | None:
    """The metric of these rows, rounded; None where it has no value (models.metrics.defined_score)."""
    score = defined_score(metric, true, pred)
    return None if score is None else round(score, 6)


def shown(score: float | None) -> str:
    return "(not scored: one class)" if score is None else f"{score:.5f}"
