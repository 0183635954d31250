"""Rossmann backtest windows: 48 days of train.csv cut off as a pseudo-test set, scored by RMSPE.

`last48` is the 48 days just before Kaggle's test period (2015-06-14..2015-07-31 on the real data), the
closest stand-in for the leaderboard; `prev48` the 48 days before that (rows after it are dropped: a model
never sees the future), so that defaults are not tuned to one period. The shared driver is
pipelines/backtest.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from models.metrics import rmspe
from pipelines.backtest import Backtest
from pipelines.rossmann.config import COMPETITION_FILES, EXTRA_FILES, RAW_DTYPES

HORIZON = 48  # days, as Kaggle's test period
TEST_COLUMNS = list(RAW_DTYPES["test.csv"])


def cut(raw: Path, dest: Path, skip_days: int) -> pd.DataFrame:
    """train.csv without its last `skip_days` days and the `HORIZON` days before them, which become test.csv
    (Ids 1..n, Open as Kaggle's float column) and sample_submission.csv; the other files are copied. Returns
    the answers: Id, Sales."""
    train = pd.read_csv(raw / "train.csv", dtype=RAW_DTYPES["train.csv"])
    dates = pd.to_datetime(train.Date, format="%Y-%m-%d")
    end = dates.max() - pd.Timedelta(days=skip_days)
    start = end - pd.Timedelta(days=HORIZON - 1)
    if start <= dates.min():
        raise ValueError(f"{raw / 'train.csv'}: too few days ({dates.min():%F}..{dates.max():%F}) for this window")
    test = train[(dates >= start) & (dates <= end)].reset_index(drop=True)
    test.insert(0, "Id", np.arange(1, len(test) + 1, dtype=np.int64))
    train[dates < start].to_csv(dest / "train.csv", index=False)
    test[TEST_COLUMNS].astype({"Open": "float64"}).to_csv(dest / "test.csv", index=False)
    pd.DataFrame({"Id": test.Id, "Sales": 0.0}).to_csv(dest / "sample_submission.csv", index=False)
    for name in COMPETITION_FILES + EXTRA_FILES:
        if not (dest / name).exists():
            shutil.copy2(raw / name, dest / name)
    return test[["Id", "Sales"]]


def score(submission: pd.DataFrame, hidden: pd.DataFrame) -> float:
    """Kaggle's RMSPE of Sales, over the rows whose true Sales is not 0."""
    both = hidden.merge(submission, on="Id", suffixes=("_true", ""), validate="one_to_one")
    if len(both) != len(hidden):
        raise ValueError(f"the submission scores {len(both):,} of the {len(hidden):,} backtest Ids")
    return rmspe(both.Sales, both.Sales_true)  # rows with true Sales 0 do not count


BACKTEST = Backtest(windows={"last48": 0, "prev48": HORIZON}, cut=cut, score=score, metric="rmspe", id_col="Id")
