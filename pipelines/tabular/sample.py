"""Synthetic tabular competitions, laid out as Kaggle ships them (train.csv, test.csv, sample_submission.csv):
what the tests run `make new` -> `make all` on, one of each kind the tabular path serves. Each has a signal a
model can find and the traps real files have (missing values, a text column, a column only in train)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("forecast", "binary", "multiclass", "classes")
METRICS = {"forecast": "smape", "binary": "auc", "multiclass": "accuracy", "classes": "mlogloss"}


def _features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    colour = rng.choice(["red", "green", "blue", None], n, p=[0.4, 0.3, 0.2, 0.1])
    size = rng.normal(10, 3, n).round(2)
    size[rng.random(n) < 0.05] = np.nan
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
    notes = [" ".join(rng.choice(words, 6)) + f" no. {i}" for i in range(n)]  # free text: dropped
    return pd.DataFrame({"colour": colour, "size": size, "rooms": rng.integers(1, 6, n), "notes": notes})


def write(kind: str, folder: Path, n: int = 3000, seed: int = 0) -> Path:
    """Write one synthetic competition of `kind` (KINDS) into folder; returns the folder."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "forecast":  # daily sales of store x item, the test the 30 days after train (SMAPE)
        dates = pd.date_range("2016-01-01", "2017-12-31")
        test_dates = pd.date_range("2018-01-01", periods=30)
        grid = lambda d: pd.MultiIndex.from_product([d, range(1, 4), range(1, 5)], names=["date", "store", "item"])
        frames = []
        for d in (dates, test_dates):
            f = grid(d).to_frame(index=False)
            weekly = 1 + 0.3 * (f.date.dt.day_of_week >= 5)
            f["sales"] = rng.poisson(10 * f.store * (1 + f["item"] / 4) * weekly).astype(int)
            frames.append(f)
        train, test = frames
        test = test.drop(columns="sales").assign(date=lambda f: f.date.dt.strftime("%Y-%m-%d"))
        test.insert(0, "id", np.arange(len(test)))
        train["date"] = train.date.dt.strftime("%Y-%m-%d")
        sample = test[["id"]].assign(sales=52)
    else:
        frame = _features(rng, n)
        score = (frame["size"].fillna(10) - 10) / 3 + (frame.colour == "red") - 0.5 * frame.rooms + 1
        frame.insert(0, "Id", np.arange(1, n + 1))
        if kind == "binary":
            frame["target"] = (score + rng.normal(0, 0.7, n) > 0).astype(int)
        else:
            names = np.array(["Class_1", "Class_2", "Class_3"])
            frame["target"] = names[np.digitize(score + rng.normal(0, 0.5, n), [-0.5, 0.8])]
        frame["leak"] = (score > 0).astype(int)  # only in train (the answer's leak): must never be a feature
        cut = int(n * 0.7)
        train, test = frame[:cut], frame[cut:].drop(columns=["target", "leak"])
        if kind == "classes":  # one submission column per class, probabilities (Otto-style)
            sample = test[["Id"]].assign(Class_1=1 / 3, Class_2=1 / 3, Class_3=1 / 3)
        else:
            sample = test[["Id"]].assign(target=0 if kind == "binary" else "Class_1")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder
