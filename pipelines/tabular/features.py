"""The features step of every tabular competition: a card (pipelines/tabular/__init__.py) and its files are all
it needs.

Read train / test / sample_submission (the card's extra_train rows below train's, its extra tables joined on their
keys), run the card's own feature function where it has one, infer the schema (schema.py, printed), choose the
validation that matches the test (validation.py), add the date's parts, fit Categorify / FillMissing / Normalize
on the rows that train, and write processed/{train,test}.feather with each labelled row's fold.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from features import TabularProcessor, add_datepart, add_series_levels, aggregate, days_since_1970, join_df
from features.io import atomic_write_text, write_feather, write_sparse
from features.procs import sentinels
from features.tables import NUMBER_STATS
from features.text import CHAR_BUDGET, text_features
from models.metrics import Metric, get_metric
from pipelines.paths import Paths
from pipelines.runs import features_identity, write_features_stamp
from pipelines.tabular import FILES, Card, TabularConfig
from pipelines.tabular.rows import DRAW, Rows, fewer_rows
from pipelines.tabular.schema import (
    ID_NAME,
    UNIX,
    Schema,
    SchemaError,
    align_ids,
    column_kind,
    describe,
    infer,
    is_code,
    label_text,
    not_a_feature,
    parse_dates,
    sample_id,
    series_keys,
    targets,
)
from pipelines.tabular.validation import assign, choose_validation, kfolds, test_span

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
# processed/text.npz: the free text columns' TF-IDF (features.text), train's rows then the test's, as the
# feathers' rows; absent without free text
TEXT_MATRIX = "text.npz"
EXTRA = "_extra"  # the rows read from the card's extra_train files, until the folds are assigned
# the id as written, where the id is the date too (Bike Sharing's datetime): the date column is parsed in place
ID_TEXT = "_id_as_written"


def id_column(card: Card, paths: Paths) -> str:
    """The id column (schema.sample_id), from the headers of sample_submission.csv and test.csv; said where it is
    not the sample's first column."""
    sample, test = paths.raw / card.file("sample"), paths.raw / card.file("test")
    if card.id:
        return card.id
    if not sample.is_file():
        raise FileNotFoundError(f"{sample} not found: `make download COMP={paths.comp}` (or set files= in the card)")
    columns = list(pd.read_csv(sample, nrows=0).columns)
    id_col = sample_id(card, columns, list(pd.read_csv(test, nrows=0).columns) if test.is_file() else columns)
    if id_col != columns[0]:
        print(
            f"{sample.name}: its id is {id_col!r}, the one of its columns {test.name} has (its first is {columns[0]!r})"
        )
    return id_col


