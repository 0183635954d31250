"""What a tabular competition's own files say about it: the id and target columns and the submission's form
(from sample_submission.csv), the task (from the metric and the target's values), each column's kind (date,
category, number, free text) and the features (the columns train and test share).

Everything read here can be overridden in the card; what is read is printed by the features step, so a wrong
guess is seen before any training.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.images import pixel_columns
from models.metrics import METRICS, Metric, get_metric, to_target
from pipelines.config import did_you_mean

# A text column with at least this many distinct values, in at least this share of its rows, is near-unique:
# free text (a description; values this long on average) or a name, a ticket, a cabin, a code: as a category
# nearly every value would be its own, seen once, nothing to learn from. Its words are read instead (features.text;
# the card's categories= keeps one a category), where House Prices' 43 text columns are all categories (fewer
# than 30 values each). A share, not a count
# of values: the backtest's cut (fewer rows) reads a column as the whole train and test do.
TEXT_MIN_UNIQUE, TEXT_MIN_SHARE, TEXT_MIN_LENGTH = 100, 0.5, 20
# Date formats tried in order on a sample of a column (one format for the whole column: "mixed" parsing reads
# 01/02/2013 as 2 January and 31/01/2013 as 31 January in the same column).
DATE_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M",
    "%d.%m.%Y", "%Y%m%d", "%Y-%m",
)  # fmt: skip
# A time zone after a time (NYC Taxi Fare's "2009-06-15 17:26:21 UTC", ISO's "...Z" and "...+02:00"): a format
# of DATE_FORMATS with ZONED after it reads the time as its clock showed it, the zone dropped (pandas refuses a
# column of mixed offsets whole, as a summer's +02:00 beside a winter's +01:00 is; the hour of day is what a model
# learns from, and a shift of an offset's hours does not move a day's order by more than those hours).
# (The zone follows a time: a format of DATE_FORMATS without %H is never ZONED.)
ZONE = r"(?:\s?(?:UTC|GMT)|Z|[+-]\d\d:?\d\d)$"
ZONED = " (zone dropped)"
# numbers the card's date= names, read as seconds or milliseconds since 1970 by their size (1973..2286): MovieLens's
# timestamp, a log's event time; a date's format, for parse_dates (never guessed for a column date= does not name)
UNIX = {"unix seconds": "s", "unix milliseconds": "ms"}


# a column named as an id (SK_ID_BUREAU, order_id, ID, userId): where its values repeat, a code (a category), not a
# quantity; in a summarised table, where they do not, the table's own row id
ID_NAME = re.compile(
    r"(^|[_\- ])(id|ID|Id)([_\- ]|$)|[a-z0-9](Id|ID)$"  # user_id, User-ID, userId, ID_code
    r"|(?i:(user|item|customer|product|movie|book|song|artist|article|session|client|member|shop)_?id)$"  # userid
)


class SchemaError(ValueError):
    """The files and the card disagree; the message names the file, the column and the fix."""


@dataclass
class Schema:
    """What the features step builds from (saved as processed/schema.json)."""

    id: str
    targets: list[str]  # the submission's value columns
    label: str | None  # the train column holding the class when the submission has one column per class
    task: str  # regression | binary | multiclass | multilabel
    classes: list  # class values (classification), in submission order where the submission has one column each
    date: str | None
    date_format: str | None
    series: list[str]
    categories: list[str]
    numbers: list[str]
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    only_in_train: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # free text column -> why (features.text reads its words)
    from_text: list[str] = field(default_factory=list)  # the numbers features.text made of them
    # date columns beside the date (Airbnb's date_first_booking): each a number, its days since 1970 (-> format)
    other_dates: dict[str, str] = field(default_factory=dict)
    # ids of users and items (a ratings table's userId, movieId; schema.is_code, or the card's codes=): categories,
    # and the dot member's pair
    codes: list[str] = field(default_factory=list)
    # the dot member's user and item: two of the codes (features.dot_pair), or none
    pair: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def read(cls, processed: Path) -> Schema:
        """The schema the features step wrote into `processed` (schema.json)."""
        return cls(**json.loads((processed / "schema.json").read_text()))

    @property
    def target_column(self) -> str:
        """The train column the model learns: the label column, or the (first) target."""
        return self.label or self.targets[0]

    @property
    def several(self) -> bool:
        """Several target columns, each a value column of the submission (Tabular Playground Jul 2021's three
        gases): one set of models each, scored as Kaggle's column-wise metrics are, the mean over the columns."""
        return self.label is None and len(self.targets) > 1

    def of(self, target: str) -> Schema:
        """This schema for one of its targets."""
        return replace(self, targets=[target])


