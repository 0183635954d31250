"""The steps of every tabular competition: a card (pipelines/tabular/__init__.py) and its files are all they need.

features: read train / test / sample_submission (and the card's extra tables, joined on their keys), infer the
schema (pipelines/tabular/schema.py, printed), choose the validation that matches the test (a time-ordered
holdout as long as the test's span when every test date comes after train's; else k-fold, stratified for
classification), add the date's parts, fit Categorify / FillMissing / Normalize on the rows that train, and
write processed/{train,test}.feather with each labelled row's fold.

train: LightGBM on the metric's training target (log1p for rmsle, log for rmspe...), the headline score from rows
that chose nothing. k-fold: each fold's model early-stops on its fold, and its out-of-fold predictions are
taken at the median round count of the *other* folds; the test predictions are the folds' average. Time: the
rounds are chosen on the horizon before the holdout (early stopping there), a model of that many rounds on every
row before the holdout scores it, and (`refit`) one on every row predicts the test.

predict: the test predictions in sample_submission.csv's own format, validated, into submissions/COMP/RUN.csv.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

from features import TabularProcessor, add_datepart, join_df
from features.io import atomic_write_text, read_feather, write_feather
from models import gbdt
from models.metrics import Metric, from_target, get_metric, to_target
from pipelines import submit as submitlib
from pipelines.config import fingerprint, to_dict
from pipelines.cv import assign_folds, choose_out_of_fold
from pipelines.paths import Paths
from pipelines.runs import RunDir, features_fingerprint, inputs_fingerprint, write_features_stamp
from pipelines.tabular import FILES, Card, TabularConfig
from pipelines.tabular.schema import Schema, SchemaError, as_class_index, describe, infer

# The date's parts: cycles as categories (every value recurs), the year and the time since 1970 as numbers (a
# test year that train has not seen must sort after train's, not fall into the unknown category).
DATE_CATEGORIES = ("Month", "Week", "Day", "Dayofweek", "Is_month_end", "Is_month_start")
DATE_CATEGORIES += ("Is_quarter_end", "Is_quarter_start", "Is_year_end", "Is_year_start")
DATE_NUMBERS = ("Year", "Dayofyear", "Elapsed")
TIME_NUMBERS = ("Hour", "Minute")
FOLD = "_fold"  # processed/train.feather: the fold a labelled row is held out in (time: 0 the holdout,
# 1 the horizon before it, which chooses the rounds; -1 the rows before that)


def id_column(card: Card, paths: Paths) -> str:
    """The card's id, else sample_submission.csv's first column (its header alone is read)."""
    return card.id or pd.read_csv(paths.raw / card.file("sample"), nrows=0).columns[0]


def read_csv(path, what: str, text: tuple[str, ...] = ()) -> pd.DataFrame:
    """A competition CSV (the `text` columns read as written: an id 001500 keeps its zeros), or
    FileNotFoundError / ValueError naming it and the fix."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: `make download COMP=...` (or set files= in the card)")
    try:
        header = pd.read_csv(path, nrows=0).columns
        return pd.read_csv(path, low_memory=False, dtype={c: str for c in text if c in header})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: unreadable as CSV ({e}); {what}") from None


def read_raw(card: Card, paths: Paths) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """train, test and sample submission, with the card's extra tables joined onto train and test."""
    fix = "download it again (make download FORCE=1)"
    ids = (id_column(card, paths),)
    train, test, sample = (read_csv(paths.raw / card.file(role), fix, ids) for role in FILES)
    for name, keys in card.tables.items():
        table = read_csv(paths.raw / name, fix)
        for frame_name in ("train", "test"):
            frame = train if frame_name == "train" else test
            joined = join_df(frame, table, list(keys), names=(card.file(frame_name), name), allow_unmatched=True)
            added = [c for c in table.columns if c not in keys]
            missing = int(joined[added].isna().all(axis=1).sum()) if added else 0
            if missing:
                print(f"join {name} onto {card.file(frame_name)}: {missing:,} of {len(frame):,} rows found no match")
            if frame_name == "train":
                train = joined
            else:
                test = joined
    return train, test, sample


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
        span = (test[schema.date].max() - test[schema.date].min()).days + 1
        out["horizon_days"] = cfg.horizon or int(span)
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
    if schema.task == "regression":
        rng = np.random.default_rng(cfg.fold_seed)
        return rng.permutation(len(train)) % cfg.folds
    return assign_folds(as_class_index(schema, train[schema.target_column]), cfg.folds, cfg.fold_seed)


