"""Submission files: validated against the competition's sample_submission.csv, written atomically, and
sent with `kaggle competitions submit` (the only step with side effects)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import atomic_path
from pipelines.download import DownloadError, explain_kaggle_error, kaggle_api


class SubmissionError(ValueError):
    """A submission that Kaggle would reject or mis-score."""


def validate_submission(sub: pd.DataFrame, sample: pd.DataFrame, id_col: str, where: str = "submission") -> None:
    """Same header, same ids in the same order, no missing or non-finite values, as `sample`."""
    if list(sub.columns) != list(sample.columns):
        raise SubmissionError(
            f"{where}: columns {list(sub.columns)} differ from sample_submission's {list(sample.columns)}"
        )
    if len(sub) != len(sample):
        raise SubmissionError(f"{where}: {len(sub):,} rows, sample_submission has {len(sample):,}")
    mismatch = sub[id_col].to_numpy() != sample[id_col].to_numpy()
    if mismatch.any():
        i = int(mismatch.argmax())
        raise SubmissionError(
            f"{where}: row {i + 1} has {id_col}={sub[id_col].iloc[i]}, sample_submission has {sample[id_col].iloc[i]}"
        )
    values = sub.drop(columns=id_col)
    numeric = values.select_dtypes("number")
    bad = values.isna().any(axis=1) | ~np.isfinite(numeric.to_numpy(np.float64)).all(axis=1)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise SubmissionError(f"{where}: {int(bad.sum())} rows with missing or non-finite values (first: row {i + 1})")


def write_submission(sub: pd.DataFrame, sample: pd.DataFrame, id_col: str, path: Path) -> Path:
    """Validate, then write the CSV atomically (a failed check leaves any previous file untouched)."""
    validate_submission(sub, sample, id_col, where=str(path))
    with atomic_path(path) as tmp:
        sub.to_csv(tmp, index=False)
    return path


def submit(slug: str, comp: str, path: Path, message: str) -> None:
    """`kaggle competitions submit -c slug -f path -m message`, with one clear message per failure."""
    api = kaggle_api(comp, slug)
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = api.competition_submit(str(path), message, slug)
    except Exception as e:  # requests and kaggle errors -> one actionable message
        raise explain_kaggle_error(e, slug, comp, "submit") from None
    print(getattr(result, "message", None) or out.getvalue().strip() or f"submitted {path} to {slug}")


__all__ = ["DownloadError", "SubmissionError", "submit", "validate_submission", "write_submission"]