def date_format(values: pd.Series) -> str | None:
    """The first format of DATE_FORMATS that reads every value of the column, or None (not dates); month-first
    wins over day-first only where no day is above 12. Tried on 5,000 distinct values of 50,000 rows at random
    first, the whole column only for a format that reads them (finding the distinct values of 5M timestamps, to
    try each format on, took seconds)."""
    values = values.dropna()
    sample = values.sample(min(len(values), 50_000), random_state=0).drop_duplicates().head(5000).astype(str)
    if sample.empty or not sample.str.contains(r"\d", regex=True).all():
        return None
    zoned = [f + ZONED for f in DATE_FORMATS if "%H" in f] if sample.str.contains(ZONE).any() else []
    for fmt in [*DATE_FORMATS, *zoned]:  # the zoned after the plain, where a value has a zone
        if all(parse_dates(v, fmt, errors="coerce").notna().all() for v in (sample, values.astype(str))):
            return fmt  # all(): the whole column is read only where the sample was
    return None


def unix_format(values: pd.Series) -> str | None:
    """The format UNIX names where every value is a number of seconds (or milliseconds) since 1970, else None."""
    numbers = pd.to_numeric(values.dropna(), errors="coerce")
    if not len(numbers) or numbers.isna().any():
        return None
    return next(
        (
            fmt
            for fmt, low in (("unix seconds", 1e8), ("unix milliseconds", 1e11))
            if numbers.between(low, 100 * low).all()
        ),
        None,
    )


def parse_dates(values: pd.Series, fmt: str | None, errors: str = "raise") -> pd.Series:
    """A date column as datetimes, in its format (date_format's, or UNIX's; None: pandas' guess from its first
    value, for a table's column of no one format); errors="coerce" reads a value not in it as missing."""
    if fmt is None:
        return pd.to_datetime(values, errors=errors)
    if fmt in UNIX:
        return pd.to_datetime(pd.to_numeric(values, errors=errors), unit=UNIX[fmt], errors=errors)
    if fmt.endswith(ZONED):  # pyarrow's regex: 5x pandas' str.replace (0.46 s against 2.3 s a million values)
        text = pc.replace_substring_regex(pa.array(values.astype("str"), from_pandas=True), ZONE, "")
        values, fmt = text.to_pandas().set_axis(values.index), fmt.removesuffix(ZONED)
    return pd.to_datetime(values, format=fmt, errors=errors)


def looks_like_dates(values: pd.Series) -> bool:
    """True when one date format reads the column (2013-01-01, 01/31/2013, 2011-01-20 00:00:00 ...)."""
    return date_format(values) is not None


def label_text(values: pd.Series) -> pd.Series:
    """Class labels as text, as a submission writes them: 4 (not 4.0) for an integer column read as floats
    because of missing values."""
    v = values.dropna()
    if pd.api.types.is_float_dtype(values) and len(v) and (v == v.round()).all():
        return values.astype("Int64").astype("string").astype(object).where(values.notna())
    return values.astype(object).where(values.isna(), values.astype(str))


def sort_classes(values: list) -> list:
    """Classes in their natural order: numbers numerically (2 before 10: quadratic kappa weighs by it), text
    alphabetically."""
    try:
        return sorted(values, key=float)
    except (TypeError, ValueError):
        return sorted(values, key=str)


def sample_id(card, sample_columns: list[str], test_columns: list[str]) -> str:
    """The id column: the card's id=, else the sample submission's first column, or, where the test lacks that one
    (Prudential's sample is Response,Id), the one column of the sample the test has. A test without any (Digit
    Recognizer's) keeps the first: its rows are numbered as the sample's ids (align_ids)."""
    if card.id:
        return card.id
    first, lower = sample_columns[0], {str(c).lower() for c in test_columns}
    in_test = [c for c in sample_columns if c in test_columns]
    return in_test[0] if str(first).lower() not in lower and len(in_test) == 1 else first  # ID vs id: align_ids


def in_number_order(classes: list) -> bool:
    """Whether every class reads as a number, so that their order (sort_classes) is an order of grades: ordered
    classes learned as a number need it (Low / Medium / High sort as text into High, Low, Medium)."""
    try:
        [float(c) for c in classes]
    except (TypeError, ValueError):
        return False
    return True


def in_card_order(classes: list, named: tuple, metric: Metric, source: str) -> list:
    """`classes` (read from `source`) in the order the card's `classes=` names (qwk's text grades), which must
    name each; without one, refused where `metric` scores ordered classes that are not numbers (no order to read)."""
    if named:
        unnamed = sorted(set(map(str, classes)) - set(map(str, named)))
        if unnamed:
            raise SchemaError(f"card: classes={named} lacks {unnamed[:5]}, classes of {source}")
        return list(named)
    if metric.ordinal and not in_number_order(classes):
        raise SchemaError(
            f"metric {metric.name} scores ordered classes, but {source}'s {classes[:5]} are not numbers: "
            f"name their order in the card, classes=({', '.join(repr(c) for c in classes[:3])}, ...) from lowest"
        )
    return classes


