"""The forecasting levels of the tabular kind (features.add_series_levels through a card's series keys): built
from the synthetic store x item competition, no labelled row's features see its time holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd

import pipelines
from pipelines.__main__ import main
from pipelines.tabular.sample import write

LEVELS = ["OriginDays", "SeriesLevel", "SeriesDowLevel", "SeriesYearAgo", "SeriesRecent"]
CARD = (
    'from pipelines.tabular import Card\n\nCARD = Card(slug="levels-demo", metric="smape", series=("store", "item"))\n'
)


def features(src, data, capsys) -> tuple[pd.DataFrame, pd.DataFrame]:
    """download from src, features; processed (train, test)."""
    for step in (["download", "levels-demo", "--src", str(src)], ["features", "levels-demo", "levels=true"]):
        assert main([*step, "--data", str(data)]) == 0, capsys.readouterr().err
    processed = data / "levels-demo" / "processed"
    return pd.read_feather(processed / "train.feather"), pd.read_feather(processed / "test.feather")


def scrambled(src, dest, since: pd.Timestamp, until: pd.Timestamp | None = None):
    """A copy of the competition in src with every sale from `since` (to `until`) replaced by noise."""
    dest.mkdir()
    for name in ("test.csv", "sample_submission.csv"):
        (dest / name).write_bytes((src / name).read_bytes())
    train = pd.read_csv(src / "train.csv")
    dates = pd.to_datetime(train.date)
    hit = (dates >= since) & (dates <= (until or dates.max()))
    train.loc[hit, "sales"] = np.random.default_rng(1).integers(0, 500, int(hit.sum()))
    train.to_csv(dest / "train.csv", index=False)
    return dest


def test_series_levels_see_nothing_of_the_time_holdout_or_the_test(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KAGGLE_COMPETITIONS", str(tmp_path / "ext"))
    monkeypatch.setattr(pipelines, "__path__", list(pipelines.__path__))
    (tmp_path / "ext" / "levels_demo").mkdir(parents=True)
    (tmp_path / "ext" / "levels_demo" / "__init__.py").write_text(CARD)
    src = write("forecast", tmp_path / "src")  # 2016-2017 daily, 3 stores x 4 items; the test the next 30 days
    train, test = features(src, tmp_path / "a", capsys)
    assert "levels per series ['store', 'item']" in capsys.readouterr().out
    assert set(LEVELS) <= set(train.columns) and set(LEVELS) <= set(test.columns)
    holdout = train._fold == 0
    assert holdout.sum() == 30 * 12 and train.loc[holdout, LEVELS].notna().all().all()

    # every sale of the holdout's 30 days scrambled: not one feature of a labelled row (holdout included) moves
    # (the test's rows may read them: their forecast origin is train's last day)
    start = pd.Timestamp("2017-12-02")  # the holdout: the last 30 days of train
    train2, test2 = features(scrambled(src, tmp_path / "src2", start), tmp_path / "b", capsys)
    features_only = [c for c in train.columns if c != "sales"]
    pd.testing.assert_frame_equal(train[features_only], train2[features_only])
    assert not np.allclose(test.SeriesRecent, test2.SeriesRecent)

    # the 30 days before the holdout scrambled: the holdout's levels do move (the check above can fail)
    train3, _ = features(
        scrambled(src, tmp_path / "src3", start - pd.Timedelta(days=30), start - pd.Timedelta(days=1)),
        tmp_path / "c",
        capsys,
    )
    assert not np.allclose(train.loc[holdout, "SeriesRecent"], train3.loc[holdout, "SeriesRecent"])
