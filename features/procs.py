"""Tabular preprocessing procs, fit on the training split only and then applied to any frame.

The fastai pattern without fastai: `FillMissing` (train median + `<col>_na` flag), `Categorify`
(train vocabulary, code 0 for missing or unseen values) and `Normalize` (train mean/std). Their state
is plain JSON so a prediction run reloads exactly what training used and a person can read it.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import atomic_write_text

log = logging.getLogger(__name__)


def _plain(value):
    """numpy scalar -> JSON-able Python scalar."""
    return value.item() if isinstance(value, np.generic) else value


def _require(df: pd.DataFrame, cols: list[str], who: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"{who}: column(s) {missing} not in frame; the procs were fit on a frame that had them")


def sentinels(
    values: pd.Series, share: float = 0.01, gap: float = 20.0, across_zero: float = 2.0, nines: float = 5.0, most=3
) -> list[float]:
    """The numbers that stand for "missing" or "does not apply" in a column (none: []): the one, two or `most`
    commonest values at an end, each in `share` of the rows at least, beyond the others' 1st..99th percentile by
    `gap` times that span; by `across_zero` times where the others never have their sign (-999 beside 0..100,
    Home Credit's 365243 days employed beside -17,912..0), by `nines` times for a code of nines (999 beside 0..100).
    So are a survey's -999 and -998 side by side, and a code with a stray value beyond it. A top-coded income (4.5e6
    beside 40,000..500,000, 8 times their span away) is not. As a number a sentinel bends a network's normalisation and a table's
    means; as missing it gets FillMissing's median and `_na` flag."""
    x = pd.to_numeric(values, errors="coerce").dropna()
    if len(x) < 100 or x.nunique() < 3:
        return []
    counts = x.value_counts()
    common = np.sort(counts.index[counts >= share * len(x)].to_numpy())
    found: list[float] = []
    for high in (True, False):
        ends = common[::-1] if high else common
        for k in range(1, min(most, len(ends)) + 1):
            edge = ends[k - 1]  # the inner one of the k commonest values at this end
            others = x[x < edge] if high else x[x > edge]
            lo, hi = others.quantile([0.01, 0.99]) if len(others) else (edge, edge)
            if hi <= lo:
                break
            beyond = edge - hi if high else lo - edge
            signed = edge > 0 >= others.max() if high else edge < 0 <= others.min()
            times = across_zero if signed else nines if re.fullmatch(r"-?9+", f"{edge:g}") else gap
            if beyond > times * (hi - lo):
                found += [_plain(v) for v in ends[:k]]
                break
    return found


