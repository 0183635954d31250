"""Rossmann's feature function, the card's `features=` (pipelines/rossmann/__init__.py): the course's recipe,
vectorised: the store, state, Google-trend and weather joins; competition-open and Promo2 durations; days since /
until (also as log(1 + days); until a state or school holiday capped at 14) and 7-day counts of Promo, StateHoliday
and SchoolHoliday per store (over train and test together, so the first test days see the last train events); the
store levels; the candidates of the winners' write-ups. The date's parts, Categorify, FillMissing and Normalize are
the generic path's. Also the card's `adjust=`: the RMSPE factors of the days next to a store's refit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features import (
    add_event_counts,
    add_event_durations,
    add_run_position,
    add_series_levels,
    add_week_counts,
    join_df,
    long_runs,
    week_start,
)
from pipelines.rossmann.config import RAW_DTYPES

EVENTS = ["Promo", "StateHoliday", "SchoolHoliday"]
WEATHER_COLS = [c for c in RAW_DTYPES["weather.csv"] if c not in ("file", "Date")]
LONG_CLOSURE = 5  # closed days in a row that make a refit: longer than a Sunday next to holidays (at most 4)
CAPPED_EVENTS = ["StateHoliday", "SchoolHoliday"]  # their Before<event> is capped at BEFORE_CAP (see add_features)
BEFORE_CAP = 14  # days until the next such event beyond this (or with no later one in the data) read as this
LONG_CLOSURE_CAP = 30  # After/BeforeLongClosed beyond this many days (or with no such closure) read as this


def read_raw(raw: Path, name: str) -> pd.DataFrame:
    """Read one raw CSV with its pinned dtypes; a missing or malformed file names itself and the fix."""
    path = raw / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `make download COMP=rossmann` (or delete raw/ for the sample)")
    try:
        df = pd.read_csv(path, dtype=RAW_DTYPES[name], low_memory=False)
    except (ValueError, pd.errors.ParserError) as e:
        raise ValueError(f"{path}: cannot parse with the expected column types {RAW_DTYPES[name]}: {e}") from None
    if "Date" in df.columns:
        dates = pd.to_datetime(df["Date"], format="%Y-%m-%d", errors="coerce")
        if dates.isna().any():
            row = int(dates.isna().to_numpy().argmax())
            raise ValueError(f"{path}: row {row + 2} has Date {df['Date'].iloc[row]!r}, expected YYYY-MM-DD")
        df["Date"] = dates
    return df


def prepare_store(store: pd.DataFrame, store_states: pd.DataFrame) -> pd.DataFrame:
    """store.csv + state, with the 'since' columns filled (1900/1 = never) and their start dates."""
    store = join_df(store, store_states, "Store", names=("store.csv", "store_states.csv"))
    fills = {
        "CompetitionOpenSinceYear": 1900,
        "CompetitionOpenSinceMonth": 1,
        "Promo2SinceYear": 1900,
        "Promo2SinceWeek": 1,
    }
    store = store.assign(**{c: store[c].fillna(v).astype("int32") for c, v in fills.items()})
    comp_since = pd.to_datetime(
        pd.DataFrame({"year": store.CompetitionOpenSinceYear, "month": store.CompetitionOpenSinceMonth, "day": 15})
    )
    # Monday of ISO week (Promo2SinceYear, Promo2SinceWeek), as isoweek's Week(y, w).monday() in the course.
    iso = store.Promo2SinceYear.astype(str) + "-" + store.Promo2SinceWeek.astype(str).str.zfill(2) + "-1"
    promo2_since = pd.to_datetime(iso, format="%G-%V-%u")
    return store.assign(CompetitionOpenSince=comp_since, Promo2Since=promo2_since)


def prepare_trends(googletrend: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-state weekly trend keyed by State+WeekStart, country-wide trend_DE keyed by WeekStart)."""
    state = googletrend.file.str.split("_", n=2).str[2].fillna("DE").replace({"NI": "HB,NI"})
    start = pd.to_datetime(googletrend.week.str.split(" - ").str[0], format="%Y-%m-%d")
    gt = pd.DataFrame({"State": state, "WeekStart": start, "trend": googletrend.trend.astype("float32")})
    return gt[gt.State != "DE"], gt[gt.State == "DE"].drop(columns="State").rename(columns={"trend": "trend_DE"})


