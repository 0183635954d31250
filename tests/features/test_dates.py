import numpy as np
import pandas as pd
import pytest

from features import add_datepart, week_start


def frame(unit="us"):
    dates = pd.to_datetime(["2015-07-31", "2014-12-29", "2000-01-01"]).as_unit(unit)
    return pd.DataFrame({"Date": dates, "x": [1, 2, 3]})


def test_add_datepart_known_dates():
    out = add_datepart(frame(), "Date", drop=False)
    assert out.Year.tolist() == [2015, 2014, 2000]
    assert out.Month.tolist() == [7, 12, 1]
    assert out.Day.tolist() == [31, 29, 1]
    assert out.Dayofweek.tolist() == [4, 0, 5]  # Friday, Monday, Saturday (Monday=0)
    assert out.Dayofyear.tolist() == [212, 363, 1]
    assert out.Week.tolist() == [31, 1, 52]  # ISO weeks: 2014-12-29 is in week 1 of 2015
    assert out.Is_month_end.tolist() == [True, False, False]
    assert out.Is_month_start.tolist() == [False, False, True]
    assert out.Is_quarter_start.tolist() == [False, False, True]
    assert out.Is_quarter_end.tolist() == [False, False, False]
    assert out.Is_year_start.tolist() == [False, False, True]
    assert out.Is_year_end.tolist() == [False, False, False]
    assert out.Elapsed.tolist() == [1438300800, 1419811200, 946684800]
    assert out.x.tolist() == [1, 2, 3]
    assert "Date" in out.columns


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_elapsed_is_seconds_whatever_the_unit(unit):
    # pandas 3 parses dates at microsecond precision; the course's `astype(int64) // 10**9` assumed ns.
    out = add_datepart(frame(unit), "Date")
    assert out.Elapsed.tolist() == [1438300800, 1419811200, 946684800]


def test_drop_and_prefix_and_strings():
    df = pd.DataFrame({"saledate": ["2013-01-01", "2013-03-31"]})
    out = add_datepart(df, "saledate")
    assert "saledate" not in out.columns
    assert {"saleYear", "saleIs_quarter_end", "saleElapsed"} <= set(out.columns)
    assert out.saleIs_quarter_end.tolist() == [False, True]


def test_missing_dates_give_nan_not_garbage():
    df = pd.DataFrame({"Date": pd.to_datetime(["2015-01-01", None])})
    out = add_datepart(df, "Date")
    assert out.Year.iloc[0] == 2015 and np.isnan(out.Year.iloc[1])
    assert out.Elapsed.iloc[0] == 1420070400 and np.isnan(out.Elapsed.iloc[1])


def test_missing_column_is_named():
    with pytest.raises(KeyError, match="'When'"):
        add_datepart(frame(), "When")


def test_week_start_is_previous_sunday():
    d = pd.Series(pd.to_datetime(["2015-08-01", "2015-08-02", "2015-08-03", "2015-08-08"]))
    assert week_start(d).dt.strftime("%Y-%m-%d").tolist() == ["2015-07-26", "2015-08-02", "2015-08-02", "2015-08-02"]
