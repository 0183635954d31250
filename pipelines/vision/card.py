"""The generic image competition: a card of a few lines (`CARD = ImageCard(slug=..., metric=...)` in
`pipelines/<comp>/__init__.py`, written by `make new COMP=<slug> KIND=image`); the layout and the submission's
format read from the competition's own files, and the image steps (pipelines/vision/steps.py) run on them.

What is read, each with a card line to override it:
- the sample submission (`sample_submission*.csv`): its first column is the id, the others what to submit:
  one column of probabilities (binary: P(the last class), as `has_cactus`), of labels (`label`, `tags`,
  ranked labels for map@k, as the metric submits), or one probability column per class (dog breeds);
- the label file: the other .csv holding the id column (`train.csv`, `labels.csv`); its other column is the
  label (space-separated tags for multi-label metrics). Without one, `train/<class>/` folders label the images.
  Its further columns that the test's own table has too (SIIM-ISIC's age and site) are the table member's
  (table.py);
- the image folders: those named `test*` hold the test images, the others the training images; an id names its
  image by file name (`abc.jpg`) or by stem (`abc`), as the label file writes it. Without a sample submission,
  test images in class folders (`test/<class>/`, the course's copies) are labelled test images: their ids
  `<class>/<stem>`, their labels kept for the trainers that score them (CIFAR-10's test accuracy).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image

from features.images import IMAGE_SUFFIXES, list_images
from models.metrics import TASKS, Metric, get_metric
from pipelines import submit as submitlib
from pipelines.backtest import Backtest
from pipelines.config import with_defaults
from pipelines.download import DataSpec
from pipelines.env import keep_freed_memory
from pipelines.registry import lazy_steps
from pipelines.tabular.schema import (  # numbers numerically: a 0/1 target's positive class last
    SchemaError,
    in_card_order,
    scored_task,
    sort_classes,
)
from pipelines.vision import STEPS, pixels, table
from pipelines.vision.backtest import PEERS, WINDOWS
from pipelines.vision.choices import expected_class
from pipelines.vision.config import VisionConfig
from pipelines.vision.layouts import Layout, first_few, labelled_csv, order_by_sample, relative
from pipelines.vision.task import ImageTask

Submits = Literal["probability", "per_class", "label", "labels", "ranked", "number"]


# What the files do not say and the card must (the message names the card line to add): one error for both kinds
CardError = SchemaError


@dataclass(frozen=True)
class ImageCard:
    """An image competition in a few lines. Only `slug` and `metric` are required; the rest is read from the
    files and may be overridden here."""

    slug: str  # kaggle.com/c/<slug>
    metric: str  # how Kaggle scores it: a name of models.metrics.METRICS (auc, logloss, mlogloss, accuracy, f2, ...)
    sample: str | None = None  # the sample submission (default: the one sample_submission*.csv)
    labels: str | None = None  # the label file (default: the other .csv that has the id column)
    # no label file: a regular expression whose `label` group reads the class from each training image's file
    # name (Dogs vs Cats' cat.0.jpg: r"(?P<label>[a-z]+)\.\d+"); images in class folders take the folder's name
    names: str | None = None
    id: str | None = None  # the id column (default: the sample submission's first column)
    target: str | None = None  # the label file's label column (default: the sample's value column, or the other one)
    train: tuple[str, ...] = ()  # training image folders (default: the image folders not named test*)
    test: tuple[str, ...] = ()  # test image folders (default: the image folders named test*)
    # regression | binary | multiclass | multilabel (default: from the metric and the labels)
    task: str | None = None
    # the classes in their order where it is not the numbers' (qwk's text grades: ("No_DR", "Mild", ...)); of two,
    # the last is the one whose probability is submitted (default: the later one, P(dog) of cat/dog)
    classes: tuple[str, ...] = ()
    # images as rows of pixel values in a table (pixels.py): each image's (height, width) where it is no square
    shape: tuple[int, ...] = ()
    # a label-file column whose images stay together (SIIM-ISIC's patient_id): each group's images in one fold, on one
    # side of the net's holdout and of the backtest's cut, so that no score is taken on a patient the models saw
    groups: str | None = None
    defaults: dict = field(default_factory=dict)  # other defaults of pipelines/vision/config.py, e.g. {"sizes": [64]}

    def __post_init__(self):
        get_metric(self.metric)  # ValueError naming the known metrics
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"task={self.task!r} is not one of {', '.join(TASKS)}")
        shape = (self.shape,) if isinstance(self.shape, int) else tuple(self.shape)
        if shape and (len(shape) != 2 or not all(isinstance(v, int) and v > 0 for v in shape)):
            raise ValueError(f"shape={self.shape!r}: an image's (height, width) in pixels, e.g. shape=(16, 32)")
        object.__setattr__(self, "shape", shape)
        for name in ("train", "test", "classes"):  # a single name is as good as a list of one
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.names is not None:
            try:
                groups = re.compile(self.names).groupindex
            except re.error as e:
                raise ValueError(f"names={self.names!r} is not a regular expression: {e}") from None
            if "label" not in groups:
                raise ValueError(f"names={self.names!r} has no (?P<label>...) group to read the class from")


@dataclass(frozen=True)
class Format:
    """What a submission holds, read from the sample submission and the metric."""

    id_col: str
    columns: tuple[str, ...]  # the value columns, in the sample's order
    submits: Submits
    metric: str = ""  # the card's metric (map@k: how many labels a row ranks)
    numeric_labels: bool = False  # labels written as numbers (0/1, 1..5), as the label file has them


def _sample_path(card: ImageCard, raw: Path) -> Path | None:
    if card.sample:
        return raw / card.sample
    found = sorted(raw.glob("sample_submission*.csv"))
    if len(found) > 1:
        raise CardError(f"{raw}: {len(found)} sample submissions ({first_few(p.name for p in found)}); set sample=")
    return found[0] if found else None


def _image_folders(raw: Path) -> list[Path]:
    """Top-level folders holding images, directly or one level down (a zip that unpacked into train/train/)."""
    out = []
    for d in sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if list_images(d):
            out.append(d)
        else:
            out += [s for s in sorted(d.iterdir()) if s.is_dir() and list_images(s)]
    return out


def _top(folder: Path, raw: Path) -> str:
    return folder.relative_to(raw).parts[0]


def _where(dirs: list[Path], raw: Path) -> str:
    """The folder holding `dirs` for the read note (`train/` of its class folders, `jpeg/test/` of SIIM-ISIC's),
    else their top folders (`train, valid/`)."""
    if not dirs:
        return "(none)/"
    common = os.path.commonpath([d.relative_to(raw) for d in dirs])
    return (common or ", ".join(sorted({_top(d, raw) for d in dirs}))) + "/"  # "." (raw/ itself): "./"


def _has_suffix(ids: pd.Series) -> bool:
    return bool(len(ids)) and ids.astype(str).str.lower().str.endswith(IMAGE_SUFFIXES).mean() > 0.5


def _submits(metric_name: str, task: str) -> Submits:
    submits = get_metric(metric_name).submits
    if task == "multilabel" and submits != "probability":
        return "labels"
    return submits if submits in ("probability", "label", "ranked", "labels") else "label"


def read_format(card: ImageCard, raw: Path, rows: bool = True) -> tuple[Format, pd.DataFrame | None]:
    """(the submission's format, the sample's rows) from the card and raw/'s sample submission; without `rows`,
    the format from the sample's header alone (Kaggle's CIFAR-10 sample has 300,000 rows)."""
    path = _sample_path(card, raw)
    if (path is None or not path.is_file()) and card.id and card.target:  # a copy without one (a course sample)
        return Format(card.id, (card.target,), "label"), None
    if path is None or not path.is_file():
        where = path.name if path else "sample_submission*.csv"
        raise CardError(
            f"{raw}: no {where}; the image kind reads the submission's columns from it (set sample=, or id= and "
            f"target= when the data has none)"
        )
    sample = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=None if rows else 0)
    id_col = card.id or sample.columns[0]
    if id_col not in sample.columns:
        raise CardError(f"{path}: no column {id_col!r} (id=); it has {first_few(sample.columns)}")
    columns = tuple(c for c in sample.columns if c != id_col)
    if not columns:
        raise CardError(f"{path}: only the id column {id_col!r}; a sample submission names what to submit")
    return Format(id_col, columns, "per_class" if len(columns) > 1 else "label"), sample if rows else None


def read_card(card: ImageCard, raw: Path) -> tuple[Layout, Format]:
    """raw/ -> (Layout, Format): the labelled images, the test images in the sample's order, the classes."""
    fmt, sample = read_format(card, raw)
    named = [raw / f for f in card.train + card.test]
    missing = [f for f in named if not f.is_dir() and f.name not in card.test]  # no test images: a copy without
    if missing:
        raise CardError(f"{first_few(missing)}: no such folder (train= / test= in the card)")
    found = [f for f in _image_folders(raw) if f not in named]
    test_dirs = [raw / f for f in card.test if (raw / f).is_dir()] if card.test else None
    if test_dirs is None:  # test*/ at any depth: SIIM-ISIC ships jpeg/train/ and jpeg/test/
        test_dirs = [f for f in found if any(p.lower().startswith("test") for p in f.relative_to(raw).parts)]
    train_dirs = [raw / f for f in card.train] or [f for f in found if f not in test_dirs]
    notes: list[str] = []
    others = None  # the label file and its columns beside the label (table.py reads those the test has too)
    tables = pixels.find(raw, _sample_path(card, raw), card.shape) if not found else []
    if tables and card.groups:
        raise CardError(f"groups={card.groups!r}: the images are rows of a table here, with no label file to group by")
    if tables:  # no image files: rows of pixel values (Digit Recognizer)
        frame, source, test, train_table, test_table = pixels.labelled(
            card, raw, tables, fmt.id_col, card.target or fmt.columns[0], sample, notes
        )
        tables = [t for t in (train_table, test_table) if t is not None]
        where = (
            f"{train_table.name}'s rows (greyscale pixels)",
            f"{test_table.name}'s rows" if test_table else "(none)",
        )
        first = "{1}x{0}".format(*train_table.shape)
    else:
        frame, source, others = _labelled(card, raw, fmt, train_dirs, notes)
    metric = get_metric(card.metric)
    text = frame.label.astype(str)
    text = text[text.str.strip().astype(bool)]  # a blank label names no class (that image is left out below)
    task = card.task or (
        "regression"
        if metric.tasks == ("regression",)
        else "multilabel"
        if metric.tasks == ("multilabel",) or (text.str.contains(" ").mean() > 0.2 and "multilabel" in metric.tasks)
        else "binary"
        if text.nunique() == 2 and fmt.submits != "per_class"
        else "multiclass"
    )
    multi_label = task == "multilabel"
    scored_task(metric, task, source, f" ({text.nunique()} distinct labels)")
    spaced = text.str.contains(" ").mean()
    if task != "multilabel" and spaced > 0.2 and card.task is None:
        notes.append(
            f"{spaced:.0%} of the labels hold spaces ({first_few(sorted(text[text.str.contains(' ')].unique()))}), "
            f"read as {task} class names; if they are tags (several an image), set a metric for tags "
            f'(f2_samples, f1_macro_tags) or task="multilabel"'
        )
    regression = task == "regression"
    if regression:  # one number an image, in the sample's value column
        if len(fmt.columns) > 1:
            raise CardError(
                f"{_sample_path(card, raw).name}: {len(fmt.columns)} value columns ({first_few(fmt.columns)}); the "
                f"image kind predicts one number an image: a metric for classes, or a sample= with one value column"
            )
        if card.classes:
            raise CardError(f"card: classes={card.classes} orders classes; {metric.name} scores numbers: leave it out")
        frame = _numbers(frame, source, metric, notes)
        classes, submits = [fmt.columns[0]], "number"
    elif fmt.submits == "per_class":
        classes = list(fmt.columns)
        submits: Submits = "per_class"
    else:
        submits = _submits(card.metric, task)
        if submits == "probability" and task != "binary":
            if task == "multiclass" and _sample_path(card, raw) is None:  # Dog Breed without its sample
                raise CardError(
                    f"{card.metric} scores a probability column per class, which the competition's sample "
                    f"submission names, and {raw} has none: put its sample_submission.csv there, or name it with "
                    f"sample= in the card"
                )
            raise CardError(
                f"{card.metric} scores one probability column, but {source} has {text.nunique()} classes; "
                f"set task= or metric= in the card"
            )
        classes = sorted({t for s in text for t in s.split()}) if multi_label else sort_classes(list(text.unique()))
        if card.classes and multi_label:
            raise CardError(f"card: classes={card.classes} orders single labels; {source} holds tags: leave it out")
        classes = [str(c) for c in in_card_order(classes, card.classes, get_metric(card.metric), source)]
    numeric = bool(len(text)) and text.str.fullmatch(r"-?\d+").all()
    fmt = Format(fmt.id_col, fmt.columns, submits, get_metric(card.metric).name, bool(numeric))
    frame = frame if regression else _known_classes(frame, classes, multi_label, notes)
    if not tables:
        test, where, first = _test_images(card, raw, frame, fmt, sample, classes, train_dirs, test_dirs, found, notes)
    matches = True
    if sample is not None:
        test, matches = order_by_sample(test, sample[fmt.id_col], _sample_path(card, raw).name, notes)
    beside = None
    if not tables and others is not None:  # the label file's other columns, where the test's table has them too
        beside = table.beside(raw, *others, fmt.id_col, frame, test, {_sample_path(card, raw)}, notes)
    what = {
        "probability": f"P({classes[-1]}) in {fmt.columns[0]!r}",
        "per_class": f"one probability column per class ({len(classes)})",
        "label": f"the label in {fmt.columns[0]!r}",
        "labels": f"space-separated tags in {fmt.columns[0]!r}",
        "ranked": f"the top {fmt.metric.partition('@')[2]} labels in {fmt.columns[0]!r}",
        "number": f"a number in {fmt.columns[0]!r}",
    }[submits]
    values = frame.label.astype(float) if regression else None
    kind = (
        f"regression, labels {values.min():g} to {values.max():g} (mean {values.mean():.4g})"
        if regression
        else f"{task}, {len(classes)} {'tags' if multi_label else 'classes'} ({first_few(classes)})"
    )
    notes.insert(
        0,
        f"read from the files: {len(frame):,} labelled images in {where[0]} (labels: {source}; the first is {first} px), "
        f"{len(test):,} test images in {where[1]}; {kind}; the submission: "
        f"{fmt.id_col!r} and {what} (override in the card: labels=, target=, train=, test=, task=)",
    )
    kept = ["file", "label", *(c for c in ("valid", "group") if c in frame.columns)]
    layout = Layout(
        frame[kept],
        test,
        classes,
        multi_label,
        notes,
        matches,
        regression=regression,
        tables=tuple(tables),
        beside=beside,
    )
    return layout, fmt


