import json

import numpy as np
import pandas as pd
import pytest

from features import Categorify, FillMissing, Normalize, TabularProcessor


def test_categorify_unseen_and_missing_map_to_zero():
    train = pd.DataFrame({"c": ["b", "a", "b", None], "n": [3, 1, 3, 2]})
    cat = Categorify().fit(train, ["c", "n"])
    assert cat.vocab == {"c": ["a", "b"], "n": [1, 2, 3]}
    assert cat.cardinality() == {"c": 3, "n": 4}
    test = pd.DataFrame({"c": ["a", "z", None, "b"], "n": [3, 9, 1, 2]})
    out = cat.transform(test)
    assert out.c.tolist() == [1, 0, 0, 2]
    assert out.n.tolist() == [3, 0, 1, 2]


def test_categorify_codes_true_false_with_missing_values(tmp_path):
    """A True/False column with missing values is read by pandas as objects (Spaceship Titanic's CryoSleep): each
    value keeps its own code, before and after the vocabulary's JSON round trip; 0/1 read as False/True."""
    train = pd.DataFrame({"c": [True, False, np.nan, True]})
    cat = Categorify().fit(train, ["c"])
    assert cat.transform(train).c.tolist() == [2, 1, 0, 2]
    again = Categorify(**json.loads(json.dumps(cat.state())))
    assert again.transform(train).c.tolist() == [2, 1, 0, 2]
    assert again.transform(pd.DataFrame({"c": [0, 1, 1]})).c.tolist() == [1, 2, 2]
    assert again.transform(pd.DataFrame({"c": [False, True]})).c.tolist() == [1, 2]


def test_fill_missing_uses_train_median_and_flags_train_missing_columns():
    train = pd.DataFrame({"a": [1.0, np.nan, 3.0, 10.0], "b": [1.0, 2.0, 3.0, 4.0]})
    fm = FillMissing().fit(train, ["a", "b"])
    assert fm.medians == {"a": 3.0, "b": 2.5}
    assert fm.new_cat_names == ["a_na"]
    out = fm.transform(pd.DataFrame({"a": [np.nan, 5.0], "b": [np.nan, 1.0]}))
    assert out.a.tolist() == [3.0, 5.0]
    assert out.a_na.tolist() == [True, False]
    assert out.b.tolist() == [2.5, 1.0]  # filled, but no b_na: the column had no NaN in train
    assert "b_na" not in out.columns


def test_normalize_uses_train_statistics():
    norm = Normalize().fit(pd.DataFrame({"x": [1.0, 3.0], "k": [5.0, 5.0]}), ["x", "k"])
    out = norm.transform(pd.DataFrame({"x": [2.0, 2.0 + np.sqrt(2)], "k": [5.0, 6.0]}))
    np.testing.assert_allclose(out.x, [0.0, 1.0], atol=1e-6)
    assert out.k.tolist() == [0.0, 1.0]  # zero std -> 1
    assert out.x.dtype == np.float32


def test_processor_roundtrip_and_fit_on_train_only(tmp_path):
    train = pd.DataFrame({"s": ["x", "y", "x"], "flag": [True, False, True], "v": [1.0, np.nan, 5.0]})
    valid = pd.DataFrame({"s": ["w", "y"], "flag": [False, False], "v": [np.nan, 100.0]})
    proc = TabularProcessor(["s", "flag"], ["v"]).fit(train)
    assert proc.all_cat_names == ["s", "flag", "v_na"]
    assert proc.categorify.vocab["s"] == ["x", "y"]  # 'w' only in valid: unseen
    out = proc.transform(valid)
    assert out.s.tolist() == [0, 2]
    assert out.v_na.tolist() == [2, 1]  # True -> code 2, False -> code 1
    proc.save(tmp_path / "procs.json")
    again = TabularProcessor.load(tmp_path / "procs.json").transform(valid)
    pd.testing.assert_frame_equal(out, again)


def test_transform_names_the_missing_column():
    proc = TabularProcessor(["s"], ["v"]).fit(pd.DataFrame({"s": ["a"], "v": [1.0]}))
    with pytest.raises(KeyError, match=r"\['v'\]"):
        proc.transform(pd.DataFrame({"s": ["a"]}))


def test_sentinels_are_common_values_at_a_columns_end_far_past_the_others():
    """Home Credit's 365243 days employed (18% of the rows, beside -17,912..0), a -999 beside 0..100, a survey's -999
    and -998 side by side, a code with a stray value beyond it, 999 beside 0..100: sentinels. A long tail, a cap in
    the tail's reach, a top-coded income 8 spans out, a rare far value, -1 beside 0..3, a 0/1 flag: numbers."""
    from features.procs import sentinels

    rng = np.random.default_rng(0)
    employed = np.where(rng.random(1000) < 0.18, 365243, -rng.integers(0, 17912, 1000))
    assert sentinels(pd.Series(employed)) == [365243] and isinstance(sentinels(pd.Series(employed))[0], int)
    assert sentinels(pd.Series(np.r_[employed, [400000]])) == [365243]  # a stray beyond the code
    coded = np.where(rng.random(1000) < 0.05, -999, rng.integers(0, 100, 1000))
    assert sentinels(pd.Series(coded)) == [-999] and sentinels(pd.Series(np.r_[coded, [-9999] * 5])) == [-999]
    survey = rng.integers(0, 100, 1000).astype(float)
    survey[:50], survey[50:80] = -999, -998  # refused, don't know
    assert sentinels(pd.Series(survey)) == [-999, -998]
    assert sentinels(pd.Series(np.where(rng.random(1000) < 0.05, 999, rng.integers(0, 100, 1000)))) == [999]
    assert sentinels(pd.Series(np.where(rng.random(1000) < 0.1, -1, rng.random(1000) * 0.3))) == [-1]
    income = np.round(rng.lognormal(11.8, 0.6, 1000), -2)
    assert sentinels(pd.Series(income)) == []
    assert sentinels(pd.Series(np.r_[income[:990], [4.5e6] * 10])) == []  # top-coded: 8 spans out, not a code
    assert sentinels(pd.Series(np.minimum(income, 150_000))) == []  # a cap within the others' reach
    assert sentinels(pd.Series(np.r_[rng.integers(0, 100, 995), [99999] * 5])) == []  # 0.5% of the rows
    assert sentinels(pd.Series(np.where(rng.random(1000) < 0.1, -1, rng.integers(0, 4, 1000)))) == []
    assert sentinels(pd.Series(rng.integers(0, 2, 1000))) == []
    assert sentinels(pd.Series([1.0, 2.0, 999.0] * 10)) == []  # too few rows to tell
