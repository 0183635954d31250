"""`make new COMP=<slug> KIND=tabular|image METRIC=<name>`: the card of a new competition, to edit."""

from __future__ import annotations

import os
from pathlib import Path

from features.io import atomic_write_text
from models.metrics import METRICS, get_metric
from pipelines.paths import ROOT
from pipelines.registry import EXTRA_PATH, module_name

TABULAR = '''"""{slug} (kaggle.com/c/{slug}) from its own files: `make features COMP={comp}` prints what was read
(id, target, task, column kinds, validation). Only slug and metric are required; uncomment a line to override."""

from pipelines.tabular import Card

CARD = Card(
    slug="{slug}",  # kaggle.com/c/<slug>
    metric="{metric}",  # how Kaggle scores it (models/metrics.py: rmse, rmsle, smape, auc, logloss, map@k: map@3 ...)
    # id="Id",  # the id column (default: sample_submission.csv's first column)
    # target=("SalePrice",),  # what to learn, one per value column (default: sample_submission.csv's other columns)
    # task="regression",  # regression | binary | multiclass (default: from the metric and the target)
    # positive="Yes",  # binary: the class whose probability or F1 is scored (default: the later one: 1, Yes, True)
    # classes=("low", "mid", "high"),  # the classes' order where they are not numbers (qwk's text grades)
    # date="date",  # the date (default: the first column read as dates; unix time if named; others: days since 1970)
    # series=("store", "item"),  # series keys: categories whatever their type, the unit of the data
    # tables={{"stores.csv": ("Store",)}},  # extra tables joined on their keys (several rows a key: summarised)
    # extra_train=("original.csv",),  # more labelled rows every fold fits and no score counts (Playground originals)
    # categories=("DayOfWeek",), text=("Title",), codes=("asin",),  # whatever their values: categories, free text, ids
    # drop=("Name",), as_is=("DAYS_EMPLOYED",),  # never features; numbers whose far end value (365243) is no "missing"
    # fill={{"GarageArea": 0}},  # numbers whose blank means a value (no garage: 0); other blanks: the median, a flag
    # features=my_features,  # your function (train, test, raw folder) -> (train, test), imported or defined here
    # files={{"train": "train.csv", "test": "test.csv", "sample": "sample_submission.csv"}},
    # defaults={{"gbdt_lr": 0.1}},  # other defaults of the settings: `make config COMP={comp}`
)
'''

IMAGE = r'''"""{slug}: an image competition (kaggle.com/c/{slug}), run from its own files. `make features COMP={comp}`
prints what was read from them (the label file, the classes, the test images); override a line below where it is
wrong. Only slug and metric are required."""

from pipelines.vision.card import ImageCard

CARD = ImageCard(
    slug="{slug}",  # kaggle.com/c/<slug>
    metric="{metric}",  # how Kaggle scores it (models/metrics.py: auc, logloss, accuracy, f2, map@k: map@3; rmse: a number)
    # sample="sample_submission.csv",  # its first column is the id, the others what to submit
    # labels="train.csv",  # the label file (default: the other .csv with the id column; none: train/<class>/)
    # names=r"(?P<label>[a-z]+)\.\d+",  # no label file: the class from each training file name (cat.0.jpg)
    # target="label",  # the label file's label column (default: the sample's value column)
    # train=("train",), test=("test",),  # image folders (default: test* folders hold the test images)
    # classes=("No_DR", "Mild", "Moderate"),  # the classes' order where they are not numbers (qwk's text grades)
    # shape=(16, 32),  # images as rows of pixel values (pixel0..): each one's (height, width) where it is no square
    # groups="patient_id",  # a label-file column whose images stay together (in one fold, one side of a cut)
    # defaults={{"sizes": [64], "members": ["probe", "net", "table"]}},  # other defaults: `make config COMP={comp}`
)
'''
KINDS = {"tabular": TABULAR, "image": IMAGE}


def new(comp: str, kind: str, metric: str | None) -> Path:
    """Write the card of competition `comp` (pipelines/<pkg>/__init__.py, or in the first folder of
    $KAGGLE_COMPETITIONS when set) and return its path; ValueError when it exists or an argument is wrong."""
    if kind not in KINDS:
        raise ValueError(f"KIND={kind!r}: `make new` writes the cards of {' and '.join(KINDS)} competitions")
    if not metric:
        raise ValueError(
            f"name the competition's metric: make new COMP={comp} KIND={kind} METRIC=... ({', '.join(METRICS)})"
        )
    metric = get_metric(metric).name
    folders = [p for p in os.environ.get(EXTRA_PATH, "").split(os.pathsep) if p]
    base = Path(folders[0]) if folders else ROOT / "pipelines"
    package = base / module_name(comp).split(".", 1)[1]
    card = package / "__init__.py"
    if card.exists():
        raise ValueError(f"{card} exists: edit it, or choose another COMP")
    atomic_write_text(card, KINDS[kind].format(slug=comp, comp=comp, metric=metric))
    # make's variables reach here as environment variables, from its command line or the shell: named in the
    # commands below, so that they are true however they were set
    subs, run = os.environ.get("SUBMISSIONS") or "submissions", os.environ.get("RUN") or "default"
    plain = {EXTRA_PATH: "", "DATA": "data", "SUBMISSIONS": "submissions", "RUN": "default"}
    opts = "".join(f" {k}={os.environ[k]}" for k, v in plain.items() if os.environ.get(k, v) not in (v, ""))
    print(
        f"{card}: the card of {comp} ({kind}, {metric}). Next:\n"
        f"  make download COMP={comp}{opts} [SRC=path/to/{comp}.zip]\n"
        f"  make features COMP={comp}{opts}   # prints what was read from the files\n"
        f"  make all COMP={comp}{opts}        # train, predict: {subs}/{comp}/{run}.csv"
    )
    return card