def _test_images(
    card: ImageCard,
    raw: Path,
    frame: pd.DataFrame,
    fmt: Format,
    sample: pd.DataFrame | None,
    classes: list[str],
    train_dirs: list[Path],
    test_dirs: list[Path],
    found: list[Path],
    notes: list[str],
) -> tuple[pd.DataFrame, tuple[str, str], str]:
    """(the test images: file, id, and label where class folders hold them; where the labelled and the test images
    are, for the note; the first labelled image's size) of a competition of image files."""
    suffix = _has_suffix(frame.id if sample is None else sample[fmt.id_col])
    shared = not test_dirs and sample is not None and bool(len(sample))  # Plant Pathology: images/ holds both
    files = [(f, d.name) for d in (train_dirs if shared else test_dirs) for f in list_images(d)]
    test = pd.DataFrame(
        {"file": relative([f for f, _ in files], raw), "id": [f.name if suffix else f.stem for f, _ in files]}
    )
    if shared:  # the test images: those the sample names, in the training folders
        test = test[test.id.isin(set(sample[fmt.id_col].astype(str))) & ~test.id.isin(set(frame.id))]
        test_dirs = sorted({raw / Path(f).parent for f in test.file})
        if len(test):
            notes.append(
                f"no test folder: the test images are those {_sample_path(card, raw).name} names in the training folders"
            )
    by_class = len(test_dirs) > 1 and len({d.parent for d in test_dirs}) == 1 and test_dirs[0].parent != raw
    if sample is None and by_class:
        # test/<class>/ (the course's copies, as CIFAR-10's): labelled test images, scored where a trainer does
        # (kept in test.label); the id names the folder too, as file names repeat across classes
        unknown = sorted({c for _, c in files} - set(classes))
        if unknown:
            raise CardError(
                f"{test_dirs[0].parent}: test folders of classes no training image has ({first_few(unknown)}); "
                f"the training classes are {first_few(classes)}: rename or remove those folders"
            )
        test = test.assign(
            id=[f"{c}/{i}" for (_, c), i in zip(files, test.id, strict=True)], label=[c for _, c in files]
        )
    if sample is not None and len(sample) and not len(test):
        raise CardError(
            f"{_sample_path(card, raw).name} lists {len(sample):,} ids, but no test images were found (image folders: "
            f'{first_few(sorted(str(f.relative_to(raw)) for f in found))}): name the test folder, test=("...",) in the card'
        )
    where = (_where(train_dirs, raw), _where(test_dirs, raw))
    return test, where, _size(raw / frame.file.iloc[0])


