"""The generic tabular competition: a card of a few lines (`CARD = Card(slug=..., metric=...)` in
`pipelines/<comp>/__init__.py`, written by `make new COMP=<slug> KIND=tabular`), everything else read from the
competition's own files (pipelines/tabular/schema.py) and run by the shared steps (pipelines/tabular/steps.py;
the modules beside it: README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from models.metrics import TASKS, get_metric
from pipelines.config import setting, with_defaults
from pipelines.download import DataSpec
from pipelines.registry import lazy_steps

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    Frames = tuple[pd.DataFrame, pd.DataFrame]

STEPS = ("build_features", "train", "lr_find", "predict", "submit")
FILES = {"train": "train.csv", "test": "test.csv", "sample": "sample_submission.csv"}


@dataclass(frozen=True)
class Card:
    """A tabular competition in a few lines. Only `slug` and `metric` are required; the rest is read from the
    files and may be overridden here."""

    slug: str  # kaggle.com/c/<slug>
    metric: str  # how Kaggle scores it: a name of models.metrics.METRICS (rmse, rmsle, smape, auc, logloss, ...)
    id: str | None = None  # the id column (default: sample_submission.csv's first column)
    target: tuple[str, ...] = ()  # the train column(s) to learn, one per value column (default: the sample's)
    task: str | None = None  # regression | binary | multiclass | multilabel (default: from metric and target)
    # binary: the class whose probability (auc, logloss) or F1 (f1) is scored; default the later one: 1 of 0/1,
    # Yes of No/Yes, True of False. Name it where Kaggle scores the other (Attrited of Attrited/Existing)
    positive: str | None = None
    # the classes in their order where it is not the numbers' (qwk's text grades: ("low", "mid", "high"))
    classes: tuple[str, ...] = ()
    date: str | None = None  # the date column (default: the first that parses as dates; the others: days since 1970)
    series: tuple[str, ...] = ()  # series keys, e.g. ("store", "item"): categories, and with no date k-fold's unit
    # {"stores.csv": ("Store",)}: joined on the keys; a table of several rows a key (Home Credit's bureau.csv) as
    # one row a key, its rows' count and summaries (features.aggregate); a table keyed by another's column
    # (bureau_balance.csv by bureau.csv's SK_ID_BUREAU) onto that table first
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    categories: tuple[str, ...] = ()  # columns that are categories whatever their type (a weekday, a code 1..9)
    # ids of users and items whatever their names (Amazon's reviewerID and asin): categories, and the dot member's
    # pair (default: the numbers or text named as ids, userId or item_id, whose values repeat in train)
    codes: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()  # columns never used as features
    # numbers read as they are, where a value at their end would be read as "missing" (a sentinel: Home Credit's
    # 365243 days employed; features.procs.sentinel), in train.csv or a tables= file
    as_is: tuple[str, ...] = ()
    # numbers whose blank means a value, filled with it in train and test before anything reads them: House Prices'
    # blank GarageArea is a house with no garage, {"GarageArea": 0}. A blank left is missing: the median of the rows
    # that fit, and a <col>_na flag where train has blanks
    fill: dict[str, float] = field(default_factory=dict)
    # columns of free text whatever their values (default: text near-unique in its rows): their words as numbers
    text: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # other names for train / test / sample
    # files whose labelled rows every model also fits and no score counts (a Playground competition's original
    # dataset, e.g. ("original.csv",)): k-fold adds them to each fold's fitting rows, out of fold scores train's
    extra_train: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)  # other defaults of TabularConfig below, e.g. {"gbdt_lr": 0.1}
    # your own feature function, (train, test, raw folder) -> (train, test): run after the tables are joined and
    # before the column kinds are read, so what it adds is a feature like any other (Rossmann's events, weather).
    # It sees every target of train, the holdout's too: what it derives from the target must lag by the test's
    # horizon at least (features.add_series_levels does, and is leak-tested)
    features: Callable[[pd.DataFrame, pd.DataFrame, Path], Frames] | None = None
    # regression: your per-row offsets of the predictions on the training target's scale (log for rmspe and rmsle)
    # for what no model learns from the rows (Rossmann: the days around a store's refit), adjust(fit, rows) -> a
    # number per row of `rows`, fitted on the labelled frame `fit`: the rows before the holdout, the other folds,
    # or (for the test) every labelled row; both frames as the feature function leaves them
    adjust: Callable[[pd.DataFrame, pd.DataFrame], np.ndarray] | None = None

    def __post_init__(self):
        get_metric(self.metric)  # ValueError naming the known metrics
        if self.features is not None and not callable(self.features):
            raise ValueError(f"features={self.features!r} is not a function (train, test, raw folder) -> (train, test)")
        if self.adjust is not None and not callable(self.adjust):
            raise ValueError(f"adjust={self.adjust!r} is not a function (fit rows, rows) -> one offset per row")
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"task={self.task!r} is not one of {', '.join(TASKS)}")
        unknown = set(self.files) - set(FILES)
        if unknown:
            raise ValueError(f"files= keys {sorted(unknown)} unknown: use {', '.join(FILES)}")
        if self.classes and self.positive is not None:
            raise ValueError(f"classes={self.classes} and positive={self.positive!r}: the last class is the scored one")
        for name in ("target", "series", "categories", "codes", "drop", "text", "extra_train", "classes", "as_is"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        for line in ("series", "categories", "codes", "drop"):
            both = sorted(set(self.text) & set(getattr(self, line)))
            if both:
                raise ValueError(f"text= and {line}= both name {both}: a column is one of the two")
        wrong = {k: v for k, v in self.fill.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
        if wrong:
            raise ValueError(f"fill={wrong}: a number for each column, the value its blank means (0: none)")
        tables = {k: ((v,) if isinstance(v, str) else tuple(v)) for k, v in self.tables.items()}
        object.__setattr__(self, "tables", tables)

    def file(self, role: str) -> str:
        """The file name of `role` (train, test, sample)."""
        return self.files.get(role, FILES[role])


@dataclass
class TabularConfig:
    """The settings of every tabular competition (`make config COMP=...` lists them; ARGS='key=value')."""

    # --- features: validation -------------------------------------------------------------------------------
    # auto: a time-ordered holdout as long as the test's span when every test date comes after train's,
    # else k-fold (stratified for classification)
    validation: Literal["auto", "time", "kfold"] = setting("auto", step="features")
    # k of the k-fold validation (stratified for classification)
    folds: int = setting(5, ge=2, le=20, step="features")
    fold_seed: int = setting(0, ge=0, step="features")  # seed of the k folds
    horizon: int = setting(0, ge=0, le=3650, step="features")  # time holdout in days; 0 = the test's span
    # train on this many of train.csv's labelled rows (0: every one), for a table too large to fit whole (NYC Taxi
    # Fare's 55M): the latest, in whole days, where the validation is by time (the test after train), else a random
    # sample (fold_seed); the card's extra_train rows and the test's are all kept. train.csv is read in chunks, of
    # which only the rows either could choose are kept (rows.py), unless the card has features=, which sees every row
    rows: int = setting(0, ge=0, step="features")
    # time validation with series keys: each series' lagged levels of the target (features.add_series_levels).
    # Off by default: the blend's backtest was worse with them (pipelines/tabular/README.md, decisions)
    levels: bool = setting(False, step="features")
    level_window: int = setting(91, ge=1, le=3650, step="features")  # days of <Series>Level's window
    # free text (features.text: its length and word count, and these two; both 0: no feature): the counts of its
    # N commonest words in train's texts (each in 20 texts at least)
    text_words: int = setting(100, ge=0, le=10_000, step="features")
    # free text: the top N components of the TF-IDF of its words and word pairs (its topics)
    text_dims: int = setting(32, ge=0, le=300, step="features")
    # --- members: LightGBM, the entity-embedding network, a linear model, blended with weights chosen out of fold
    # gbdt: LightGBM; net: the entity-embedding network; linear: ridge / logistic regression of one-hot categories,
    # binned numbers and the free text's TF-IDF (pipelines/tabular/linear.py), where the table has free text; dot:
    # collaborative filtering (pipelines/tabular/collab.py), where two ids are read as codes (userId, movieId)
    members: list[Literal["gbdt", "net", "linear", "dot"]] = setting(
        factory=lambda: ["gbdt", "net", "linear", "dot"], min_items=1, member="ensemble"
    )
    # the linear member on a table without free text too (its one-hot columns alone): off by default, as House
    # Prices' six cuts' mean was worse with it (pipelines/tabular/README.md, decisions)
    linear_without_text: bool = setting(False, member="linear")
    # qwk's ordered classes: every member learns the class as a number (squared error), cut into classes at
    # thresholds chosen out of fold (true); or the classes by cross-entropy, the likeliest submitted (false)
    ordinal: bool = True
    # --- the LightGBM member ----------------------------------------------------------------------------------
    # the most rounds: early stopping on validation picks fewer
    gbdt_rounds: int = setting(5000, ge=1, le=1_000_000, member="gbdt")
    gbdt_lr: float = setting(0.05, gt=0, le=1, member="gbdt")  # LightGBM's learning rate
    gbdt_leaves: int = setting(31, ge=2, le=65536, member="gbdt")  # LightGBM's num_leaves
    gbdt_min_leaf: int = setting(20, ge=1, le=1_000_000, member="gbdt")  # LightGBM's min_data_in_leaf
    # share of the features each tree sees (feature_fraction)
    gbdt_colsample: float = setting(0.8, gt=0, le=1, member="gbdt")
    # share of the rows each tree sees (bagging_fraction)
    gbdt_subsample: float = setting(0.8, gt=0, le=1, member="gbdt")
    # the category columns split by LightGBM's own categorical splits (groups of categories; true) or as their
    # codes' order (thresholds on the codes; false)
    gbdt_categorical: bool = setting(True, member="gbdt")
    # rounds without improvement on validation before LightGBM stops
    gbdt_early_stopping: int = setting(200, ge=1, le=100_000, member="gbdt")
    # LightGBM models with seeds seed, seed+1, ... (other row and column samples), their predictions averaged
    gbdt_seeds: int = setting(1, ge=1, le=100, member="gbdt")
    # categories whose learned network embeddings LightGBM also reads (Guo & Berkhahn 2016: embeddings as
    # features help other learners), each model those of the network fitted on its rows; needs members gbdt and net
    gbdt_embeddings: list[str] = setting(factory=list, member="gbdt")
    # > 0: each embedding as its top N principal components (models.tabular.principal_components); 0: every one
    gbdt_embedding_dims: int = setting(8, ge=0, le=1000, member="gbdt")
    # --- the network member (pipelines/tabular/net.py): one cycle of net_epochs, no early stopping --------------
    # 0: auto, from the rows: a batch near rows/20 (a power of 2 in 64..512) and the epochs that make >= 500 steps
    # (4..100): House Prices' 1,168 rows a fold get 64 x 28, Store Item Demand's 730k 512 x 4; in k-fold, where
    # that is 8 or more, fewer where another fold's held loss was lowest sooner (members.chosen_epochs)
    net_epochs: int = setting(0, ge=0, le=1000, member="net")
    # rows per batch (0: auto, above)
    net_bs: int = setting(0, ge=0, le=1_000_000, member="net")
    # peak lr of the one cycle
    net_lr: float = setting(1e-2, gt=0, le=10, member="net")
    # hidden layer widths
    net_layers: list[int] = setting(factory=lambda: [200, 100], ge=1, min_items=1, member="net")
    net_ps: list[float] = setting(factory=lambda: [0.05, 0.1], ge=0, lt=1, member="net")  # dropout per layer
    # dropout on the concatenated embeddings
    net_emb_drop: float = setting(0.05, ge=0, lt=1, member="net")
    # decoupled weight decay (AdamW)
    net_wd: float = setting(0.01, ge=0, member="net")
    # processed columns the network leaves out (LightGBM reads every one), e.g. a level that helps trees only
    net_exclude: list[str] = setting(factory=list, member="net")
    # networks with seeds seed, seed+1, ... on the same rows, their predictions averaged (each one's own dropout,
    # initial weights and batch order). 1 by default: k-fold's test predictions average the folds' networks already
    net_seeds: int = setting(1, ge=1, le=100, member="net")
    # the network's precision: off = fp32 (the default: the figures of pipelines/tabular/README.md); auto = bf16
    # autocast on CUDA and on CPUs with AMX or AVX512-BF16 (1.35-1.4x faster for Rossmann's network); bf16; fp16 (GPU)
    net_amp: Literal["off", "auto", "gpu", "bf16", "fp16"] = setting("off", member="net")
    # --- the collaborative-filtering member (pipelines/tabular/collab.py), the course's MovieLens settings --------
    dot_factors: int = setting(50, ge=1, le=1000, member="dot")  # each user's and item's vector
    dot_epochs: int = setting(5, ge=1, le=1000, member="dot")  # one cycle of them
    dot_lr: float = setting(5e-3, gt=0, le=10, member="dot")  # its peak lr
    dot_wd: float = setting(0.1, ge=0, member="dot")  # decoupled weight decay (AdamW)
    # rows per batch: the course's is 64; 256 took a quarter of the time (pipelines/tabular/README.md)
    dot_bs: int = setting(256, ge=1, le=1_000_000, member="dot")
    device: str = setting("auto", result=False)  # auto: CUDA, then MPS, then CPU
    seed: int = setting(0, ge=0)  # seed of LightGBM and the network
    # time validation: retrain on every row (validation days included) with the rounds the holdout chose
    refit: bool = True


def competition(card: Card, package: str) -> dict:
    """The module-level names of the competition contract (pipelines/registry.py) for a card's package."""
    from pipelines.tabular import backtest

    spec = DataSpec(
        slug=card.slug,
        files={card.file(role): [] for role in FILES} | {name: list(keys) for name, keys in card.tables.items()},
        roles={card.file(role): role for role in FILES},
    )

    return {
        "SPEC": spec,
        "Config": with_defaults(TabularConfig, card.defaults, "defaults="),
        "HEADLINE": f"oof_{get_metric(card.metric).name}",
        "BACKTEST": backtest.tabular_backtest(card),
        **dict(zip(STEPS, lazy_steps(_steps, STEPS, card), strict=True)),
    }


def _steps():
    from pipelines.tabular import steps  # LightGBM and the models: imported when a step runs

    return steps


__all__ = ["Card", "STEPS", "TabularConfig", "competition"]
