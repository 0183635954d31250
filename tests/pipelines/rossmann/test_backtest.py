"""Rossmann's backtest on the card path: no feature sees sales on or after the holdout's origin, and the cut
carries the external tables."""

import shutil

import numpy as np
import pandas as pd


def test_no_feature_sees_sales_on_or_after_the_forecast_origin(rossmann_sample_dir, tmp_path, featurize):
    """Scramble every Sales and Customers figure of the holdout (the last 48 days, the test's horizon): every
    feature of every train row (the lagged store levels included) must come out the same. (Test rows may see them:
    for Kaggle's test period those days are history.)"""
    scrambled = tmp_path / "scrambled"
    shutil.copytree(rossmann_sample_dir, scrambled)
    train = pd.read_csv(scrambled / "train.csv", dtype=str)
    dates = pd.to_datetime(train.Date)
    after = dates >= dates.max() - pd.Timedelta(days=47)
    rng = np.random.default_rng(0)
    train.loc[after, "Sales"] = rng.integers(1, 50_000, after.sum()).astype(str)
    train.loc[after, "Customers"] = rng.integers(1, 5_000, after.sum()).astype(str)
    train.to_csv(scrambled / "train.csv", index=False)
    (a, _), (b, _) = featurize(rossmann_sample_dir), featurize(scrambled)
    assert (a.Sales != b.Sales).any()
    pd.testing.assert_frame_equal(a.drop(columns=["Sales", "Customers"]), b.drop(columns=["Sales", "Customers"]))


def test_the_cut_hides_the_last_48_days_and_carries_the_external_tables(rossmann_sample_dir, tmp_path):
    from pipelines import registry
    from pipelines.tabular.backtest import cut

    comp = registry.load("rossmann")
    # the last 48 days of train, then the 48 before them; cut2..cut5 further back when named
    assert comp.BACKTEST.chosen() == ["cut0", "cut1"] and comp.BACKTEST.windows["cut5"] == 5
    hidden = cut(comp.CARD, rossmann_sample_dir, tmp_path, 1)
    raw = pd.read_csv(rossmann_sample_dir / "train.csv")
    train, test = pd.read_csv(tmp_path / "train.csv"), pd.read_csv(tmp_path / "test.csv")
    end = pd.Timestamp(raw.Date.max()) - pd.Timedelta(days=48)
    assert pd.Timestamp(test.Date.max()) == end and test.Date.nunique() == 48 and "Sales" not in test.columns
    assert pd.Timestamp(train.Date.max()) == end - pd.Timedelta(days=48)  # nothing on or after the origin, nor later
    assert len(hidden) == len(test) and list(hidden.columns) == ["Id", "Sales"]
    for name in ("store.csv", "store_states.csv", "state_names.csv"):  # keyed by store: whole
        assert (tmp_path / name).read_bytes() == (rossmann_sample_dir / name).read_bytes()
    weather = pd.read_csv(tmp_path / "weather.csv")  # covers Kaggle's test days: whole, as the real test sees it
    assert weather.Date.max() == pd.read_csv(rossmann_sample_dir / "weather.csv").Date.max()