def _size(path: Path) -> str:
    """An image's width x height, from its header (for the settings: 32 px photos need no 224 px model)."""
    try:
        with Image.open(path) as img:
            return f"{img.width}x{img.height}"
    except OSError:
        return "unreadable"


def _numbers(frame: pd.DataFrame, source: str, metric: Metric, notes: list[str]) -> pd.DataFrame:
    """The labelled images whose label reads as a number (a regression's target); those with a blank label are
    left out (said), and a label that is no number, or one the metric's log cannot take, is refused, naming the
    file and column."""
    text = frame.label.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce")
    blank = text == ""
    bad = ~blank & ~np.isfinite(values.to_numpy(np.float64))
    fix = (
        "set target= to the column of numbers, or a metric for classes"
        if ":" in source
        else "a metric for numbers reads them from a label file (labels=, target=), or set a metric for classes"
    )
    if bad.any():
        raise CardError(
            f"{source}: {int(bad.sum()):,} of {len(text):,} labels are not numbers ({first_few(sorted(set(text[bad])))}); "
            f"metric={metric.name!r} scores numbers: {fix}"
        )
    below = values < 0 if metric.target == "log1p" else values <= 0 if metric.target == "log" else values < -np.inf
    if below.any():
        raise CardError(
            f"{source}: {int(below.sum()):,} labels {'below' if metric.target == 'log1p' else 'at or below'} 0 "
            f"({first_few(sorted(set(text[below])))}); {metric.name} scores the log of the numbers: a metric for any "
            f"numbers (rmse, mae)"
        )
    if blank.any():
        n = int(blank.sum())
        notes.append(f"{source}: {n:,} image{'s' if n > 1 else ''} with a blank label (or n/a) left out")
    return frame[~blank].assign(label=text[~blank]).reset_index(drop=True)