def build_features(card: Card, paths: Paths, cfg: TabularConfig) -> dict:
    """raw -> processed/{train,test}.feather, procs.json, schema.json and validation.json (see the module doc)."""
    t0 = time.perf_counter()
    train, test, sample = read_raw(card, paths)
    files = {role: card.file(role) for role in FILES}
    schema = infer(card, train, test, sample, files)
    print(describe(schema, card.metric))
    train = train[train[schema.target_column].notna()].reset_index(drop=True)
    cats, conts = list(schema.categories), list(schema.numbers)
    if schema.date:
        for frame in (train, test):
            frame[schema.date] = pd.to_datetime(frame[schema.date], format=schema.date_format)
    validation = choose_validation(schema, train, test, cfg)
    folds = assign(schema, train, validation, cfg)
    print(f"validation: {validation['kind']} ({validation['why']})")
    if schema.date:
        prefix = schema.date if not schema.date.lower().endswith("date") else schema.date[:-4]
        hours = "%H" in schema.date_format
        train, test = (add_datepart(f, schema.date, drop=False, prefix=prefix, time=hours) for f in (train, test))
        cats += [prefix + p for p in DATE_CATEGORIES]
        conts += [prefix + p for p in DATE_NUMBERS + (TIME_NUMBERS if hours else ())]
    fit_rows = train[folds != 0] if validation["kind"] == "time" else train
    proc = TabularProcessor(cats, conts).fit(fit_rows)
    keep = [schema.id] if schema.id in train.columns else []
    labels = [schema.label] if schema.label else schema.targets
    columns = proc.all_cat_names + proc.cont_names
    out_train = proc.transform(train)[keep + columns].assign(**{c: train[c] for c in labels}, **{FOLD: folds})
    out_test = proc.transform(test)[[schema.id, *columns]]
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
        seconds=round(time.perf_counter() - t0, 2),
    )
    print(
        f"processed: {paths.processed} ({len(out_train):,} labelled rows, {len(out_test):,} test rows, {len(columns)} features)"
    )
    return summary


def load(paths: Paths, cfg: TabularConfig) -> tuple[Schema, dict, TabularProcessor]:
    """What the features step decided (schema, validation, procs), checked against the raw data and settings;
    the frames are read by the step that needs them."""
    features_fingerprint(paths, cfg)  # built, from the raw data there now, with these settings
    schema = Schema(**json.loads((paths.processed / "schema.json").read_text()))
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


def submission_form(metric: Metric, schema: Schema, raw: np.ndarray, threshold: float = 0.5):
    """Model outputs (target scale or probabilities) -> what the metric scores: numbers, P(class 1) (a column per
    class where the submission has one), a rows x classes matrix, labels (class indices; binary at
    `threshold`) or the top k classes of each row (map@k)."""
    if schema.task == "regression":
        return from_target(metric, raw)
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


