"""How a tabular competition validates, chosen from its files: a time-ordered holdout as long as the test's span
when every test date comes after train's (and the horizon before it, which chooses LightGBM's rounds); else
k-fold, stratified for classification, each group the test never shares (a store, a day) kept in one fold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.cv import assign_folds, random_folds
from pipelines.tabular import TabularConfig
from pipelines.tabular.schema import Schema, SchemaError, as_class_index, fold_groups, fold_unit


def test_span(schema: Schema, test: pd.DataFrame) -> int:
    """The test's days, first to last (0 without a date column): the time holdout's default length."""
    return int((test[schema.date].max() - test[schema.date].min()).days + 1) if schema.date else 0


def kfolds(folds: np.ndarray) -> list[int]:
    """k-fold's folds (0..k-1): not -1, the extra_train rows every fold fits."""
    return sorted(set(folds[folds >= 0].tolist()))


def first_fit_rows(folds: np.ndarray, validation: dict, ok: np.ndarray) -> np.ndarray:
    """The rows a member first trains on: before the time holdout, or (k-fold) every labelled row that may train."""
    return ok & (folds != 0) if validation["kind"] == "time" else ok


def validation_kind(schema: Schema, train: pd.DataFrame, test: pd.DataFrame, cfg: TabularConfig) -> tuple[str, bool]:
    """(kind, after): 'time' when every test date comes after train's (after) or cfg says so, else 'kfold'."""
    after = bool(schema.date) and bool(test[schema.date].min() > train[schema.date].max())
    return (cfg.validation if cfg.validation != "auto" else ("time" if after else "kfold")), after


def choose_validation(schema: Schema, train: pd.DataFrame, test: pd.DataFrame, cfg: TabularConfig) -> dict:
    """How to validate, from the data: 'time' (with its horizon in days) when every test date comes after
    train's (or cfg says so), else 'kfold'."""
    kind, after = validation_kind(schema, train, test, cfg)
    if kind == "time" and not schema.date:
        raise SchemaError("validation=time needs a date column: set date= in the card")
    out = {"kind": kind}
    if kind == "time":
        out["horizon_days"] = cfg.horizon or test_span(schema, test)
        out["why"] = (
            f"every test date ({test[schema.date].min().date()}..{test[schema.date].max().date()}) comes after train's"
            if after
            else "validation=time"
        )
    else:
        out["folds"] = cfg.folds
        out["why"] = (
            "test dates interleave with train's"
            if schema.date and not after
            else "no date column"
            if not schema.date
            else "validation=kfold"
        )
        out["group"] = fold_unit(schema, train, test)
        if out["group"]:
            out["why"] += f"; each {out['group']} in one fold, as the test's {out['group']}s are none of train's"
    return out


def assign(schema: Schema, train: pd.DataFrame, validation: dict, cfg: TabularConfig) -> np.ndarray:
    """The fold of each labelled row: time: 0 the holdout (the last horizon), 1 the horizon before it, -1 the
    rest; else 0..k-1."""
    if validation["kind"] == "time":
        horizon = pd.Timedelta(days=validation["horizon_days"])
        cut = train[schema.date].max() - horizon
        held, inner = (train[schema.date] > cut).to_numpy(), (train[schema.date] > cut - horizon).to_numpy()
        if inner.all() or not held.any():
            raise SchemaError(
                f"two {validation['horizon_days']}-day windows (the holdout and the one before it, which chooses the "
                f"rounds) leave no training row; set a shorter horizon= (ARGS='horizon=...')"
                + (f", or more rows= than {cfg.rows:,}" if cfg.rows else "")
            )
        return np.where(held, 0, np.where(inner, 1, -1))
    groups = fold_groups(schema, train, validation.get("group", ""))
    if groups is not None and groups.max() + 1 < cfg.folds:
        raise SchemaError(
            f"folds={cfg.folds}: the data has {groups.max() + 1} {validation['group']}s to keep whole; set fewer folds="
        )
    if schema.task == "regression":
        return random_folds(len(train), cfg.folds, cfg.fold_seed, groups)
    if schema.task == "multilabel":  # a tag matrix: iterative stratification (pipelines.cv)
        return assign_folds(as_class_index(schema, train[schema.target_column]), cfg.folds, cfg.fold_seed, groups)
    column = train[stratum(schema, train)]
    strata, known = np.full(len(train), len(schema.classes)), column.notna().to_numpy()  # unknown: a stratum too
    strata[known] = as_class_index(schema, column[known])
    return assign_folds(strata, cfg.folds, cfg.fold_seed, groups)


def stratum(schema: Schema, train: pd.DataFrame) -> str:
    """The target k-fold stratifies on: the one, or of several, the one whose rarest class is rarest (a rare MoA
    label's few positives spread over the folds; a common one's spread by chance)."""
    if not schema.several:
        return schema.target_column
    rarest = {c: n.min() for c in schema.targets if len(n := train[c].value_counts()) > 1}
    return min(rarest, key=rarest.get) if rarest else schema.targets[0]
