"""Table joins that fail loudly instead of silently producing NaN rows or duplicated rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.dates import days_since_1970

NUMBER_STATS = ("mean", "std", "min", "max", "sum")


class JoinError(ValueError):
    """A join left rows unmatched or would have multiplied rows."""


def join_df(
    left: pd.DataFrame,
    right: pd.DataFrame,
    left_on: str | list[str],
    right_on: str | list[str] | None = None,
    suffix: str = "_y",
    *,
    names: tuple[str, str] = ("left", "right"),
    allow_unmatched: bool = False,
) -> pd.DataFrame:
    """Left-join `right` onto `left`; raise `JoinError` if a left row finds no match or a right key repeats."""
    left_on = [left_on] if isinstance(left_on, str) else list(left_on)
    right_on = left_on if right_on is None else ([right_on] if isinstance(right_on, str) else list(right_on))
    for frame, keys, name in ((left, left_on, names[0]), (right, right_on, names[1])):
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise JoinError(f"join {names[1]} onto {names[0]}: key column(s) {missing} not in {name}")
    for lk, rk in zip(left_on, right_on, strict=True):
        numeric = [pd.api.types.is_numeric_dtype(f[k]) for f, k in ((left, lk), (right, rk))]
        if numeric[0] != numeric[1]:
            raise JoinError(
                f"join {names[1]} onto {names[0]}: key {lk!r} is {'numbers' if numeric[0] else 'text'} in {names[0]} "
                f"and {'numbers' if numeric[1] else 'text'} in {names[1]} (e.g. {left[lk].iloc[0]!r} and "
                f"{right[rk].iloc[0]!r}): write them the same way in both files"
            )
    dupes = right.duplicated(right_on, keep=False)
    if dupes.any():
        example = right.loc[dupes, right_on].head(3).to_dict("records")
        raise JoinError(
            f"join {names[1]} onto {names[0]}: {int(dupes.sum())} rows of {names[1]} share a key on {right_on} "
            f"(e.g. {example}); each key must appear once or the join multiplies rows: aggregate {names[1]} to one "
            f"row per key (in a feature function), or de-duplicate it"
        )
    joined = left.merge(
        right, how="left", left_on=left_on, right_on=right_on, suffixes=("", suffix), indicator="_merge_"
    )
    unmatched = joined["_merge_"] == "left_only"
    if unmatched.any() and not allow_unmatched:
        keys = joined.loc[unmatched, left_on].drop_duplicates().head(5).to_dict("records")
        first_row = int(unmatched.to_numpy().argmax())
        raise JoinError(
            f"join {names[1]} onto {names[0]}: {int(unmatched.sum())} of {len(left)} rows of {names[0]} have no match "
            f"in {names[1]} on {left_on}={right_on} (first at row {first_row}; unmatched keys e.g. {keys}). "
            f"Check that {names[1]} covers every key of {names[0]}."
        )
    joined = joined.drop(columns="_merge_")
    if right_on != left_on:
        joined = joined.drop(columns=[k for k in right_on if k not in left_on and k in joined.columns])
    joined.index = left.index
    return joined


def aggregate(
    table: pd.DataFrame,
    keys: list[str],
    prefix: str,
    *,
    numbers: list[str] = (),
    dates: list[str] = (),
    categories: list[str] = (),
    shares: list[str] = (),
    top: int = 10,
    min_share: float = 0.001,
) -> pd.DataFrame:
    """One row per key of a table that has several (Home Credit's bureau.csv, Elo's transactions), so that it joins
    without multiplying rows: `<prefix>_rows` (the key's rows), each number's NUMBER_STATS, each date's first and
    last (datetime64 columns; days since 1970), each category's distinct values and the share of the key's rows
    holding each of its `top` commonest values (those in `min_share` of the table's rows at least), and each of
    `shares` (True/False columns) the share of the key's rows where it is True. Columns `<prefix>_<column>_<stat>`,
    a level's share `<prefix>_<column>=<value>`, `<prefix>_<share>`; the keys as columns, in their first rows'
    order; rows whose key is missing are left out."""
    keys = list(keys)
    # each row's key as a number 0..n-1 in first-row order, found once: grouping on text keys again for every
    # statistic took most of the time (5M rows of Elo-like card ids)
    group = table.groupby(keys, sort=False, dropna=True).ngroup().to_numpy(float)
    rows = ~np.isnan(group)
    table, group = table[rows], group[rows].astype(np.int64)
    first = np.unique(group, return_index=True)[1]
    parts = [table[keys].iloc[first].reset_index(drop=True), pd.Series(np.bincount(group), name=f"{prefix}_rows")]
    if numbers:
        stats = table[list(numbers)].groupby(group).agg(list(NUMBER_STATS))
        stats.columns = [f"{prefix}_{c}_{s}" for c, s in stats.columns]
        parts.append(stats)
    if dates:
        days = pd.DataFrame({c: days_since_1970(table[c]) for c in dates})
        ends = days.groupby(group).agg(["min", "max"])
        ends.columns = [f"{prefix}_{c}_{'first' if s == 'min' else 'last'}" for c, s in ends.columns]
        parts.append(ends)
    if shares:
        parts.append(table[list(shares)].astype(np.float32).groupby(group).mean().add_prefix(f"{prefix}_"))
    for c in categories:
        codes, values = pd.factorize(table[c])  # -1: missing
        parts.append(pd.Series(codes, name=f"{prefix}_{c}_distinct").where(codes >= 0).groupby(group).nunique())
        shares = np.bincount(codes[codes >= 0], minlength=len(values)) / len(codes)
        levels = [i for i in np.argsort(-shares, kind="stable")[:top] if shares[i] >= min_share]
        if levels:  # one 0/1 column a level, averaged over the key's rows
            onehot = pd.DataFrame({f"{prefix}_{c}={values[i]}": (codes == i).astype(np.float32) for i in levels})
            parts.append(onehot.groupby(group).mean())
    return pd.concat(parts, axis=1)
