"""A tabular run's predictions as the competition's submission: the form the metric scores (numbers, probabilities,
labels, ranked lists), in sample_submission.csv's rows and columns, with each column's rule for the check
(pipelines/submit.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.metrics import Metric, from_target
from pipelines import submit as submitlib
from pipelines.tabular.schema import Schema


def submission_form(metric: Metric, schema: Schema, raw: np.ndarray, chosen: dict | None = None):
    """Model outputs (target scale, probabilities or an ordinal class's number) -> what the metric scores: numbers
    (the training target plus the `chosen` log_shift, back on the metric's scale), P(class 1) (a column per class
    where the submission has one), a rows x classes matrix, labels (class indices; binary at the chosen
    threshold; an ordinal number cut at the chosen cuts) or the top k classes of each row (map@k). `chosen`: what
    the blend chose out of fold (blend.choose_blend; a run's result.json holds it)."""
    chosen = chosen or {}
    if schema.task == "regression":
        return from_target(metric, raw + chosen.get("log_shift", 0.0))
    if chosen.get("cuts") is not None:  # ordinal: the class whose interval the number falls in
        return np.digitize(raw, chosen["cuts"])
    if metric.submits == "probability":
        return np.stack([1 - raw, raw], 1) if schema.label and raw.ndim == 1 else raw
    if metric.submits == "ranked":
        return [list(row) for row in np.argsort(-raw, axis=1)[:, : int(metric.name.split("@")[1])]]
    if schema.task == "binary":
        return (raw > chosen.get("threshold", 0.5)).astype(np.int64)
    return raw.argmax(1)


def column_rules(metric: Metric, schema: Schema, sample: pd.DataFrame) -> dict:
    """What each of the sample's value columns must hold (pipelines.submit's rules): a number (>= 0 where the metric
    scores a log of it: rmsle, rmspe), a probability, one of the classes; none for map@k's ranked lists."""
    value = [c for c in sample.columns if c != schema.id]  # the sample's names, whatever the card calls the target
    if schema.several:  # each target's, in the sample's order
        pairs = zip(schema.targets, value, strict=True)
        return {c: column_rules(metric, schema.of(t), sample[[schema.id, c]])[c] for t, c in pairs}
    if schema.label:  # one column per class
        return {c: submitlib.probability() for c in value}
    if schema.task == "regression":
        return {value[0]: submitlib.number(ge=0 if metric.target in ("log", "log1p") else None)}
    if metric.submits == "probability":
        return {value[0]: submitlib.probability()}
    if metric.submits == "ranked":
        return {}
    return {value[0]: submitlib.label([str(c) for c in schema.classes])}


def submission_frame(metric: Metric, schema: Schema, sample: pd.DataFrame, raw: np.ndarray, chosen: dict):
    """(the submission of test predictions `raw`, in the sample's rows and columns; each column's rule), with the
    threshold and shift `chosen` out of fold."""
    form = submission_form(metric, schema, raw, chosen)
    sub = sample[[schema.id]].copy()
    value = [c for c in sample.columns if c != schema.id]
    if schema.label:  # the classes' columns, in schema.classes' order
        sub[value] = form
    elif schema.task == "regression" or metric.submits == "probability":
        sub[value[0]] = form
    else:
        sub[value[0]] = written_classes(metric, schema, form)
    return sub, column_rules(metric, schema, sample)


def written_classes(metric: Metric, schema: Schema, form) -> list:
    """Class indices as a submission writes them: each row's class, or (map@k) its ranked classes joined by spaces."""
    if metric.submits == "ranked":
        return [" ".join(str(schema.classes[i]) for i in row) for row in form]
    return [schema.classes[i] for i in form]


def in_sample_order(sub: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    """sub's columns in the sample's order (its id not always first); any other column last, for the check to name."""
    return sub[[c for c in sample.columns if c in sub] + [c for c in sub if c not in sample.columns]]
