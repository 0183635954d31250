"""Rossmann's feature function (the card's features=) on the embedded sample, checked against plain references."""

import datetime as dt

import numpy as np
import pandas as pd

from pipelines.rossmann.features import BEFORE_CAP, add_since_features


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