def class_order(values: list, positive: str | None = None) -> list:
    """The classes of a target as the models number them: in their natural order (sort_classes), so a binary
    target's class 1 (the probability a submission holds) is the later one, unless `positive` names it."""
    classes = sort_classes(values)
    if positive is None:
        return classes
    if str(positive) not in map(str, classes):
        raise SchemaError(f"card: positive={positive!r} is not a class of the target (its classes: {classes[:5]})")
    return [c for c in classes if str(c) != str(positive)] + [c for c in classes if str(c) == str(positive)]


def scored_task(metric: Metric, task: str, what: str, detail: str = "") -> None:
    """SchemaError where `metric` does not score `task` competitions (task= in the card, or what `what`'s labels
    read as), naming the metrics that do: refused when the files are read, before any training."""
    if task not in metric.tasks:
        fits = ", ".join(name for name, m in METRICS.items() if task in m.tasks)
        raise SchemaError(
            f"metric {metric.name!r} scores {' or '.join(metric.tasks)} competitions, but {what} reads as {task}"
            f"{detail}; set metric= to one for {task} ({fits}) or task= in the card"
        )


def infer_task(metric_name: str, y: pd.Series) -> str:
    """regression, binary, multiclass or multilabel: from the metric where it decides, else from the values."""
    metric = get_metric(metric_name)
    if metric.tasks == ("regression",):
        return "regression"
    if metric.tasks == ("multilabel",):
        return "multilabel"
    values = y.dropna()
    if values.dtype == object and values.astype(str).str.contains(" ").mean() > 0.2 and "multilabel" in metric.tasks:
        return "multilabel"
    n = values.nunique()
    if n == 2 and "binary" in metric.tasks:
        return "binary"
    if "multiclass" in metric.tasks:
        return "multiclass"
    if n == 2:
        return "binary"
    raise SchemaError(
        f"metric {metric.name!r} scores {', '.join(metric.tasks)} competitions, but the target {y.name!r} has {n} "
        f"distinct values; set task= in the card, or check metric="
    )


def column_kind(col: pd.Series) -> tuple[str, str]:
    """(kind, why) for one feature column: date (why: its format, date_format's), category, number, text
    (near-unique: its words read as numbers, features.text, unless the card says it is a category) or drop (empty,
    one value)."""
    values = col.dropna()
    if values.empty:
        return "drop", "always empty"
    if not (values != values.iloc[0]).any():
        return "drop", "one value only"
    if pd.api.types.is_bool_dtype(col):
        return "category", ""
    if pd.api.types.is_numeric_dtype(col):  # ordered: a value the test has and train lacks stays in its place
        return "number", ""
    text = values.astype(str)
    fmt = date_format(text)
    if fmt is not None:
        return "date", fmt
    # Telco's TotalCharges (" " in 11): numbers. 10,000 rows first (90% there), as reading 5M texts takes seconds
    if numbers_share(text.sample(min(len(text), 10_000), random_state=0)) >= 0.9 and numbers_share(text) >= 0.95:
        return "number", "numbers read as text: what is not one is read as missing"
    unique, length = text.nunique(), text.str.len().mean()
    if unique >= TEXT_MIN_UNIQUE and unique >= TEXT_MIN_SHARE * len(text):
        what = "free text" if length >= TEXT_MIN_LENGTH else "near-unique text"
        return "text", f"{what} ({unique:,} distinct values in {len(text):,} rows, {length:.0f} characters on average)"
    return "category", ""


def numbers_share(text: pd.Series) -> float:
    """The share of `text`'s values that read as numbers."""
    return float(pd.to_numeric(text.str.strip(), errors="coerce").notna().mean())


def composite_id(ids: pd.Series, test: pd.DataFrame) -> list[str] | None:
    """The test's columns whose values joined by _ write the sample's ids (Walmart's Store_Dept_Date, 1_1_2012-11-02),
    every id once; None where there are none."""
    parts = str(ids.iloc[0]).split("_")
    if len(parts) < 2 or len(ids) != len(test):
        return None
    columns: list[str] = []
    for part in parts:  # the first column (not yet taken) that holds this part anywhere
        found = [c for c in test.columns if c not in columns and part in set(test[c].astype(str))]
        if not found:
            return None
        columns.append(found[0])
    built = test[columns].astype(str).agg("_".join, axis=1)
    return columns if built.is_unique and set(built) == set(ids.astype(str)) else None


