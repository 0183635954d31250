"""The embedded sample matches the real files' schema and carries the structure a model must learn."""

import zipfile

import pandas as pd
import pytest

from pipelines.rossmann.config import COMPETITION_FILES, RAW_DTYPES
from pipelines.rossmann.sample import generate


def read(folder, name):
    return pd.read_csv(folder / name, dtype=RAW_DTYPES[name], low_memory=False)


@pytest.mark.parametrize("name", list(RAW_DTYPES))
def test_schema_matches_the_pinned_dtypes(rossmann_sample_dir, name):
    plain = pd.read_csv(rossmann_sample_dir / name, low_memory=False)
    assert list(plain.columns) == list(RAW_DTYPES[name])
    read(rossmann_sample_dir, name)  # every column parses with the dtype the pipeline pins


@pytest.mark.real_data
@pytest.mark.parametrize("name", list(RAW_DTYPES))
def test_schema_matches_the_real_files(rossmann_sample_dir, rossmann_real_dir, name):
    if name in COMPETITION_FILES:
        with zipfile.ZipFile(rossmann_real_dir / "rossmann-store-sales.zip") as z:
            real = pd.read_csv(z.open(name), nrows=5000, low_memory=False)
    else:
        real = pd.read_csv(rossmann_real_dir / name, low_memory=False)
    sample = pd.read_csv(rossmann_sample_dir / name, low_memory=False)
    assert list(sample.columns) == list(real.columns)
    # Same dtypes as pandas infers them from the real files (StateHoliday is 'object' in train only
    # because the real file mixes "0" and "a" across read chunks; the pinned dtype makes both str).
    pinned_real = (
        pd.read_csv(rossmann_real_dir / name, dtype=RAW_DTYPES[name]) if name not in COMPETITION_FILES else None
    )
    for col in real.columns:
        if col == "StateHoliday" or (name == "sample_submission.csv" and col == "Sales"):
            continue
        assert sample[col].dtype == real[col].dtype, (name, col)
    if pinned_real is not None:
        assert list(pinned_real.dtypes) == list(read(rossmann_sample_dir, name).dtypes)


def test_deterministic(tmp_path, rossmann_sample_dir):
    generate(tmp_path, stores=30, seed=0)
    for name in RAW_DTYPES:
        assert (tmp_path / name).read_bytes() == (rossmann_sample_dir / name).read_bytes(), name


def test_calendar_and_codes(rossmann_sample_dir):
    train, test = read(rossmann_sample_dir, "train.csv"), read(rossmann_sample_dir, "test.csv")
    assert (train.Date.min(), train.Date.max()) == ("2013-01-01", "2015-07-31")
    assert (test.Date.min(), test.Date.max()) == ("2015-08-01", "2015-09-17")
    assert test.Date.nunique() == 48
    assert set(train.StateHoliday) == {"0", "a", "b", "c"}
    assert test.Open.isna().sum() > 0  # blank Open values, as in the real test.csv
    assert (train.loc[train.Open == 0, "Sales"] == 0).all()
    days = train.groupby("Store").Date.nunique()
    assert days.max() == 942 and days.min() < 800  # some stores miss 2014 H2
    store = read(rossmann_sample_dir, "store.csv")
    assert set(store.PromoInterval.dropna()) <= {"Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"}
    assert store.CompetitionOpenSinceYear.isna().any() and store.Promo2SinceWeek.isna().any()
    sub = read(rossmann_sample_dir, "sample_submission.csv")
    assert sub.Id.tolist() == test.Id.tolist()


def test_sales_carry_learnable_signal(rossmann_sample_dir):
    train = read(rossmann_sample_dir, "train.csv")
    open_ = train[train.Open == 1]
    assert open_.groupby("Promo").Sales.mean().pipe(lambda s: s[1] / s[0]) > 1.15
    by_dow = open_.groupby("DayOfWeek").Sales.mean()
    assert by_dow[1] > by_dow[6]  # Mondays sell more than Saturdays
    store = read(rossmann_sample_dir, "store.csv")
    per_type = open_.merge(store, on="Store").groupby("StoreType").Sales.mean()
    assert per_type["b"] > per_type["a"]


def test_scales_to_the_real_size(tmp_path):
    counts = generate(tmp_path, stores=1115, seed=1)
    assert 950_000 < counts["train.csv"] < 1_060_000  # real: 1,017,209
    assert 35_000 < counts["test.csv"] < 45_000  # real: 41,088
