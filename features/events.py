"""Event features per group (e.g. per store): days since/until the last/next event, windowed event counts and
the lagged levels of a value per series (the forecasting features that see no future)."""

from __future__ import annotations

import numpy as np
import pandas as pd

YEAR_AGO_LAG = 350  # <prefix>YearAgo's lag in days (add_series_levels)
RECENT_WINDOW = 28  # days of <prefix>Recent's window, ending at the forecast origin (add_series_levels)


def _with_columns(df: pd.DataFrame, new: dict) -> pd.DataFrame:
    """`df.assign(**new)` as one concatenation (a replaced column moves to the end): assign inserts column by
    column, and pandas warns (PerformanceWarning) once a frame grown by many such steps holds over 100 blocks."""
    new = pd.DataFrame(new, index=df.index)
    return pd.concat([df.drop(columns=new.columns.intersection(df.columns)), new], axis=1)


def _sorted_view(df: pd.DataFrame, group: str, date: str) -> pd.DataFrame:
    if not df.index.is_unique:
        raise ValueError("event features need a unique index to align results; call reset_index() first")
    if df[[group, date]].isna().any().any():
        raise ValueError(f"event features: {group!r} or {date!r} has missing values")
    return df[[group, date]].sort_values([group, date], kind="stable")


def add_event_durations(df: pd.DataFrame, events: list[str], group: str = "Store", date: str = "Date") -> pd.DataFrame:
    """Add `After<ev>` (days since the last event, 0 on the day) and `Before<ev>` (days until the next) per group.

    Rows with no earlier (later) event in their group get NaN; leave them to FillMissing.
    Unlike the course (which measures `Before` as a negative number) both are non-negative day counts.
    """
    order = _sorted_view(df, group, date)
    dates = order[date]
    new = {}
    for ev in events:
        hit = df.loc[order.index, ev].astype(bool).to_numpy()
        on = dates.where(hit)
        last = on.groupby(order[group].to_numpy()).ffill()
        nxt = on.groupby(order[group].to_numpy()).bfill()
        new["After" + ev] = (dates - last).dt.days.astype("float32").reindex(df.index)
        new["Before" + ev] = (nxt - dates).dt.days.astype("float32").reindex(df.index)
    return _with_columns(df, new)


def add_event_counts(
    df: pd.DataFrame, events: list[str], window: int = 7, group: str = "Store", date: str = "Date"
) -> pd.DataFrame:
    """Add `<ev>_bw` (events in the `window` days ending today) and `<ev>_fw` (starting today) per group.

    Windows are calendar days, so a store with missing days is counted correctly (the course's
    `rolling(7)` counts rows). Written with cumulative sums and `searchsorted` because pandas has no
    forward-looking time-offset window; one vectorised pass for both directions.
    """
    order = _sorted_view(df, group, date)
    days = (order[date] - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)
    g = pd.factorize(order[group])[0].astype(np.int64)
    span = int(days.max() - days.min()) + 2 * window + 1
    key = g * span + (days.to_numpy() - int(days.min()))  # strictly increasing if (group, date) pairs are unique
    if (np.diff(key) <= 0).any():
        raise ValueError(f"event counts: duplicate ({group}, {date}) rows; each store-day must appear once")
    start = np.searchsorted(key, key - (window - 1), side="left")  # first row inside the backward window
    stop = np.searchsorted(key, key + (window - 1), side="right")  # one past the last row of the forward window
    new = {}
    for ev in events:
        hit = df.loc[order.index, ev].astype(bool).to_numpy()
        csum = np.concatenate([[0], np.cumsum(hit, dtype=np.int32)])
        idx = np.arange(len(key))
        new[ev + "_bw"] = pd.Series(csum[idx + 1] - csum[start], index=order.index, dtype="int16").reindex(df.index)
        new[ev + "_fw"] = pd.Series(csum[stop] - csum[idx], index=order.index, dtype="int16").reindex(df.index)
    return _with_columns(df, new)