def column_named(columns, wanted: str) -> str | None:
    """`wanted` among the columns, or the one column that matches it whatever the case (the sample's `ID` / `Label`,
    train's `id` / `label`); None where there is none, or several."""
    if wanted in columns:
        return wanted
    same = [c for c in columns if str(c).lower() == wanted.lower()]
    return same[0] if len(same) == 1 else None


def align_ids(id_col: str, train: pd.DataFrame, test: pd.DataFrame, sample: pd.DataFrame, files: dict[str, str]):
    """(train, test) holding the sample's id column: found under another case (`id` for the sample's `ID`), or, where
    the test has none, built from the columns the sample's ids join (Walmart's Store_Dept_Date, in train too), or
    the test's rows numbered as the sample's ids are, in order (Digit Recognizer's ImageId 1..n). Unchanged where
    the test has the column, or where none of these holds (infer names what is missing)."""
    if id_col in test.columns or id_col not in sample.columns:
        return train, test
    same = column_named(test.columns, id_col)
    if same:
        print(f"{files['test']}: its column {same!r} read as {files['sample']}'s id {id_col!r}")
        return train.rename(columns={same: id_col}), test.rename(columns={same: id_col})
    parts = composite_id(sample[id_col], test)
    if parts:
        print(
            f"{files['test']} has no id column: {id_col!r} built as {'_'.join(parts)} of each row, as "
            f"{files['sample']} writes it ({sample[id_col].iloc[0]})"
        )
        built = [f.assign(**{id_col: f[parts].astype(str).agg("_".join, axis=1)}) for f in (train, test)]
        return built[0] if set(parts) <= set(train.columns) else train, built[1]
    ids = pd.to_numeric(sample[id_col], errors="coerce")
    if len(ids) == len(test) and ids.notna().all() and (ids.to_numpy() == ids.iloc[0] + np.arange(len(ids))).all():
        print(
            f"{files['test']} has no id column: its rows numbered as {files['sample']}'s {id_col!r} "
            f"({sample[id_col].iloc[0]}..{sample[id_col].iloc[-1]}, in order)"
        )
        return train, pd.concat([sample[[id_col]].reset_index(drop=True), test.reset_index(drop=True)], axis=1)
    return train, test


