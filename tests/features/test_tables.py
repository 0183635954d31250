import numpy as np
import pandas as pd
import pytest

from features import JoinError, aggregate, join_df


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


def test_aggregate_gives_one_row_a_key_as_a_loop_over_the_keys_would():
    rng = np.random.default_rng(0)
    n = 300
    table = pd.DataFrame(
        {
            "k": rng.integers(0, 40, n).astype(float),
            "amount": rng.normal(size=n),
            "status": rng.choice(["a", "b", "c", "rare"], n, p=[0.5, 0.3, 0.195, 0.005]),
            "opened": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        }
    )
    table.loc[::17, "k"] = np.nan  # a row without a key counts for none
    table.loc[::5, "amount"] = np.nan
    out = aggregate(table, ["k"], "b", numbers=["amount"], dates=["opened"], categories=["status"], min_share=0.01)
    assert out.k.tolist() == list(dict.fromkeys(table.k.dropna()))  # the keys in their first rows' order
    assert "b_status=rare" not in out  # under 1% of the rows: no column of its own
    for _, row in out.iterrows():
        rows = table[table.k == row.k]
        amount = rows.amount.dropna()
        assert row.b_rows == len(rows)
        np.testing.assert_allclose(
            [row.b_amount_mean, row.b_amount_min, row.b_amount_max, row.b_amount_sum],
            [amount.mean(), amount.min(), amount.max(), amount.sum()],
        )
        assert np.isnan(row.b_amount_std) if len(amount) < 2 else np.isclose(row.b_amount_std, amount.std())
        assert row.b_opened_first == (rows.opened.min() - pd.Timestamp("1970-01-01")).days
        assert row.b_opened_last == (rows.opened.max() - pd.Timestamp("1970-01-01")).days
        assert row.b_status_distinct == rows.status.nunique()
        for level in "abc":
            assert np.isclose(row[f"b_status={level}"], (rows.status == level).mean())
