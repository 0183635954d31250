import numpy as np
import pandas as pd
import pytest

from features import add_event_counts, add_event_durations


def stores():
    d = pd.DataFrame(
        {
            "Store": [1] * 6 + [2] * 3,
            "Date": pd.to_datetime(
                ["2015-01-01", "2015-01-02", "2015-01-03", "2015-01-05", "2015-01-10", "2015-01-11"]
                + ["2015-01-01", "2015-01-02", "2015-01-03"]
            ),
            "Promo": [0, 1, 0, 0, 0, 1, 1, 0, 0],
        }
    )
    return d.sample(frac=1, random_state=0)  # order must not matter


def test_durations_around_known_events():
    out = add_event_durations(stores(), ["Promo"]).sort_values(["Store", "Date"])
    np.testing.assert_array_equal(out.AfterPromo, [np.nan, 0, 1, 3, 8, 0, 0, 1, 2])
    np.testing.assert_array_equal(out.BeforePromo, [1, 0, 8, 6, 1, 0, 0, np.nan, np.nan])


def test_counts_use_calendar_days_not_rows():
    out = add_event_counts(stores(), ["Promo"], window=7).sort_values(["Store", "Date"])
    # Store 1 on 01-10: the window 01-04..01-10 holds no promo although the 7 rows before it do.
    assert out.Promo_bw.tolist() == [0, 1, 1, 1, 0, 1, 1, 1, 1]
    assert out.Promo_fw.tolist() == [1, 1, 0, 1, 1, 1, 1, 0, 0]


def test_results_align_with_the_input_index():
    d = stores()
    out = add_event_counts(add_event_durations(d, ["Promo"]), ["Promo"])
    assert out.index.equals(d.index)
    assert out.loc[d.Promo == 1, "AfterPromo"].eq(0).all()


