"""Table joins that fail loudly instead of silently producing NaN rows or duplicated rows."""

from __future__ import annotations

import pandas as pd


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