def _known_classes(frame: pd.DataFrame, classes: list[str], multi_label: bool, notes: list[str]) -> pd.DataFrame:
    """Rows whose label the submission can name (a class not among the sample's columns is dropped, reported; a
    blank label of a single-label image too: no class)."""
    blank = ~frame.label.astype(str).str.strip().astype(bool) if not multi_label else pd.Series(False, frame.index)
    if blank.any():
        n = int(blank.sum())
        notes.append(f"{n:,} labelled image{'s' if n > 1 else ''} with a blank label (or n/a) left out")
        frame = frame[~blank]
    known = set(classes)
    ok = frame.label.map(lambda s: set(s.split()) <= known if multi_label else s in known).astype(bool)
    if not ok.all():
        notes.append(
            f"{int((~ok).sum())} labelled images of classes not in the sample submission were dropped "
            f"({first_few(sorted(set(frame.label[~ok])))})"
        )
    seen = {t for s in frame.label[ok] for t in (s.split() if multi_label else [s])}  # "Common Chickweed": one class
    unseen = [c for c in classes if c not in seen]
    if unseen:
        notes.append(
            f"{len(unseen)} of {len(classes)} classes have no training image ({first_few(unseen)}); the model still "
            f"outputs them (low probability) so the submission has every column"
        )
    return frame[ok].reset_index(drop=True)