def infer(
    card,
    train: pd.DataFrame,
    test: pd.DataFrame,
    sample: pd.DataFrame,
    files: dict[str, str],
) -> Schema:
    """The schema of a competition from its train, test and sample submission frames, the card's overrides on
    top. SchemaError (naming the file, the column and the card line to change) where they disagree."""
    id_col = sample_id(card, list(sample.columns), list(test.columns))
    for frame, name in ((sample, files["sample"]), (test, files["test"])):  # the sample's first: it names the id
        if id_col not in frame.columns:
            same = [c for c in frame.columns if c.lower() == id_col.lower()]
            fix = f"its id column is {same[0]!r}: leave id= out of the card" if same else "set id= in the card"
            raise SchemaError(f"{name}: no id column {id_col!r} (has {list(frame.columns)[:10]}); {fix}")
    value_cols = [c for c in sample.columns if c != id_col]
    targets = list(card.target) if card.target else value_cols
    by_case = {c.lower(): c for c in train.columns}
    if not card.target and not set(targets) & set(train.columns) and all(c.lower() in by_case for c in targets):
        targets = [by_case[c.lower()] for c in targets]  # Digit Recognizer's sample says Label, its train label
    if (
        len(value_cols) > 1
        and len(targets) != len(value_cols)
        and (card.target or all(c.lower() in by_case for c in value_cols))
    ):
        raise SchemaError(
            f"card: target={card.target}: {files['sample']} has {len(value_cols)} value columns {value_cols[:5]}: "
            f"one model each learns them; leave target= out where they are columns of {files['train']}, or name one "
            f"train column for each, in the sample's order"
        )
    by_value = {str(c).lower(): c for c in value_cols}
    if len(targets) > 1 and sorted(by_value) == sorted(str(t).lower() for t in targets):
        targets = [next(t for t in targets if str(t).lower() == v) for v in by_value]  # paired by name, not place
    if len(targets) > 1 and len(targets) != len(value_cols):
        raise SchemaError(
            f"card: target={card.target}: {len(targets)} targets for the {len(value_cols)} value columns of "
            f"{files['sample']} {value_cols[:5]}; name one train column for each, in the sample's order"
        )
    label = None
    if not card.target and not all(c in train.columns for c in targets):
        # one submission column per class (Dog Breed, Otto): the label is the train column whose values they are
        wanted = set(map(str, targets))
        candidates = [  # the classes as the columns' names (Otto's Class_1), or after the column's (Status_C)
            c
            for c in train.columns
            if c not in test.columns
            and (values := set(train[c].dropna().astype(str).unique()))
            and (values <= wanted or {f"{c}_{v}" for v in values} <= wanted)
        ]
        if len(candidates) != 1:
            missing = [c for c in targets if c not in train.columns]
            raise SchemaError(
                f"{files['train']}: has no column {missing[0]!r} of {files['sample']} (and no one column whose "
                f"values are its columns); set target= in the card to the column(s) to learn"
            )
        label = candidates[0]
    for c in [label] if label else targets:
        if c not in train.columns:
            raise SchemaError(
                f"{files['train']}: no target column {c!r}{did_you_mean(c, train.columns)}: set target= in the card "
                f"to the column to learn (train's columns not in {files['test']}: "
                f"{[c for c in train.columns if c not in test.columns][:10]})"
            )
    # one of several targets may hold one value (a rare MoA label; a backtest cut that hid its only positive): it
    # submits that value (pipelines/tabular/members.py), the others say the task and the classes
    varied = [c for c in targets if train[c].nunique() > 1] if not label and len(targets) > 1 else targets
    if not varied:
        values = train[targets[0]].dropna()
        held = f"one value ({values.iloc[0]})" if len(values) else "no value"
        raise SchemaError(
            f"{files['train']}: every target {targets[:5]} holds one value in every labelled row ({targets[0]!r}: "
            f"{held}): no model learns from that; check target= in the card and the file"
        )
    learned = label or varied[0]
    task = card.task or ("multiclass" if label else infer_task(card.metric, train[learned]))
    if not label and len(targets) > 1:  # one model each (Tabular Playground Jul 2021's three): one task for all
        tasks = {c: card.task or infer_task(card.metric, train[c]) for c in varied}
        if len(set(tasks.values())) > 1:
            raise SchemaError(
                f"{files['train']}: the targets {targets} read as {tasks}: one task for all of them is handled; "
                f"set task= in the card"
            )
    metric = get_metric(card.metric)
    if label and task == "multiclass" and len(value_cols) == 2 and "binary" in metric.tasks:
        task = "binary"  # id,no,yes: a binary target with one column per class
    scored_task(metric, task, f"{files['train']}'s target", " (task= in the card)" if card.task else "")
    if not label and task == "multiclass" and metric.submits == "probability":
        raise SchemaError(
            f"metric {metric.name} scores one probability column per class, but {files['sample']} has one value "
            f"column {value_cols}; check metric= in the card"
        )
    classes: list = []
    if label:  # the class each value column holds, in the sample's order
        named = all(str(c).startswith(f"{label}_") for c in value_cols) and not set(map(str, value_cols)) & set(
            label_text(train[label]).dropna()
        )
        classes = [str(c)[len(label) + 1 :] for c in value_cols] if named else list(value_cols)
    elif task in ("binary", "multiclass"):
        classes = class_order(label_text(train[learned]).dropna().unique().tolist(), card.positive)
        classes = in_card_order(classes, card.classes, metric, f"{learned!r} of {files['train']}")
        for c in targets:
            other = class_order(label_text(train[c]).dropna().unique().tolist())
            if not (set(map(str, other)) <= set(map(str, classes)) and (c not in varied or len(other) == len(classes))):
                raise SchemaError(
                    f"{files['train']}: the targets {learned!r} and {c!r} hold other classes ({classes[:5]} and "
                    f"{other[:5]}): several targets with the same classes are handled"
                )
    elif task == "multilabel":
        classes = sorted({t for tags in train[learned].dropna().astype(str) for t in tags.split()})

    if card.classes and (task not in ("binary", "multiclass") or label):
        raise SchemaError(f"card: classes={card.classes} orders a target's classes; this is {task}: leave it out")
    if card.positive is not None and (task != "binary" or label):
        where = f"one column per class in {files['sample']}" if label else f"a {task} target"
        raise SchemaError(
            f"card: positive={card.positive!r} names the scored class of a binary target with one value column; "
            f"this is {where}: leave positive= out"
        )
    excluded = {id_col, *targets, *([label] if label else []), *card.drop}
    only_in_train = [c for c in train.columns if c not in test.columns and c not in excluded]
    shared = [c for c in train.columns if c in test.columns and c not in excluded]
    date = card.date
    if date and date not in shared:
        raise SchemaError(f"card: date={date!r} is not a column of both {files['train']} and {files['test']}")
    for line, names in (
        ("series", card.series),
        ("categories", card.categories),
        ("codes", card.codes),
        ("text", card.text),
    ):
        for key in names:
            if key not in shared:
                raise SchemaError(f"card: {line}= names {key!r}, {not_a_feature(key, train, test, excluded, files)}")
    for key in card.drop:  # a column of train alone (a leak) or of test alone may be dropped
        if key not in train.columns and key not in test.columns:
            either = [*train.columns, *(c for c in test.columns if c not in train.columns)]
            raise SchemaError(
                f"card: drop= names {key!r}, no column of {files['train']} or {files['test']}{did_you_mean(key, either)}"
            )
    if not date and id_col in train.columns and looks_like_dates(train[id_col]):
        date = id_col  # the id is the timestamp (Bike Sharing's datetime): a feature as well
        shared = [id_col, *shared]
    categories, numbers, dropped = [], [], {c: "dropped by the card" for c in card.drop if c in train.columns}
    other_dates, dates, codes = {}, {}, []
    texts = {c: "free text by the card's text=" for c in card.text}
    for c in shared:
        if c != date and (test[c].isna().all() or train[c].isna().all()):
            empty = [files[role] for role, f in (("train", train), ("test", test)) if f[c].isna().all()]
            dropped[c] = f"empty in {' and '.join(empty)}"
            texts.pop(c, None)
            continue
        if c in texts:
            continue
        kind, why = ("date", "") if c == date else column_kind(pd.concat([train[c], test[c]]))
        named = ID_NAME.search(c) and kind in ("number", "category", "text") and is_code(train[c], test[c])
        if kind != "drop" and (c in card.codes or named):  # a user, an item: an embedding each, not an id's size
            codes.append(c)
        if kind != "drop" and (c in card.series or c in card.categories or c in codes):
            kind = "category"
        if kind == "date":
            dates[c] = why  # its format (the card's date=: found below)
        elif kind == "category":
            categories.append(c)
        elif kind == "number":
            numbers.append(c)
        elif kind == "text":
            texts[c] = why
        else:
            dropped[c] = why
    if not date and dates:  # of several, a day's before a month's (Elo's first_active_month, 2017-06)
        date = next((c for c, fmt in dates.items() if fmt != "%Y-%m"), next(iter(dates)))
    for c, fmt in dates.items():
        if c != date:  # a number: its days since 1970 (features.py); the date's parts are the date's alone
            other_dates[c] = fmt
            numbers.append(c)
    for c in only_in_train:
        dropped[c] = f"only in {files['train']}: never a feature (the answer's leak, or data the test has not)"
    fmt = (dates.get(date) or date_format(train[date])) if date else None  # column_kind's format, found already
    if date and fmt is None and card.date == date:
        fmt = unix_format(pd.concat([train[date], test[date]]))
    if date and fmt is None:
        fix = "leave date= out, or name another" if card.date == date else "set date="
        raise SchemaError(f"{files['train']}: column {date!r} is not in one date format of {DATE_FORMATS}; {fix}")
    return Schema(
        id_col, targets, label, task, classes, date, fmt, list(card.series), categories, numbers, dropped, only_in_train,
        texts, other_dates=other_dates, codes=codes,
    )  # fmt: skip


