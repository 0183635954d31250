"""From the members' predictions to what the metric scores: the blend's weights (and the f1 / mcc threshold, the cuts
between ordinal classes, RMSPE's log shift), chosen for each fold, or each of 4 groups of the time holdout, on the
other rows only, so the headline figure scores predictions that chose nothing."""

from __future__ import annotations

import numpy as np

from models.metrics import Metric, best_cuts, binary_log_loss, defined_score, log_loss, rmspe_log_shift
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
            chosen["cuts"] = best_cuts(blended, truth_[rows], len(schema.classes))  # qwk's
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