def add_lagged_mean(
    df: pd.DataFrame,
    value: str,
    name: str,
    lag: int | pd.Series,
    window: int,
    group: str = "Store",
    date: str = "Date",
    where: pd.Series | None = None,
) -> pd.DataFrame:
    """Add `name`: the mean of `value` per group over the `window` days ending `lag` days before each row.

    With `lag` >= the forecast horizon the feature only looks at data known when forecasting, so it is
    the same computation for train, validation and test rows (no leak). `lag` may differ per row (a Series
    aligned with `df`, such as `days_since_origin`: the window then ends at each row's forecast origin). Rows
    where `where` is False (or `value` is NaN) do not count; a window with no counted rows gives NaN. Same
    cumulative-sum + `searchsorted` approach as `add_event_counts`.
    """
    order = _sorted_view(df, group, date)
    days = ((order[date] - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)).to_numpy()
    g = pd.factorize(order[group])[0].astype(np.int64)
    lags = lag.loc[order.index].to_numpy(np.int64) if isinstance(lag, pd.Series) else lag
    if np.ndim(lags) and np.min(lags) < 1:
        raise ValueError(f"{name}: a per-row lag must be >= 1 day (a row would see its own {value})")
    span = int(days.max() - days.min()) + 2 * (int(np.max(lags)) + window) + 1
    key = g * span + (days - int(days.min()))
    vals = df.loc[order.index, value].to_numpy(np.float64)
    ok = np.isfinite(vals) & (where.loc[order.index].to_numpy(bool) if where is not None else True)
    csum = np.concatenate([[0.0], np.cumsum(np.where(ok, vals, 0.0))])
    ccount = np.concatenate([[0], np.cumsum(ok)])
    lo = np.searchsorted(key, key - (lags + window - 1), side="left")
    hi = np.searchsorted(key, key - lags, side="right")
    count = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, (csum[hi] - csum[lo]) / np.maximum(count, 1), np.nan)
    return _with_columns(df, {name: pd.Series(mean.astype(np.float32), index=order.index).reindex(df.index)})


def days_since_origin(dates: pd.Series, origin: pd.Timestamp, horizon: int) -> pd.Series:
    """Per date, the days since its forecast origin, 1..`horizon`: origins every `horizon` days, the last one
    `origin` (the last day of known data). A date after `origin` is a test day `k` days ahead; a training date
    gets the same count from a simulated origin, so that a feature anchored at the origin (`add_lagged_mean`
    with this as its lag) is computed the same way for training and test rows, and a validation window of at
    most `horizon` days sees nothing of itself."""
    k = (dates - origin) // pd.Timedelta(days=1)
    return ((k - 1) % horizon + 1).astype("int64")


def add_series_levels(
    df: pd.DataFrame,
    value: str,
    group: str | list[str],
    origin: pd.Timestamp,
    lag: int,
    window: int = 91,
    date: str = "Date",
    where: pd.Series | None = None,
    prefix: str = "Series",
) -> pd.DataFrame:
    """Add the levels of `value` per series (`group`: a column or the series' key columns) that a forecaster
    knows at each row, for a test that starts the day after `origin` (the last day with `value`) and spans
    `lag` days or fewer; every window ends at least `lag` days back, or at the row's forecast origin:

    - `<prefix>Level`: the mean over the `window` days ending `lag` days before the row;
    - `<prefix>DowLevel`: the same on the row's weekday only, over 364 days (about 52 such days);
    - `<prefix>YearAgo`: the mean over the 28 days centred on 364 days back (the same weekdays a year earlier:
      yearly patterns a `lag` of weeks cannot see): lag 350 days (`lag` if longer);
    - `<prefix>Recent`: the mean, relative to each day's mean over every series (chain-wide promotions, holidays
      and seasons cancel), over the 28 days ending at the row's forecast origin, with `OriginDays` (the days since
      it: `days_since_origin`, origins every `lag` days back from `origin`).

    The same computation for training, validation and test rows, so a time holdout of at most `lag` days sees
    nothing of itself (the leak tests check it). Rows where `where` is False or `value` is NaN do not count."""
    keys = [group] if isinstance(group, str) else list(group)
    series = df.groupby(keys, sort=False, dropna=False).ngroup().to_numpy(np.int64)
    tmp = {"_series": series, "_series_dow": series * 7 + df[date].dt.day_of_week.to_numpy()}
    tmp["OriginDays"] = days_since_origin(df[date], origin, max(lag, 1))
    tmp["_relative"] = df[value] - df.groupby(date)[value].transform("mean")
    out = _with_columns(df, tmp)
    out = add_lagged_mean(out, value, f"{prefix}Level", lag=lag, window=window, group="_series", date=date, where=where)
    out = add_lagged_mean(
        out, value, f"{prefix}DowLevel", lag=lag, window=364, group="_series_dow", date=date, where=where
    )
    year_lag = max(YEAR_AGO_LAG, lag)
    out = add_lagged_mean(
        out, value, f"{prefix}YearAgo", lag=year_lag, window=28, group="_series", date=date, where=where
    )
    out = add_lagged_mean(
        out,
        "_relative",
        f"{prefix}Recent",
        lag=out.OriginDays,
        window=RECENT_WINDOW,
        group="_series",
        date=date,
        where=where,
    )
    return out.drop(columns=["_series", "_series_dow", "_relative"])