def _label_file(card: ImageCard, raw: Path, id_col: str, value: str = "") -> Path | None:
    """The .csv that labels the training images: the card's labels=, else the one other .csv holding the id column
    and more, or of several, the one holding the sample's `value` column too (Pawpularity's train.csv, not its
    test.csv of the test images' other columns), or the one whose ids are not the sample's."""
    if card.names and not card.labels:  # the file names are the labels
        return None
    if card.labels:
        if not (raw / card.labels).is_file():
            raise CardError(f"{raw / card.labels}: not found (labels= in the card)")
        return raw / card.labels
    sample = _sample_path(card, raw)
    headers = {
        p: pd.read_csv(p, nrows=0).columns.str.strip().tolist() for p in sorted(raw.glob("*.csv")) if p != sample
    }
    # the id and something more: a test.csv beside train.csv (APTOS) lists the test's ids alone
    found = [p for p, header in headers.items() if id_col in header and len(header) > 1]
    holding = [p for p in found if value and value in headers[p]]
    if card.target and len(found) > 1 and not holding:
        raise CardError(
            f"{raw}: no .csv with the id column {id_col!r} has the column {value!r} (target=): "
            f"{first_few(p.name for p in found)}"
        )
    found = holding if len(found) > 1 and len(holding) == 1 else found
    if len(found) > 1 and sample is not None and sample.is_file():  # a .csv of the test's own ids labels nothing
        ids = lambda p: set(pd.read_csv(p, dtype=str).rename(columns=str.strip)[id_col].str.strip())
        tests = ids(sample)
        found = [p for p in found if not ids(p) <= tests] or found
    if len(found) > 1:
        raise CardError(
            f"{raw}: {len(found)} .csv files have the id column {id_col!r} ({first_few(p.name for p in found)}); "
            f"set labels= in the card"
        )
    return found[0] if found else None


def _labelled(
    card: ImageCard, raw: Path, fmt: Format, train_dirs: list[Path], notes: list[str]
) -> tuple[pd.DataFrame, str, tuple[Path, list[str]] | None]:
    """(file, label, id) of every labelled image on disk, where the labels came from (file:column), and the label
    file with its columns other than the id and the label (None: no label file)."""
    path = _label_file(card, raw, fmt.id_col, card.target or fmt.columns[0])
    if path is None:  # folders per class (train/<class>/*.jpg), or file names (names=)
        if card.groups:
            raise CardError(f"groups={card.groups!r} names a column of a label file, and {raw} has none (labels=)")
        tops = [_top(d, raw) for d in train_dirs]  # class folders: two or more image folders under one top
        rows = [
            (str(p.relative_to(raw)), d.name, top == "valid")
            for d, top in zip(train_dirs, tops, strict=True)
            if d.parent != raw and tops.count(top) > 1
            for p in list_images(d)
        ]
        named = [d for d in train_dirs if d.parent == raw] if card.names else []
        rows += _named(card.names, raw, named, notes) if named else []
        if not rows:
            raise CardError(
                f"{raw}: no label file (a .csv with the id column {fmt.id_col!r}) and no class folders "
                f"(train/<class>/*.jpg); set labels= (or names=) in the card"
            )
        frame = pd.DataFrame(rows, columns=["file", "label", "valid"])
        frame = frame if frame.valid.any() else frame.drop(columns="valid")  # the course's fixed valid/ split
        where = "the file names" if named else "the class folders"
        return frame.assign(id=[Path(f).stem for f in frame.file]), where, None
    labels = pd.read_csv(path, dtype=str, keep_default_na=False)
    others = [c for c in labels.columns if c not in (fmt.id_col, card.groups)]  # groups=: never the label
    label_col = card.target or (
        fmt.columns[0] if len(fmt.columns) == 1 and fmt.columns[0] in others else others[0] if len(others) == 1 else ""
    )
    source, derived = f"{path.name}:{label_col}", None
    if not card.target and len(fmt.columns) > 1 and set(fmt.columns) <= set(others):  # one-hot (Plant Pathology)
        hot = labels[list(fmt.columns)].apply(lambda c: c.str.strip().isin(["1", "1.0", "True", "true"]))
        label_col, source = "_label", f"{path.name}:its columns of 1"
        derived = labels.assign(_label=hot.apply(lambda r: " ".join(r.index[r]), axis=1))
        notes.append(
            f"{path.name}: one column per class ({first_few(fmt.columns)}): an image's label is its column of 1"
        )
    if label_col not in (labels if derived is None else derived).columns:
        raise CardError(
            f"{path}: which column is the label? It has {first_few(others)}; set target= in the card"
            if not card.target
            else f"{path}: no column {label_col!r} (target=); it has {first_few(others)}"
        )
    folders = tuple(str(d.relative_to(raw)) for d in train_dirs)
    frame, more = labelled_csv(raw, path.name, fmt.id_col, label_col, folders, derived)
    notes += more
    if card.groups:  # each image's group, by its id
        if card.groups not in labels.columns:
            raise CardError(f"{path}: no column {card.groups!r} (groups=); it has {first_few(others)}")
        group = labels.drop_duplicates(fmt.id_col).set_index(fmt.id_col)[card.groups].str.strip()
        group = group.reindex(frame.id).fillna("").to_numpy()
        frame["group"] = np.where(group == "", "_id:" + frame.id.astype(str), group)  # a blank: the image alone
        notes.append(
            f"{path.name}:{card.groups}: {frame.group.nunique():,} groups of images (groups=), each kept whole in one "
            f"fold, one side of the holdout and of the backtest's cut"
        )
    if frame.empty:
        raise CardError(f"{path}: none of its {len(labels):,} ids names an image in the training folders (train=)")
    # the groups= column is no feature either (not in `others`): the test's patients are others
    beside = [c for c in others if c != label_col and (derived is None or c not in fmt.columns)]
    return frame, source, (path, beside)  # Pawpularity's flags beside the label: table.py reads them


