"""Rossmann's files, columns and default configuration (plain data; override with CONFIG=file.toml or ARGS)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.gbdt import GBDTParams
from pipelines.config import setting
from pipelines.download import DataSpec
from pipelines.submit import number

# Column dtypes pinned at read time: pandas infers StateHoliday as int when a chunk holds only "0".
RAW_DTYPES = {
    "train.csv": {
        "Store": "int64",
        "DayOfWeek": "int64",
        "Date": "str",
        "Sales": "int64",
        "Customers": "int64",
        "Open": "int64",
        "Promo": "int64",
        "StateHoliday": "str",
        "SchoolHoliday": "int64",
    },
    "test.csv": {
        "Id": "int64",
        "Store": "int64",
        "DayOfWeek": "int64",
        "Date": "str",
        "Open": "float64",
        "Promo": "int64",
        "StateHoliday": "str",
        "SchoolHoliday": "int64",
    },
    "store.csv": {
        "Store": "int64",
        "StoreType": "str",
        "Assortment": "str",
        "CompetitionDistance": "float64",
        "CompetitionOpenSinceMonth": "float64",
        "CompetitionOpenSinceYear": "float64",
        "Promo2": "int64",
        "Promo2SinceWeek": "float64",
        "Promo2SinceYear": "float64",
        "PromoInterval": "str",
    },
    "sample_submission.csv": {"Id": "int64", "Sales": "float64"},
    "store_states.csv": {"Store": "int64", "State": "str"},
    "state_names.csv": {"StateName": "str", "State": "str"},
    "googletrend.csv": {"file": "str", "week": "str", "trend": "int64"},
    "weather.csv": {
        "file": "str",
        "Date": "str",
        "Max_TemperatureC": "int64",
        "Mean_TemperatureC": "int64",
        "Min_TemperatureC": "int64",
        "Dew_PointC": "int64",
        "MeanDew_PointC": "int64",
        "Min_DewpointC": "int64",
        "Max_Humidity": "int64",
        "Mean_Humidity": "int64",
        "Min_Humidity": "int64",
        "Max_Sea_Level_PressurehPa": "int64",
        "Mean_Sea_Level_PressurehPa": "int64",
        "Min_Sea_Level_PressurehPa": "int64",
        "Max_VisibilityKm": "float64",
        "Mean_VisibilityKm": "float64",
        "Min_VisibilitykM": "float64",
        "Max_Wind_SpeedKm_h": "int64",
        "Mean_Wind_SpeedKm_h": "int64",
        "Max_Gust_SpeedKm_h": "float64",
        "Precipitationmm": "float64",
        "CloudCover": "float64",
        "Events": "str",
        "WindDirDegrees": "int64",
    },
}
# What Kaggle scores: Sales per Id, a finite number >= 0.
# The largest daily sales in train.csv are 41,551: a million is a bound no forecast should reach.
SUBMISSION_COLUMNS = {"Sales": number(ge=0, le=1e6)}
COMPETITION_FILES = ("train.csv", "test.csv", "store.csv", "sample_submission.csv")
EXTRA_FILES = ("store_states.csv", "state_names.csv", "googletrend.csv", "weather.csv")


def _make_sample(folder: Path) -> None:
    from pipelines.rossmann.sample import generate

    generate(folder)


SPEC = DataSpec(
    slug="rossmann-store-sales",
    files={name: list(RAW_DTYPES[name]) for name in COMPETITION_FILES},
    extra={name: list(RAW_DTYPES[name]) for name in EXTRA_FILES},
    extra_url="https://files.fast.ai/part2/lesson14/rossmann.tgz",  # the course's external tables
    make_sample=_make_sample,
    max_bytes=2 << 30,  # the real files with the external tables are about 45 MB
)

# The course's variables (fast.ai lesson 6 / v1 rossmann notebook), plus Promo2Active.
CAT_NAMES = [
    "Store",
    "DayOfWeek",
    "Year",
    "Month",
    "Day",
    "StateHoliday",
    "CompetitionMonthsOpen",
    "Promo2Weeks",
    "StoreType",
    "Assortment",
    "PromoInterval",
    "CompetitionOpenSinceYear",
    "Promo2SinceYear",
    "State",
    "Week",
    "Events",
    "Promo_fw",
    "Promo_bw",
    "StateHoliday_fw",
    "StateHoliday_bw",
    "SchoolHoliday_fw",
    "SchoolHoliday_bw",
    "Promo2Active",
    # weeks since a competitor opened, 1..12, else 0: CompetitionMonthsOpen reads the month after an opening as
    # the month before one (pipelines/rossmann/README.md, decisions)
    "CompetitionWeeksNew",
    # 1-3 days before / after a state holiday as categories, else 4: the network misread the days next to the May
    # holidays from the distance alone (README.md, decisions)
    "BeforeStateHolidayNear",
    "AfterStateHolidayNear",
]
CONT_NAMES = [
    "CompetitionDistance",
    "Max_TemperatureC",
    "Mean_TemperatureC",
    "Min_TemperatureC",
    "Max_Humidity",
    "Mean_Humidity",
    "Min_Humidity",
    "Max_Wind_SpeedKm_h",
    "Mean_Wind_SpeedKm_h",
    "CloudCover",
    "trend",
    "trend_DE",
    "AfterPromo",
    "BeforePromo",
    "AfterStateHoliday",
    # capped at 14 days, and so is BeforeSchoolHoliday (features.BEFORE_CAP: the data's end censors them; README.md)
    "BeforeStateHoliday",
    "AfterSchoolHoliday",
    "BeforeSchoolHoliday",
    "Promo",
    "SchoolHoliday",
    # the six distances above as log(1 + days) too: the network cannot resolve a day near an event in months-long
    # gaps read normalized (README.md, decisions)
    *[f"{side}{ev}Log" for ev in ("Promo", "StateHoliday", "SchoolHoliday") for side in ("After", "Before")],
    # each store's level on each weekday over the 364 days ending level_lag days before the row (features.py);
    # LightGBM only (nn_exclude)
    "StoreDowLevel",
    # each store's mean log sales over level_window days ending level_lag days before the row: its drift
    "StoreLevel",
    # each store's log sales relative to the day's mean over all stores, over the 28 days ending at the row's
    # forecast origin (features.add_series_levels; README.md, decisions)
    "StoreRecent",
]
# Built for every run but not used by default: the winners' candidates that did not help LightGBM on both backtest
# windows beyond seed noise (README.md, decisions). Add one with ARGS='cont_names=[...,"PromoDay"]' to try.
OPTIONAL_CONT_NAMES = [
    "PromoDay",
    *[f"{ev}_{w}_week" for ev in ("Promo", "StateHoliday", "SchoolHoliday") for w in ("last", "this", "next")],
    "DaysToMonthEnd",
    "AfterClosed",
    "BeforeClosed",
    "StoreYearAgo",
    "AfterLongClosed",
    "BeforeLongClosed",
    "OriginDays",
]


@dataclass
class RossmannConfig:
    """Everything that shapes a Rossmann run (`make config COMP=rossmann` lists it); the fields with
    step="features" are the ones the feature step depends on."""

    # --- features ---
    # validation = the last N days of train (the test period's length); 0 = no hold-out
    valid_days: int = setting(48, ge=0, le=3650, step="features")
    # the categorical columns both members read (config.CAT_NAMES)
    cat_names: list[str] = setting(factory=lambda: list(CAT_NAMES), step="features")
    # the continuous columns both members read (config.CONT_NAMES; config.OPTIONAL_CONT_NAMES may be added)
    cont_names: list[str] = setting(factory=lambda: list(CONT_NAMES), step="features")
    event_window: int = setting(7, ge=1, step="features")  # days in the backward/forward event-count windows
    # StoreLevel looks back from this many days before each row (>= the test horizon: no leak)
    level_lag: int = setting(48, ge=0, le=3650, step="features")
    level_window: int = setting(91, ge=1, step="features")  # days of the store's log sales StoreLevel averages

    # --- model: entity embeddings + MLP (fast.ai course defaults) ---
    # hidden layer widths of the entity-embedding network
    layers: list[int] = setting(factory=lambda: [1000, 500], ge=1)
    # dropout after each hidden layer: stronger than the course's [0.001, 0.01], which overfit the real data
    ps: list[float] = setting(factory=lambda: [0.1, 0.3], ge=0, lt=1)
    emb_drop: float = setting(0.1, ge=0, lt=1)  # dropout on the concatenated embeddings
    emb_sizes: list[str] = setting(factory=list)  # overrides of the width rule, e.g. ["Store=50"]
    y_range_mult: float = setting(1.2, gt=0)  # sigmoid output on [0, y_range_mult * log(max Sales)]
    # processed columns the network leaves out (LightGBM reads them all): StoreDowLevel helps the trees, not the
    # network (README.md, decisions)
    nn_exclude: list[str] = setting(factory=lambda: ["StoreDowLevel"], member="nn")

    # --- training ---
    # "sales": Open==1 and Sales>0 (as the course); "open": every open day
    train_rows: Literal["sales", "open"] = "sales"
    epochs: int = setting(10, ge=1, le=1000)  # the course's 5 underfit the real data; 15 was no better
    # peak lr of the one cycle (the course's 1e-3 scored worse on the real data)
    lr: float = setting(3e-3, gt=0, le=10)
    schedule: Literal["one_cycle", "sgdr", "constant"] = "one_cycle"  # one_cycle | sgdr | constant
    pct_start: float = setting(0.25, gt=0, lt=1)  # one_cycle: share of training spent warming up
    cycle_len: int = setting(1, ge=1)  # sgdr: epochs of the first cycle
    cycle_mult: int = setting(2, ge=1)  # sgdr: each cycle this many times longer than the last
    bs: int = setting(512, ge=2, le=1 << 20)  # rows per batch
    wd: float = setting(0.2, ge=0)  # decoupled weight decay (AdamW), not applied to biases and BatchNorm
    adam_eps: float = setting(1e-5, gt=0)  # AdamW's epsilon
    clip: float = setting(0.0, ge=0)  # max gradient norm; 0 = off
    seed: int = setting(0, ge=0, result=False)  # the first seed; each seed's run records its own
    # networks with seeds seed..seed+n_seeds-1, averaged in log space; 2 gain a little for about 16 more minutes
    # (README.md, decisions)
    n_seeds: int = setting(1, ge=1, result=False)
    device: str = "auto"  # auto = CUDA, then MPS, then CPU
    # auto = bf16 autocast on CUDA and on CPUs with AMX or AVX512-BF16; gpu: on CUDA only; off; bf16; fp16 (GPU)
    amp: Literal["auto", "gpu", "off", "bf16", "fp16"] = "auto"
    # continue an interrupted run from its last checkpoint when the config matches
    resume: bool = setting(True, result=False)
    # --- ensemble: members, refit, blend (pipelines/ensemble.py) ---
    # nn: the seeds of the network above, averaged; gbdt: gradient-boosted trees (LightGBM) on the same
    # processed features plus the first seed's embeddings. Blend weights are fitted on the validation days.
    members: list[Literal["nn", "gbdt"]] = setting(factory=lambda: ["nn", "gbdt"], member="ensemble")
    # after validating, retrain every member on all rows (validation days included) with the same epochs /
    # boosting rounds; the submission comes from the refit members (validation scores from the first fit)
    refit: bool = setting(True, member="ensemble")
    # at most: early stopping on the validation days picks fewer
    gbdt_rounds: int = setting(5000, ge=1, le=1_000_000, member="gbdt")
    gbdt_lr: float = setting(0.1, gt=0, member="gbdt")  # LightGBM's learning rate
    gbdt_leaves: int = setting(127, ge=2, member="gbdt")  # LightGBM's num_leaves
    gbdt_min_leaf: int = setting(100, ge=1, member="gbdt")  # LightGBM's min_data_in_leaf
    # share of the features each tree sees (feature_fraction)
    gbdt_colsample: float = setting(0.7, gt=0, le=1, member="gbdt")
    # share of the rows each tree sees (bagging_fraction)
    gbdt_subsample: float = setting(0.8, gt=0, le=1, member="gbdt")
    # LightGBM models with seeds seed, seed+1, ... (other row and column samples), each early-stopped on its own,
    # their log predictions averaged; two at lr 0.1 beat one at 0.05 for the same time (README.md, decisions)
    gbdt_seeds: int = setting(2, ge=1, member="gbdt")
    # categorical columns whose learned network embeddings join the boosting member's features (Guo &
    # Berkhahn 2016, the 3rd-place Rossmann solution: embeddings as features help every learner)
    gbdt_embeddings: list[str] = setting(factory=lambda: ["Store"], member="gbdt")
    # > 0: each of those embeddings enters as its top N principal components (models.tabular.principal_components)
    # instead of its every dimension, the same blend in half the time (README.md, decisions); 0 = every one
    gbdt_embedding_dims: int = setting(8, ge=0, member="gbdt")
    # RMSPE-optimal point prediction from a log-space model: with log residuals ~ N(0, s2), the ratio c that
    # minimises E[(1 - c*exp(pred)/y)^2] is exp(-1.5 * s2). The submission's shift takes s2 from the validation
    # predictions (of the blend, or of the one member), beside the blend weights; without validation days, from
    # the training rows (each seed's own figure in per_seed always takes it from a sample of its training rows).
    rmspe_shift: bool = True
    # with rmspe_shift: the open days this many days before / after a closure of 5+ days (a refit; Open is known
    # for the test days) get their own RMSPE factor, fitted on the training rows before the validation days
    # (members.closure_factors; README.md, decisions); 0 = off
    closure_days: int = setting(7, ge=0, member="ensemble")


def card_defaults() -> dict:
    """This package's network and LightGBM settings as a tabular card's `defaults=` (pipelines/tabular), for
    Rossmann as a card with `features.card_features` (pipelines/rossmann/README.md: its backtest beside this
    package's)."""
    c = RossmannConfig()
    net = {"layers": c.layers, "ps": c.ps, "emb_drop": c.emb_drop, "epochs": c.epochs, "bs": c.bs, "lr": c.lr}
    net |= {"wd": c.wd, "exclude": c.nn_exclude, "amp": c.amp}
    gbdt = {k: getattr(c, f"gbdt_{k}") for k in ("lr", "leaves", "min_leaf", "colsample", "subsample", "seeds")}
    gbdt |= {"embeddings": c.gbdt_embeddings, "embedding_dims": c.gbdt_embedding_dims}
    gbdt["early_stopping"] = GBDTParams().early_stopping  # this package names no gbdt_early_stopping: LightGBM's here
    return {**{f"net_{k}": v for k, v in net.items()}, **{f"gbdt_{k}": v for k, v in gbdt.items()}}


def net_columns(cfg: RossmannConfig, proc) -> tuple[list[str], list[str]]:
    """The categorical and continuous columns the network reads, in order: every processed one (`proc`, a
    features.TabularProcessor) but `nn_exclude`. The boosting member reads them all."""
    known = {*proc.all_cat_names, *proc.cont_names, *CAT_NAMES, *CONT_NAMES, *OPTIONAL_CONT_NAMES}
    unknown = sorted(set(cfg.nn_exclude) - known)  # a known column this run does not build: nothing to leave out
    if unknown:
        raise ValueError(
            f"nn_exclude={cfg.nn_exclude}: {unknown} not a feature column; name columns of cat_names or "
            f"cont_names ({', '.join(proc.all_cat_names + proc.cont_names)})"
        )
    keep = lambda names: [c for c in names if c not in cfg.nn_exclude]
    return keep(proc.all_cat_names), keep(proc.cont_names)
