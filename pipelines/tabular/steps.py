"""The steps of every tabular competition: a card (pipelines/tabular/__init__.py) and its files are all they need.

features: read train / test / sample_submission (the card's extra_train rows below train's, its extra tables joined
on their keys), run the card's own feature function where it has one, infer the schema (pipelines/tabular/schema.py,
printed), choose the validation that matches the test (a time-ordered holdout as long as the test's span when every
test date comes after train's; else k-fold, stratified for classification), add the date's parts, fit Categorify /
FillMissing / Normalize on the rows that train, and write processed/{train,test}.feather with each labelled row's
fold.

train: LightGBM and the entity-embedding network (pipelines/tabular/net.py) on the metric's training target (log1p
for rmsle, log for rmspe...), the headline score from rows that chose nothing. k-fold: each fold's LightGBM
early-stops on its fold, and its out-of-fold predictions are taken at the median round count of the *other*
folds; the test predictions are the folds' average. Time: the rounds are chosen on the horizon before the
holdout (early stopping there), a model of that many rounds on every row before the holdout scores it, and
(`refit`) one on every row predicts the test, with the rounds early stopping on the holdout chooses once the
holdout is scored (the latest days: a horizon before it may hold an Easter the test has not); the network trains
first, on the same rows (LightGBM may read its embeddings). The blend's weights (and the f1 / mcc threshold,
RMSPE's log shift) for each fold, or each of 4 groups of the holdout, are chosen on the other rows. Several
target columns: all of this for each, in runs/RUN/targets/<target>/, the headline the mean of theirs.

predict: the test predictions in sample_submission.csv's own format, validated, into submissions/COMP/RUN.csv.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from features import TabularProcessor, add_datepart, add_series_levels, join_df
from features.io import (
    DamagedFile,
    atomic_path,
    atomic_write_text,
    cached,
    read_feather,
    write_csv,
    write_feather,
    write_npy,
)
from models import gbdt
from models.metrics import Metric, binary_log_loss, from_target, get_metric, log_loss, rmspe_log_shift, to_target
from pipelines import submit as submitlib
from pipelines.config import to_dict
from pipelines.cv import assign_folds, out_of_fold
from pipelines.ensemble import blend, fit_weights
from pipelines.paths import Paths
from pipelines.runs import RunDir, features_identity, run_identity, write_features_stamp
from pipelines.tabular import FILES, Card, TabularConfig
from pipelines.tabular.schema import (
    Schema,
    SchemaError,
    align_ids,
    as_class_index,
    describe,
    fold_groups,
    fold_unit,
    infer,
    label_text,
)

# The date's parts: cycles as categories (every value recurs), the year and the time since 1970 as numbers (a
# test year that train has not seen must sort after train's, not fall into the unknown category).
DATE_CATEGORIES = ("Month", "Week", "Day", "Dayofweek", "Is_month_end", "Is_month_start")
DATE_CATEGORIES += ("Is_quarter_end", "Is_quarter_start", "Is_year_end", "Is_year_start")
DATE_NUMBERS = ("Year", "Dayofyear", "Elapsed")
TIME_NUMBERS = ("Hour", "Minute")
ADJUST = "_adjust"  # processed/{train,test}.feather: the card's `adjust=` offset of each row (absent without one)
FOLD = "_fold"  # processed/train.feather: the fold a labelled row is held out in (time: 0 the holdout,
# 1 the horizon before it, which chooses the rounds; -1 the rows before that; k-fold: 0..k-1, and -1 the card's
# extra_train rows, which every fold fits and none scores)
EXTRA = "_extra"  # the rows read from the card's extra_train files, until the folds are assigned


def id_column(card: Card, paths: Paths) -> str:
    """The card's id, else sample_submission.csv's first column (its header alone is read)."""
    sample = paths.raw / card.file("sample")
    if not card.id and not sample.is_file():
        raise FileNotFoundError(f"{sample} not found: `make download COMP={paths.comp}` (or set files= in the card)")
    return card.id or pd.read_csv(sample, nrows=0).columns[0]


def read_csv(path, what: str, text: tuple[str, ...] = ()) -> pd.DataFrame:
    """A competition CSV, or FileNotFoundError / ValueError naming it and the fix. The `text` columns (in any
    case) read as written where numbers would change them (an id 001500 keeps its zeros); else numbers, so that a
    table or a feature function joins on them as read."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: `make download COMP=...` (or set files= in the card)")
    try:
        wanted = {t.lower() for t in text}
        header = pd.read_csv(path, nrows=0).columns
        frame = pd.read_csv(path, low_memory=False, dtype={c: str for c in header if c.lower() in wanted})
        for c in [c for c in header if c.lower() in wanted]:
            number = pd.to_numeric(frame[c], errors="coerce")
            if number.notna().all() and not (frame[c].str.startswith("0") & (frame[c].str.len() > 1)).any():
                frame[c] = number
        return frame
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: unreadable as CSV ({e}); {what}") from None


def read_raw(card: Card, paths: Paths) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """train, test and sample submission, with the card's extra tables joined onto train and test."""
    fix = "download it again (make download FORCE=1)"
    ids = (id_column(card, paths),)
    train, test, sample = (read_csv(paths.raw / card.file(role), fix, ids) for role in FILES)
    train, test = align_ids(ids[0], train, test, sample, {role: card.file(role) for role in FILES})
    train = with_extra_rows(card, paths, train, ids[0]) if card.extra_train else train
    train, test = join_tables(card, paths.raw, train, test, set(sample.columns))
    return train, test, sample


