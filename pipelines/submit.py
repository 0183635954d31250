"""Submission files: validated against the competition's sample_submission.csv, written atomically, and
sent with `kaggle competitions submit` (the only step with side effects)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from features.io import atomic_path
from pipelines.download import DownloadError, explain_kaggle_error, kaggle_api
from pipelines.runs import RunDir


class SubmissionError(ValueError):
    """A submission that Kaggle would reject or mis-score."""


@dataclass(frozen=True)
class Column:
    """What one submission column must hold: a finite number in [ge, le], one of `choices` (`label`), or
    space-separated `choices` (`labels`, multi-label). Build with number(), probability(), label(), labels()."""

    kind: Literal["number", "label", "labels"]
    ge: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()

    def bad(self, values: pd.Series) -> tuple[np.ndarray, str]:
        """A mask of the values that break the rule, and the rule in words."""
        if self.kind == "number":
            x = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
            ok = np.isfinite(x)
            ok &= x >= self.ge if self.ge is not None else True
            ok &= x <= self.le if self.le is not None else True
            lo = f" >= {self.ge:g}" if self.ge is not None else ""
            hi = f"{' and' if lo else ''} <= {self.le:g}" if self.le is not None else ""
            return ~ok, f"finite numbers{lo}{hi}"
        known = set(self.choices)
        text = values.astype("string").fillna("")
        if self.kind == "label":
            return ~text.isin(known).to_numpy(), f"one of {_some(self.choices)}"
        ok = [bool(tags.split()) and set(tags.split()) <= known for tags in text]
        return ~np.array(ok, bool), f"space-separated tags among {_some(self.choices)}"


def _some(items, n: int = 6) -> str:
    items = list(items)
    return ", ".join(map(str, items[:n])) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def number(ge: float | None = None, le: float | None = None) -> Column:
    return Column("number", ge, le)


def probability() -> Column:
    return Column("number", 0.0, 1.0)


def label(choices) -> Column:
    return Column("label", choices=tuple(choices))


def labels(choices) -> Column:
    return Column("labels", choices=tuple(choices))


def validate_submission(
    sub: pd.DataFrame,
    sample: pd.DataFrame,
    id_col: str,
    where: str = "submission",
    columns: dict[str, Column] | None = None,
) -> None:
    """Same header, same ids in the same order as `sample`, no missing values, and each column as the
    competition scores it (`columns`; a column left out must be numeric where the sample's is)."""
    if list(sub.columns) != list(sample.columns):
        raise SubmissionError(
            f"{where}: columns {list(sub.columns)} differ from sample_submission's {list(sample.columns)}"
        )
    if len(sub) != len(sample):
        raise SubmissionError(f"{where}: {len(sub):,} rows, sample_submission has {len(sample):,}")
    # as text, the way Kaggle reads them: an id 1.0 where the sample has 1 is a different id
    mismatch = sub[id_col].astype(str).to_numpy() != sample[id_col].astype(str).to_numpy()
    if mismatch.any():
        i = int(mismatch.argmax())
        raise SubmissionError(
            f"{where}: row {i + 1} has {id_col}={sub[id_col].iloc[i]}, sample_submission has {sample[id_col].iloc[i]}"
        )
    values = sub.drop(columns=id_col)
    bad = values.isna().any(axis=1) | ~np.isfinite(values.select_dtypes("number").to_numpy(np.float64)).all(axis=1)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise SubmissionError(
            f"{where}: {int(bad.sum())} rows with missing or non-finite values (first: row {i + 1}, "
            f"{id_col}={sub[id_col].iloc[i]})"
        )
    rules = {c: number() for c in values.columns if pd.api.types.is_numeric_dtype(sample[c])} | (columns or {})
    for col, rule in rules.items():
        mask, expected = rule.bad(sub[col])
        if mask.any():
            i = int(mask.argmax())
            value = sub[col].iloc[i]
            shown = repr(value) if isinstance(value, str) else value
            raise SubmissionError(
                f"{where}: column {col!r} must hold {expected}; {int(mask.sum()):,} rows do not (first: row {i + 1}, "
                f"{id_col}={sub[id_col].iloc[i]}, {col}={shown}). Re-run make predict "
                f"to rewrite it."
            )


def read_submission(path: Path, text: tuple[str, ...] = ()) -> pd.DataFrame:
    """A submission file as a frame (the `text` columns as written: ids with leading zeros), or SubmissionError
    naming the file when it is empty or not a CSV."""
    try:
        return pd.read_csv(path, dtype={c: str for c in text})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise SubmissionError(f"{path}: not a CSV submission ({e}); re-run make predict to rewrite it") from None


def write_submission(
    sub: pd.DataFrame, sample: pd.DataFrame, id_col: str, path: Path, columns: dict[str, Column] | None = None
) -> Path:
    """Validate, then write the CSV atomically (a failed check leaves any previous file untouched)."""
    validate_submission(sub, sample, id_col, where=str(path), columns=columns)
    with atomic_path(path) as tmp:
        sub.to_csv(tmp, index=False)
    return path


def submittable(path: Path, result: Path, comp: str, run: str, slug: str) -> None:
    """Refuse (SubmissionError, with the fix) to send `path` where it is missing, where its run is unfinished (a
    training stopped midway; where the file is the last finished training's, the command that sends it as it is
    is named), or where it is older than its run's `result` (`make train` since the last `make predict`: maybe
    another model's). `make submit` sends the file as it is and never trains: a retrain it set off (the code
    changed) took minutes, and stopping it lost the run."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: make all COMP={comp} RUN={run} writes it")
    if not result.is_file() and (result.parent / "config.json").is_file():  # a training started, never finished
        # the last finished training's (os.replace keeps its time; a copy that resets file times can mislead this
        # check, as it can make's)
        previous = RunDir(result.parent).previous
        last = previous.is_file() and previous.stat().st_mtime <= path.stat().st_mtime
        raise SubmissionError(
            f"run {run!r} is unfinished (no {result}: a training stopped, or running now), so "
            + (f"{path} is its last finished training's ({previous}); " if last else f"{path} may be another model's; ")
            + f"make all COMP={comp} RUN={run} finishes the run and writes its file, then make submit"
            + (f"; or send this one as it is: kaggle competitions submit -c {slug} -f {path} -m {run}" if last else "")
        )
    if result.is_file() and result.stat().st_mtime > path.stat().st_mtime:
        raise SubmissionError(
            f"{path} was written before run {run!r} was trained again ({result}), maybe by another model; "
            f"make predict COMP={comp} RUN={run} writes the run's, then make submit"
        )


def submit(slug: str, comp: str, path: Path, message: str) -> None:
    """`kaggle competitions submit -c slug -f path -m message`, with one clear message per failure."""
    try:
        api = kaggle_api(comp, slug, "submit")
    except DownloadError as e:
        raise DownloadError(f"{e}:\n    {path}") from None
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = api.competition_submit(str(path), message, slug)
    except Exception as e:  # requests and kaggle errors -> one actionable message
        raise explain_kaggle_error(e, slug, comp, "submit") from None
    print(getattr(result, "message", None) or out.getvalue().strip() or f"submitted {path} to {slug}")


__all__ = [
    "Column",
    "DownloadError",
    "SubmissionError",
    "label",
    "labels",
    "number",
    "probability",
    "read_submission",
    "submit",
    "submittable",
    "validate_submission",
    "write_submission",
]
