"""Date features: the fast.ai `add_datepart`, written to be independent of the datetime unit."""

from __future__ import annotations

import re

import pandas as pd

# Name -> (accessor on Series.dt, dtype). Small integer dtypes keep 1M-row frames small.
_PARTS = {
    "Year": ("year", "int16"),
    "Month": ("month", "int8"),
    "Day": ("day", "int8"),
    "Dayofweek": ("day_of_week", "int8"),  # Monday=0
    "Dayofyear": ("day_of_year", "int16"),
    "Is_month_end": ("is_month_end", "bool"),
    "Is_month_start": ("is_month_start", "bool"),
    "Is_quarter_end": ("is_quarter_end", "bool"),
    "Is_quarter_start": ("is_quarter_start", "bool"),
    "Is_year_end": ("is_year_end", "bool"),
    "Is_year_start": ("is_year_start", "bool"),
}
_EPOCH = pd.Timestamp("1970-01-01")


def add_datepart(
    df: pd.DataFrame, field: str, drop: bool = True, prefix: str | None = None, time: bool = False
) -> pd.DataFrame:
    """Return `df` with Year, Month, Week, Day, Dayofweek, Dayofyear, Is_* flags and Elapsed from `field` (with
    `time`, Hour and Minute too, as fastai's add_datepart(time=True))."""
    if field not in df.columns:
        raise KeyError(f"add_datepart: column {field!r} not in frame (columns: {list(df.columns)})")
    dates = df[field]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates)
    if prefix is None:
        prefix = re.sub("[Dd]ate$", "", field)
    new = {}
    parts = {**_PARTS, **({"Hour": ("hour", "int8"), "Minute": ("minute", "int8")} if time else {})}
    for name, (attr, dtype) in parts.items():
        values = getattr(dates.dt, attr)
        new[prefix + name] = values if values.hasnans else values.astype(dtype)
    week = dates.dt.isocalendar().week  # ISO week, UInt32 with <NA> for NaT
    new[prefix + "Week"] = week.astype("float64") if week.hasnans else week.astype("int8")
    # Seconds since 1970 whatever the unit (pandas 3 parses to microseconds; `astype(int64) // 10**9` is wrong there).
    elapsed = (dates - _EPOCH) // pd.Timedelta(seconds=1) if not dates.hasnans else (dates - _EPOCH).dt.total_seconds()
    new[prefix + "Elapsed"] = elapsed
    out = df.assign(**{field: dates}, **new)
    order = [c for c in df.columns if c != field or not drop] + [c for c in new if c not in df.columns]
    return out[order]


def days_since_1970(dates: pd.Series) -> pd.Series:
    """Each date's days since 1970-01-01 as floats (a fraction of a day for a time; NaN for NaT), whatever the
    datetime unit."""
    return (dates - _EPOCH) / pd.Timedelta(days=1)


def week_start(dates: pd.Series) -> pd.Series:
    """The Sunday on or before each date: the key of Google Trends' Sunday-to-Saturday weeks."""
    days_since_sunday = (dates.dt.day_of_week + 1) % 7
    return (dates - pd.to_timedelta(days_since_sunday, unit="D")).dt.normalize()