def read_csv(path, what: str, text: tuple[str, ...] = (), kept: Callable | None = None) -> pd.DataFrame:
    """A competition CSV, or FileNotFoundError / ValueError naming it and the fix. The `text` columns (in any
    case) read as written where numbers would change them (an id 001500 keeps its zeros); else numbers, so that a
    table or a feature function joins on them as read. With `kept` (rows.py's Rows.kept: path -> the rows kept as
    CSV, their draws), those rows, typed as a file of them would be, each with its draw (DRAW)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: `make download COMP=...` (or set files= in the card)")
    try:
        wanted = {t.lower() for t in text}
        header = pd.read_csv(path, nrows=0).columns
        source, draw = (path, None) if kept is None else kept(path)
        frame = pd.read_csv(source, low_memory=False, dtype={c: str for c in header if c.lower() in wanted})
        for c in [c for c in header if c.lower() in wanted]:
            number = pd.to_numeric(frame[c], errors="coerce")
            if number.notna().all() and not (frame[c].str.startswith("0") & (frame[c].str.len() > 1)).any():
                frame[c] = number
        return frame if draw is None else frame.assign(**{DRAW: draw})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, pa.ArrowInvalid) as e:
        raise ValueError(f"{path}: unreadable as CSV ({e}); {what}") from None


def read_raw(card: Card, paths: Paths, rows: Rows | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """train, test and sample submission, with the card's extra tables joined onto train and test. With `rows`
    (rows=), train holds the labelled rows it may train on (rows.py)."""
    fix = "download it again (make download FORCE=1)"
    ids = (id_column(card, paths),)
    test, sample = (read_csv(paths.raw / card.file(role), fix, ids) for role in ("test", "sample"))
    path = paths.raw / card.file("train")
    targets = [c for c in (*card.target, *sample.columns) if c != ids[0]]  # those train.csv has: rows.kept
    train = read_csv(path, fix, ids, None if rows is None else lambda p: rows.kept(p, test, targets))
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
            + (
                f"; ids {extra[id_col].iloc[0]}..{extra[id_col].iloc[-1]} of their own"
                if id_col in extra and len(extra)
                else ""
            )
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
    """train and test with the card's extra tables joined on their keys: a table of one row a key as it is (a
    column also in train kept once), a table of several rows a key as one row a key (`aggregated`), a table keyed
    by another table's column (Home Credit's bureau_balance.csv by bureau.csv's SK_ID_BUREAU) folded into that
    table first; `answers`: the sample's columns (a table holding them, as MoA's targets file does, has train's
    rows only). Each table is read when it is folded and let go after."""
    fix = "download it again (make download FORCE=1)"
    headers = {}
    for name, keys in card.tables.items():
        if not (raw / name).is_file():
            raise FileNotFoundError(f"{raw / name} not found (the card's tables= names it): {fix}, or name another")
        headers[name] = list(pd.read_csv(raw / name, nrows=0).columns)
        missing = [k for k in keys if k not in headers[name]]
        if missing:
            raise ValueError(
                f"{raw / name}: no key column {missing} (the card's tables= names it); it has {headers[name][:10]}: "
                f"name one of those, and where train calls it otherwise, rename the column in one of the files"
            )
    parents = {name: table_parent(card, name, raw, headers, {*train.columns, *test.columns}) for name in card.tables}
    unjoined = sorted(n for n, p in parents.items() if p is not None and not reaches_train(n, parents))
    if unjoined:  # a table keyed by a table keyed by it is never reached
        raise ValueError(f"the card's tables= keys {unjoined} by each other's columns: none joins onto train")

    def folded(name: str) -> tuple[pd.DataFrame, set[str]]:
        """Table `name` with the tables keyed by its columns folded in, and the columns they added."""
        table, added = read_csv(raw / name, fix, card.tables[name]), set()  # keys as written where numbers change them
        for child in [c for c, p in parents.items() if p == name]:
            keys = list(card.tables[child])
            rows, derived = folded(child)
            ready = one_row_a_key(
                card, child, same_keys(rows, table, keys, child, name), keys, set(table.columns), name, derived
            )
            table = joined_onto(table, name, ready, child, keys)
            added |= set(ready.columns) - set(keys)
        return table, added

    for name, keys in card.tables.items():
        if parents[name] is not None:
            continue
        rows, derived = folded(name)
        rows = same_keys(rows, train, list(keys), name, card.file("train"))
        table = one_row_a_key(
            card, name, rows, list(keys), {*train.columns, *test.columns}, card.file("train"), derived
        )
        train = joined_onto(train, card.file("train"), table, name, list(keys))
        test = joined_onto(test, card.file("test"), table, name, list(keys), answers)
    return train, test


def reaches_train(name: str, parents: dict[str, str | None]) -> bool:
    """Whether table `name`'s chain of parents ends at train (a cycle never does)."""
    seen = set()
    while parents[name] is not None and name not in seen:
        seen.add(name)
        name = parents[name]
    return parents[name] is None


