"""Rossmann backtests: the cut, the score, no leak across the forecast origin, and the whole driver."""

import shutil

import numpy as np
import pandas as pd
import pytest

from pipelines import backtest
from pipelines.paths import Paths
from pipelines.rossmann import BACKTEST, RossmannConfig, build_features
from pipelines.rossmann import backtest as rb
from pipelines.rossmann.config import CONT_NAMES, OPTIONAL_CONT_NAMES


@pytest.mark.parametrize(("window", "skip"), [("last48", 0), ("prev48", 48)])
def test_cut_makes_a_competition_of_the_days_before_the_window(rossmann_sample_dir, tmp_path, window, skip):
    assert BACKTEST.windows[window] == skip
    hidden = rb.cut(rossmann_sample_dir, tmp_path, skip)
    raw = pd.read_csv(rossmann_sample_dir / "train.csv", parse_dates=["Date"])
    train = pd.read_csv(tmp_path / "train.csv", parse_dates=["Date"])
    test = pd.read_csv(tmp_path / "test.csv", parse_dates=["Date"])
    end = raw.Date.max() - pd.Timedelta(days=skip)
    origin = end - pd.Timedelta(days=47)
    assert test.Date.min() == origin and test.Date.max() == end and test.Date.nunique() == 48
    assert train.Date.max() == origin - pd.Timedelta(days=1)  # nothing on or after the origin, nothing later
    assert "Sales" not in test.columns and list(test.columns) == list(
        pd.read_csv(rossmann_sample_dir / "test.csv").columns
    )
    assert hidden.Id.tolist() == test.Id.tolist() == pd.read_csv(tmp_path / "sample_submission.csv").Id.tolist()
    truth = raw.merge(test[["Store", "Date", "Id"]], on=["Store", "Date"]).set_index("Id").Sales
    assert hidden.set_index("Id").Sales.equals(truth.loc[hidden.Id])
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in rossmann_sample_dir.iterdir()}


def test_score_is_kaggles_rmspe():
    hidden = pd.DataFrame({"Id": [1, 2, 3], "Sales": [100, 0, 50]})
    sub = pd.DataFrame({"Id": [3, 2, 1], "Sales": [60.0, 999.0, 90.0]})  # the zero-sales row does not count
    assert rb.score(sub, hidden) == pytest.approx(np.sqrt((0.1**2 + 0.2**2) / 2))
    with pytest.raises(ValueError, match="2 of the 3"):
        rb.score(sub.iloc[:2], hidden)


def test_no_feature_sees_sales_on_or_after_the_forecast_origin(sample_paths, tmp_path):
    """Scramble every Sales and Customers figure from the validation origin on: every feature of every training
    and validation row (the lagged store levels included) must come out the same. (Test rows may see them: for Kaggle's
    test period those days are history.)"""
    cfg = RossmannConfig(cont_names=[*CONT_NAMES, *OPTIONAL_CONT_NAMES])
    build_features(sample_paths, cfg)
    scrambled = Paths("rossmann", tmp_path / "other", tmp_path / "subs")
    shutil.copytree(sample_paths.raw, scrambled.raw)
    train = pd.read_csv(scrambled.raw / "train.csv", dtype=str)
    after = pd.to_datetime(train.Date) >= pd.to_datetime(train.Date).max() - pd.Timedelta(days=cfg.valid_days - 1)
    rng = np.random.default_rng(0)
    train.loc[after, "Sales"] = rng.integers(1, 50_000, after.sum()).astype(str)
    train.loc[after, "Customers"] = rng.integers(1, 5_000, after.sum()).astype(str)
    train.to_csv(scrambled.raw / "train.csv", index=False)
    build_features(scrambled, cfg)
    for name in ("train", "valid"):
        a = pd.read_feather(sample_paths.processed / f"{name}.feather").drop(
            columns=["Sales", "Customers"], errors="ignore"
        )
        b = pd.read_feather(scrambled.processed / f"{name}.feather").drop(
            columns=["Sales", "Customers"], errors="ignore"
        )
        pd.testing.assert_frame_equal(a, b)
    valid = pd.read_feather(scrambled.processed / "valid.feather")
    assert len(valid) and (valid.Sales != pd.read_feather(sample_paths.processed / "valid.feather").Sales).any()


@pytest.mark.slow
def test_backtest_runs_the_chain_and_scores_every_member(sample_paths, capsys):
    import pipelines.rossmann as comp

    cfg = RossmannConfig(epochs=2, lr=1e-2, bs=256, layers=[64, 32], gbdt_rounds=40, gbdt_leaves=15)
    table = backtest.run(comp, sample_paths, cfg, "bt", ["last48"])
    assert table.member.tolist() == ["nn", "gbdt", "submission"]
    assert table.backtest.between(0, 1).all() and table.valid.between(0, 1).all()
    window = backtest.window_paths(sample_paths, "last48")
    assert "Sales" not in pd.read_csv(window.raw / "test.csv").columns  # the answers stay outside raw/
    assert (sample_paths.comp_dir / "backtest" / "bt.csv").is_file()
    capsys.readouterr()
    again = backtest.run(comp, sample_paths, cfg, "bt", ["last48"])
    out = capsys.readouterr().out
    assert "cut " not in out and out.count("already trained with this config") >= 2  # nothing redone
    pd.testing.assert_series_equal(again.backtest, table.backtest)
    with pytest.raises(ValueError, match="unknown backtest window 'last7'"):
        backtest.run(comp, sample_paths, cfg, "bt", ["last7"])
