"""`make backtest` for every tabular competition: a pseudo-test set cut off train.csv the way Kaggle's test was
cut (the last horizon when the test comes after train, else a seeded fifth), scored with the card's metric."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from features.io import write_csv
from models.metrics import defined_score, get_metric
from pipelines.backtest import Backtest, place
from pipelines.tabular import FILES, Card
from pipelines.tabular.features import join_tables
from pipelines.tabular.schema import (
    UNIX,
    align_ids,
    class_order,
    date_format,
    fold_groups,
    fold_unit,
    infer,
    label_text,
    looks_like_dates,
    parse_dates,
    sample_id,
)


def cut(card: Card, raw: Path, dest: Path, k: int) -> pd.DataFrame:
    """Write a competition-shaped raw folder into dest whose test rows are cut off raw's train.csv; return their
    answers. Window k: the k-th horizon back from the end (time), or the fifth chosen by seed k (no time)."""
    files = {role: card.file(role) for role in FILES}
    train = pd.read_csv(raw / files["train"], low_memory=False)
    test = pd.read_csv(raw / files["test"], low_memory=False)
    sample = pd.read_csv(raw / files["sample"])
    id_col = sample_id(card, list(sample.columns), list(test.columns))
    numbered = not any(c.lower() == id_col.lower() for c in test.columns)  # no id column: Digit Recognizer
    built = id_col not in train.columns  # align_ids may build it (Walmart's Store_Dept_Date): not written back
    train, test = align_ids(id_col, train, test, sample, files)
    test_columns = [c for c in test.columns if not (numbered and c == id_col)]  # the cut's files have these
    # the id and the date as the raw files hold them: without the feature function, and the card's lines that
    # name the columns it makes
    shared = set(train.columns) & set(test.columns)
    raw_card = replace(
        card,
        features=None,
        date=card.date if card.date in shared else None,
        series=tuple(c for c in card.series if c in shared),
        categories=tuple(c for c in card.categories if c in shared),
        text=tuple(c for c in card.text if c in shared),
        drop=tuple(c for c in card.drop if c in train.columns or c in test.columns),  # not the feature function's
    )
    # the card's tables joined, for the schema and the answers (MoA's targets are a table of their own); the cut's
    # files keep the raw columns, and the tables are carried whole (the hidden rows' answers never features there)
    joined, joined_test = join_tables(card, raw, train, test, set(sample.columns))  # train's rows, in order
    schema = infer(raw_card, joined, joined_test, sample, files)
    id_col = schema.id
    date = schema.date
    dates = parse_dates(joined[date], schema.date_format) if date else None
    test_dates = parse_dates(joined_test[date], schema.date_format) if date else None
    if date is not None and test_dates.min() > dates.max():
        horizon = pd.Timedelta(days=(test_dates.max() - test_dates.min()).days + 1)
        end = dates.max() - k * horizon
        cut_at = end - horizon  # the cut's train ends here
        hidden, keep = (dates > cut_at) & (dates <= end), dates <= cut_at
        if not keep.any() or not hidden.any():
            raise ValueError(
                f"backtest window cut{k}: {k + 1} spans of {horizon.days} days back from {dates.max():%Y-%m-%d} leave "
                f"{'no training day' if not keep.any() else 'no day to hide'} in {raw / card.file('train')}; "
                f"name a nearer window (WINDOWS=cut0)"
            )
    else:  # a seeded fifth of the rows, or of the days (series) that k-fold keeps whole
        groups = fold_groups(schema, joined, fold_unit(schema, joined, joined_test))
        draw = np.random.default_rng(k).random(len(train) if groups is None else groups.max() + 1) < 0.2
        hidden = pd.Series(draw if groups is None else draw[groups], index=train.index)
        keep, cut_at = ~hidden, None
    held = joined[hidden].reset_index(drop=True)
    if id_col not in held.columns:  # Kaggle numbers the test rows (from 1 where its sample does): so does the cut
        first = int(sample[id_col].iloc[0]) if numbered else 0
        numbers = pd.DataFrame({id_col: first + np.arange(len(held))})
        held = pd.concat([numbers, held], axis=1)  # not insert: a frame of 780 pixel columns warns it is fragmented
    value_cols = [c for c in sample.columns if c != id_col]
    write_csv(train[keep].drop(columns=[id_col] if built and id_col in train else []), dest / files["train"])
    write_csv(held[[c for c in test_columns if c in held.columns]], dest / files["test"])
    write_csv(held[[id_col]].assign(**{c: sample[c].iloc[0] for c in value_cols}), dest / files["sample"])
    for path in sorted(raw.iterdir()):  # the competition's other files (extra tables, what a feature function reads)
        if path.name not in set(files.values()) | {"SOURCE.json"} and path.is_file():
            carry(path, dest / path.name, date, schema.date_format, dates.max() if cut_at is not None else None, cut_at)
    if schema.label:  # the class as the submission's column names it (Status_C where train says C)
        named = dict(zip(map(str, schema.classes), map(str, value_cols), strict=True))
        return held[[id_col]].assign(**{schema.label: label_text(held[schema.label]).map(named)})
    # under the sample's names, as the submission has them (Digit Recognizer: train's label, the sample's Label)
    return held[[id_col, *schema.targets]].set_axis([id_col, *value_cols], axis=1)


def carry(src: Path, dst: Path, date: str | None, fmt: str | None, train_end, cut_at) -> None:
    """Another file of the competition into the cut, as it is (linked), except a table with a date column (train's
    date in its format `fmt`, or its own: an event table's purchase_date) that ends where train.csv ends (known for train's days only,
    as a store's daily transactions, or the events a summarised tables= file counts): cut where the cut's train
    ends, so the hidden days' rows are as unknown as the real test's are. A table that covers the test's days too
    (Rossmann's weather) stays whole: the real test has it."""
    if cut_at is not None and src.suffix.lower() == ".csv":
        head = pd.read_csv(src, nrows=5000, low_memory=False)
        columns = [date] if date in head.columns else [c for c in head.columns if looks_like_dates(head[c])]
        table = pd.read_csv(src, low_memory=False) if columns else None
        for c in columns:  # by day: a time of day on train's last day is still train's
            if c == date and fmt in UNIX:  # MovieLens's tags.csv by its timestamp, as ratings.csv's
                days = parse_dates(table[c], fmt).dt.normalize()
            else:  # in the format its first rows have (or pandas' guess): another value is read as missing
                c_fmt = date_format(table[c]) or date_format(head[c])
                days = parse_dates(table[c], c_fmt, errors="coerce").dt.normalize()
            if days.notna().any() and days.max() <= train_end:
                kept = table[~(days > cut_at)]
                write_csv(kept, dst)
                print(
                    f"{src.name}: cut where the cut's train ends ({cut_at:%Y-%m-%d}, by {c}): "
                    f"{len(kept):,} of {len(table):,} rows"
                )
                return
    place(src, dst)


def score(card: Card, submission: pd.DataFrame, hidden: pd.DataFrame) -> float:
    """The card's metric of a submission against the cut's answers (merged on the id); over several target columns,
    the mean of each column's."""
    metric = get_metric(card.metric)
    id_col = hidden.columns[0]  # the cut's answers: the id first (the sample's may be second: Response,Id)
    value_cols = [c for c in submission.columns if c != id_col]
    merged = hidden.merge(submission, on=id_col, how="inner", suffixes=("_true", ""))
    if len(merged) != len(hidden):
        raise ValueError(f"the submission covers {len(merged):,} of the {len(hidden):,} hidden rows")
    if all(c in hidden.columns for c in value_cols):  # the answer columns are the submission's
        # several (Tabular Playground Jul 2021's three): the mean over the columns, as Kaggle's column-wise metrics
        known = {c: merged[f"{c}_true"].notna() for c in value_cols}  # a hidden row may lack some targets
        each = {c: column_score(card, merged[f"{c}_true"][known[c]], merged[c][known[c]]) for c in value_cols}
        scored = [v for v in each.values() if v is not None]
        unscored = [c for c, v in each.items() if v is None]
        if not scored:
            raise ValueError(
                f"{metric.name} has no value on the cut's hidden rows of {unscored[:5]} (one class in each); "
                f"name another window (WINDOWS=cut1)"
            )
        if unscored:
            print(
                f"{metric.name} has no value on {unscored[:5]} (one class in the cut's hidden rows): "
                f"the mean is of the rest"
            )
        return float(np.mean(scored))
    label = next(c for c in hidden.columns if c != id_col)  # one column per class: the answer is the label
    index = {str(c): i for i, c in enumerate(value_cols)}
    return metric.score(label_text(merged[label]).map(index).to_numpy(), merged[value_cols].to_numpy(np.float64))


def column_score(card: Card, true: pd.Series, pred: pd.Series) -> float | None:
    """The card's metric of one answer column, None where it has none (auc of one class). Class labels written as
    text (No/Yes) or a binary target's other than 0/1 (1/2), or with the card's positive= or classes=, are numbered
    as training numbers them (schema.class_order or the card's order: the positive class last), so auc, logloss, f1
    and qwk score the classes the models predict; numbers and ranked labels (map@k) as they are."""
    metric = get_metric(card.metric)
    labels = label_text(true)
    binary = metric.submits == "probability" or metric.tasks == ("binary",)  # one column: P(class 1), f1, mcc
    as_read = set(labels.dropna()) <= {"0", "1"} if binary else is_numeric_dtype(true)  # 1/2: numbered too
    if metric.submits not in ("probability", "label") or (as_read and card.positive is None and not card.classes):
        return defined_score(metric, true.to_numpy(), pred.to_numpy())
    values = set(labels.dropna()) | (set(label_text(pred).dropna()) if metric.submits == "label" else set())
    order = list(map(str, card.classes)) or class_order(list(values), card.positive)  # classes=: the card's order
    index = {str(c): i for i, c in enumerate(order)}
    guess = pred.to_numpy(np.float64) if metric.submits == "probability" else label_text(pred).map(index).to_numpy()
    return defined_score(metric, labels.map(index).to_numpy(), guess)


# The simplest honest baseline, run on every cut beside the default: LightGBM's own defaults (100 rounds of lr 0.1,
# 31 leaves, 20 rows a leaf, every row and column, no early stopping, the category codes read as numbers) on the
# same features and validation.
LIGHTGBM_DEFAULTS = {
    "members": ["gbdt"],
    "gbdt_seeds": 1,
    "gbdt_embeddings": [],
    "gbdt_rounds": 100,
    "gbdt_lr": 0.1,
    "gbdt_leaves": 31,
    "gbdt_min_leaf": 20,
    "gbdt_colsample": 1.0,
    "gbdt_subsample": 1.0,
    "gbdt_early_stopping": 100_000,
    "gbdt_categorical": False,  # the codes as numbers, as a matrix handed to LightGBM is read
    "ordinal": False,  # qwk: the classes by LightGBM's multiclass objective, the likeliest submitted
}


def tabular_backtest(card: Card) -> Backtest:
    """The card's Backtest: windows cut0 (the last horizon, or a seeded fifth) and cut1 (the horizon before it,
    or another seed) by default, cut2..cut5 further back or other seeds when named (WINDOWS=cut0,...,cut5: a
    small table's single fifth is noisy), with LightGBM's defaults as the peer to beat."""
    metric = get_metric(card.metric)
    return Backtest(
        windows={f"cut{k}": k for k in range(6)},
        default=("cut0", "cut1"),
        cut=lambda raw, dest, k: cut(card, raw, dest, k),
        score=lambda submission, hidden: score(card, submission, hidden),
        metric=metric.name,
        id_col=card.id or "",
        greater_is_better=metric.greater_is_better,
        peers={"lightgbm-defaults": LIGHTGBM_DEFAULTS},
    )