# an id is read as a code where its values hold this many of train's rows each on average, at least (an embedding
# learns little from one row: Avito's 770k user_ids in 1.5M rows stay a number), and the test's rows hold values train
# has in this share of them at least (Optiver's date_id, time_id: a time index, new in the test)
CODE_ROWS, CODE_SHARED = 2, 0.5


def is_code(train: pd.Series, test: pd.Series) -> bool:
    """Whether a column named as an id is a code to embed (a user, an item, a store): its values repeat in train,
    CODE_ROWS rows a value on average, and most test rows hold values train has (CODE_SHARED)."""
    values = train.dropna()
    known = test.dropna()
    repeats = len(values) >= CODE_ROWS * max(values.nunique(), 1)
    return bool(repeats and (known.empty or known.isin(set(values)).mean() >= CODE_SHARED))


def series_keys(schema: Schema, train: pd.DataFrame, most: int = 5000) -> list[str]:
    """The number columns that look like the keys of series (Store Item Demand's store 1..10 and item 1..50): of the
    whole-number columns of 3 to `most` values, each value on the median date, the fewest that with the date hold
    nearly one row each and whose series are all there on the median date (a 0/1 flag, a count, a store's attribute:
    none; nor a column named as a part of the time, hour or week). Read as numbers, the network cannot tell one
    store from another (members=[net] there: SMAPE 29.18 on the 90-day holdout, 12.20 with the card's series=), so
    the features step names them."""
    if not schema.date or schema.series or schema.date not in train.columns:
        return []
    time_part = re.compile(r"(?i).*(hour|minute|second|day|week|month|year|quarter|time|date).*")
    candidates = []
    for c in schema.numbers:  # the cheap tests first, a column at a time
        if time_part.fullmatch(c) or not pd.api.types.is_numeric_dtype(train[c]):
            continue
        values = train[c]
        if 3 <= values.nunique() <= most and values.notna().all() and bool((values == values.round()).all()):
            candidates.append(c)
    if not candidates:
        return []
    dates = pd.factorize(train[schema.date])[0]
    keys = [c for c in candidates if train[c].groupby(dates).nunique().median() == train[c].nunique()][:4]
    per_date = np.bincount(dates).astype(float)

    def series(columns: tuple[str, ...]) -> bool:  # with the date, one row each; every series on the median date
        rows = train.groupby([dates, *(train[c] for c in columns)]).size()
        combos = len(train.groupby([train[c] for c in columns]).size())
        return bool(rows.mean() <= 1.5 and combos <= 1.1 * np.median(per_date))

    for size in range(1, len(keys) + 1):  # the fewest columns that are the keys (a count on every date is none)
        for columns in itertools.combinations(keys, size):
            if series(columns):
                return list(columns)
    return []