# Month abbreviations as Rossmann's PromoInterval writes them (Sept, not Sep).
PROMO_MONTHS = ["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec"]


def add_since_features(df: pd.DataFrame) -> pd.DataFrame:
    """CompetitionDaysOpen / CompetitionMonthsOpen (clipped to 24), CompetitionWeeksNew, Promo2Days / Promo2Weeks
    (0..25), Promo2Active."""
    since = (df.Date - df.CompetitionOpenSince).dt.days.where(df.CompetitionOpenSinceYear >= 1990)
    comp_days = since.clip(lower=0).fillna(0)
    # CompetitionMonthsOpen reads 0 before an opening, without a date and in the month after one alike; a store's
    # sales drop when a competitor opens (over-predicted by 0.05-0.10 in log in the 60 days after an opening on the
    # backtest). Weeks since a competitor opened, 1..12, else 0 (none recently, not yet, or no date).
    recent = since.between(0, 83)
    promo2_days = (df.Date - df.Promo2Since).dt.days.clip(lower=0).where(df.Promo2SinceYear >= 1990, 0)
    # Month-in-PromoInterval through a (interval x month) lookup table: 4 distinct intervals, 1M rows.
    intervals = pd.Categorical(df.PromoInterval.fillna(""))
    names = PROMO_MONTHS  # month 1..12 -> its name in PromoInterval ("Jan,Apr,Jul,Oct"); 0 -> ""
    table = np.array([[bool(m) and m in iv.split(",") for m in names] for iv in intervals.categories])
    in_interval = table[intervals.codes, df.Date.dt.month.to_numpy()]
    return df.assign(
        CompetitionDaysOpen=comp_days.astype("int32"),
        CompetitionMonthsOpen=(comp_days // 30).clip(upper=24).astype("int8"),
        CompetitionWeeksNew=(since // 7 + 1).where(recent, 0).astype("int8"),
        Promo2Days=promo2_days.astype("int32"),
        Promo2Weeks=(promo2_days // 7).clip(0, 25).astype("int8"),
        Promo2Active=((df.Promo2 == 1) & (promo2_days > 0) & in_interval),
    )


def card_features(train: pd.DataFrame, test: pd.DataFrame, raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The card's `features=`: train.csv and test.csv's frames as the card read them, typed as `read_raw` types
    them, with every join (the other raw CSVs of `raw`) and engineered column."""
    typed = []
    for frame, name in ((train, "train.csv"), (test, "test.csv")):
        dtypes = {c: t for c, t in RAW_DTYPES[name].items() if c in frame.columns and c != "Date"}
        typed.append(frame.astype(dtypes).assign(Date=pd.to_datetime(frame["Date"], format="%Y-%m-%d")))
    return add_features(*typed, raw)


def add_features(
    train: pd.DataFrame, test: pd.DataFrame, raw: Path, event_window: int = 7, level_window: int = 91
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """train.csv and test.csv's typed frames -> with every join (the other raw CSVs) and engineered column. The
    store levels look back from the test's horizon (its days, 48 on Kaggle): the holdout, as long as the test, and
    the test itself see no sales of their own days."""
    level_lag = (test.Date.max() - test.Date.min()).days + 1
    store = prepare_store(read_raw(raw, "store.csv"), read_raw(raw, "store_states.csv"))
    weather = join_df(
        read_raw(raw, "weather.csv"),
        read_raw(raw, "state_names.csv"),
        "file",
        "StateName",
        names=("weather.csv", "state_names.csv"),
    )
    weather = weather[["State", "Date", *WEATHER_COLS]].astype({c: "float32" for c in WEATHER_COLS if c != "Events"})
    gt_state, gt_de = prepare_trends(read_raw(raw, "googletrend.csv"))

    # One frame for both sets so per-store event durations run across the train/test boundary.
    test = test.assign(Open=test.Open.fillna(1).astype("int64"))  # blank Open in test: assume open
    df = pd.concat([train.assign(_test=False), test.assign(_test=True)], ignore_index=True)
    df["StateHoliday"] = df.StateHoliday != "0"
    df = join_df(df, store, "Store", names=("train+test", "store.csv"))
    df["WeekStart"] = week_start(df.Date)
    df = join_df(df, gt_state, ["State", "WeekStart"], names=("train+test", "googletrend.csv (states)"))
    df = join_df(df, gt_de, "WeekStart", names=("train+test", "googletrend.csv (Rossmann_DE)"))
    df = join_df(df, weather, ["State", "Date"], names=("train+test", "weather.csv"))
    df = add_since_features(df)
    df = add_event_durations(df, EVENTS)
    # Days until the next state / school holiday, capped at BEFORE_CAP (After<event> stays uncapped): past the
    # data's last day no event is known, and FillMissing read such a censored distance as the training median (a
    # month before Easter or Christmas), which LightGBM followed. Capped, every row whose next holiday lies 14 days
    # or more ahead reads 14, known or not. Not Promo: its gaps are at most 9 days but around Christmas, so a capped
    # censored row read as Christmas; FillMissing's median stands in (pipelines/rossmann/README.md, decisions).
    before = [f"Before{ev}" for ev in CAPPED_EVENTS]
    df[before] = df[before].clip(upper=BEFORE_CAP).fillna(BEFORE_CAP)
    # The same distances as log(1 + days) too (<name>Log): a day's difference near the event, which the network
    # cannot resolve in the raw days of months-long gaps; no earlier event stays NaN.
    durations = [f"{side}{ev}" for ev in EVENTS for side in ("After", "Before")]
    df = pd.concat([df, np.log1p(df[durations]).add_suffix("Log")], axis=1)  # one block, not six inserts
    df = add_event_counts(df, EVENTS, window=event_window)
    # The days next to a state holiday as categories: 1, 2 or 3 days before / after one, else 4 (no holiday that
    # near, or none known). A tree splits the distance at any day; the network reads it normalized and missed the
    # days next to the May holidays without them (README.md, decisions).
    for side in ("Before", "After"):
        days = df[f"{side}StateHoliday"]
        df[f"{side}StateHolidayNear"] = days.where(days.between(1, 3), 4).astype("int8")
    # Each store's levels known at the forecast origin (features.add_series_levels): StoreLevel (its open days'
    # mean log sales over the `level_window` days ending `level_lag` days back; with the lag at least the forecast
    # horizon, test rows see only train data), StoreDowLevel (per weekday: the "recent data" features of Kaggle's
    # 1st place, Gert Jacobusse), StoreYearAgo (the same season a year earlier) and StoreRecent with OriginDays (the
    # 28 days ending at the row's forecast origin, relative to the day's mean over all stores, as promotions,
    # holidays and Easter are chain-wide: on a test day 10 days ahead StoreLevel's data ends 48 days back, this
    # one's 10).
    df["LogSales"] = np.log(df.Sales.where(df.Sales > 0))
    df = add_series_levels(
        df,
        "LogSales",
        "Store",
        train.Date.max(),
        lag=level_lag,
        window=level_window,
        where=df.Open == 1,
        prefix="Store",
    )
    df = df.drop(columns=["LogSales"])
    # Candidates from the winners' write-ups, built for every run, used when named in cont_names/cat_names
    # (config.py records what each scored on the backtest): the day's place in a promotion (PromoDay),
    # promo / holiday days in the last, this and next calendar week (Gert Jacobusse's counts), days to the
    # month's end (pay-day effects), days since / until the store was closed (reopening after a refit).
    df = add_run_position(df, ["Promo"])
    df = add_week_counts(df, EVENTS)
    df["DaysToMonthEnd"] = (df.Date.dt.days_in_month - df.Date.dt.day).astype("int8")
    df = add_event_durations(df.assign(Closed=df.Open == 0), ["Closed"]).drop(columns="Closed")
    # Days since / until a long closure (a refit, not a Sunday or a holiday); the 2nd-place write-up (Nima
    # Shahbazi) credits a feature built from data many removed from training. Open is known for the test days and
    # no sales are read. In the real train.csv's 91 such closures (2014's half-year of missing rows aside), sales
    # ran 1.2-1.3x the store's median 6-12 days before one, 0.6x on its last day, 2.6x on the day the store
    # reopened and 1.4-1.9x that week.
    df["LongClosed"] = long_runs(df.assign(Closed=df.Open == 0), "Closed", LONG_CLOSURE)
    df = add_event_durations(df, ["LongClosed"]).drop(columns="LongClosed")
    for col in ("AfterLongClosed", "BeforeLongClosed"):
        df[col] = df[col].clip(upper=LONG_CLOSURE_CAP).fillna(LONG_CLOSURE_CAP)
    df = df.drop(columns=["WeekStart", "CompetitionOpenSince", "Promo2Since"])
    train_out = df[~df._test].drop(columns=["_test", "Id"]).reset_index(drop=True)
    test_out = df[df._test].drop(columns=["_test", "Sales", "Customers"]).reset_index(drop=True)
    return train_out, test_out.astype({"Id": "int64"})


def closure_factors(train: pd.DataFrame, days: int, min_rows: int = 30) -> dict[str, float]:
    """RMSPE factors for the open days within `days` days before / after a long closure (a refit), from the
    labelled rows `train` (Store, DayOfWeek, Promo, Sales and the distances BeforeLongClosed, AfterLongClosed).

    Sales around a refit swing both ways (clearance sales, then a few days at a fraction of the usual; a crowd at
    the reopening), and no model sees enough of them to predict which: the log-space prediction is right on
    average but its error is several times the usual. RMSPE punishes over-prediction more, so its best
    multiplier c = sum(q) / sum(q^2) (q = prediction / sales) falls far below 1 where the error is large. With
    too few such rows for a model's own out-of-fold errors, q here is each store's median sales on that weekday
    and promo (over days at least LONG_CLOSURE_CAP days from any long closure) over the day's sales; the factor
    is the group's c relative to those distant days' c. Before a closure takes precedence over after one. A
    group with under `min_rows` rows gets 1 (no evidence). Real train.csv, days=7: 0.48 before, 1.35-1.36 after.
    Returns {"days": days, "before": factor, "after": factor}."""
    train = train[train.Sales > 0]
    before, after = train.BeforeLongClosed.to_numpy(), train.AfterLongClosed.to_numpy()
    far = (before >= LONG_CLOSURE_CAP) & (after >= LONG_CLOSURE_CAP)
    keys = ["Store", "DayOfWeek", "Promo"]
    typical = train[far].groupby(keys).Sales.median().rename("typical")
    q = (train[keys].join(typical, on=keys).typical / train.Sales).to_numpy(np.float64)
    best = lambda mask: np.nansum(q[mask]) / np.nansum(q[mask] ** 2)
    groups = {"before": before <= days, "after": (after <= days) & (before > days)}
    usual = best(far)
    fitted = {
        name: round(float(best(mask) / usual), 4) if np.isfinite(q[mask]).sum() >= min_rows else 1.0
        for name, mask in groups.items()
    }
    return {"days": days, **fitted}


def closure_offsets(frame: pd.DataFrame, factors: dict | None) -> np.ndarray:
    """Per row of `frame`, the log of its closure factor (`closure_factors`' result; 0 for the rows not near a
    long closure, or without factors)."""
    out = np.zeros(len(frame))
    if not factors:
        return out
    before = frame.BeforeLongClosed.to_numpy() <= factors["days"]
    after = (frame.AfterLongClosed.to_numpy() <= factors["days"]) & ~before
    out[before], out[after] = np.log(factors["before"]), np.log(factors["after"])
    return out


CLOSURE_NEAR = 7  # days before / after a long closure whose open days get their own RMSPE factor (README.md)


def closure_adjust(fit: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """The card's `adjust=`: each row's log closure factor (`closure_factors` fitted on the labelled rows `fit`)."""
    return closure_offsets(rows, closure_factors(fit, CLOSURE_NEAR))