def table_parent(card: Card, name: str, raw: Path, headers: dict[str, list[str]], frame_columns: set) -> str | None:
    """None where table `name`'s keys are train's (or the test's) columns, else the other table of the card that
    holds them, where it holds each once (bureau_balance.csv's SK_ID_BUREAU: bureau.csv, whose rows it names;
    installments_payments.csv's SK_ID_PREV: previous_application.csv, not POS_CASH_balance.csv, which repeats it);
    ValueError naming the fix otherwise."""
    keys = list(card.tables[name])
    if all(k in frame_columns for k in keys):
        return None
    having = [other for other, columns in headers.items() if other != name and all(k in columns for k in keys)]
    holders = having  # of several, the one whose rows they name: each key once there
    if len(having) > 1:
        holders = [h for h in having if not pd.read_csv(raw / h, usecols=keys).dropna().duplicated().any()]
    if len(holders) != 1:
        where = (
            "no other table of the card has them"
            if not having
            else (f"{len(having)} of its tables have them ({having}), {len(holders) or 'none'} of which once a row")
        )
        raise ValueError(
            f"the card's tables= joins {name} on {keys}: not columns of {card.file('train')}, and {where}; a table "
            f"joins onto train or onto the one other table whose rows they name (where train calls the key "
            f"otherwise, rename the column in one of the files)"
        )
    return holders[0]


def same_keys(table: pd.DataFrame, frame: pd.DataFrame, keys: list[str], name: str, frame_name: str) -> pd.DataFrame:
    """`table` with its keys written as `frame`'s: text read as numbers where the frame has numbers and each reads
    as one (007 onto 7), numbers as text where the frame has text (200000 onto train's ids 000123, 200000)."""
    out = {}
    for k in keys:
        if pd.api.types.is_numeric_dtype(frame[k]) and not pd.api.types.is_numeric_dtype(table[k]):
            numbers = pd.to_numeric(table[k], errors="coerce")
            if numbers.notna().sum() == table[k].notna().sum():
                out[k] = numbers
        elif not pd.api.types.is_numeric_dtype(frame[k]) and pd.api.types.is_integer_dtype(table[k]):
            out[k] = table[k].astype("string").astype(frame[k].dtype)
    for k, values in out.items():
        if not values.isin(frame[k]).any():  # read alike, still none in common (000123 and 123): written otherwise
            raise ValueError(
                f"the key {k!r} is written otherwise in {name} than in {frame_name} (e.g. {table[k].iloc[0]!r} and "
                f"{frame[k].iloc[0]!r}), and no value is in both: write it the same way in both files"
            )
    if out:
        print(f"{name}: keys {sorted(out)} read as {frame_name} writes them")
    return table.assign(**out)


def one_row_a_key(
    card: Card, name: str, table: pd.DataFrame, keys: list[str], onto: set[str], onto_name: str, derived: set
) -> pd.DataFrame:
    """Table `name` ready to join on `keys` onto a frame of columns `onto`: without rows of no key (said); one row a key where it
    has several (`aggregated`; `derived`: the columns its own child tables' summaries added), else as it is but for
    the columns `onto` has already (Walmart's IsHoliday, in train.csv and features.csv: train's kept)."""
    keyless = table[keys].isna().any(axis=1)
    if keyless.any():  # a row of no key joins nothing (and blank keys would read as several rows a key)
        print(f"{name}: {int(keyless.sum()):,} of {len(table):,} rows have no {' / '.join(keys)}: left out")
        table = table[~keyless]
    if table.duplicated(keys).any():  # its summaries are columns of their own (bureau_AMT_CREDIT_mean)
        return aggregated(card, name, table, keys, derived)
    both = [c for c in table.columns if c not in keys and c in onto]
    if both:
        print(f"{name}: {both} also in {onto_name}: {onto_name}'s kept")
    return table.drop(columns=both)


