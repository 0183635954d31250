"""Reusable, competition-agnostic feature engineering: pure DataFrame -> DataFrame functions and fitted procs."""

from features.dates import add_datepart, days_since_1970, week_start
from features.events import (
    add_event_counts,
    add_event_durations,
    add_lagged_mean,
    add_run_position,
    add_series_levels,
    add_week_counts,
    days_since_origin,
    long_runs,
)
from features.procs import Categorify, FillMissing, Normalize, TabularProcessor
from features.tables import JoinError, aggregate, join_df

__all__ = [
    "Categorify",
    "FillMissing",
    "JoinError",
    "Normalize",
    "TabularProcessor",
    "add_datepart",
    "aggregate",
    "add_event_counts",
    "add_event_durations",
    "add_lagged_mean",
    "add_run_position",
    "add_series_levels",
    "add_week_counts",
    "days_since_1970",
    "days_since_origin",
    "join_df",
    "long_runs",
    "week_start",
]