def test_duplicate_store_days_are_rejected():
    d = pd.concat([stores(), stores().head(1)], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate"):
        add_event_counts(d, ["Promo"])


def reference_durations(df, event):
    """Straightforward per-row loop, as in the course's get_elapsed (non-negative Before)."""
    after, before = {}, {}
    for _, g in df.sort_values(["Store", "Date"]).groupby("Store"):
        last = None
        for i, d, v in zip(g.index, g.Date, g[event], strict=True):
            last = d if v else last
            after[i] = (d - last).days if last is not None else np.nan
        nxt = None
        for i, d, v in zip(g.index[::-1], g.Date[::-1], g[event][::-1], strict=True):
            nxt = d if v else nxt
            before[i] = (nxt - d).days if nxt is not None else np.nan
    return pd.Series(after).reindex(df.index), pd.Series(before).reindex(df.index)


def reference_counts(df, event, window):
    events = {(s, d) for s, d, v in zip(df.Store, df.Date, df[event], strict=True) if v}
    day = pd.Timedelta(days=1)
    bw = [sum((s, d - k * day) in events for k in range(window)) for s, d in zip(df.Store, df.Date, strict=True)]
    fw = [sum((s, d + k * day) in events for k in range(window)) for s, d in zip(df.Store, df.Date, strict=True)]
    return bw, fw


def test_vectorised_events_equal_the_reference_on_the_sample(rossmann_sample_dir):
    train = pd.read_csv(rossmann_sample_dir / "train.csv", dtype={"StateHoliday": str}, parse_dates=["Date"])
    train = train[train.Store <= 6].reset_index(drop=True)  # stores with gaps and closures included
    train["StateHoliday"] = train.StateHoliday != "0"
    out = add_event_counts(add_event_durations(train, ["Promo", "StateHoliday"]), ["Promo", "StateHoliday"])
    for ev in ["Promo", "StateHoliday"]:
        after, before = reference_durations(train, ev)
        np.testing.assert_array_equal(out["After" + ev], after)
        np.testing.assert_array_equal(out["Before" + ev], before)
        bw, fw = reference_counts(train, ev, 7)
        assert out[ev + "_bw"].tolist() == bw
        assert out[ev + "_fw"].tolist() == fw


def test_lagged_mean_only_looks_back_past_the_lag():
    from features import add_lagged_mean

    d = pd.DataFrame(
        {
            "Store": [1] * 6 + [2],
            "Date": pd.to_datetime(
                ["2015-01-01", "2015-01-02", "2015-01-03", "2015-01-05", "2015-01-06", "2015-01-07", "2015-01-05"]
            ),
            "v": [1.0, 2.0, 4.0, 8.0, np.nan, 16.0, 100.0],
            "use": [True, True, True, True, True, False, True],
        }
    )
    out = add_lagged_mean(d, "v", "lvl", lag=3, window=2, where=d.use)
    # 01-05: window 01-01..01-02 -> (1+2)/2; 01-06: 01-02..01-03 -> 3; 01-07: 01-03..01-04 -> 4 (01-04 absent)
    np.testing.assert_array_equal(out.lvl, [np.nan, np.nan, np.nan, 1.5, 3.0, 4.0, np.nan])


def test_days_since_origin_tiles_simulated_origins_back_from_the_last_known_day():
    from features import days_since_origin

    dates = pd.to_datetime(["2015-07-25", "2015-07-26", "2015-07-29", "2015-07-31", "2015-08-01", "2015-08-03"])
    # origin 07-31 (the last day of train), horizon 3: test days 08-01 -> 1, 08-03 -> 3; training days count from
    # the simulated origins 07-28 and 07-25 (07-29 -> 1, 07-31 -> 3, 07-26 -> 1, 07-25 -> 3)
    got = days_since_origin(pd.Series(dates), pd.Timestamp("2015-07-31"), horizon=3)
    assert got.tolist() == [3, 1, 1, 3, 1, 3]


def test_lagged_mean_with_a_lag_per_row_ends_each_window_at_that_rows_origin():
    from features import add_lagged_mean

    d = pd.DataFrame(
        {
            "Store": [1] * 6,
            "Date": pd.date_range("2015-01-01", periods=6),
            "v": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
            "lag": [1, 2, 3, 1, 2, 3],
        },
        index=[5, 4, 3, 2, 1, 0],  # results align by index, not position
    )
    out = add_lagged_mean(d, "v", "lvl", lag=d["lag"], window=2)
    # lags 1, 2, 3 from each of two origins (12-31, 01-03): the first three windows end 12-31 (no data), the last
    # three 01-03, all over 01-02..01-03 -> (2 + 4) / 2
    np.testing.assert_array_equal(out.lvl, [np.nan, np.nan, np.nan, 3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="lag must be >= 1"):
        add_lagged_mean(d, "v", "lvl", lag=d["lag"] - 1, window=2)


def test_run_position_counts_consecutive_days_and_a_missing_day_ends_the_run():
    from features import add_run_position

    d = pd.DataFrame(
        {
            "Store": [1] * 7 + [2] * 2,
            # 01-05 is missing for store 1: the promo of 01-04 and 01-06 are two runs
            "Date": pd.to_datetime(
                ["2015-01-01", "2015-01-02", "2015-01-03", "2015-01-04", "2015-01-06", "2015-01-07", "2015-01-08"]
                + ["2015-01-02", "2015-01-03"]
            ),
            "Promo": [1, 1, 0, 1, 1, 1, 0, 1, 1],
        }
    ).sample(frac=1, random_state=1)
    out = add_run_position(d, ["Promo"]).sort_values(["Store", "Date"])
    # store 2's run starts afresh although store 1's last row before it is a promo day
    assert out.PromoDay.tolist() == [1, 2, 0, 1, 1, 2, 0, 1, 2]


def test_week_counts_are_calendar_weeks_per_store():
    from features import add_week_counts

    d = pd.DataFrame(
        {
            "Store": [1] * 5 + [2],
            # Sunday 01-04 ends a week; Monday 01-05 and 01-11 start and end the next; 01-12 starts the third
            "Date": pd.to_datetime(
                ["2015-01-03", "2015-01-04", "2015-01-05", "2015-01-11", "2015-01-12", "2015-01-05"]
            ),
            "Promo": [1, 1, 1, 0, 1, 1],
        }
    ).sample(frac=1, random_state=2)
    out = add_week_counts(d, ["Promo"]).sort_values(["Store", "Date"])
    assert out.Promo_this_week.tolist() == [2, 2, 1, 1, 1, 1]
    assert out.Promo_last_week.tolist() == [0, 0, 2, 2, 1, 0]  # store 2 has no week before
    assert out.Promo_next_week.tolist() == [1, 1, 1, 1, 0, 0]


def test_long_runs_flag_only_runs_of_enough_consecutive_days():
    from features import long_runs

    d = pd.DataFrame(
        {
            "Store": [1] * 12 + [2] * 6,
            # store 1: closed 01-02..01-06 (5 days: long), then 01-08 and 01-10..01-12 (short runs);
            # store 2: six closed rows, but 01-04 is missing, so two runs of 3 days
            "Date": list(pd.date_range("2015-01-01", periods=12))
            + list(pd.date_range("2015-01-01", periods=3))
            + list(pd.date_range("2015-01-05", periods=3)),
            "Closed": [0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1] + [1] * 6,
        }
    ).sample(frac=1, random_state=3)
    out = d.assign(long=long_runs(d, "Closed", min_days=5)).sort_values(["Store", "Date"])
    assert out.long.tolist() == [False] + [True] * 5 + [False] * 12
    out = d.assign(long=long_runs(d, "Closed", min_days=3)).sort_values(["Store", "Date"])
    assert out.long.tolist() == [False] + [True] * 5 + [False] * 3 + [True] * 3 + [True] * 6


def test_series_levels_per_series_and_weekday_from_the_origin_back():
    from features import add_series_levels

    dates = pd.date_range("2015-01-01", periods=28)
    d = pd.concat(
        [pd.DataFrame({"shop": s, "item": i, "Date": dates, "v": float(10 * s + i)}) for s in (1, 2) for i in (1, 2)],
        ignore_index=True,
    )
    d.loc[d.Date.dt.day_of_week == 0, "v"] += 1.0  # Mondays sell one more
    out = add_series_levels(d, "v", ["shop", "item"], origin=dates[-1], lag=7, window=7)
    assert not {"_series", "_series_dow", "_relative"} & set(out.columns)
    row = out[(out.shop == 2) & (out.item == 1) & (out.Date == "2015-01-26")].iloc[0]  # a Monday, lag 7 days
    assert row.SeriesLevel == pytest.approx(21 + 1 / 7)  # 01-13..01-19: one Monday among 7 days
    assert row.SeriesDowLevel == pytest.approx(22)  # Mondays 01-05, 01-12, 01-19
    assert np.isnan(row.SeriesYearAgo)  # nothing a year back
    # 01-26 is 5 days after the simulated origin 01-21 (origins every 7 days back from 01-28): its recent level
    # ends there; relative to each day's mean over the four series (21 - 16.5 = 4.5, Mondays included)
    assert row.OriginDays == 5 and row.SeriesRecent == pytest.approx(4.5)