def joined_onto(
    frame: pd.DataFrame, frame_name: str, table: pd.DataFrame, name: str, keys: list[str], answers: set = frozenset()
) -> pd.DataFrame:
    """`frame` with `table` (one row a key) joined on `keys`, the rows it lacks said (a table holding `answers`,
    the sample's columns, and none of the frame's rows: a table of train's rows only); an aggregated table's
    `<name>_rows` is 0 where a key has none of its rows, unless no row of the frame has one (a table keyed by
    train's days only: then it is as empty as its other columns, and not a feature)."""
    joined = join_df(frame, table, keys, names=(frame_name, name), allow_unmatched=True)
    added = [c for c in table.columns if c not in keys]
    missing = int(joined[added].isna().all(axis=1).sum()) if added else 0
    if missing == len(frame) and set(added) & answers:
        print(f"join {name} onto {frame_name}: no test row is in it (a table of train's rows only)")
    elif missing:
        print(f"join {name} onto {frame_name}: {missing:,} of {len(frame):,} rows found no match")
    rows = f"{Path(name).stem}_rows"
    if rows in added and missing < len(frame):
        joined[rows] = joined[rows].fillna(0)
    return joined


def aggregated(card: Card, name: str, table: pd.DataFrame, keys: list[str], derived: set = frozenset()) -> pd.DataFrame:
    """A table of several rows a key as one row a key (features.aggregate), its columns read as the train's are
    (schema.column_kind; the card's categories=, text= and drop= count here too), but for ids: a column named as
    one (SK_ID_BUREAU, order_id, userId) that is unique in the table is its rows' own id and left out, any other is
    a code and a category (Elo's city_id); free text is left out. `derived`: columns its own child tables' summaries
    added (bureau_balance_city_id_distinct: a number, whatever its name)."""
    prefix = Path(name).stem
    kinds: dict[str, list[str]] = {"number": [], "date": [], "category": []}
    left, formats = {}, {}  # column -> why it is left out; a date column -> its format
    for c in table.columns.drop(keys):
        kind, why = (
            ("drop", "drop=") if c in card.drop else ("category", "") if c in card.categories else column_kind(table[c])
        )
        if (
            ID_NAME.search(c)
            and c not in derived
            and kind in ("number", "text", "category")
            and c not in card.categories
        ):
            kind, why = ("drop", "a row id") if table[c].dropna().is_unique else ("category", "")
        if c in card.text or kind == "text":
            kind, why = "drop", "text"
        if kind == "date":
            formats[c] = why  # column_kind's: its format
        if kind in kinds:
            kinds[kind].append(c)
        else:
            left[c] = why
    table = table.assign(  # numbers read as text (a blank among them): what is not a number is missing
        **{c: pd.to_numeric(table[c], errors="coerce") for c in kinds["number"]},
        **{c: parse_dates(table[c], f, errors="coerce") for c, f in formats.items()},
    )
    found = found_sentinels(card, kinds["number"], table, where=f"{name}: ")
    flags = {f"{c}={v:g}": table[c] == v for c, values in found.items() for v in values}  # each key's share of them
    table = masked(table, found).assign(**flags)
    out = aggregate(
        table,
        keys,
        prefix,
        numbers=kinds["number"],
        dates=kinds["date"],
        categories=kinds["category"],
        shares=list(flags),
    )
    print(
        f"{name}: {len(table):,} rows, {len(out):,} keys {keys}: joined as one row a key ({len(out.columns) - len(keys)}"
        f" columns): its rows' count, {len(kinds['number'])} numbers' mean/std/min/max/sum, {len(kinds['date'])} "
        f"dates' first/last, {len(kinds['category'])} categories' distinct values and commonest values' shares"
        + (f"; left out: {', '.join(f'{c} ({why})' for c, why in left.items())}" if left else "")
    )
    return out


def found_sentinels(card: Card, columns: list[str], fit: pd.DataFrame, where: str = "") -> dict[str, list]:
    """Each number column's sentinels (features.procs.sentinels: codes for "none" such as 365243), found in `fit`
    and said; not in the card's as_is= columns, nor in a table's summaries of them (previous_<col>_max); never the
    value the card's fill= gave a column's blanks (it means that value)."""
    stats = "|".join(NUMBER_STATS)
    kept = [re.compile(rf"(.*_)?{re.escape(a)}(_({stats}))*") for a in card.as_is]
    found = {
        c: v
        for c in columns
        if not any(k.fullmatch(c) for k in kept) and (v := [s for s in sentinels(fit[c]) if s != card.fill.get(c)])
    }
    for c, codes in found.items():  # numbers already (both callers read them as numbers first)
        rest = fit[c][~fit[c].isin(codes)]
        print(
            f"{where}{c}: {' and '.join(f'{v:g}' for v in codes)} in {fit[c].isin(codes).mean():.1%} of the rows, far "
            f"past the others ({rest.min():g} to {rest.max():g}): read as missing, a code for none (as_is=({c!r},) "
            f"in the card keeps the number)"
        )
    return found


