"""Deterministic generator of an embedded Rossmann sample in the exact Kaggle + fast.ai course schema.

Writes the eight files a user gets from `kaggle competitions download -c rossmann-store-sales` plus the
course's external tables: train.csv, test.csv, store.csv, sample_submission.csv, store_states.csv,
state_names.csv, googletrend.csv, weather.csv. Same names, columns, dtypes and codes as the real files,
the same calendar (train 2013-01-01..2015-07-31, test the next 48 days), and sales with structure a model
can learn: store type/assortment, weekday and yearly seasonality, Promo and Promo2, state and school
holidays by state (with pre-holiday shopping), competitors opening, refurbishment closures, weather and
a Google-trend signal per state. Nothing here is copied from the real data.

    python -m pipelines.rossmann.sample OUT_DIR [--stores 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import atomic_path

TRAIN_START, TRAIN_END = pd.Timestamp("2013-01-01"), pd.Timestamp("2015-07-31")
TEST_DAYS = 48
GAP = (pd.Timestamp("2014-07-01"), pd.Timestamp("2014-12-31"))  # real data: 180 of 1115 stores miss 2014 H2

# Code -> weather-file name, as in the course's state_names.csv ("HB,NI" is one code for Bremen+Lower Saxony).
STATES = {
    "BW": "BadenWuerttemberg",
    "BY": "Bayern",
    "BE": "Berlin",
    "BB": "Brandenburg",
    "HB": "Bremen",
    "HH": "Hamburg",
    "HE": "Hessen",
    "MV": "MecklenburgVorpommern",
    "HB,NI": "Niedersachsen",
    "NW": "NordrheinWestfalen",
    "RP": "RheinlandPfalz",
    "SL": "Saarland",
    "SN": "Sachsen",
    "ST": "SachsenAnhalt",
    "SH": "SchleswigHolstein",
    "TH": "Thueringen",
}
STORE_STATES = ["NW", "BY", "HE", "SH", "BE", "SN", "BW", "ST", "RP", "TH", "HH", "HB,NI"]  # states with stores
STORE_STATE_P = np.array([286, 180, 112, 115, 92, 75, 73, 56, 40, 36, 28, 22], float)
TREND_STATES = ["BE", "BW", "BY", "HE", "HH", "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH"]  # googletrend files
PROMO_INTERVALS = ["Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"]
WEATHER_EVENTS = ["Rain", "Fog", "Fog-Rain", "Rain-Thunderstorm", "Snow", "Rain-Snow"]


def easter(year: int) -> pd.Timestamp:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return pd.Timestamp(year, month, day + 1)


def state_holidays(years: range) -> pd.DataFrame:
    """(Date, State, StateHoliday) for public 'a', Easter 'b' and Christmas 'c' holidays, national and regional."""
    rows = []
    everywhere = list(STATES)
    for y in years:
        e = easter(y)
        national = [
            (f"{y}-01-01", "a"),
            (f"{y}-05-01", "a"),
            (f"{y}-10-03", "a"),
            (f"{y}-12-25", "c"),
            (f"{y}-12-26", "c"),
            (e - pd.Timedelta(days=2), "b"),
            (e + pd.Timedelta(days=1), "b"),
            (e + pd.Timedelta(days=39), "a"),
            (e + pd.Timedelta(days=50), "a"),
        ]
        rows += [(pd.Timestamp(d), s, code) for d, code in national for s in everywhere]
        regional = [
            (f"{y}-01-06", ["BW", "BY", "ST"]),
            (e + pd.Timedelta(days=60), ["BW", "BY", "HE", "NW", "RP", "SL"]),
            (f"{y}-11-01", ["BW", "BY", "NW", "RP", "SL"]),
            (f"{y}-10-31", ["BB", "MV", "SN", "ST", "TH"]),
            (f"{y}-08-15", ["BY", "SL"]),
        ]
        rows += [(pd.Timestamp(d), s, "a") for d, states in regional for s in states]
    return pd.DataFrame(rows, columns=["Date", "State", "StateHoliday"]).drop_duplicates(["Date", "State"])


def school_holidays(years: range, rng: np.random.Generator) -> pd.DataFrame:
    """(Date, State) school-holiday days: staggered summer, autumn, Christmas and Easter breaks per state."""
    rows = []
    for s_i, state in enumerate(STATES):
        for y in years:
            summer = pd.Timestamp(y, 6, 20) + pd.Timedelta(days=int((s_i * 3 + y) % 35))
            autumn = pd.Timestamp(y, 10, 5) + pd.Timedelta(days=int(rng.integers(0, 21)))
            breaks = [(summer, 42), (autumn, 12), (pd.Timestamp(y, 12, 22), 14), (easter(y) - pd.Timedelta(days=8), 14)]
            for start, n in breaks:
                rows += [(d, state) for d in pd.date_range(start, periods=n)]
    return pd.DataFrame(rows, columns=["Date", "State"]).drop_duplicates()


def make_stores(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """store.csv + each store's state and hidden sales parameters."""
    store = pd.DataFrame({"Store": np.arange(1, n + 1)})
    store["StoreType"] = rng.choice(list("abcd"), n, p=[0.54, 0.02, 0.13, 0.31])
    store.loc[store.index[: max(1, n // 30)], "StoreType"] = "b"  # a few 'b' stores, open on Sundays
    store["Assortment"] = np.where(
        store.StoreType == "b", rng.choice(list("abc"), n, p=[0.4, 0.4, 0.2]), rng.choice(["a", "c"], n, p=[0.53, 0.47])
    )
    dist = np.round(np.exp(rng.normal(7.7, 1.2, n)), -1).clip(20, 75_000)
    dist[rng.random(n) < 0.003] = np.nan
    dist[min(n - 1, 11)] = np.nan  # at least one unknown distance, as in the real store.csv (3 stores)
    store["CompetitionDistance"] = dist
    since = rng.random(n) > 0.32
    year = rng.choice(np.arange(1995, 2016), n, p=np.r_[np.full(13, 0.02), np.full(8, 0.0925)])
    month = rng.integers(1, 13, n)
    year = np.where(year * 12 + month > 2015 * 12 + 7, 2015, year)  # nothing opens after train ends
    store["CompetitionOpenSinceMonth"] = np.where(since, month, np.nan)
    store["CompetitionOpenSinceYear"] = np.where(since, year, np.nan)
    promo2 = rng.random(n) < 0.51
    store["Promo2"] = promo2.astype(int)
    store["Promo2SinceWeek"] = np.where(promo2, rng.integers(1, 51, n), np.nan)
    store["Promo2SinceYear"] = np.where(promo2, rng.integers(2009, 2016, n), np.nan)
    store["PromoInterval"] = np.where(promo2, rng.choice(PROMO_INTERVALS, n, p=[0.6, 0.23, 0.17]), None)
    # Hidden parameters (not written): base sales, basket size, state.
    type_effect = store.StoreType.map({"a": 1.0, "b": 1.7, "c": 1.0, "d": 0.95}).to_numpy()
    assort_effect = store.Assortment.map({"a": 1.0, "b": 0.8, "c": 1.12}).to_numpy()
    store["_base"] = 5800 * type_effect * assort_effect * np.exp(rng.normal(0, 0.3, n))
    store["_basket"] = rng.normal(9.5, 1.5, n).clip(5, 15) * np.where(store.StoreType == "b", 0.6, 1.0)
    store["_state"] = rng.choice(STORE_STATES, n, p=STORE_STATE_P / STORE_STATE_P.sum())
    return store


def make_weather(dates: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """weather.csv: daily weather per state name with seasonal temperatures, rain events and the real NA pattern."""
    frames = []
    doy = dates.day_of_year.to_numpy()
    for s_i, name in enumerate(STATES.values()):
        n = len(dates)
        mean_t = np.round(10 + 9 * np.sin(2 * np.pi * (doy - 110) / 365.25) + rng.normal(0, 3, n) - s_i % 3 * 0.5)
        rain = rng.gamma(0.35, 2.5, n) * (rng.random(n) < 0.5)
        events = np.where(rain > 1, rng.choice(WEATHER_EVENTS[:4], n, p=[0.7, 0.05, 0.15, 0.1]), None)
        events = np.where((rain > 1) & (mean_t < 1), "Snow", events).astype(object)
        events[(rain <= 1) & (rng.random(n) < 0.1)] = "Fog"
        cloud = np.clip(np.round(4 + rain + rng.normal(0, 1.5, n)), 0, 8)
        vis = np.clip(np.round(rng.normal(12, 5, n) - 2 * (events == "Fog")), 0, 31)
        hum = np.clip(np.round(rng.normal(74, 10, n) + 3 * rain), 30, 100)
        press = np.round(1015 + rng.normal(0, 8, n) - rain)
        wind = np.round(rng.gamma(4, 3, n)).clip(2, 60)
        df = pd.DataFrame(
            {
                "file": name,
                "Date": dates.strftime("%Y-%m-%d"),
                "Max_TemperatureC": mean_t + 4,
                "Mean_TemperatureC": mean_t,
                "Min_TemperatureC": mean_t - 4,
                "Dew_PointC": mean_t - 2,
                "MeanDew_PointC": mean_t - 4,
                "Min_DewpointC": mean_t - 7,
                "Max_Humidity": np.minimum(hum + 18, 100),
                "Mean_Humidity": hum,
                "Min_Humidity": np.maximum(hum - 24, 4),
                "Max_Sea_Level_PressurehPa": press + 3,
                "Mean_Sea_Level_PressurehPa": press,
                "Min_Sea_Level_PressurehPa": press - 3,
                "Max_VisibilityKm": np.minimum(vis * 2, 31.0),
                "Mean_VisibilityKm": vis,
                "Min_VisibilitykM": vis / 2,
                "Max_Wind_SpeedKm_h": wind + 10,
                "Mean_Wind_SpeedKm_h": wind,
                "Max_Gust_SpeedKm_h": np.where(rng.random(n) < 0.23, np.round(wind * 2 + 20), np.nan),
                "Precipitationmm": np.round(rain, 2),
                "CloudCover": np.where(rng.random(n) < 0.07, np.nan, cloud),
                "Events": events,
                "WindDirDegrees": rng.integers(-1, 361, n),
            }
        )
        missing_vis = rng.random(n) < 0.025
        df.loc[missing_vis, ["Max_VisibilityKm", "Mean_VisibilityKm", "Min_VisibilitykM"]] = np.nan
        frames.append(df)
    weather = pd.concat(frames, ignore_index=True)
    ints = [c for c in weather.columns if c not in ("file", "Date", "Events") and c not in _FLOAT_WEATHER]
    return weather.astype({c: "int64" for c in ints})


_FLOAT_WEATHER = {
    "Max_VisibilityKm",
    "Mean_VisibilityKm",
    "Min_VisibilitykM",
    "Max_Gust_SpeedKm_h",
    "Precipitationmm",
    "CloudCover",
}


def make_trends(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """googletrend.csv (weekly, Sunday-Saturday, per state + Germany) and the hidden weekly demand index per state."""
    weeks = pd.date_range("2012-12-02", "2015-09-27", freq="7D")  # Sundays, as in the course file
    rows, latent = [], []
    country = np.cumsum(rng.normal(0, 0.05, len(weeks)))
    for st in TREND_STATES:
        z = 0.6 * country + np.cumsum(rng.normal(0, 0.06, len(weeks))) * 0.5
        z = z - z.mean()
        trend = np.clip(np.round(70 + 40 * z + rng.normal(0, 2, len(weeks))), 0, 100).astype(int)
        for wk, t in zip(weeks, trend, strict=True):
            rows.append((f"Rossmann_DE_{st}", f"{wk:%Y-%m-%d} - {wk + pd.Timedelta(days=6):%Y-%m-%d}", t))
        latent.append(pd.DataFrame({"State": st, "Week": weeks, "_demand": z}))
    de = np.clip(np.round(70 + 40 * country + rng.normal(0, 2, len(weeks))), 0, 100).astype(int)
    rows += [
        ("Rossmann_DE", f"{wk:%Y-%m-%d} - {wk + pd.Timedelta(days=6):%Y-%m-%d}", t)
        for wk, t in zip(weeks, de, strict=True)
    ]
    return pd.DataFrame(rows, columns=["file", "week", "trend"]), pd.concat(latent, ignore_index=True)


def promo_days(dates: pd.Series) -> np.ndarray:
    """Chain-wide Promo: Monday-Friday of every other week."""
    weeks = (dates - pd.Timestamp("2012-12-31")).dt.days // 7
    return ((weeks % 2 == 0) & (dates.dt.day_of_week < 5)).to_numpy()


def generate(out_dir: str | Path, stores: int = 30, seed: int = 0) -> dict[str, int]:
    """Write the eight Rossmann files to `out_dir` (atomically, one by one); return row counts per file."""
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    store = make_stores(stores, rng)
    all_dates = pd.date_range(TRAIN_START, TRAIN_END + pd.Timedelta(days=TEST_DAYS))
    years = range(TRAIN_START.year, all_dates[-1].year + 1)
    weather = make_weather(all_dates[all_dates <= pd.Timestamp("2015-09-17")], rng)
    trends, demand = make_trends(rng)

    grid = pd.MultiIndex.from_product([store.Store, all_dates], names=["Store", "Date"]).to_frame(index=False)
    grid = grid.merge(store, on="Store")
    grid["State"] = grid["_state"]
    hol = state_holidays(years)
    grid = grid.merge(hol, on=["Date", "State"], how="left")
    grid["StateHoliday"] = grid["StateHoliday"].fillna("0")
    school = school_holidays(years, rng).assign(SchoolHoliday=1)
    grid = grid.merge(school, on=["Date", "State"], how="left")
    grid["SchoolHoliday"] = grid["SchoolHoliday"].fillna(0).astype(int)
    grid["Promo"] = promo_days(grid.Date).astype(int)
    dow = grid.Date.dt.day_of_week.to_numpy()
    grid["DayOfWeek"] = dow + 1

    # Open: closed Sundays (but type b) and on holidays; closed for refurbishment in some stores.
    is_b = (grid.StoreType == "b").to_numpy()
    open_ = ~((dow == 6) & ~is_b) & ~((grid.StateHoliday != "0").to_numpy() & ~is_b)
    refurb = np.zeros(len(grid), bool)
    for s in rng.choice(store.Store, max(1, stores // 8), replace=False):
        start = TRAIN_START + pd.Timedelta(days=int(rng.integers(60, 850)))
        refurb |= (
            (grid.Store == s) & grid.Date.between(start, start + pd.Timedelta(days=int(rng.integers(10, 60))))
        ).to_numpy()
    open_ &= ~refurb
    open_ &= rng.random(len(grid)) > 0.002  # rare unexplained closures

    # Sales multiplier from every effect a model can learn.
    state_trend = grid.State.str.split(",").str[-1]
    week = grid.Date - pd.to_timedelta((dow + 1) % 7, unit="D")
    grid = grid.merge(
        demand.rename(columns={"State": "_tstate", "Week": "_week"}),
        how="left",
        left_on=[state_trend.rename("_tstate"), week.rename("_week")],
        right_on=["_tstate", "_week"],
    )
    doy = grid.Date.dt.day_of_year.to_numpy()
    dow_effect = np.array([1.18, 1.02, 0.98, 0.97, 1.03, 0.9, 0.7])[dow]
    season = 1 + 0.05 * np.sin(2 * np.pi * (doy - 80) / 365.25) + 0.25 * np.exp(-(((doy - 352) / 6.0) ** 2))
    promo = np.where(grid.Promo == 1, 1.28, 1.0) * np.where(dow == 0, 1.05, 1.0)
    month = grid.Date.dt.month.to_numpy()
    months = grid.PromoInterval.fillna("").str.split(",")
    month_abbr = np.array(["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec"])
    in_interval = np.array([m in ms for m, ms in zip(month_abbr[month], months, strict=True)])
    p2_start = pd.to_datetime(grid.Promo2SinceYear.fillna(2100).astype(int).astype(str) + "-01-01") + pd.to_timedelta(
        (grid.Promo2SinceWeek.fillna(1) - 1) * 7, unit="D"
    )
    promo2 = np.where(in_interval & (grid.Date >= p2_start).to_numpy(), 1.06, 1.0)
    comp_open = pd.to_datetime(
        dict(year=grid.CompetitionOpenSinceYear.fillna(1900), month=grid.CompetitionOpenSinceMonth.fillna(1), day=15)
    )
    near = np.exp(-grid.CompetitionDistance.fillna(75_000).to_numpy() / 3000)
    competition = np.where((grid.Date >= comp_open).to_numpy(), 1 - 0.25 * near, 1.0)
    school_eff = np.where(grid.SchoolHoliday == 1, 1.04, 1.0)
    # Shoppers stock up the day(s) before a closing holiday and the days after a refurbishment.
    nxt = grid.groupby("Store").StateHoliday.shift(-1).fillna("0")
    pre_holiday = np.where((nxt != "0").to_numpy(), 1.25, 1.0)
    reopened = (
        pd.Series(refurb)
        .groupby(grid.Store.to_numpy())
        .transform(lambda r: r.shift(1, fill_value=False).rolling(7, min_periods=1).max())
        .to_numpy()
    )
    after_refurb = np.where((reopened > 0) & ~refurb, 1.35, 1.0)
    weather_day = weather.assign(Date=pd.to_datetime(weather.Date)).set_index(["file", "Date"])
    wkey = pd.MultiIndex.from_arrays([grid.State.map(STATES), grid.Date])
    rain = weather_day["Precipitationmm"].reindex(wkey).fillna(0).to_numpy()
    temp = weather_day["Mean_TemperatureC"].reindex(wkey).fillna(10).to_numpy()
    weather_eff = 1 - 0.01 * np.minimum(rain, 10) - 0.004 * np.maximum(temp - 24, 0)
    demand_eff = 1 + 0.3 * grid["_demand"].fillna(0).to_numpy()
    noise = np.exp(rng.normal(0, 0.07, len(grid)))
    mean = (
        grid._base.to_numpy()
        * dow_effect
        * season
        * promo
        * promo2
        * competition
        * school_eff
        * pre_holiday
        * after_refurb
        * weather_eff
        * demand_eff
        * noise
    )
    sales = np.where(open_, np.round(mean), 0).astype(int)
    customers = np.where(open_, np.round(mean / grid._basket.to_numpy() * np.exp(rng.normal(0, 0.05, len(grid)))), 0)
    grid["Sales"], grid["Customers"], grid["Open"] = sales, customers.astype(int), open_.astype(int)

    # Train: real calendar, a 2014-H2 gap for ~16% of stores, one missing day for one store; newest first.
    is_train = grid.Date <= TRAIN_END
    gap_stores = rng.choice(store.Store, max(1, round(stores * 180 / 1115)), replace=False)
    in_gap = grid.Store.isin(gap_stores) & grid.Date.between(*GAP)
    one_day = (grid.Store == store.Store.iloc[-1]) & (grid.Date == pd.Timestamp("2013-01-02"))
    train = grid[is_train & ~in_gap & ~one_day].sort_values(["Date", "Store"], ascending=[False, True])
    train = train.assign(Date=train.Date.dt.strftime("%Y-%m-%d"))[
        ["Store", "DayOfWeek", "Date", "Sales", "Customers", "Open", "Promo", "StateHoliday", "SchoolHoliday"]
    ]

    # Test: the 48 days after train for ~77% of stores, Ids date-descending; a few blank Open values.
    test_stores = np.sort(rng.choice(store.Store, max(2, round(stores * 856 / 1115)), replace=False))
    test = grid[(grid.Date > TRAIN_END) & grid.Store.isin(test_stores)].sort_values(
        ["Date", "Store"], ascending=[False, True]
    )
    test = test.assign(Date=test.Date.dt.strftime("%Y-%m-%d"), Open=test.Open.astype(float))
    blank_store = test_stores[len(test_stores) // 2]
    blank = (test.Store == blank_store) & (test.DayOfWeek != 7)
    test.loc[blank[blank].index[:11], "Open"] = np.nan
    # One store closed for ten days inside the test period (Kaggle's test.csv closes stores 703 and 879 for its
    # last 5-6 days), so that test days lie just before and after a long closure (members.closure_factors).
    refit = (test.Store == test_stores[0]) & test.Date.between("2015-08-20", "2015-08-29")
    test.loc[refit, "Open"] = 0.0
    test.insert(0, "Id", np.arange(1, len(test) + 1))
    test = test[["Id", "Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"]]

    store_csv = store[[c for c in store.columns if not c.startswith("_")]]
    tables = {
        "train.csv": train,
        "test.csv": test,
        "store.csv": store_csv.astype({c: "Int64" for c in store_csv.columns[3:9]}),
        "sample_submission.csv": pd.DataFrame({"Id": test.Id, "Sales": 0}),
        "store_states.csv": store[["Store", "_state"]].rename(columns={"_state": "State"}),
        "state_names.csv": pd.DataFrame({"StateName": list(STATES.values()), "State": list(STATES)}),
        "googletrend.csv": trends,
        "weather.csv": weather,
    }
    # Kaggle's files quote strings ("0", "a", "Jan,Apr,Jul,Oct"); the course's files quote only where needed.
    kaggle_style = {"train.csv", "test.csv", "store.csv", "sample_submission.csv"}
    for name, df in tables.items():
        if name in ("train.csv", "test.csv"):
            df = df.astype({"StateHoliday": str, "SchoolHoliday": str})
        with atomic_path(out / name) as tmp:
            df.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC if name in kaggle_style else csv.QUOTE_MINIMAL)
    return {name: len(df) for name, df in tables.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--stores", type=int, default=30, help="number of stores (real competition: 1115)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts = generate(args.out_dir, args.stores, args.seed)
    for name, n in counts.items():
        print(f"  {Path(args.out_dir) / name}: {n:,} rows")


if __name__ == "__main__":
    main()