def with_extra_rows(card: Card, paths: Paths, train: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """train with the rows of the card's extra_train files below its own (EXTRA marks them): the columns train has,
    what a file lacks missing; each row an id of its own (below zero where train's are numbers, else file:row)."""
    frames = [train.assign(**{EXTRA: False})]
    for name in card.extra_train:
        extra = read_csv(paths.raw / name, f"put it in {paths.raw} (the card's extra_train names it)", (id_col,))
        lacks = [c for c in train.columns if c not in extra.columns and c != id_col]
        unused = [c for c in extra.columns if c not in train.columns]
        if id_col in train.columns:  # ids of their own (an original's own ids may be train's or the test's)
            if pd.api.types.is_numeric_dtype(train[id_col]):  # below zero, after the files before it
                extra[id_col] = -1 - sum(len(f) for f in frames[1:]) - np.arange(len(extra))
            else:
                extra[id_col] = [f"{name}:{i}" for i in range(len(extra))]
        print(
            f"extra_train {name}: {len(extra):,} rows for every fit, never scored"
            + (f"; without {lacks[:5]} (missing there)" if lacks else "")
            + (f"; {unused[:5]} not in {card.file('train')}, unused" if unused else "")
        )
        frames.append(extra[[c for c in extra.columns if c in train.columns]].assign(**{EXTRA: True}))
    return pd.concat(frames, ignore_index=True)


def file_digest(path: Path) -> str:
    """sha256 of a file, for the features' identity (hashlib reads it in blocks)."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check_extra_labels(card: Card, schema: Schema, rows: pd.DataFrame) -> None:
    """SchemaError naming the extra_train files where their labels are not train.csv's classes (an original
    dataset's Yes/No where train.csv has 0/1)."""
    if schema.task not in ("binary", "multiclass"):
        return
    for c in [schema.label] if schema.label else schema.targets:
        values = set(label_text(rows[c]).dropna()) - set(map(str, schema.classes))
        if values:
            raise SchemaError(
                f"card: extra_train={card.extra_train}: {c} holds {sorted(values)[:5]}, not among "
                f"{card.file('train')}'s classes {schema.classes[:5]}: write them as train's in the file"
            )


def join_tables(
    card: Card, raw: Path, train: pd.DataFrame, test: pd.DataFrame, answers: set
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """train and test with the card's extra tables joined on their keys (a column also in train kept once);
    `answers`: the sample's columns (a table holding them, as MoA's targets file does, has train's rows only)."""
    fix = "download it again (make download FORCE=1)"
    for name, keys in card.tables.items():
        table = read_csv(raw / name, fix)
        both = [c for c in table.columns if c not in keys and (c in train.columns or c in test.columns)]
        if both:  # Walmart's IsHoliday, in train.csv and features.csv: one copy, not a second column
            print(f"{name}: {both} also in {card.file('train')}: {card.file('train')}'s kept")
            table = table.drop(columns=both)
        for frame_name in ("train", "test"):
            frame = train if frame_name == "train" else test
            joined = join_df(frame, table, list(keys), names=(card.file(frame_name), name), allow_unmatched=True)
            added = [c for c in table.columns if c not in keys]
            missing = int(joined[added].isna().all(axis=1).sum()) if added else 0
            if missing == len(frame) and frame_name == "test" and set(added) & answers:
                print(f"join {name} onto {card.file('test')}: no test row is in it (a table of train's rows only)")
            elif missing:
                print(f"join {name} onto {card.file(frame_name)}: {missing:,} of {len(frame):,} rows found no match")
            if frame_name == "train":
                train = joined
            else:
                test = joined
    return train, test


def hook_name(hook) -> str:
    """module.function of a card's function, for its messages."""
    return f"{getattr(hook, '__module__', '')}.{getattr(hook, '__qualname__', repr(hook))}".lstrip(".")


def own_features(card: Card, train: pd.DataFrame, test: pd.DataFrame, raw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The card's `features=` function on the joined frames, its answer checked: two frames, every test row kept
    (each needs a prediction); train's rows may go (a day the shop was closed, say)."""
    hook = card.features
    name = hook_name(hook)
    t0, before = time.perf_counter(), list(train.columns)  # before the call: it may add columns in place
    out = hook(train, test, raw)
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(f, pd.DataFrame) for f in out)):
        raise TypeError(
            f"the card's features={name} returned {type(out).__name__}: it must return (train, test) frames"
        )
    new_train, new_test = out
    if len(new_test) != len(test):
        raise ValueError(
            f"the card's features={name} returned {len(new_test):,} test rows of {len(test):,}: every test row needs "
            f"a prediction; add columns to the test frame, never drop its rows"
        )
    if len(new_train) > len(train):
        print(
            f"warning: the card's features={name} returned {len(new_train) - len(train):,} train rows more than it "
            f"was given: they are scored out of fold as train's own are; rows that only help the fits (a Playground "
            f"competition's original dataset) belong in the card's extra_train="
        )
    added = [c for c in new_train.columns if c not in before]
    shown = ", ".join(added[:10]) + (f" ... ({len(added)} in all)" if len(added) > 10 else "")
    print(f"features={name}: {shown or 'no column added'} ({time.perf_counter() - t0:.1f} s)")
    return new_train.reset_index(drop=True), new_test.reset_index(drop=True)


def adjustments(card: Card, schema: Schema, train, test, folds: np.ndarray, validation: dict):
    """(train's offsets, test's offsets) from the card's `adjust=` function: a scored row's offset fitted on rows
    that exclude it (the holdout's on the rows before it, each fold's on the other folds; rows never scored get 0),
    the test's on every labelled row."""
    name = hook_name(card.adjust)
    if schema.several:
        raise SchemaError(f"adjust={name}: one offset a row for {len(schema.targets)} targets; leave adjust= out")
    if schema.task != "regression":
        raise SchemaError(f"adjust={name}: offsets of the predictions are for regression; this task is {schema.task}")

    def call(fit: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
        try:
            out = np.asarray(card.adjust(fit, rows), dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"the card's adjust={name} did not return numbers ({e})") from e
        if out.shape != (len(rows),) or not np.isfinite(out).all():
            raise ValueError(
                f"the card's adjust={name} returned shape {out.shape}"
                + ("" if out.shape != (len(rows),) else " with values that are not finite")
                + f": it must return one finite offset for each of the {len(rows):,} rows it is given"
            )
        return out

    on_train = np.zeros(len(train))
    for k in [0] if validation["kind"] == "time" else kfolds(folds):
        on_train[folds == k] = call(train[folds != k], train[folds == k])
    on_test = call(train, test)

    def moved(a: np.ndarray, what: str) -> str:
        nonzero = a[a != 0]
        return f"{len(nonzero):,} of {len(a):,} {what}" + (
            f" ({nonzero.min():+.3f}..{nonzero.max():+.3f})" if len(nonzero) else ""
        )

    print(f"adjust={name}: offsets on {moved(on_train, 'labelled rows')} and {moved(on_test, 'test rows')}")
    return on_train, on_test


def test_span(schema: Schema, test: pd.DataFrame) -> int:
    """The test's days, first to last (0 without a date column): the time holdout's default length."""
    return int((test[schema.date].max() - test[schema.date].min()).days + 1) if schema.date else 0


def kfolds(folds: np.ndarray) -> list[int]:
    """k-fold's folds (0..k-1): not -1, the extra_train rows every fold fits."""
    return sorted(set(folds[folds >= 0].tolist()))


def first_fit_rows(folds: np.ndarray, validation: dict, ok: np.ndarray) -> np.ndarray:
    """The rows a member first trains on: before the time holdout, or (k-fold) every labelled row that may train."""
    return ok & (folds != 0) if validation["kind"] == "time" else ok


def choose_validation(schema: Schema, train: pd.DataFrame, test: pd.DataFrame, cfg: TabularConfig) -> dict:
    """How to validate, from the data: 'time' (with its horizon in days) when every test date comes after
    train's (or cfg says so), else 'kfold'."""
    after = False
    if schema.date:
        after = bool(test[schema.date].min() > train[schema.date].max())
    kind = cfg.validation if cfg.validation != "auto" else ("time" if after else "kfold")
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
            )
        return np.where(held, 0, np.where(inner, 1, -1))
    groups = fold_groups(schema, train, validation.get("group", ""))
    if groups is not None and groups.max() + 1 < cfg.folds:
        raise SchemaError(
            f"folds={cfg.folds}: the data has {groups.max() + 1} {validation['group']}s to keep whole; set fewer folds="
        )
    if schema.task == "regression":
        rng = np.random.default_rng(cfg.fold_seed)
        if groups is None:
            return rng.permutation(len(train)) % cfg.folds
        return (rng.permutation(groups.max() + 1) % cfg.folds)[groups]  # each group's rows in one fold
    return assign_folds(as_class_index(schema, train[stratum(schema, train)]), cfg.folds, cfg.fold_seed, groups)


def stratum(schema: Schema, train: pd.DataFrame) -> str:
    """The target k-fold stratifies on: the one, or of several, the one whose rarest class is rarest (a rare MoA
    label's few positives spread over the folds; a common one's spread by chance)."""
    if not schema.several:
        return schema.target_column
    rarest = {c: n.min() for c in schema.targets if len(n := train[c].value_counts()) > 1}
    return min(rarest, key=rarest.get)


def add_levels(schema: Schema, metric: Metric, train, test, horizon: int, cfg: TabularConfig):
    """(train, test, the columns added): each series' levels of the training target known at the forecast origin
    (features.add_series_levels with a lag of the test's horizon: the holdout and the test see nothing of
    themselves), for a time validation with the card's series keys and a number or 0/1 target."""
    if schema.task not in ("regression", "binary"):
        return train, test, []
    y, ok = targets(metric, schema, train)
    both = pd.concat([train.assign(_level=np.where(ok, y, np.nan)), test.assign(_level=np.nan)], ignore_index=True)
    both = add_series_levels(
        both, "_level", schema.series, train[schema.date].max(), lag=horizon, window=cfg.level_window, date=schema.date
    )
    names = [c for c in both.columns if c not in {*train.columns, *test.columns, "_level"}]
    print(
        f"levels per series {schema.series}: {', '.join(names)} (windows ending >= {horizon} days back or at the origin)"
    )
    train_out = both[: len(train)][[*train.columns, *names]].reset_index(drop=True)
    return train_out, both[len(train) :][[*test.columns, *names]].reset_index(drop=True), names


LIGHTGBM_REFUSES = re.compile(r'[\[\]{}:,"]')  # characters LightGBM refuses in feature names


def lightgbm_names(train: pd.DataFrame, test: pd.DataFrame, keep: set) -> tuple[pd.DataFrame, pd.DataFrame]:
    """train and test with [ ] { } : , " in column names (Playground's `Air temperature [K]`) replaced by _, said:
    LightGBM refuses them in feature names. The columns in `keep` (the sample's, the card's lines) keep theirs."""
    rename, taken = {}, {*train.columns, *test.columns}
    for c in dict.fromkeys([*train.columns, *test.columns]):
        if isinstance(c, str) and c not in keep and LIGHTGBM_REFUSES.search(c):
            new = LIGHTGBM_REFUSES.sub("_", c)
            while new in taken:
                new += "_"
            rename[c] = new
            taken.add(new)
    if rename:
        print(f'columns renamed for LightGBM (it refuses [ ] {{ }} : , " in feature names): {rename}')
    return train.rename(columns=rename), test.rename(columns=rename)


def unlearnable(fit_rows: pd.DataFrame, test: pd.DataFrame, cats, conts, keep=()) -> dict[str, str]:
    """{column: why} of the features nothing learned could be applied to the test with: a number with one value in
    the rows the procs fit (the year, when train spans less than one), a category (not a series key: `keep`)
    whose values in most test rows never occur there (the months and weeks of a test after a train shorter than
    a year): unknown codes the network never trained on pin its predictions (a constant submission, seen)."""
    out = {}
    for c in conts:
        if fit_rows[c].nunique() <= 1:
            out[c] = f"one value in the rows the models fit ({fit_rows[c].iloc[0]}), the test's may differ"
    for c in cats:
        if c in keep or not len(test):
            continue
        unseen = (test[c].notna() & ~test[c].isin(fit_rows[c].dropna().unique())).mean()
        if unseen > 0.5:
            out[c] = f"{unseen:.0%} of the test's rows hold values the rows the models fit never have"
    return out


def build_features(card: Card, paths: Paths, cfg: TabularConfig) -> dict:
    """raw -> processed/{train,test}.feather, procs.json, schema.json and validation.json (see the module doc)."""
    t0 = time.perf_counter()
    train, test, sample = read_raw(card, paths)
    if card.features is not None:
        train, test = own_features(card, train, test, paths.raw)
    keep = {*sample.columns, card.date, *card.series, *card.categories, *card.drop, *card.target}
    train, test = lightgbm_names(train, test, keep)
    files = {role: card.file(role) for role in FILES}
    if card.extra_train and EXTRA not in train.columns:
        raise ValueError(
            f"the card's features={hook_name(card.features)} dropped the column {EXTRA!r} that marks the rows of "
            f"extra_train={card.extra_train}: keep it in the train frame it returns"
        )
    extra = train.pop(EXTRA).to_numpy(bool) if EXTRA in train.columns else np.zeros(len(train), bool)
    schema = infer(card, train[~extra].reset_index(drop=True), test, sample, files)  # train.csv says what it is
    if extra.any():
        check_extra_labels(card, schema, train[extra])
    print(describe(schema, card.metric, card.positive))
    labels = [schema.label] if schema.label else schema.targets
    labelled = train[labels].notna().all(axis=1).to_numpy()
    if not labelled.all():  # several targets: a row lacking one is not used for any (each its own rows: not yet)
        blank = ", ".join(f"{c} {n:,}" for c, n in train[labels].isna().sum().items() if n)
        print(f"{files['train']}: {int((~labelled).sum()):,} rows without a target ({blank} blank) are not used")
    train, extra = train[labelled].reset_index(drop=True), extra[labelled]
    if card.extra_train and not extra.any():
        raise SchemaError(f"card: extra_train={card.extra_train}: no row of them has the target {labels}")
    cats, conts = list(schema.categories), list(schema.numbers)
    for c in conts:  # numbers read as text (a blank among them): what is not a number is missing
        if not pd.api.types.is_numeric_dtype(train[c]) or not pd.api.types.is_numeric_dtype(test[c]):
            numbers = [pd.to_numeric(f[c], errors="coerce") for f in (train, test)]
            bad = sum(int((f[c].notna() & n.isna()).sum()) for f, n in zip((train, test), numbers, strict=True))
            print(f"{c}: numbers written as text; {bad:,} values not numbers read as missing")
            train[c], test[c] = numbers
    if schema.date:
        for frame in (train, test):
            frame[schema.date] = pd.to_datetime(frame[schema.date], format=schema.date_format)
    validation = choose_validation(schema, train[~extra], test, cfg)
    if extra.any() and validation["kind"] == "time":
        raise SchemaError(
            f"card: extra_train={card.extra_train}: extra rows join k-fold's fits; this competition validates on "
            f"time ({validation['why']}): leave extra_train out, or set validation=kfold"
        )
    span = test_span(schema, test)
    if card.features is not None and validation["kind"] == "time" and validation["horizon_days"] > span:
        raise SchemaError(
            f"horizon={validation['horizon_days']} is longer than the test's {span} days: the card's features= function "
            f"sees train's targets, and what it derives from them lags by the test's span (a store's past sales), "
            f"so a longer holdout would see its own days; set horizon <= {span}"
        )
    folds = np.full(len(train), -1)  # the extra rows: in every fold's fit, in none's scores
    folds[~extra] = assign(schema, train[~extra].reset_index(drop=True), validation, cfg)
    print(f"validation: {validation['kind']} ({validation['why']})")
    offsets = adjustments(card, schema, train, test, folds, validation) if card.adjust else None
    if schema.date:
        prefix = schema.date if not schema.date.lower().endswith("date") else schema.date[:-4]
        hours = "%H" in schema.date_format
        train, test = (add_datepart(f, schema.date, drop=False, prefix=prefix, time=hours) for f in (train, test))
        cats += [prefix + p for p in DATE_CATEGORIES]
        conts += [prefix + p for p in DATE_NUMBERS + (TIME_NUMBERS if hours else ())]
    if validation["kind"] == "time" and schema.series and cfg.levels:
        train, test, levels = add_levels(schema, get_metric(card.metric), train, test, validation["horizon_days"], cfg)
        conts += levels
    fit_rows = train[folds != 0] if validation["kind"] == "time" else train
    for c, why in unlearnable(fit_rows, test, cats, conts, keep=schema.series).items():
        print(f"not a feature: {c} ({why})")
        schema.dropped[c] = why
        cats, conts = [n for n in cats if n != c], [n for n in conts if n != c]
    proc = TabularProcessor(cats, conts).fit(fit_rows)
    keep = [schema.id] if schema.id in train.columns else []
    columns = proc.all_cat_names + proc.cont_names
    # one concat, not a column at a time: a feature function's hundred columns leave the frame in many blocks
    out_train = pd.concat(
        [proc.transform(train)[keep + columns], train[labels], pd.Series(folds, name=FOLD, index=train.index)], axis=1
    )
    out_test = proc.transform(test)[[schema.id, *columns]]
    if offsets is not None:  # not features: added to the predictions (train's, the test's)
        out_train[ADJUST], out_test[ADJUST] = offsets
    write_feather(out_train, paths.processed / "train.feather")
    write_feather(out_test, paths.processed / "test.feather")
    proc.save(paths.processed / "procs.json")
    atomic_write_text(paths.processed / "schema.json", json.dumps(schema.as_dict(), indent=1, default=str))
    atomic_write_text(paths.processed / "validation.json", json.dumps(validation, indent=1))
    summary = write_features_stamp(
        paths,
        cfg,
        rows={"train": len(out_train), "test": len(out_test)},
        validation=validation,
        columns=columns,
        extra_train={name: file_digest(paths.raw / name) for name in card.extra_train},  # a replaced file: anew
        seconds=round(time.perf_counter() - t0, 2),
    )
    print(
        f"processed: {paths.processed} ({len(out_train):,} labelled rows, {len(out_test):,} test rows, {len(columns)} features)"
    )
    return summary


def load(paths: Paths, cfg: TabularConfig) -> tuple[Schema, dict, TabularProcessor]:
    """What the features step decided (schema, validation, procs), checked against the raw data and settings;
    the frames are read by the step that needs them."""
    features_identity(paths, cfg)  # built, from the raw data there now, with these settings
    schema = Schema.read(paths.processed)
    validation = json.loads((paths.processed / "validation.json").read_text())
    return schema, validation, TabularProcessor.load(paths.processed / "procs.json")


def objective(metric: Metric, schema: Schema) -> dict:
    """LightGBM's objective for the task and the metric's loss."""
    if schema.task == "regression":
        return {"objective": "regression_l1" if metric.loss == "l1" else "regression"}
    if schema.task == "binary":
        return {"objective": "binary"}
    if schema.task == "multiclass":
        return {"objective": "multiclass", "num_class": len(schema.classes)}
    raise SchemaError("a multi-label table is not handled by the tabular kind yet; the image kind handles tags")


def targets(metric: Metric, schema: Schema, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(the training target, the rows that may train): the metric's transform for regression (a log target
    drops rows with y <= 0), class indices for classification."""
    if schema.task == "regression":
        y = frame[schema.targets[0]].to_numpy(np.float64)
        ok = y > 0 if metric.target == "log" else y >= 0 if metric.target == "log1p" else np.isfinite(y)
        return to_target(metric, np.where(ok, y, 1.0)), ok
    return as_class_index(schema, frame[schema.target_column]).astype(np.float64), np.ones(len(frame), bool)


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


def truth(schema: Schema, frame: pd.DataFrame) -> np.ndarray:
    if schema.task == "regression":
        return frame[schema.targets[0]].to_numpy(np.float64)
    return as_class_index(schema, frame[schema.target_column])


def fit_gbdt(
    x, x_test, y, ok, folds, validation: dict, params, names, cfg: TabularConfig, rd: RunDir, extra=None, categorical=()
):
    """LightGBM's (out-of-fold predictions, test predictions, {which models: their rounds}) as the module doc
    says; each model is `gbdt_seeds` models (seeds seed, seed+1, ...: other row and column samples), their
    predictions averaged. `extra(which)`: columns added to x and x_test (with their names) for the model `which` ("holdout", "refit",
    or a fold): the embeddings of the network fitted on the same rows. `categorical`: the columns of category codes
    LightGBM splits as categories."""
    seeds = [params.seed + i for i in range(cfg.gbdt_seeds)]

    def view(which) -> tuple[np.ndarray, np.ndarray, list[str]]:
        if extra is None:
            return x, x_test, names
        add, add_test, added = extra(which)
        return np.concatenate([x, add], axis=1), np.concatenate([x_test, add_test], axis=1), [*names, *added]

    def fit(view_, rows, label, valid_rows=None, rounds=None) -> list:
        """One booster per seed on `rows` of the view (early-stopped on `valid_rows`, or `rounds[i]` rounds)."""
        xs, _, view_names = view_
        boosters, valid = [], None if valid_rows is None else (xs[valid_rows], y[valid_rows])
        for i, seed in enumerate(seeds):
            tag = f" seed {seed}" if len(seeds) > 1 else ""
            booster = part(
                rd, f"{label}{tag}", ".txt",
                lambda i=i, seed=seed, tag=tag: gbdt.fit(
                    xs[rows], y[rows], replace(params, seed=seed), view_names, valid=valid,
                    rounds=rounds and rounds[i], label=label + tag, categorical=categorical,
                ),
                gbdt.save, gbdt.load,  # up to its best round, as gbdt.fit returns it
            )  # fmt: skip
            boosters.append(booster)
        return boosters

    def predict(boosters, rows, upto=None) -> np.ndarray:
        return np.mean([gbdt.predict(b, rows, upto and min(upto, b.current_iteration())) for b in boosters], axis=0)

    oof = np.full((len(x), *([params.num_class] if params.num_class > 1 else [])), np.nan)
    if validation["kind"] == "time":
        before, inner, held = folds == -1, folds == 1, folds == 0
        # the rounds are chosen with the holdout network's embeddings (it saw the inner rows, not the holdout)
        xs, xs_test, _ = holdout = view("holdout")
        rounds = [gbdt.best_rounds(b) for b in fit(holdout, before & ok, "gbdt rounds", inner & ok)]
        scorers = fit(holdout, ~held & ok, "gbdt holdout", rounds=rounds)
        oof[held], test_raw = predict(scorers, xs[held]), predict(scorers, xs_test)
        if cfg.refit:  # every row, the holdout included, for the rounds the holdout chooses once it is scored
            latest = [gbdt.best_rounds(b) for b in fit(holdout, ~held & ok, "gbdt refit rounds", held & ok)]
            del xs, xs_test, holdout  # with embeddings a copy of x: not two at once beside the refit's
            refit = view("refit")
            final = fit(refit, ok, "gbdt refit", rounds=latest)
            write_importance(final, rd)
            return oof, predict(final, refit[1]), {"holdout": rounds, "refit": latest}
        write_importance(scorers, rd)
        return oof, test_raw, {"holdout": rounds}
    test_raw, held_folds = np.zeros((len(x_test), *oof.shape[1:])), kfolds(folds)
    models, rounds, held_x = [], [], []
    for k in held_folds:
        fold = view(k)
        models.append(fit(fold, (folds != k) & ok, f"gbdt fold {k}", (folds == k) & ok))
        rounds.append(int(np.median([gbdt.best_rounds(b) for b in models[-1]])))
        test_raw += predict(models[-1], fold[1]) / len(held_folds)
        held_x.append(fold[0][folds == k])
    for i, k in enumerate(held_folds):  # each fold scored at a round count its own rows did not choose
        others = int(np.median([r for j, r in enumerate(rounds) if j != i]))
        oof[folds == k] = predict(models[i], held_x[i], others)
    write_importance([b for boosters in models for b in boosters], rd)
    return oof, test_raw, {"folds": rounds}


def write_importance(boosters: list, rd: RunDir) -> None:
    """runs/RUN/importance.csv (the gain share and splits of each feature over the models that predict the test;
    `make report` shows it) and the top few printed."""
    table = gbdt.importance(boosters)
    write_csv(table, rd.path / "importance.csv")
    top = ", ".join(f"{r.feature} {r.gain_share:.0%}" for r in table.head(8).itertuples())
    print(f"LightGBM's features by gain: {top} ({rd.path / 'importance.csv'})")


def part(rd: RunDir, name: str, suffix: str, compute, save, load):
    """A finished piece of the run (one booster, one network's predictions) in runs/RUN/parts/: read back when the
    same run (its identity: settings, features, code) was interrupted after it, else computed and saved; a part
    that cannot be read back is computed again (features.io.cached)."""

    def loaded(path: Path):
        try:
            value = load(path)
        except Exception as e:  # LightGBM's and numpy's own errors for a damaged file: read as one
            raise DamagedFile(path, e, "part of a run") from e
        print(f"{name}: trained before the run was interrupted ({path})")
        return value

    path = rd.parts / f"{name.replace(' ', '-')}{suffix}"
    return cached(path, {"run": rd.read_json("config.json"), "part": name}, compute, save, loaded)


def save_predictions(value: tuple[list[np.ndarray], dict], path: Path) -> None:
    """A network's (predictions per frame, embedding tables) as one .npz, written atomically."""
    preds, tables = value
    arrays = {f"pred{j}": p for j, p in enumerate(preds)} | {f"table:{k}": t for k, t in tables.items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_predictions(path: Path, n: int) -> tuple[list[np.ndarray], dict]:
    with np.load(path) as saved:
        tables = {k.removeprefix("table:"): saved[k] for k in saved.files if k.startswith("table:")}
        return [saved[f"pred{j}"] for j in range(n)], tables


def fit_net(frame, test, y, ok, folds, validation: dict, schema: Schema, metric: Metric, proc, cfg, rd: RunDir):
    """The network's (out-of-fold predictions, test predictions, embedding tables), on the same rows as
    LightGBM's: the time holdout (then a refit on every row for the test), or each fold (the test: the folds'
    average). The tables (`gbdt_embeddings`, for LightGBM) of each network: {"holdout" | "refit" | fold: {column:
    codes x dims}}. Each network's epochs (its loss on the rows it predicts, where they are labelled) are recorded
    in runs/RUN/net-<which>/ (metrics.csv, training.png, TensorBoard)."""
    from pipelines.tabular import net  # torch: imported when the network trains

    n_classes = len(schema.classes) if schema.task == "multiclass" else 1
    oof = np.full((len(frame), *([n_classes] if n_classes > 1 else [])), np.nan)
    tables = {}

    def run(fit: np.ndarray, evals: list, label: str, which, watch: np.ndarray | None = None) -> list[np.ndarray]:
        """`net_seeds` networks (seeds seed, seed+1, ...) on the same rows, their predictions averaged; LightGBM
        reads the first one's embeddings (another seed's are another coordinate system: not averaged)."""
        valid = (frame[watch], y[watch]) if watch is not None else None
        total, n = None, cfg.net_seeds
        for i in range(n):
            name = label if n == 1 else f"{label} seed {cfg.seed + i}"
            preds, chosen = part(
                rd, name, ".npz",
                lambda i=i, name=name: net.fit_predict(
                    proc, frame[fit], y[fit], evals, schema.task, n_classes, metric.loss,
                    replace(cfg, seed=cfg.seed + i), name, record=rd.path / name.replace(" ", "-"), valid=valid,
                ),
                save_predictions, lambda path: load_predictions(path, len(evals)),
            )  # fmt: skip
            tables.setdefault(which, chosen)
            total = preds if total is None else [t + p for t, p in zip(total, preds, strict=True)]
        return [t / n for t in total]

    if validation["kind"] == "time":
        held = folds == 0
        oof[held], test_raw = run(~held & ok, [frame[held], test], "net holdout", "holdout", held & ok)
        if cfg.refit:
            (test_raw,) = run(ok, [test], "net refit", "refit")
        return oof, test_raw, tables
    test_raw = 0.0
    held_folds = kfolds(folds)
    for k in held_folds:
        fold = folds == k
        oof[fold], fold_test = run((folds != k) & ok, [frame[fold], test], f"net fold {k}", k, fold & ok)
        test_raw = test_raw + fold_test / len(held_folds)
    return oof, test_raw, tables


def embedding_columns(frame: pd.DataFrame, test: pd.DataFrame, tables: dict):
    """`fit_gbdt`'s `extra`: for the model `which`, the rows' embedding vectors of the network fitted on its rows
    (looked up by each column's category codes), for train and test, and their names."""

    def extra(which):
        chosen = tables[which]
        names = [f"{col}_emb{j}" for col, table in chosen.items() for j in range(table.shape[1])]
        rows = [np.concatenate([t[f[c].to_numpy()] for c, t in chosen.items()], axis=1) for f in (frame, test)]
        return rows[0], rows[1], names

    return extra


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


def train(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> dict:
    """The members (LightGBM, the network) per fold or on the time holdout, their blend; see the module doc.
    result.json's headline `oof_<metric>` scores predictions whose every choice was made on other rows."""
    if not cfg.members:
        raise ValueError("members=[] leaves nothing to train: name gbdt, net or both (ARGS='members=[gbdt,net]')")
    if cfg.gbdt_embeddings and not {"gbdt", "net"} <= set(cfg.members):
        raise ValueError(
            f"gbdt_embeddings={cfg.gbdt_embeddings}: LightGBM reads the network's embeddings, so both must train "
            f"(members=[gbdt,net]), or set gbdt_embeddings=[]"
        )
    schema, validation, proc = load(paths, cfg)
    metric = get_metric(card.metric)
    rd = RunDir(paths.runs / run)
    identity = run_identity(cfg, paths)
    done = rd.reuse_or_start(identity, "run")
    if done is not None:
        return done
    frame, test = (read_feather(paths.processed / f"{name}.feather") for name in ("train", "test"))
    t0 = time.perf_counter()
    folds = frame[FOLD].to_numpy()
    if validation["kind"] == "time" and not ((folds == -1).any() and (folds == 1).any() and (folds == 0).any()):
        raise ValueError(
            f"{paths.processed}: the time validation's windows are not all there (built by older code?); "
            f"rebuild it: make features COMP={paths.comp}"
        )
    if not schema.several:
        result = train_target(schema, metric, frame, test, validation, proc, cfg, rd)
    else:  # one set of models a target, each in its own folder (resumed or reused on its own)
        results = {}
        (rd.path / "importance.csv").unlink(missing_ok=True)  # a one-target training's, under this run's name
        kept = {target_dir(rd, t, schema).path.name for t in schema.targets}
        for old in (rd.path / "targets").glob("*") if (rd.path / "targets").is_dir() else ():
            if old.name not in kept:  # a target the card no longer has
                shutil.rmtree(old)
        for target in schema.targets:
            sub = target_dir(rd, target, schema)
            print(f"target {target}:")
            results[target] = sub.reuse_or_start({**identity, "target": target}, f"target {target}")
            if results[target] is None:
                results[target] = train_target(schema.of(target), metric, frame, test, validation, proc, cfg, sub)
                sub.finish(results[target])
        result = mean_over_targets(metric, results)
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    rd.finish(result, to_dict(cfg))
    return result


def target_dir(rd: RunDir, target: str, schema: Schema) -> RunDir:
    """runs/RUN/targets/<target>/: the models, predictions and result of one of several targets (numbered
    <i>-<target> where two targets' folder names would be one, on a file system blind to case too)."""
    names = [re.sub(r"[^A-Za-z0-9._-]+", "_", t) for t in schema.targets]
    i = schema.targets.index(target)
    unique = len({n.lower() for n in names}) == len(names)
    return RunDir(rd.path / "targets" / (names[i] if unique else f"{i}-{names[i]}"))


def mean_over_targets(metric: Metric, results: dict[str, dict]) -> dict:
    """The run's result where each of several targets has its own: the headline the mean of theirs (Kaggle's
    column-wise metrics: Tabular Playground Jul 2021's mean RMSLE over its three columns), each target's beside it."""
    key = f"oof_{metric.name}"
    scored = [r[key] for r in results.values() if r[key] is not None]  # auc: not of a target of one class
    score = round(float(np.mean(scored)), 6) if scored else None
    first = next(iter(results.values()))
    fitted = [r["members"] for r in results.values() if "constant" not in r["members"]]
    names = [n for n in fitted[0] if all(n in m for m in fitted)] if fitted else []

    def member(n: str) -> float | None:  # its mean over the targets, a target of one value's constant standing in
        each = [r["members"].get(n, r["members"].get("constant")) for r in results.values()]
        return (
            round(float(np.mean([v for v in each if v is not None])), 6) if any(v is not None for v in each) else None
        )

    print(
        f"{metric.name} {shown(score)}: the mean over the {len(scored)} targets scored "
        f"({', '.join(f'{t} {shown(r[key])}' for t, r in results.items())})"
    )
    return {
        key: score,
        "metric": metric.name,
        "validation": first["validation"],
        "targets": {t: {k: r[k] for k in (key, "members", "weights", "rounds")} for t, r in results.items()},
        "members": {n: member(n) for n in names},
        "scored_rows": first["scored_rows"],
        "scored_on": first["scored_on"],
        "refit": first["refit"],
        "adjusted": first["adjusted"],
    }


def train_target(schema: Schema, metric: Metric, frame, test, validation: dict, proc, cfg: TabularConfig, rd: RunDir):
    """The members and their blend for the schema's (one) target, their test predictions written into `rd`;
    returns the result (not yet written)."""
    t0 = time.perf_counter()
    (rd.path / "importance.csv").unlink(missing_ok=True)  # an earlier run's, whose members may have differed
    y, ok = targets(metric, schema, frame)
    folds = frame[FOLD].to_numpy()
    oof, test_raw, rounds, seconds, tables = {}, {}, {}, {}, {}
    if np.unique(y[ok]).size == 1:  # one of several targets with one value: nothing to learn, nothing to fit
        print(f"{schema.targets[0]}: one value in every labelled row: submitted as a constant")
        oof["constant"], test_raw["constant"] = constant_member(schema, y, ok, len(test))
    if "net" in cfg.members and not oof:  # first: LightGBM may read its embeddings
        t1 = time.perf_counter()
        oof["net"], test_raw["net"], tables = fit_net(
            frame, test, y, ok, folds, validation, schema, metric, proc, cfg, rd
        )
        seconds["net"] = round(time.perf_counter() - t1, 1)
    if "gbdt" in cfg.members and "constant" not in oof:
        t1 = time.perf_counter()
        names = proc.all_cat_names + proc.cont_names
        x, x_test = frame[names].to_numpy(np.float32), test[names].to_numpy(np.float32)
        params = gbdt.GBDTParams.from_config(cfg, seed=cfg.seed, **objective(metric, schema))
        extra = embedding_columns(frame, test, tables) if cfg.gbdt_embeddings else None
        categorical = tuple(proc.all_cat_names) if cfg.gbdt_categorical else ()
        oof["gbdt"], test_raw["gbdt"], rounds = fit_gbdt(
            x, x_test, y, ok, folds, validation, params, names, cfg, rd, extra, categorical
        )
        seconds["gbdt"] = round(time.perf_counter() - t1, 1)
    if validation["kind"] == "time":
        days = validation["horizon_days"]
        scored = folds == 0
        how = f"the {days}-day holdout (rounds chosen on the {days} days before it)"
        groups = np.random.default_rng(cfg.seed).integers(0, 4, int(scored.sum()))  # to choose the blend on
    else:
        scored, how = folds >= 0, f"{len(kfolds(folds))} folds, out of fold"
        groups = folds[scored]
    true = truth(schema, frame)[scored]
    offset = frame[ADJUST].to_numpy()[scored] if ADJUST in frame.columns else 0.0
    preds = {n: p[scored] for n, p in oof.items()}
    # a member with one value for every test row where its scored predictions vary: left out of the blend (unless
    # it is the only one), its figure alone still reported
    collapsed = [n for n in test_raw if np.ptp(test_raw[n], axis=0).max() == 0 < np.ptp(preds[n], axis=0).max()]
    if len(collapsed) < len(test_raw):
        for name in collapsed:
            print(
                f"warning: {name}'s test predictions are one value where its predictions on {how} vary: the test's "
                f"inputs lie outside what it learned; it is left out of the submission's blend"
            )
            del test_raw[name], oof[name]
    members, member_choices = {}, {}
    for name in preds:  # each alone, its threshold (f1, mcc) or shift (rmspe) chosen out of fold as the blend's is
        _, cut, by, alone = choose_blend(
            {name: preds[name]}, y[scored], ok[scored], true, groups, metric, schema, offset
        )
        members[name] = score_or_none(metric, true, alone)
        member_choices[name] = {"threshold": cut, "log_shift": by}
    blended = {n: p for n, p in preds.items() if n in test_raw}
    weights, threshold, shift, honest = choose_blend(
        blended, y[scored], ok[scored], true, groups, metric, schema, offset
    )
    score = score_or_none(metric, true, honest)
    write_npy(blend(test_raw, weights), rd.path / "test_raw.npy")
    for name, values in test_raw.items():
        write_npy(values, rd.path / f"test_raw_{name}.npy")
    oof_frame = pd.DataFrame(blend(oof, weights).reshape(len(frame), -1)).rename(columns=str).assign(**{FOLD: folds})
    write_feather(oof_frame, rd.path / "oof.feather")
    result = {
        f"oof_{metric.name}": score,
        "metric": metric.name,
        "validation": validation,
        "rounds": rounds,
        "refit": validation["kind"] == "time" and cfg.refit,
        "members": members,
        "weights": weights,
        "member_seconds": seconds,
        "scored_rows": int(scored.sum()),
        "scored_on": how,
        "threshold": threshold,
        "log_shift": shift,
        "member_choices": member_choices,
        "adjusted": ADJUST in frame.columns,
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    alone = ", ".join(f"{n} {shown(v)}" for n, v in members.items())
    print(
        f"{metric.name} {shown(score)} on {how} ({int(scored.sum()):,} rows; members {alone}; weights "
        f"{', '.join(f'{n} {w:.2f}' for n, w in weights.items())}"
        + "".join(f"; LightGBM rounds ({which}) {r}" for which, r in rounds.items())
        + ")"
    )
    return result


def constant_member(schema: Schema, y: np.ndarray, ok: np.ndarray, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """(every row's, the test's) predictions of a target with one value in its n labelled rows: that value on the
    training target's scale, or for a class c the probabilities (n [k = c] + 1/K) / (n + 1) of its K classes, as
    if one more row of each class were a K-th seen: never quite 1, so a test row of another class costs a log loss of
    about log(n), not the clip's 34.5."""
    value, n = y[ok][0], int(ok.sum())
    if schema.task == "regression":
        row = np.float64(value)
    else:
        k = len(schema.classes)
        row = (n * (np.arange(k) == value) + 1 / k) / (n + 1)
        row = row[1] if schema.task == "binary" else row  # binary: P(class 1)
    return np.full((len(y), *np.shape(row)), row), np.full((n_test, *np.shape(row)), row)


def score_or_none(metric: Metric, true: np.ndarray, pred) -> float | None:
    """The metric of these rows, rounded; None where it has no value: auc of rows of one class (a rare target's)."""
    if metric.name == "auc" and np.unique(true).size < 2:
        return None
    return round(float(metric.score(true, pred)), 6)


def shown(score: float | None) -> str:
    return "(not scored: one class)" if score is None else f"{score:.5f}"


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
    form = submission_form(metric, schema, raw, chosen.get("threshold", 0.5), chosen.get("log_shift", 0.0))
    sub = sample[[schema.id]].copy()
    value = [c for c in sample.columns if c != schema.id]
    if schema.label:  # the classes' columns, in schema.classes' order
        sub[value] = form
    elif schema.task == "regression" or metric.submits == "probability":
        sub[value[0]] = form
    elif metric.submits == "ranked":
        sub[value[0]] = [" ".join(str(schema.classes[i]) for i in row) for row in form]
    else:
        sub[value[0]] = [schema.classes[i] for i in form]
    return sub, column_rules(metric, schema, sample)


def in_sample_order(sub: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    """sub's columns in the sample's order (its id not always first); any other column last, for the check to name."""
    return sub[[c for c in sample.columns if c in sub] + [c for c in sub if c not in sample.columns]]


def predict(card: Card, paths: Paths, cfg: TabularConfig, run: str):
    """submissions/COMP/RUN.csv in sample_submission.csv's format, validated against it."""
    schema, _, _ = load(paths, cfg)
    metric = get_metric(card.metric)
    rd = RunDir(paths.runs / run)
    if not rd.is_complete():
        raise FileNotFoundError(f"{rd.result} not found: make train COMP={paths.comp} RUN={run}")
    sample = read_csv(paths.raw / card.file("sample"), "download it again", (schema.id,))
    result = rd.read_json("result.json")
    adjusted = result.get("adjusted", False)  # the card's adjust= offsets, added to the test predictions
    test = read_feather(paths.processed / "test.feather", columns=[schema.id, ADJUST] if adjusted else [schema.id])
    order = pd.Series(np.arange(len(test)), index=test[schema.id].astype(str))
    missing = ~sample[schema.id].astype(str).isin(order.index)
    if missing.any():
        first = sample[schema.id][missing].iloc[0]
        raise ValueError(f"{card.file('sample')}: {int(missing.sum())} ids not in {card.file('test')} (e.g. {first})")
    rows = order.loc[sample[schema.id].astype(str)].to_numpy()
    offset = test[ADJUST].to_numpy()[rows] if adjusted else 0.0  # regression only: one number a row
    value = [c for c in sample.columns if c != schema.id]
    each = [(schema, rd, sample)] if not schema.several else [
        (schema.of(t), target_dir(rd, t, schema), sample[[schema.id, c]]) for t, c in zip(schema.targets, value, strict=True)
    ]  # fmt: skip
    frames, rules, members, constants = [], {}, {}, []
    for schema_t, rd_t, sample_t in each:  # the target's blend, and each member alone where it has several
        chosen = rd_t.read_json("result.json")
        raw = np.load(rd_t.path / "test_raw.npy")[rows] + offset
        sub_t, rules_t = submission_frame(metric, schema_t, sample_t, raw, chosen)
        frames.append(sub_t.drop(columns=schema.id))
        rules.update(rules_t)
        if "constant" in chosen.get("weights", {}):  # in every member's submission as it is
            constants.append(frames[-1])
        for name in chosen.get("weights", {}) if len(chosen.get("weights", {})) > 1 else ():
            member = np.load(rd_t.path / f"test_raw_{name}.npy")[rows] + offset
            alone, _ = submission_frame(
                metric, schema_t, sample_t, member, chosen.get("member_choices", {}).get(name, {})
            )
            members.setdefault(name, []).append(alone.drop(columns=schema.id))
    sub = in_sample_order(pd.concat([sample[[schema.id]], *frames], axis=1), sample)
    shutil.rmtree(rd.path / "member_submissions", ignore_errors=True)  # an earlier predict's members
    for name, columns in members.items():  # a member in every fitted target's blend: its own whole submission
        if len(columns) + len(constants) == len(each):
            alone = in_sample_order(pd.concat([sample[[schema.id]], *columns, *constants], axis=1), sample)
            write_csv(alone, rd.path / "member_submissions" / f"{name}.csv")
    path = submitlib.write_submission(sub, sample, schema.id, paths.submissions / f"{run}.csv", columns=rules)
    print(
        f"submission: {path} ({len(sub):,} rows; {metric.name} {result[f'oof_{metric.name}']} on {result['scored_on']})"
    )
    return path


def submit(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> None:
    """Validate the run's submission again and send it to Kaggle with its out-of-fold score."""
    path = paths.submissions / f"{run}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: make predict COMP={paths.comp} RUN={run}")
    schema = Schema.read(paths.processed)
    sample = read_csv(paths.raw / card.file("sample"), "download it again", (schema.id,))
    sub = submitlib.read_submission(path, text=(schema.id,))
    rules = column_rules(get_metric(card.metric), schema, sample)
    submitlib.validate_submission(sub, sample, schema.id, where=str(path), columns=rules)
    result = RunDir(paths.runs / run).read_json("result.json")
    key = f"oof_{get_metric(card.metric).name}"
    submitlib.submit(card.slug, paths.comp, path, f"{run} {key}={result.get(key)}")


def lr_find(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> dict:
    """The learning-rate finder of the network member on the rows it first trains on (the rows before the time
    holdout, or every labelled row for k-fold): runs/RUN/lr_find.png and the suggested net_lr, printed."""
    from pipelines.tabular import net  # torch: imported when the network is built

    schema, validation, proc = load(paths, cfg)
    metric = get_metric(card.metric)
    frame = read_feather(paths.processed / "train.feather")
    if schema.several:  # the first that varies
        first = next(t for t in schema.targets if frame[t].nunique() > 1)
        print(f"lr finder on one of the {len(schema.targets)} targets, {first!r}")
        schema = schema.of(first)
    y, ok = targets(metric, schema, frame)
    rows = first_fit_rows(frame[FOLD].to_numpy(), validation, ok)
    n_classes = len(schema.classes) if schema.task == "multiclass" else 1
    learn, *_ = net.make_learner(proc, frame[rows], y[rows], schema.task, n_classes, metric.loss, cfg, "lr find")
    plot = paths.runs / run / "lr_find.png"
    result = learn.lr_find(plot=plot)
    print(
        f"lr finder: suggested lr {result['suggested_lr']:.2e} (plot: {plot}); the network's one cycle peaks at "
        f'net_lr={cfg.net_lr:g}: try ARGS="net_lr={result["suggested_lr"]:.1e}"'
    )
    return result