def masked(frame: pd.DataFrame, found: dict[str, list]) -> pd.DataFrame:
    """`frame` with the sentinels `found` (column -> codes) read as missing."""
    return frame.assign(**{c: frame[c].mask(frame[c].isin(v)) for c, v in found.items()})


def in_tables(card: Card, raw: Path, column: str) -> bool:
    """Whether one of the card's tables= files has `column` (its header read)."""
    return any(column in pd.read_csv(raw / name, nrows=0).columns for name in card.tables)


def without_summarised(card: Card, raw: Path, train: pd.DataFrame) -> Card:
    """The card without the categories=, text= and drop= names of columns that only a tables= file has (a table of
    several rows a key, summarised by `aggregated`, which read those lines): they are not train's columns."""
    held = {c for name in card.tables for c in pd.read_csv(raw / name, nrows=0).columns}
    lines = {
        k: tuple(c for c in getattr(card, k) if c in train.columns or c not in held)
        for k in ("categories", "text", "drop")
    }
    return dataclasses.replace(card, **lines)


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
        fit, rows = (f.drop(columns=ID_TEXT, errors="ignore") for f in (fit, rows))  # the frames as read
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


def add_text(schema: Schema, train, test, dims: int, words: int):
    """(train, test, the columns added, the texts' TF-IDF: train's rows then the test's, every text column's side by
    side, or None): each free text column of the schema as numbers (features.text.text_features: its length, its
    `words` commonest words' counts and `dims` TF-IDF components); where it yields none (no word in two rows) the
    column is moved to the schema's dropped, with why."""
    added, matrices = [], []
    characters = sum(int(f[c].fillna("").astype(str).str.len().sum()) for c in schema.texts for f in (train, test))
    chars = characters <= CHAR_BUDGET  # every column's characters' n-grams, or none: the budget is the table's
    for c in list(schema.texts):
        built = text_features(train[c], test[c], dims, words, chars=chars)
        if built is None:
            why = "no word of it occurs in two rows (an id, a code of its own per row)"
            schema.dropped[c] = f"{schema.texts.pop(c)}; {why}"
            print(f"not a feature: {c} ({schema.dropped[c]})")
            continue
        on_train, on_test = built.train.set_axis(train.index), built.test.set_axis(test.index)
        taken = sorted(set(on_train.columns) & {*train.columns, *test.columns})
        if taken:
            raise SchemaError(
                f"the free text {c!r} is read as columns {taken[:3]}, and a column of that name is in the files "
                f"already: rename that column in the card's features= function"
            )
        print(built.said)
        train, test = pd.concat([train, on_train], axis=1), pd.concat([test, on_test], axis=1)
        added += list(on_train.columns)
        matrices.append(built.tfidf)
    tfidf = matrices[0] if len(matrices) == 1 else sp.hstack(matrices, format="csr") if matrices else None
    return train, test, added, tfidf


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


HINT_VALUES = 50  # a category of this many values or more, with one id found, may be the other (dot_pair)