class FillMissing:
    """Fill NaN in continuous columns with the train median; add a `<col>_na` flag for columns missing in train."""

    def __init__(self, medians: dict[str, float] | None = None, flagged: list[str] | None = None):
        self.medians = dict(medians or {})
        self.flagged = list(flagged or [])
        self.advice = ""  # said after the warning of blanks train never had: how the caller's user fills them

    def fit(self, df: pd.DataFrame, cont_names: list[str]) -> FillMissing:
        """Learn medians and which columns need an `_na` flag from the training frame."""
        _require(df, cont_names, "FillMissing.fit")
        self.medians = {}
        for c in cont_names:
            median = df[c].median()
            self.medians[c] = 0.0 if pd.isna(median) else float(median)
        self.flagged = [c for c in cont_names if df[c].isna().any()]
        return self

    @property
    def new_cat_names(self) -> list[str]:
        """The indicator columns this proc adds (categorical)."""
        return [c + "_na" for c in self.flagged]

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Fill with the fitted medians and add the fitted indicator columns."""
        _require(df, list(self.medians), "FillMissing")
        new = {c + "_na": df[c].isna() for c in self.flagged}
        surprise = {c: int(df[c].isna().sum()) for c in self.medians if c not in self.flagged and df[c].isna().any()}
        if surprise:
            log.warning(
                "FillMissing: NaN counts %s in columns with none in train; filled with train medians%s",
                surprise,
                self.advice,
            )
        filled = pd.DataFrame({c: df[c].fillna(v) for c, v in self.medians.items()}, index=df.index)
        flags = pd.DataFrame(new, index=df.index)
        # One concat instead of an insert per column (assign): with some 40 columns pandas warns of, and slows on,
        # a frame split into 100+ blocks. The selection restores the column order.
        out = pd.concat([df.drop(columns=list(self.medians)), filled, flags], axis=1)
        return out[[*df.columns, *flags.columns]]

    def state(self) -> dict:
        return {"medians": self.medians, "flagged": self.flagged}


class Categorify:
    """Map each categorical column to integer codes 1..n from the train vocabulary; NaN and unseen values -> 0."""

    def __init__(self, vocab: dict[str, list] | None = None):
        self.vocab = {c: list(v) for c, v in (vocab or {}).items()}

    def fit(self, df: pd.DataFrame, cat_names: list[str]) -> Categorify:
        """Learn each column's sorted vocabulary of non-missing training values."""
        _require(df, cat_names, "Categorify.fit")
        self.vocab = {c: [_plain(v) for v in np.sort(df[c].dropna().unique())] for c in cat_names}
        return self

    def cardinality(self) -> dict[str, int]:
        """Number of codes per column, including 0 for missing/unseen (the embedding table sizes)."""
        return {c: len(v) + 1 for c, v in self.vocab.items()}

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Replace each categorical column by its int codes."""
        _require(df, list(self.vocab), "Categorify")
        codes = {}
        for c, values in self.vocab.items():
            index = pd.Index(values)
            col = df[c]
            if index.dtype == bool and col.dtype != bool:  # True/False read as objects (missing values), or 0/1
                col = col.map({True: True, False: False}.get)  # 1 and 0 equal True and False; the rest None
            elif len(index) and index.dtype != col.dtype and pd.api.types.is_numeric_dtype(index.dtype):
                col = pd.to_numeric(col, errors="coerce")  # e.g. codes saved as JSON numbers, read back as text
            idx = index.get_indexer(col) + 1  # -1 (missing or unseen) -> 0
            dtype = np.int16 if len(values) < 32_000 else np.int32
            codes[c] = idx.astype(dtype)
        return df.assign(**codes)

    def state(self) -> dict:
        return {"vocab": self.vocab}


class Normalize:
    """Standardise continuous columns with the train mean and std (std 0 -> 1), as float32."""

    def __init__(self, means: dict[str, float] | None = None, stds: dict[str, float] | None = None):
        self.means = dict(means or {})
        self.stds = dict(stds or {})

    def fit(self, df: pd.DataFrame, cont_names: list[str]) -> Normalize:
        """Learn means and standard deviations from the training frame."""
        _require(df, cont_names, "Normalize.fit")
        self.means = {c: float(df[c].mean()) for c in cont_names}
        self.stds = {c: float(df[c].std()) or 1.0 for c in cont_names}
        self.stds = {c: (s if np.isfinite(s) and s > 0 else 1.0) for c, s in self.stds.items()}
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Standardise each fitted column."""
        _require(df, list(self.means), "Normalize")
        out = {c: ((df[c].astype("float64") - self.means[c]) / self.stds[c]).astype("float32") for c in self.means}
        return df.assign(**out)

    def state(self) -> dict:
        return {"means": self.means, "stds": self.stds}


class TabularProcessor:
    """FillMissing -> Categorify -> Normalize over named categorical and continuous columns, saved as JSON."""

    def __init__(self, cat_names: list[str], cont_names: list[str]):
        self.cat_names = list(cat_names)
        self.cont_names = list(cont_names)
        self.fill = FillMissing()
        self.categorify = Categorify()
        self.normalize = Normalize()

    @property
    def all_cat_names(self) -> list[str]:
        """Configured categorical columns plus the `_na` flags FillMissing adds."""
        return self.cat_names + [c for c in self.fill.new_cat_names if c not in self.cat_names]

    def fit(self, train: pd.DataFrame) -> TabularProcessor:
        """Fit every proc on the training frame (never on validation or test rows)."""
        self.fill.fit(train, self.cont_names)
        filled = self.fill.transform(train)
        self.categorify.fit(filled, self.all_cat_names)
        self.normalize.fit(filled, self.cont_names)
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Apply the fitted procs; returns a frame with int codes for categoricals and float32 continuous columns."""
        return self.normalize.transform(self.categorify.transform(self.fill.transform(df)))

    def state(self) -> dict:
        return {
            "cat_names": self.cat_names,
            "cont_names": self.cont_names,
            "fill_missing": self.fill.state(),
            "categorify": self.categorify.state(),
            "normalize": self.normalize.state(),
        }

    def save(self, path: str | Path) -> None:
        """Write the fitted state as JSON, atomically."""
        atomic_write_text(Path(path), json.dumps(self.state(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> TabularProcessor:
        """Rebuild a fitted processor from `save`'s JSON."""
        state = json.loads(Path(path).read_text())
        proc = cls(state["cat_names"], state["cont_names"])
        proc.fill = FillMissing(**state["fill_missing"])
        proc.categorify = Categorify(**state["categorify"])
        proc.normalize = Normalize(**state["normalize"])
        return proc
