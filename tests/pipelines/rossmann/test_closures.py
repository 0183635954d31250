"""Rossmann's closure factors (the card's adjust=): the RMSPE-optimal multiplier of the open days next to a
store's refit, fitted on the rows it is given."""

import numpy as np
import pandas as pd
import pytest

from models.metrics import rmspe
from pipelines.rossmann.features import closure_adjust, closure_factors, closure_offsets


def closure_frame(seed=0, before_sd=0.6, after_lift=1.4, n_before=600):
    """Rows of 20 stores as the feature function leaves them: usual days with small noise, days before a long closure with a large one
    (unbiased in log), days after one 1.4x the usual."""
    rng = np.random.default_rng(seed)
    n = 40_000
    store, dow, promo = rng.integers(1, 21, n), rng.integers(1, 7, n), rng.integers(0, 2, n)
    typical = 5000 * (1 + store / 20) * (1 + 0.2 * promo) * (1 + 0.05 * dow)
    before = np.full(n, 30.0)
    after = np.full(n, 30.0)
    before[:n_before] = rng.integers(1, 8, n_before)
    after[n_before : 2 * n_before] = rng.integers(1, 8, n_before)
    noise = rng.normal(0, 0.05, n)
    noise[:n_before] = rng.normal(0, before_sd, n_before)
    sales = typical * np.exp(noise) * np.where(after <= 7, after_lift, 1.0)
    return pd.DataFrame(
        {
            "Store": store,
            "DayOfWeek": dow,
            "Promo": promo,
            "Sales": np.round(sales),
            "BeforeLongClosed": before,
            "AfterLongClosed": after,
        }
    )


def test_closure_factors_are_the_rmspe_optimal_multipliers_of_each_group():
    df = closure_frame()
    factors = closure_factors(df, days=7)
    assert factors["days"] == 7
    # after: sales 1.4x the usual, little noise -> about 1.4; before: log-normal noise of sd 0.6 -> about
    # exp(-1.5 * 0.36) = 0.58 (the optimal ratio for that variance, as the global shift)
    assert factors["after"] == pytest.approx(1.4, rel=0.03)
    assert factors["before"] == pytest.approx(np.exp(-1.5 * 0.36), rel=0.12)
    rows = df[df.BeforeLongClosed <= 7]
    typical = df[df.BeforeLongClosed >= 30].groupby(["Store", "DayOfWeek", "Promo"]).Sales.median()
    guess = typical.reindex(pd.MultiIndex.from_frame(rows[["Store", "DayOfWeek", "Promo"]])).to_numpy()
    scored = lambda f: rmspe(guess * f, rows.Sales.to_numpy())
    assert scored(factors["before"]) < min(
        scored(1.0), scored(factors["before"] * 1.2), scored(factors["before"] / 1.2)
    )


def test_closure_factors_need_evidence_and_the_offsets_put_before_first():
    few = closure_factors(closure_frame(n_before=20), days=7)
    assert few["before"] == few["after"] == 1.0  # 20 rows of each: no evidence, no factor
    factors = {"days": 3, "before": 0.5, "after": 2.0}
    frame = pd.DataFrame({"BeforeLongClosed": [1, 3, 4, 30, 2], "AfterLongClosed": [30, 30, 1, 3, 2]})
    assert np.allclose(np.exp(closure_offsets(frame, factors)), [0.5, 0.5, 2.0, 2.0, 0.5])
    assert not closure_offsets(frame, {}).any()


def test_the_cards_adjust_fits_on_its_first_frame_and_offsets_the_second():
    fit = closure_frame()
    rows = pd.DataFrame({"BeforeLongClosed": [2, 30, 30], "AfterLongClosed": [30, 3, 30]})
    factors = closure_factors(fit, days=7)
    assert np.allclose(np.exp(closure_adjust(fit, rows)), [factors["before"], factors["after"], 1.0])
    assert not closure_adjust(closure_frame(n_before=20), rows).any()  # too few rows near a closure: no offset