def dot_pair(card: Card, schema: Schema, fit_rows: pd.DataFrame, test: pd.DataFrame) -> list[str]:
    """The dot member's user and item (pipelines/tabular/collab.py), said: of the ids read as codes, those the card's
    codes= names first, then those of the most values in the rows the models fit; [] with fewer than two. With one
    id read as a code, the categories that could be the other (schema.is_code, HINT_VALUES values or more) are
    named, those of the most values first."""
    lone = len(schema.codes) == 1  # every category's values counted only then
    values = {c: fit_rows[c].nunique() for c in (schema.categories if lone else schema.codes)}
    if lone:
        other = [
            c
            for c in sorted(schema.categories, key=lambda c: -values[c])
            if c not in schema.codes and values[c] >= HINT_VALUES and is_code(fit_rows[c], test[c])
        ]
        if other:
            print(
                f"one id read as a code ({schema.codes[0]}); {', '.join(other)} may be the other (a category of many "
                f"values that repeat): the card's codes=({schema.codes[0]!r}, {other[0]!r}) pairs them for the dot member"
            )
    named = [c for c in card.codes if c in schema.codes]
    rest = sorted((c for c in schema.codes if c not in named), key=lambda c: -values[c])
    if len(named) + len(rest) < 2:
        return []
    pair = [c for c in schema.codes if c in (named + rest)[:2]]  # in the table's order
    why = {
        2: "the card's codes=, its first two",
        1: "the card's codes=, and the other id of the most values",
        0: "the two ids of the most values; the card's codes= names others",
    }[min(len(named), 2)]
    print(f"user and item (the dot member's pair): {pair[0]} x {pair[1]} ({why})")
    return pair


