"""From the members' predictions to what the metric scores: the blend's weights (and the f1 / mcc threshold, RMSPE's
log shift), chosen for each fold, or each of 4 groups of the time holdout, on the other rows only, so the headline
figure scores predictions that chose nothing."""

from __future__ import annotations

import numpy as np

from models.metrics import Metric, binary_log_loss, from_target, log_loss, rmspe_log_shift
from pipelines.cv import out_of_fold
from pipelines.ensemble import blend, fit_weights
from pipelines.tabular.schema import Schema


def submission_form(metric: Metric, schema: Schema, raw: np.ndarray, threshold: float = 0.5, shift: float = 0.0):
    """Model outputs (target scale or probabilities) -> what the metric scores: numbers (the training target plus
    `shift`, back on the metric's scale), P(class 1) (a column per class where the submission has one), a rows x
    classes matrix, labels (class indices; binary at `threshold`) or the top k classes of each row (map@k)."""
    if schema.task == "regression":
        return from_target(metric, raw + shift)
    if metric.submits == "probability":
        return np.stack([1 - raw, raw], 1) if schema.label and raw.ndim == 1 else raw
    if metric.submits == "ranked":
        return [list(row) for row in np.argsort(-raw, axis=1)[:, : int(metric.name.split("@")[1])]]
    if schema.task == "binary":
        return (raw > threshold).astype(np.int64)
    return raw.argmax(1)


def best_threshold(metric: Metric, schema: Schema, p: np.ndarray, y: np.ndarray) -> float:
    """The cut of P(class 1) that scores best on these rows (f1, mcc: 0.5 is poor on an imbalanced target)."""
    grid = np.unique(np.quantile(p, np.linspace(0.02, 0.98, 49)))
    scores = [metric.score(y, submission_form(metric, schema, p, t)) for t in grid]
    return float(grid[int(np.argmax(scores))])


def smooth_loss(metric: Metric, schema: Schema, y: np.ndarray, ok: np.ndarray):
    """What the blend's weights minimise (the metric itself may be a step function, as accuracy is): the squared
    or absolute error on the training target, or the log loss of the probabilities."""
    if schema.task == "regression":
        power = 1 if metric.loss == "l1" else 2
        return lambda p: float(np.mean(np.abs(p[ok] - y[ok]) ** power))
    if schema.task == "binary":
        return lambda p: binary_log_loss(y, p)
    return lambda p: log_loss(p, y)


def choose_blend(preds: dict, y, ok, truth_, groups, metric: Metric, schema: Schema, offset=0.0):
    """(weights, threshold, shift) chosen on every row, and the honest submission form: each group's blend (and
    threshold, for f1 / mcc; RMSPE's log shift) chosen on the other groups' rows only, so its score chose nothing.
    `offset`: each row's adjustment (the card's `adjust=`), added to the blend in the submission form."""

    def choose(rows: np.ndarray):
        members = {n: p[rows] for n, p in preds.items()}
        weights = fit_weights(members, smooth_loss(metric, schema, y[rows], ok[rows]))
        threshold, shift, blended = 0.5, 0.0, blend(members, weights)
        if metric.threshold and schema.task == "binary":
            threshold = best_threshold(metric, schema, blended, truth_[rows])
        if metric.shift:
            shift = rmspe_log_shift(float(np.mean((blended - y[rows])[ok[rows]] ** 2)))
        return weights, threshold, shift

    def apply(rows: np.ndarray, chosen):
        weights, threshold, shift = chosen
        blended = blend({n: p[rows] for n, p in preds.items()}, weights)
        if np.ndim(offset):
            blended = blended + offset[rows]
        return submission_form(metric, schema, blended, threshold, shift)

    return (*choose(np.ones(len(groups), bool)), out_of_fold(choose, apply, groups))


def score_or_none(metric: Metric, true: np.ndarray, pred) -> float | None:
    """The metric of these rows, rounded; None where it has no value: auc of rows of one class (a rare target's)."""
    if metric.name == "auc" and np.unique(true).size < 2:
        return None
    return round(float(metric.score(true, pred)), 6)


def shown(score: float | None) -> str:
    return "(not scored: one class)" if score is None else f"{score:.5f}"