def _named(pattern: str, raw: Path, folders: list[Path], notes: list[str]) -> list[tuple[str, str, bool]]:
    """(file, label, False) of each image in `folders` whose stem `pattern` matches (its `label` group); the
    others reported and skipped."""
    regex, rows, unnamed = re.compile(pattern), [], []
    for folder in folders:
        for p in list_images(folder):
            match = regex.fullmatch(p.stem)
            if match:
                rows.append((str(p.relative_to(raw)), match["label"], False))
            else:
                unnamed.append(p.name)
    if unnamed:
        notes.append(f"{len(unnamed)} training images do not match names={pattern!r}, skipped: {first_few(unnamed)}")
    return rows


def submission(
    fmt: Format, test: pd.DataFrame, probs: np.ndarray, layout: Layout, setting, clip: float
) -> pd.DataFrame:
    """The submission of `probs` in the sample's format. `setting`: multi-label thresholds, or the cuts of the
    expected class (qwk's ordered labels); for single-label `clip` is the log-loss clip (probabilities) or the
    threshold on P(the last class) (f1, mcc)."""
    classes = np.array(layout.classes)
    out = pd.DataFrame({fmt.id_col: test.id.to_numpy()})
    if fmt.submits == "per_class":
        p = probs.clip(clip, 1 - clip) if clip > 0 else probs
        p = p if layout.multi_label else p / p.sum(1, keepdims=True)
        return pd.concat([out, pd.DataFrame(p, columns=list(classes))], axis=1)
    col = fmt.columns[0]
    if fmt.submits == "number":  # a regression's predictions, on the metric's scale
        out[col] = probs[:, 0]
        return out
    if fmt.submits == "probability":
        out[col] = probs[:, -1].clip(clip, 1 - clip)
        return out
    if fmt.submits == "labels":
        above = probs > np.asarray(setting)
        above[np.arange(len(probs)), probs.argmax(1)] = True
        out[col] = [" ".join(classes[row]) for row in above]
        return out
    if fmt.submits == "ranked":
        k = int(fmt.metric.partition("@")[2] or 5)
        out[col] = [" ".join(classes[row]) for row in np.argsort(-probs, 1)[:, :k]]
        return out
    if setting is not None and get_metric(fmt.metric).ordinal:  # qwk's grades: the expected class, cut
        pick = np.digitize(expected_class(probs), setting)
    else:
        pick = (probs[:, -1] > clip).astype(int) if clip > 0 and len(classes) == 2 else probs.argmax(1)
    out[col] = classes[pick]
    if fmt.numeric_labels:
        out[col] = out[col].astype("int64")
    return out


def columns(fmt: Format, classes: list[str]) -> dict[str, submitlib.Column]:
    """What each submission column must hold, as Kaggle scores it."""
    if fmt.submits in ("per_class", "probability"):
        return {c: submitlib.probability() for c in fmt.columns}
    if fmt.submits == "number":
        return {fmt.columns[0]: submitlib.number(ge=0 if get_metric(fmt.metric).target != "raw" else None)}
    if fmt.submits == "label":
        return {fmt.columns[0]: submitlib.label(classes)}
    return {fmt.columns[0]: submitlib.labels(classes)}


def scored_as(metric: str) -> str:
    """The name the runs' figures carry (`oof_<name>`): log loss and sample F2 as the image steps name them."""
    name = get_metric(metric).name
    return {"mlogloss": "logloss", "f2_samples": "f2"}.get(name, name)