def build_features(card: Card, paths: Paths, cfg: TabularConfig) -> dict:
    """raw -> processed/{train,test}.feather, procs.json, schema.json and validation.json (see the module doc)."""
    t0 = time.perf_counter()
    rows = Rows(cfg.rows, cfg.fold_seed, card.date) if cfg.rows and card.features is None else None  # (its rows all)
    train, test, sample = read_raw(card, paths, rows)
    if card.features is not None:
        train, test = own_features(card, train, test, paths.raw)
    keep = {
        *sample.columns,
        card.date,
        *card.series,
        *card.categories,
        *card.text,
        *card.drop,
        *card.target,
        *card.as_is,
    }
    train, test = lightgbm_names(train, test, keep)
    files = {role: card.file(role) for role in FILES}
    if card.extra_train and EXTRA not in train.columns:
        raise ValueError(
            f"the card's features={hook_name(card.features)} dropped the column {EXTRA!r} that marks the rows of "
            f"extra_train={card.extra_train}: keep it in the train frame it returns"
        )
    extra = train.pop(EXTRA).to_numpy(bool) if EXTRA in train.columns else np.zeros(len(train), bool)
    draw = train.pop(DRAW).to_numpy(float) if DRAW in train.columns else None  # rows= read in chunks (rows.py)
    # train.csv says what it is; the card's lines that name a summarised table's columns were read there
    schema = infer(
        without_summarised(card, paths.raw, train), train[~extra].reset_index(drop=True), test, sample, files
    )
    if extra.any():
        check_extra_labels(card, schema, train[extra])
    if not cfg.text_dims and not cfg.text_words:
        schema.dropped |= {c: f"{why}; text_dims=0 and text_words=0" for c, why in schema.texts.items()}
        schema.texts = {}
    print(describe(schema, card.metric, card.positive))
    if keys := series_keys(schema, train[~extra] if extra.any() else train):  # (no copy of a large table)
        print(
            f"{', '.join(keys)}: every value on every date, as the keys of series are (a store, an item): the card's "
            f"series={tuple(keys)!r} reads them so (categories the network embeds, k-fold's unit; levels=true: each "
            f"series' lagged levels); as numbers the network cannot tell one from another"
        )
    labels = [schema.label] if schema.label else schema.targets
    labelled = train[labels].notna().any(axis=1).to_numpy()  # several: each target trains on the rows that have it
    if not labelled.all():
        print(f"{files['train']}: {int((~labelled).sum()):,} rows without a target are not used")
    blank = {c: n for c, n in train[labels][labelled].isna().sum().items() if n}
    if blank:
        shown = ", ".join(f"{c} {n:,}" for c, n in blank.items())
        print(
            f"{files['train']}: rows lacking some targets ({shown} blank): each target trains and is scored on its own"
        )
    train, extra = train[labelled].reset_index(drop=True), extra[labelled]
    draw = None if draw is None else draw[labelled]
    if card.extra_train and not extra.any():
        raise SchemaError(f"card: extra_train={card.extra_train}: no row of them has the target {labels}")
    if schema.date:
        if schema.date == schema.id:  # the submission's ids as written (NYC Taxi's 2015-01-27 13:08:24.0000002)
            train[ID_TEXT], test[ID_TEXT] = train[schema.id], test[schema.id]
        for frame in (train, test):
            frame[schema.date] = parse_dates(frame[schema.date], schema.date_format)
    train, extra = fewer_rows(schema, train, extra, test, cfg, draw, rows)
    cats, conts = list(schema.categories), list(schema.numbers)
    for c, fmt in schema.other_dates.items():  # a date beside the date: its days since 1970
        train[c], test[c] = (days_since_1970(parse_dates(f[c], fmt, errors="coerce")) for f in (train, test))
    for c in conts:  # numbers read as text (a blank among them): what is not a number is missing
        if not pd.api.types.is_numeric_dtype(train[c]) or not pd.api.types.is_numeric_dtype(test[c]):
            numbers = [pd.to_numeric(f[c], errors="coerce") for f in (train, test)]
            bad = sum(int((f[c].notna() & n.isna()).sum()) for f, n in zip((train, test), numbers, strict=True))
            print(f"{c}: numbers written as text; {bad:,} values not numbers read as missing")
            train[c], test[c] = numbers
    wrong = [c for c in card.fill if c not in conts]
    if wrong:
        excluded = {schema.id, *schema.targets, *card.drop}
        why = {
            c: "a category: its blank is a class of its own"
            if c in cats
            else not_a_feature(c, train, test, excluded, files)
            for c in wrong
        }
        raise SchemaError(f"card: fill= names {', '.join(f'{c!r}, {w}' for c, w in why.items())}; fill= is for numbers")
    for c, value in card.fill.items():  # a blank that means a value (no garage: 0), in train and test alike
        train[c], test[c] = train[c].fillna(value), test[c].fillna(value)
    found = found_sentinels(card, conts, train[~extra])  # FillMissing's <col>_na flags where they were
    train, test = masked(train, found), masked(test, found)
    unknown = [c for c in card.as_is if c not in train.columns and not in_tables(card, paths.raw, c)]
    if unknown:
        raise SchemaError(f"card: as_is= names {unknown}, not a column of {files['train']} or of a tables= file")
    tfidf = None
    if schema.texts:
        train, test, schema.from_text, tfidf = add_text(schema, train, test, cfg.text_dims, cfg.text_words)
        conts += schema.from_text
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
        hours = "%H" in schema.date_format or schema.date_format in UNIX
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
        schema.codes = [n for n in schema.codes if n != c]  # a code of cold-start users only: no pair of the dot's
    schema.pair = dot_pair(card, schema, fit_rows, test)
    proc = TabularProcessor(cats, conts).fit(fit_rows)
    if blank := [c for c in conts if test[c].isna().any() and c not in proc.fill.flagged]:
        proc.fill.advice = f" (where a blank means a value, 0 for none, the card says so: fill={{{blank[0]!r}: 0}})"
    keep = [schema.id] if schema.id in train.columns else []
    columns = proc.all_cat_names + proc.cont_names
    # one concat, not a column at a time: a feature function's hundred columns leave the frame in many blocks
    out_train = pd.concat(
        [proc.transform(train)[keep + columns], train[labels], pd.Series(folds, name=FOLD, index=train.index)], axis=1
    )
    out_test = proc.transform(test)[[schema.id, *columns]]
    if ID_TEXT in test.columns:
        out_train[schema.id], out_test[schema.id] = train[ID_TEXT].to_numpy(), test[ID_TEXT].to_numpy()
    if offsets is not None:  # not features: added to the predictions (train's, the test's)
        out_train[ADJUST], out_test[ADJUST] = offsets
    write_feather(out_train, paths.processed / "train.feather")
    write_feather(out_test, paths.processed / "test.feather")
    write_sparse(tfidf, paths.processed / TEXT_MATRIX)
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