def not_a_feature(key: str, train: pd.DataFrame, test: pd.DataFrame, excluded: set, files: dict) -> str:
    """Why a card line's column `key` is none of the features train and test share, and the fix."""
    if key in excluded:
        return "the id, a target or a dropped column: never a feature"
    both = [c for c in train.columns if c in test.columns and c not in excluded]
    return f"not a column of both {files['train']} and {files['test']}{did_you_mean(key, both)}"


def _days(schema: Schema, frame: pd.DataFrame) -> pd.Series:
    when = frame[schema.date]
    if not pd.api.types.is_datetime64_any_dtype(when):
        when = parse_dates(when, schema.date_format)
    return when.dt.floor("D")


def _series(schema: Schema, frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[schema.series].astype(str))  # a missing key "nan", as in train and test


def fold_unit(schema: Schema, train: pd.DataFrame, test: pd.DataFrame) -> str:
    """What k-fold and the backtest's fifths keep whole, as Kaggle's test does: each day where the test's days are
    none of train's (Bike Sharing: days 20 to the month's end between train's), else each series the card names
    where the test's are none of train's (new stores, new patients), else nothing (""): a test drawn from train's
    own days or series is scored by plain k-fold."""
    if schema.date:
        return "day" if not set(_days(schema, test).dropna()) & set(_days(schema, train).dropna()) else ""
    if schema.series:
        return "series" if not set(_series(schema, test)) & set(_series(schema, train)) else ""
    return ""


def fold_groups(schema: Schema, frame: pd.DataFrame, unit: str) -> np.ndarray | None:
    """A group code per row of frame, one per day or series (`unit`); a row with no date a group of its own
    (None: no unit)."""
    if not unit:
        return None
    codes = pd.factorize(_days(schema, frame) if unit == "day" else _series(schema, frame))[0]
    alone = codes < 0  # factorize's code for a missing value
    codes[alone] = codes.max() + 1 + np.arange(alone.sum())
    return codes


def describe(schema: Schema, metric: str, positive: str | None = None) -> str:
    """What was read, as printed by the features step (`positive`: the card's positive= line)."""
    lines = [
        f"id {schema.id!r}; target {schema.label or schema.targets} ({schema.task}"
        + (f", {len(schema.classes)} classes" if schema.classes else "")
        + f"); metric {metric}",
        f"date {schema.date!r}"
        + (f" ({schema.date_format} since 1970)" if schema.date_format in UNIX else "")
        + (f"; other dates as their days since 1970: {list(schema.other_dates)}" if schema.other_dates else "")
        + (f"; series {schema.series}" if schema.series else ""),
        f"{len(schema.categories)} categories: {named(schema.categories)}",
        f"{len(schema.numbers)} numbers: {named(schema.numbers)}"
        + (" (a code among them, as a type 1..9, is a category: the card's categories=)" if schema.numbers else "")
        + "; every column's kind: processed/schema.json",
    ]
    if schema.codes:
        lines.append(
            f"ids read as codes (categories: each value an embedding, not a quantity): {', '.join(schema.codes)} (named "
            f"as ids, their values repeat in train and the test's are mostly train's; or named by the card's codes=)"
        )
    scoring = get_metric(metric)
    scored = scoring.submits == "probability" or scoring.name == "f1"  # mcc: symmetric
    if schema.task == "binary" and not schema.label and scored and len(schema.classes) == 2:
        lines.append(scored_class(schema, scoring.submits == "probability", positive is not None))
    pixels = pixel_columns(schema.numbers)
    if pixels:  # Digit Recognizer as a table: the trees and the net see numbers, a CNN would see images
        lines.append(
            f"pixels: {len(pixels)} columns {pixels[0]}..{pixels[-1]} read as numbers; if each row is an image, an image "
            f"card (`make new KIND=image`, pipelines/vision/pixels.py) reads them as images for a CNN. Which does better "
            f"depends on the images and the settings (pipelines/vision/README.md): on 8x8 digit scans upsampled to "
            f"28x28 this card scored 0.983 out of fold, the image card's defaults 0.955 in four times the time, its "
            f"net with bn_freeze=true 0.987 on a holdout; on 32x32 photos this card 0.332, a small probe 0.653; "
            f"`make backtest` both cards to choose"
        )
    lines += [f"free text: {c} ({why})" for c, why in schema.texts.items()]  # what it becomes: add_text says
    lines += [f"not a feature: {c} ({why})" for c, why in schema.dropped.items()]
    return "\n".join(lines)