def task_for(card: ImageCard, comp: str, spec: DataSpec, raw: Path) -> ImageTask:
    """The card resolved against raw/'s files: the ImageTask every image step runs on. The images are listed when
    a step first needs them, once: the features step does (its layout), and saves the submission's format in
    processed/layout.json beside what it listed; training and prediction read that format and list none (listing
    CIFAR-10's 60,000 images took 3 s of each step). A saved format made under another card is not used."""
    read = functools.cache(lambda: read_card(card, raw))
    this_card = json.loads(json.dumps(dataclasses.asdict(card)))  # as it reads back from JSON

    @functools.cache
    def fmt() -> Format:
        saved = raw.parent / "processed" / "layout.json"  # Paths.processed beside Paths.raw
        try:
            fields = dict(json.loads(saved.read_text())["format"])
            if fields.pop("card") == this_card:
                return Format(**{**fields, "columns": tuple(fields["columns"])})
        except (OSError, ValueError, KeyError, TypeError):  # none saved yet, an older or damaged file: read anew
            pass
        return read()[1]

    return ImageTask(
        comp,
        spec,
        lambda folder: read()[0] if folder == raw else read_card(card, folder)[0],
        lambda *args: submission(fmt(), *args),
        sample.name if (sample := _sample_path(card, raw)) and sample.is_file() else None,
        read_format(card, raw, rows=False)[0].id_col,
        lambda classes: columns(fmt(), classes),
        metric=card.metric,
        format_fields=lambda: {**dataclasses.asdict(read()[1]), "card": this_card},
    )


def cut(card: ImageCard, raw: Path, dest: Path, seed: int) -> pd.DataFrame:
    """A backtest's raw folder laid out as the competition's: a stratified fifth of the labelled images (a random
    one for numbers) moves to the test folder (named as before), the label file keeps the rest, a sample submission
    lists the moved ones (a table of pixels: its held rows become the test table); returns their answers (the id,
    `answer`: the label, `positive`: 1 where it is the last class)."""
    from pipelines.vision.backtest import held_out

    layout, fmt = read_card(card, raw)
    sample_path = _sample_path(card, raw)
    if sample_path is None or not sample_path.is_file():
        sample_path, sample = raw / (card.sample or "sample_submission.csv"), pd.DataFrame()
    else:
        sample = pd.read_csv(sample_path, dtype=str, keep_default_na=False)
    groups = layout.train.group if "group" in layout.train.columns else None
    held = held_out(list(layout.train.label), seed, layout.multi_label, layout.regression, groups)
    if layout.tables:  # images as rows of pixels: the held rows become the test table
        test_table = layout.tables[1] if len(layout.tables) > 1 else None
        ids = pixels.cut(raw, dest, layout.tables[0], test_table, list(layout.train.file), held, fmt.id_col)
    else:
        ids = _cut_files(card, raw, dest, layout, fmt, sample, held)
    # the sample's own first values, else what a row of its kind holds: a probability, or a class
    guess = {"probability": 0.5, "per_class": round(1 / len(layout.classes), 6), "number": 0}.get(
        fmt.submits, layout.classes[0]
    )
    values = {c: sample[c].iloc[0] if len(sample) else guess for c in fmt.columns}
    pd.DataFrame({fmt.id_col: ids, **values}).to_csv(dest / sample_path.name, index=False)
    answers = layout.train.label[held].to_numpy()
    return pd.DataFrame({fmt.id_col: ids, "answer": answers, "positive": (answers == layout.classes[-1]).astype(int)})


def _cut_files(
    card: ImageCard, raw: Path, dest: Path, layout: Layout, fmt: Format, sample: pd.DataFrame, held: np.ndarray
) -> list[str]:
    """The image files of a backtest's cut in place (hard links): the held ones in the test folder, the label file
    without them; returns their ids as the competition writes them."""
    from pipelines.backtest import place

    label_path = _label_file(card, raw, fmt.id_col, card.target or fmt.columns[0])
    ids_as = sample[fmt.id_col] if len(sample) else pd.read_csv(label_path, dtype=str)[fmt.id_col] if label_path else []
    suffix = _has_suffix(pd.Series(ids_as))  # ids as the competition writes them: file names or stems
    for file in layout.train.file[~held]:
        place(raw / file, dest / file)
    # the cut's test folder: the (main) one the data has, at its depth (SIIM-ISIC's jpeg/test/); of test/<class>/, test/
    by_class = "label" in layout.test.columns
    folders = layout.test.file.map(lambda f: Path(f).parts[0] if by_class else str(Path(f).parent))
    test_dir = card.test[0] if card.test else folders.mode().iloc[0] if len(folders) else "test"
    held_files = [Path(f) for f in layout.train.file[held]]
    if card.names or len({f.name for f in held_files}) < len(held_files):  # a name tells the label, or repeats
        held_files_as = [f"{i}{f.suffix}" for i, f in enumerate(held_files, start=1)]
    else:
        held_files_as = [f.name for f in held_files]
    for f, name in zip(held_files, held_files_as, strict=True):
        place(raw / f, dest / test_dir / name)
    ids = [n if suffix else Path(n).stem for n in held_files_as]
    if label_path is not None:
        labels = pd.read_csv(label_path, dtype=str, keep_default_na=False)
        named_by_file = _has_suffix(labels[fmt.id_col])
        held_ids = [f.name if named_by_file else f.stem for f in held_files]
        labels[~labels[fmt.id_col].isin(held_ids)].to_csv(dest / label_path.name, index=False)
        if layout.beside is not None:  # the test's own table (PetFinder's test.csv): the held rows' columns read
            rows = labels.rename(columns=str.strip).drop_duplicates(fmt.id_col).set_index(fmt.id_col)
            rows = rows.loc[held_ids].reset_index()
            rows[fmt.id_col] = ids
            rows[[fmt.id_col, *layout.beside.columns]].to_csv(dest / layout.beside.test_file, index=False)
    return ids