def train(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> dict:
    """LightGBM per fold (see the module doc); result.json's headline `oof_<metric>`."""
    schema, validation, proc = load(paths, cfg)
    metric = get_metric(card.metric)
    rd = RunDir(paths.runs / run)
    identity = {**fingerprint(cfg), "inputs": inputs_fingerprint(paths)}
    done = rd.finished(identity)
    if done is not None:
        print(f"{rd.path}: already trained with these settings and this code; reusing")
        return done
    rd.start({"run": identity})
    frame, test = (read_feather(paths.processed / f"{name}.feather") for name in ("train", "test"))
    t0 = time.perf_counter()
    names = proc.all_cat_names + proc.cont_names
    x, x_test = frame[names].to_numpy(np.float32), test[names].to_numpy(np.float32)
    y, ok = targets(metric, schema, frame)
    folds = frame[FOLD].to_numpy()
    params = gbdt.GBDTParams.from_config(cfg, seed=cfg.seed, **objective(metric, schema))
    shape = (len(frame), len(schema.classes)) if schema.task == "multiclass" else (len(frame),)
    oof, test_raw, rounds = np.full(shape, np.nan), np.zeros((len(test), *shape[1:])), []
    if validation["kind"] == "time":
        before, inner, held = folds == -1, folds == 1, folds == 0
        if not (before.any() and inner.any() and held.any()):
            raise ValueError(
                f"{paths.processed}: the time validation's windows are not all there (built by older code?); "
                f"rebuild it: make features COMP={paths.comp}"
            )
        chooser = gbdt.fit(
            x[before & ok], y[before & ok], params, names, valid=(x[inner & ok], y[inner & ok]), label="gbdt rounds"
        )
        rounds = [gbdt.best_rounds(chooser)]
        scorer = gbdt.fit(x[~held & ok], y[~held & ok], params, names, rounds=rounds[0], label="gbdt holdout")
        gbdt.save(scorer, rd.path / "gbdt-holdout.txt")
        oof[held] = gbdt.predict(scorer, x[held])
        test_raw = gbdt.predict(scorer, x_test)
        if cfg.refit:  # every row, the holdout included, for the same rounds
            booster = gbdt.fit(x[ok], y[ok], params, names, rounds=rounds[0], label="gbdt refit")
            gbdt.save(booster, rd.path / "gbdt-refit.txt")
            test_raw = gbdt.predict(booster, x_test)
        scored, how = (
            held,
            f"the {validation['horizon_days']}-day holdout (rounds chosen on the {validation['horizon_days']} days before it)",
        )
    else:
        boosters, held_folds = [], sorted(set(folds.tolist()))
        for k in held_folds:
            fit, held = (folds != k) & ok, folds == k
            booster = gbdt.fit(
                x[fit], y[fit], params, names, valid=(x[held & ok], y[held & ok]), label=f"gbdt fold {k}"
            )
            gbdt.save(booster, rd.path / f"gbdt-fold{k}.txt")
            boosters.append(booster)
            rounds.append(gbdt.best_rounds(booster))
            test_raw += gbdt.predict(booster, x_test) / len(held_folds)
        for i, k in enumerate(held_folds):  # each fold scored at a round count its own rows did not choose
            others = int(np.median([r for j, r in enumerate(rounds) if j != i]))
            oof[folds == k] = gbdt.predict(boosters[i], x[folds == k], min(others, boosters[i].current_iteration()))
        scored, how = (
            np.ones(len(frame), bool),
            f"{len(held_folds)} folds, out of fold (each at the other folds' rounds)",
        )
    refit = validation["kind"] == "time" and cfg.refit
    threshold = 0.5
    if metric.threshold and schema.task == "binary" and validation["kind"] == "kfold":
        # chosen on the other folds for each fold's score, on every row for the submission
        threshold, score = choose_out_of_fold(
            lambda p, y: best_threshold(metric, schema, p, y),
            lambda p, y, t: metric.score(y, submission_form(metric, schema, p, t)),
            oof,
            truth(schema, frame),
            folds,
        )
    else:
        score = metric.score(truth(schema, frame)[scored], submission_form(metric, schema, oof[scored]))
    np.save(rd.path / "test_raw.npy", test_raw)
    oof_frame = pd.DataFrame(oof.reshape(len(frame), -1)).rename(columns=str).assign(**{FOLD: folds})
    write_feather(oof_frame, rd.path / "oof.feather")
    result = {
        f"oof_{metric.name}": round(float(score), 6),
        "metric": metric.name,
        "validation": validation,
        "rounds": rounds,
        "refit": refit,
        "members": {"gbdt": round(float(score), 6)},
        "scored_rows": int(scored.sum()),
        "scored_on": how,
        "threshold": threshold,
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    print(f"{metric.name} {score:.5f} on {how} ({int(scored.sum()):,} rows; LightGBM rounds {rounds})")
    rd.finish(result, to_dict(cfg))
    return result


def predict(card: Card, paths: Paths, cfg: TabularConfig, run: str):
    """submissions/COMP/RUN.csv in sample_submission.csv's format, validated against it."""
    schema, _, _ = load(paths, cfg)
    test = read_feather(paths.processed / "test.feather", columns=[schema.id])
    metric = get_metric(card.metric)
    rd = RunDir(paths.runs / run)
    if not rd.is_complete():
        raise FileNotFoundError(f"{rd.result} not found: make train COMP={paths.comp} RUN={run}")
    sample = read_csv(paths.raw / card.file("sample"), "download it again", (schema.id,))
    raw = np.load(rd.path / "test_raw.npy")
    order = pd.Series(np.arange(len(test)), index=test[schema.id].astype(str))
    missing = ~sample[schema.id].astype(str).isin(order.index)
    if missing.any():
        first = sample[schema.id][missing].iloc[0]
        raise ValueError(f"{card.file('sample')}: {int(missing.sum())} ids not in {card.file('test')} (e.g. {first})")
    raw = raw[order.loc[sample[schema.id].astype(str)].to_numpy()]
    form = submission_form(metric, schema, raw, rd.read_json("result.json").get("threshold", 0.5))
    sub = sample[[schema.id]].copy()
    value = [c for c in sample.columns if c != schema.id]  # the sample's names, whatever the card calls the target
    if schema.label:  # one column per class
        sub[schema.classes] = form
        rules = {c: submitlib.probability() for c in schema.classes}
    elif schema.task == "regression":
        sub[value[0]], rules = form, {value[0]: submitlib.number()}
    elif metric.submits == "probability":
        sub[value[0]], rules = form, {value[0]: submitlib.probability()}
    elif metric.submits == "ranked":
        sub[value[0]], rules = [" ".join(str(schema.classes[i]) for i in row) for row in form], {}
    else:
        sub[value[0]] = [schema.classes[i] for i in form]
        rules = {value[0]: submitlib.label([str(c) for c in schema.classes])}
    path = submitlib.write_submission(sub, sample, schema.id, paths.submissions / f"{run}.csv", columns=rules)
    result = rd.read_json("result.json")
    print(
        f"submission: {path} ({len(sub):,} rows; {metric.name} {result[f'oof_{metric.name}']} on {result['scored_on']})"
    )
    return path


def submit(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> None:
    """Validate the run's submission again and send it to Kaggle with its out-of-fold score."""
    path = paths.submissions / f"{run}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: make predict COMP={paths.comp} RUN={run}")
    sample = read_csv(paths.raw / card.file("sample"), "download it again", (id_column(card, paths),))
    sub = submitlib.read_submission(path, text=(sample.columns[0],))
    submitlib.validate_submission(sub, sample, sample.columns[0], where=str(path))
    result = RunDir(paths.runs / run).read_json("result.json")
    key = f"oof_{get_metric(card.metric).name}"
    submitlib.submit(card.slug, paths.comp, path, f"{run} {key}={result.get(key)}")


def lr_find(card: Card, paths: Paths, cfg: TabularConfig, run: str) -> None:
    raise ValueError(
        "lr-find: the tabular kind trains LightGBM, which has no learning-rate finder; tune gbdt_lr with "
        "ARGS='gbdt_lr=...' against the out-of-fold score"
    )