def _runs(df: pd.DataFrame, ev: str, group: str, date: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(sorted view, event flags in its order, index of each row's run start): a run is consecutive calendar
    days of `ev` in one group; a missing day or a day without the event ends it."""
    order = _sorted_view(df, group, date)
    days = ((order[date] - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)).to_numpy()
    g = pd.factorize(order[group])[0]
    follows = np.r_[False, (g[1:] == g[:-1]) & (days[1:] == days[:-1] + 1)]  # the previous row is yesterday
    hit = df.loc[order.index, ev].astype(bool).to_numpy()
    start = hit & ~(follows & np.r_[False, hit[:-1]])
    first = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))  # row of the current run's first day
    return order, hit, first


def add_run_position(df: pd.DataFrame, events: list[str], group: str = "Store", date: str = "Date") -> pd.DataFrame:
    """Add `<ev>Day`: the day's position inside its run of consecutive event days per group (1 on the first
    day of a promotion, 2 on the second, ...; 0 on a day without the event). A missing day ends a run."""
    new = {}
    for ev in events:
        order, hit, first = _runs(df, ev, group, date)
        pos = np.where(hit, np.arange(len(order)) - first + 1, 0)
        new[ev + "Day"] = pd.Series(pos.astype("int16"), index=order.index).reindex(df.index)
    return _with_columns(df, new)


def long_runs(df: pd.DataFrame, ev: str, min_days: int, group: str = "Store", date: str = "Date") -> pd.Series:
    """True on the rows of the runs of at least `min_days` consecutive `ev` days per group (a missing day ends
    a run), e.g. a store closed for a refit rather than for a Sunday or a holiday."""
    order, hit, first = _runs(df, ev, group, date)
    size = np.bincount(first[hit], minlength=len(order))  # days in each run, at its first row
    return pd.Series(hit & (size[first] >= min_days), index=order.index).reindex(df.index)


def add_week_counts(df: pd.DataFrame, events: list[str], group: str = "Store", date: str = "Date") -> pd.DataFrame:
    """Add `<ev>_last_week`, `<ev>_this_week`, `<ev>_next_week`: event days per group in the calendar week
    (Monday to Sunday) before, of and after each row's. Unlike `add_event_counts`' sliding windows, these are
    the same for every day of a week, as a store plans them."""
    week = (df[date] - pd.Timestamp("1970-01-05")) // pd.Timedelta(days=7)  # 1970-01-05 was a Monday
    new = {}
    for ev in events:
        counts = df[ev].astype("int16").groupby([df[group], week]).sum()
        for name, shift in (("last", -1), ("this", 0), ("next", 1)):
            key = pd.MultiIndex.from_arrays([df[group], week + shift])
            new[f"{ev}_{name}_week"] = counts.reindex(key).fillna(0).to_numpy().astype("int16")
    return _with_columns(df, new)