def score(card: ImageCard, sub: pd.DataFrame, hidden: pd.DataFrame) -> float:
    """The card's metric of a submission against the cut's answers, as Kaggle scores it."""
    metric = get_metric(card.metric)
    id_col, values = sub.columns[0], list(sub.columns[1:])
    merged = hidden.astype({id_col: str}).merge(sub.astype({id_col: str}), on=id_col, how="left")
    if merged[values].isna().any().any():
        raise ValueError(f"the submission lacks {int(merged[values[0]].isna().sum())} of the hidden ids")
    answer = merged.answer.astype(str)
    if len(values) > 1:  # one probability column per class
        if metric.tasks == ("multilabel",) or answer.str.contains(" ").any():
            return metric.score(np.array([[v in a.split() for v in values] for a in answer], int), merged[values])
        return metric.score(answer.map({v: i for i, v in enumerate(values)}).to_numpy(), merged[values].to_numpy())
    pred = merged[values[0]]
    if metric.submits == "probability":
        return metric.score(merged.positive.to_numpy(), pred.to_numpy(np.float64))
    if metric.submits == "ranked":
        return metric.score(answer, [p.split() for p in pred.astype(str)])
    if metric.submits == "labels":
        tags = sorted({t for s in [*answer, *pred.astype(str)] for t in s.split()})
        return metric.score(
            *(np.array([[t in s.split() for t in tags] for s in col], int) for col in (answer, pred.astype(str)))
        )
    if metric.threshold:  # f1, mcc: of the positive (last) class
        return metric.score(
            merged.positive.to_numpy(), (pred.astype(str) == answer[merged.positive == 1].iloc[0]).astype(int)
        )
    if card.classes:  # the card's order (qwk's text grades), not the labels' sorted one
        index = {str(c): i for i, c in enumerate(card.classes)}
        return metric.score(answer.map(index).to_numpy(), pred.astype(str).map(index).to_numpy())
    try:
        return metric.score(answer.astype(float).to_numpy(), pred.astype(float).to_numpy())
    except ValueError:
        return metric.score(answer.to_numpy(), pred.astype(str).to_numpy())


def accuracy(sub: pd.DataFrame, hidden: pd.DataFrame) -> float:
    """Beside a probability metric: the share of hidden images whose most likely class (P > 0.5 of the last class,
    or the largest column) is the answer."""
    id_col, values = sub.columns[0], list(sub.columns[1:])
    merged = hidden.astype({id_col: str}).merge(sub.astype({id_col: str}), on=id_col, how="left")
    if len(values) == 1:
        return float(((merged[values[0]] > 0.5).astype(int) == merged.positive).mean())
    return float((merged[values].to_numpy(np.float64).argmax(1) == merged.answer.map(values.index)).mean())


def competition(card: ImageCard, package: str) -> dict:
    """The module-level names of the competition contract (pipelines/registry.py) for an image card's package."""
    comp = package.rsplit(".", 1)[-1].replace("_", "-")
    named = [n for n in (card.sample, card.labels) if n]
    spec = DataSpec(slug=card.slug, files={n: [] for n in named})

    def task(paths) -> tuple:  # each step's first argument: the competition's task, read from its files
        return (task_for(card, comp, spec, paths.raw),)

    # the features step from its own module: decoding and resizing images imports no torch (about 5 s a run)
    steps = lazy_steps(_features, STEPS[:1], from_paths=task) + lazy_steps(_steps, STEPS[1:], from_paths=task)
    metric = scored_as(card.metric)
    return {
        "SPEC": spec,
        "Config": with_defaults(VisionConfig, card.defaults, "defaults="),
        "HEADLINE": f"oof_{metric}",
        "DISTRIBUTED": True,
        "BACKTEST": Backtest(
            windows=WINDOWS,
            cut=lambda raw, dest, seed: cut(card, raw, dest, seed),
            score=lambda sub, hidden: score(card, sub, hidden),
            metric=metric,
            id_col=card.id or "",
            greater_is_better=get_metric(card.metric).greater_is_better,
            extra={"accuracy": accuracy} if get_metric(card.metric).submits == "probability" else {},
            peers=PEERS,
        ),
        **dict(zip(STEPS, steps, strict=True)),
    }


def _features():
    from pipelines.vision import data  # no torch

    return data


def _steps():
    from pipelines.vision import steps  # torch: imported when a step runs

    keep_freed_memory()  # a CPU's convolutions: 2x the images/s (pipelines/env.py)
    return steps
