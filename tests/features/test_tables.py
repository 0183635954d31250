import pandas as pd
import pytest

from features import JoinError, join_df


def test_left_join_with_suffix_keeps_order_and_index():
    left = pd.DataFrame({"k": [2, 1, 2], "v": [1, 2, 3]}, index=[10, 11, 12])
    right = pd.DataFrame({"k": [1, 2], "v": [100, 200], "w": ["a", "b"]})
    out = join_df(left, right, "k")
    assert out.index.tolist() == [10, 11, 12]
    assert out.v.tolist() == [1, 2, 3]
    assert out.v_y.tolist() == [200, 100, 200]
    assert out.w.tolist() == ["b", "a", "b"]


def test_unmatched_rows_raise_with_keys_and_count():
    left = pd.DataFrame({"State": ["HE", "XX", "XX"], "d": [1, 2, 3]})
    right = pd.DataFrame({"State": ["HE"], "t": [5]})
    with pytest.raises(JoinError, match=r"2 of 3 rows of train have no match in trends .*XX"):
        join_df(left, right, "State", names=("train", "trends"))
    out = join_df(left, right, "State", allow_unmatched=True)
    assert out.t.isna().tolist() == [False, True, True]


def test_duplicate_right_keys_raise_instead_of_multiplying_rows():
    left = pd.DataFrame({"k": [1, 2]})
    right = pd.DataFrame({"k": [1, 1, 2], "v": [1, 2, 3]})
    with pytest.raises(JoinError, match="share a key"):
        join_df(left, right, "k")


def test_different_key_names_drop_the_right_key():
    left = pd.DataFrame({"file": ["Hessen"], "x": [1]})
    right = pd.DataFrame({"StateName": ["Hessen"], "State": ["HE"]})
    out = join_df(left, right, "file", "StateName")
    assert out.columns.tolist() == ["file", "x", "State"]


def test_missing_key_column_is_named():
    with pytest.raises(JoinError, match=r"\['nope'\] not in right"):
        join_df(pd.DataFrame({"k": [1]}), pd.DataFrame({"k": [1]}), "k", "nope")
