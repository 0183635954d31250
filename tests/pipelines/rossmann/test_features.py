"""The Rossmann feature step on the embedded sample, checked against a straightforward reference."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from features import TabularProcessor
from pipelines.rossmann import RossmannConfig
from pipelines.rossmann.features import BEFORE_CAP, add_since_features, build, build_joined


@pytest.fixture(scope="module")
def joined(rossmann_sample_dir):
    return build_joined(rossmann_sample_dir)


def test_joined_shapes_and_no_unmatched_rows(joined, rossmann_sample_dir):
    train, test = joined
    raw_train = pd.read_csv(rossmann_sample_dir / "train.csv")
    raw_test = pd.read_csv(rossmann_sample_dir / "test.csv")
    assert len(train) == len(raw_train) and len(test) == len(raw_test)
    for col in ["trend", "trend_DE", "Mean_TemperatureC", "State", "StoreType"]:
        assert train[col].notna().all() and test[col].notna().all(), col
    assert test.Open.notna().all()  # blank Open -> 1
    assert test.Id.tolist() == raw_test.Id.tolist()  # test order preserved


def test_since_features_equal_a_row_by_row_reference(joined, rossmann_sample_dir):
    """The course's apply-per-row recipe, written plainly, on every train row."""
    train, _ = joined
    store = pd.read_csv(rossmann_sample_dir / "store.csv").set_index("Store")
    months, weeks = [], []
    for s, d in zip(train.Store, train.Date, strict=True):
        r = store.loc[s]
        y = 1900 if pd.isna(r.CompetitionOpenSinceYear) else int(r.CompetitionOpenSinceYear)
        m = 1 if pd.isna(r.CompetitionOpenSinceMonth) else int(r.CompetitionOpenSinceMonth)
        days = max((d - pd.Timestamp(y, m, 15)).days, 0) if y >= 1990 else 0
        months.append(min(days // 30, 24))
        py = 1900 if pd.isna(r.Promo2SinceYear) else int(r.Promo2SinceYear)
        pw = 1 if pd.isna(r.Promo2SinceWeek) else int(r.Promo2SinceWeek)
        pdays = max((d - pd.Timestamp(dt.date.fromisocalendar(py, pw, 1))).days, 0) if py >= 1990 else 0
        weeks.append(min(pdays // 7, 25))
    assert train.CompetitionMonthsOpen.tolist() == months
    assert train.Promo2Weeks.tolist() == weeks


def test_trend_and_weather_equal_a_lookup_reference(joined, rossmann_sample_dir):
    train, _ = joined
    gt = pd.read_csv(rossmann_sample_dir / "googletrend.csv")
    weekly = {}
    for f, w, t in zip(gt.file, gt.week, gt.trend, strict=True):
        start = pd.Timestamp(w.split(" - ")[0])
        for k in range(7):
            weekly[(f.split("_")[-1] if f != "Rossmann_DE" else "DE", start + pd.Timedelta(days=k))] = t
    sample = train.sample(500, random_state=0)
    expect = [weekly[(s.split(",")[-1], d)] for s, d in zip(sample.State, sample.Date, strict=True)]
    assert sample.trend.tolist() == expect
    assert sample.trend_DE.tolist() == [weekly[("DE", d)] for d in sample.Date]
    weather = pd.read_csv(rossmann_sample_dir / "weather.csv").set_index(["file", "Date"])
    names = pd.read_csv(rossmann_sample_dir / "state_names.csv").set_index("State").StateName
    expect = [
        weather.loc[(names[s], f"{d:%Y-%m-%d}"), "Max_TemperatureC"]
        for s, d in zip(sample.State, sample.Date, strict=True)
    ]
    assert sample.Max_TemperatureC.tolist() == expect


def test_processed_tables(sample_paths):
    cfg = RossmannConfig()
    summary = build(sample_paths, cfg)
    proc = TabularProcessor.load(sample_paths.processed / "procs.json")
    train = pd.read_feather(sample_paths.processed / "train.feather")
    valid = pd.read_feather(sample_paths.processed / "valid.feather")
    test = pd.read_feather(sample_paths.processed / "test.feather")
    assert valid.Date.nunique() == 48 and valid.Date.min() > train.Date.max()  # time-ordered hold-out
    assert str(valid.Date.max().date()) == "2015-07-31"
    for frame in (train, valid, test):
        assert not frame[proc.all_cat_names + proc.cont_names].isna().any().any()
        for c, n in proc.categorify.cardinality().items():
            assert frame[c].between(0, n - 1).all(), c
    assert abs(train[proc.cont_names].mean()).max() < 1e-3  # normalised with train statistics
    # Vocabularies come from the train split only: a value first seen in validation maps to 0.
    fit_weeks = set(pd.read_feather(sample_paths.interim / "train.feather").query("Date < '2015-06-14'").Week)
    assert set(proc.categorify.vocab["Week"]) == fit_weeks
    assert summary["rows"] == {"train": len(train), "valid": len(valid), "test": len(test)}
    assert json.loads((sample_paths.processed / "features.json").read_text())["config"]["valid_days"] == 48


def test_interim_cache_is_reused_until_inputs_change(sample_paths, capsys):
    build(sample_paths, RossmannConfig())
    build(sample_paths, RossmannConfig(valid_days=10))
    assert "reusing" in capsys.readouterr().out
    build(sample_paths, RossmannConfig(event_window=3))
    assert "reusing" not in capsys.readouterr().out
    train = pd.read_feather(sample_paths.interim / "train.feather")
    assert train.Promo_bw.max() <= 3


def test_valid_days_zero_trains_on_everything(sample_paths):
    summary = build(sample_paths, RossmannConfig(valid_days=0))
    assert summary["rows"]["valid"] == 0
    assert np.isfinite(pd.read_feather(sample_paths.processed / "train.feather").CompetitionDistance).all()


def test_store_level_equals_a_plain_reference_and_never_sees_the_future(joined, rossmann_sample_dir):
    train, test = joined
    raw = pd.read_csv(rossmann_sample_dir / "train.csv", parse_dates=["Date"])
    raw = raw[(raw.Open == 1) & (raw.Sales > 0)]
    by_store = {s: g.set_index("Date").Sales for s, g in raw.groupby("Store")}
    found = 0
    for col, lag, days in (("StoreLevel", 48, 91), ("StoreYearAgo", 350, 28)):
        for frame in (train.sample(300, random_state=1), test.sample(100, random_state=1)):
            for s, d, got in zip(frame.Store, frame.Date, frame[col], strict=True):
                sales = by_store[s]
                window = sales[
                    (sales.index >= d - pd.Timedelta(days=lag + days - 1)) & (sales.index <= d - pd.Timedelta(days=lag))
                ]
                expect = np.log(window).mean() if len(window) else np.nan
                np.testing.assert_allclose(got, expect, rtol=1e-5)
                found += col == "StoreYearAgo" and np.isfinite(got)
    assert found > 50  # the sample spans more than a year: the year-ago level is exercised


def test_long_closure_distances_equal_a_plain_reference(joined):
    """After/BeforeLongClosed: days since / until the nearest day of a run of 5+ closed days in a row, capped at
    30. A day-by-day walk over each store's calendar; the test days' Open counts (known in advance)."""
    train, test = joined
    both = pd.concat([train, test]).sort_values(["Store", "Date"])
    checked = 0
    for store, g in both.groupby("Store"):
        closed = dict(zip(g.Date, g.Open == 0, strict=True))
        long_days = set()
        for d in g.Date:
            run = [d]  # the closed run through d, day by day
            while closed.get(run[-1] + pd.Timedelta(days=1), False):
                run.append(run[-1] + pd.Timedelta(days=1))
            if closed[d] and not closed.get(d - pd.Timedelta(days=1), False) and len(run) >= 5:
                long_days.update(run)
        if not long_days:
            assert (g.AfterLongClosed == 30).all() and (g.BeforeLongClosed == 30).all()
            continue
        for d, after, before in zip(g.Date, g.AfterLongClosed, g.BeforeLongClosed, strict=True):
            since = [(d - x).days for x in long_days if x <= d]
            until = [(x - d).days for x in long_days if x >= d]
            assert after == min(min(since, default=30), 30) and before == min(min(until, default=30), 30), (store, d)
            checked += after < 30 or before < 30
    assert checked > 100  # the sample's refits are long closures: the feature is exercised
    assert (both.loc[both.DayOfWeek == 7, "AfterLongClosed"] == 30).mean() > 0.9  # Sundays are not refits


def test_the_event_distances_come_in_days_and_as_log_one_plus_days(joined):
    cols = [f"{side}{ev}" for ev in ("Promo", "StateHoliday", "SchoolHoliday") for side in ("After", "Before")]
    train = joined[0]
    assert (train[cols] > 1).any().all() and train[cols].isna().any().any()  # distances and no-event NaN
    for frame in joined:
        for col in cols:
            np.testing.assert_allclose(frame[f"{col}Log"], np.log1p(frame[col]), rtol=1e-6)  # NaN stays NaN


def test_days_until_a_holiday_are_capped_and_the_censored_end_reads_the_cap(joined):
    """Before<holiday>: days until the store's next state / school holiday (0 on one), at most BEFORE_CAP; a day
    with no later one in train + test reads BEFORE_CAP too (the data's end censors it). BeforePromo stays uncapped,
    NaN when censored. A plain per-store walk."""
    train, test = joined
    both = pd.concat([train, test]).sort_values(["Store", "Date"])
    cases = {}
    for ev in ("Promo", "StateHoliday", "SchoolHoliday"):
        cap = np.inf if ev == "Promo" else BEFORE_CAP
        for _, g in both.groupby("Store"):
            days = g.Date.to_numpy()
            events = np.sort(days[g[ev].astype(bool).to_numpy()])
            for d, got in zip(days, g[f"Before{ev}"], strict=True):
                later = events[events >= d]
                if len(later) == 0:
                    want, case = (np.nan if ev == "Promo" else BEFORE_CAP), f"censored {ev}"
                else:
                    gap = int((later[0] - d) // np.timedelta64(1, "D"))
                    want, case = min(gap, cap), "capped" if gap > cap else "exact"
                assert got == want or (np.isnan(want) and np.isnan(got)), (ev, d, got, want)
                cases[case] = cases.get(case, 0) + 1
    assert len(cases) == 5, cases  # the sample exercises every case: capped, exact and each event censored


def test_competition_weeks_new_counts_the_weeks_since_an_opening_and_nothing_else():
    dates = pd.to_datetime(["2015-06-10", "2015-06-15", "2015-06-21", "2015-06-22", "2015-09-06", "2015-09-07"])
    df = pd.DataFrame(
        {
            "Date": [*dates, dates[1]],
            "CompetitionOpenSince": pd.Timestamp("2015-06-15"),
            "CompetitionOpenSinceYear": [2015] * 6 + [1900],  # the last: no opening date (filled as 1900)
            "Promo2Since": pd.Timestamp("1900-01-01"),
            "Promo2SinceYear": 1900,
            "Promo2": 0,
            "PromoInterval": None,
        }
    )
    out = add_since_features(df)
    # before the opening 0; days 0-6 week 1, 7-13 week 2, ..., day 83 week 12; from day 84 (and without a date) 0
    assert out.CompetitionWeeksNew.tolist() == [0, 1, 1, 2, 12, 0, 0]
    assert out.CompetitionMonthsOpen.tolist() == [0, 0, 0, 0, 2, 2, 0]  # the course's column, unchanged


def test_valid_days_beyond_the_level_lag_is_refused(sample_paths):
    with pytest.raises(ValueError, match="48-day lag of StoreLevel: it would see validation sales.*level_lag=60"):
        build(sample_paths, RossmannConfig(valid_days=60))  # the default features include StoreLevel
    without = [c for c in RossmannConfig().cont_names if c not in ("StoreLevel", "StoreDowLevel", "StoreRecent")]
    for col in ("StoreDowLevel", "StoreRecent"):  # StoreRecent: its simulated origins are 48 days apart
        with pytest.raises(ValueError, match=f"48-day lag of {col}"):
            build(sample_paths, RossmannConfig(valid_days=60, cont_names=[*without, col]))
    build(sample_paths, RossmannConfig(valid_days=60, cont_names=without))  # no lagged feature: fine
    build(sample_paths, RossmannConfig(valid_days=60, level_lag=60))  # a lag as long as the horizon: fine
    year_ago = RossmannConfig(valid_days=351, level_lag=351, cont_names=[*without, "StoreYearAgo"])
    with pytest.raises(ValueError, match="351 > the 350-day lag of StoreYearAgo.*hold out at most 350 days"):
        build(sample_paths, year_ago)


def test_a_validation_split_that_leaves_no_training_rows_is_refused_and_the_build_kept(sample_paths, capsys):
    """The drill followed the lag advice to valid_days=level_lag=100000 and got 0 training rows written over
    processed/: refused now, naming the days, and the finished build stays usable (its stamp put back)."""
    from pipelines.__main__ import main

    data = ["--data", str(sample_paths.data_root)]
    assert main(["features", "rossmann", *data]) == 0
    before = {p.name: p.read_bytes() for p in sample_paths.processed.glob("*.*")}
    assert main(["features", "rossmann", *data, "valid_days=3000", "level_lag=3000"]) == 1
    assert "valid_days=3000 holds out every one of the" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in sample_paths.processed.glob("*.*")} == before


def test_cache_key_names_the_code_imported_not_the_files_edited_since(sample_paths, monkeypatch):
    """A long run whose feature files are edited under it must not label its frames with the new code's key
    (the next run would reuse frames that lack the new code's columns)."""
    from pathlib import Path

    from pipelines.rossmann import features as rf

    before = rf.cache_key(sample_paths, {"event_window": 7})
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: real(p) + (b"# edited" if p in rf.CODE else b""))
    assert rf.cache_key(sample_paths, {"event_window": 7}) == before
    assert rf.cache_key(sample_paths, {"event_window": 8}) != before


def test_days_next_to_a_state_holiday_are_categories_one_to_three_else_four(joined):
    """Before/AfterStateHolidayNear: 1-3 = a state holiday of the store that many days later / earlier (the
    nearest), 4 = none within 3 days (the holiday itself is 0 days from one: also 4). A plain per-store walk."""
    train, test = joined
    both = pd.concat([train, test]).sort_values(["Store", "Date"])
    seen = {"Before": set(), "After": set()}
    for _, g in both.groupby("Store"):
        holidays = set(g.Date[g.StateHoliday.astype(bool)])
        for d, before, after in zip(g.Date, g.BeforeStateHolidayNear, g.AfterStateHolidayNear, strict=True):
            if d in holidays:
                assert before == 4 and after == 4
                continue
            for side, got, sign in (("Before", before, 1), ("After", after, -1)):
                near = [k for k in (1, 2, 3) if d + sign * pd.Timedelta(days=k) in holidays]
                assert got == (near[0] if near else 4), (side, d)
                seen[side].add(int(got))
    assert seen["Before"] == seen["After"] == {1, 2, 3, 4}  # the sample's holidays exercise every category