def named(columns: list[str], most: int = 30) -> str:
    """The first `most` of `columns`, and how many more."""
    more = f", ... ({len(columns) - most} more)" if len(columns) > most else ""
    return (", ".join(columns[:most]) or "none") + more


# The later of two labels is the scored one where they say so; other text (Attrited / Existing) says nothing
POSITIVE_WORDS = {"1", "1.0", "true", "yes", "y", "t", "positive", "pos"}


def scored_class(schema: Schema, probability: bool, named: bool) -> str:
    """Which class of a binary target a probability column holds (or F1 counts), printed; a warning where its
    labels (text, not 0/1, False/True, No/Yes) cannot say which one Kaggle scores and the card's positive= (`named`)
    did not."""
    negative, positive = schema.classes
    what = "its probability is submitted" if probability else "F1 counts it"
    line = f"binary: class 1 is {positive!r} (of {negative!r}, {positive!r}): {what}"
    if named:
        return line + " (the card's positive=)"
    if str(positive).lower() in POSITIVE_WORDS:
        return line + " (positive= in the card names the other)"
    return (
        f"{line}\nwarning: the labels do not say which class Kaggle scores: check the competition's evaluation page, "
        f"and set positive={negative!r} in the card if it is that one"
    )


def as_class_index(schema: Schema, y: pd.Series) -> np.ndarray:
    """Class indices (single-label) or a 0/1 matrix (multi-label) of a target column, in `schema.classes` order."""
    if schema.task == "multilabel":
        index = {c: i for i, c in enumerate(schema.classes)}
        out = np.zeros((len(y), len(schema.classes)), np.float32)
        for row, tags in enumerate(y.fillna("").astype(str)):
            for t in tags.split():
                if t in index:
                    out[row, index[t]] = 1
        return out
    index = {str(c): i for i, c in enumerate(schema.classes)}
    codes = label_text(y).map(index)
    if codes.isna().any():
        raise SchemaError(
            f"target {y.name!r}: values {sorted(set(y[codes.isna()].astype(str)))[:5]} not among the classes"
        )
    return codes.to_numpy(np.int64)


def labelled(schema: Schema, frame: pd.DataFrame) -> np.ndarray:
    """The rows whose (one) target is known: of several targets, a row may lack some (each trains and is scored on
    its own)."""
    return frame[schema.target_column].notna().to_numpy()


def targets(metric: Metric, schema: Schema, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(the training target, the rows that may train): the metric's transform for regression (a log target
    drops rows with y <= 0), class indices for classification; a row without the target never trains."""
    if schema.task == "regression":
        y = frame[schema.targets[0]].to_numpy(np.float64)
        ok = y > 0 if metric.target == "log" else y >= 0 if metric.target == "log1p" else np.isfinite(y)
        return to_target(metric, np.where(ok, y, 1.0)), ok
    if schema.task == "multilabel":  # a tag matrix (members.objective refuses it, naming the image kind)
        return as_class_index(schema, frame[schema.target_column]).astype(np.float64), np.ones(len(frame), bool)
    known = labelled(schema, frame)
    y = np.zeros(len(frame))
    y[known] = as_class_index(schema, frame[schema.target_column][known])
    return y, known


def truth(schema: Schema, frame: pd.DataFrame) -> np.ndarray:
    """What the metric compares predictions with: the target as written (regression; NaN where unknown) or class
    indices (-1 where unknown): the scored rows are labelled ones."""
    if schema.task == "regression":
        return frame[schema.targets[0]].to_numpy(np.float64)
    if schema.task == "multilabel":
        return as_class_index(schema, frame[schema.target_column])
    known = labelled(schema, frame)
    out = np.full(len(frame), -1)
    out[known] = as_class_index(schema, frame[schema.target_column][known])
    return out
