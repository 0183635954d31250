import numpy as np
import pandas as pd
import pytest

from models.metrics import rmspe
from pipelines.rossmann import members
from pipelines.rossmann.model import log_shift


def test_rmspe_shift_is_the_optimal_ratio_for_lognormal_residuals():
    rng = np.random.default_rng(0)
    mu = rng.normal(8.5, 0.5, 400_000)
    s2 = 0.1**2
    y = np.exp(mu + rng.normal(0, np.sqrt(s2), mu.size))  # the model knows mu; the rest is noise
    shift = log_shift(s2, enabled=True)
    assert shift == -1.5 * s2
    best = rmspe(np.exp(mu + shift), y)
    assert best < rmspe(np.exp(mu), y)  # better than the unshifted prediction
    for other in (-3 * s2, -0.75 * s2, 0.5 * s2):
        assert best <= rmspe(np.exp(mu + other), y)
    assert log_shift(s2, enabled=False) == 0.0


def closure_frame(seed=0, before_sd=0.6, after_lift=1.4, n_before=600):
    """Processed-like rows of 20 stores: usual days with small noise, days before a long closure with a large one
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
            "DaysBeforeLongClosed": before,
            "DaysAfterLongClosed": after,
        }
    )


def test_closure_factors_are_the_rmspe_optimal_multipliers_of_each_group():
    df = closure_frame()
    factors = members.closure_factors(df, days=7)
    assert factors["days"] == 7
    # after: sales 1.4x the usual, little noise -> about 1.4; before: log-normal noise of sd 0.6 -> about
    # exp(-1.5 * 0.36) = 0.58 (the optimal ratio for that variance, as the global shift)
    assert factors["after"] == pytest.approx(1.4, rel=0.03)
    assert factors["before"] == pytest.approx(np.exp(-1.5 * 0.36), rel=0.12)
    rows = df[df.DaysBeforeLongClosed <= 7]
    typical = df[df.DaysBeforeLongClosed >= 30].groupby(["Store", "DayOfWeek", "Promo"]).Sales.median()
    guess = typical.reindex(pd.MultiIndex.from_frame(rows[["Store", "DayOfWeek", "Promo"]])).to_numpy()
    scored = lambda f: rmspe(guess * f, rows.Sales.to_numpy())
    assert scored(factors["before"]) < min(
        scored(1.0), scored(factors["before"] * 1.2), scored(factors["before"] / 1.2)
    )


def test_closure_factors_need_evidence_and_the_offsets_put_before_first():
    few = members.closure_factors(closure_frame(n_before=20), days=7)
    assert few["before"] == few["after"] == 1.0  # 20 rows of each: no evidence, no factor
    factors = {"days": 3, "before": 0.5, "after": 2.0}
    frame = pd.DataFrame({"DaysBeforeLongClosed": [1, 3, 4, 30, 2], "DaysAfterLongClosed": [30, 30, 1, 3, 2]})
    assert np.allclose(np.exp(members.closure_offsets(frame, factors)), [0.5, 0.5, 2.0, 2.0, 0.5])
    assert not members.closure_offsets(frame, {}).any()


def test_the_blend_is_weighed_and_scored_with_the_closure_offsets():
    rng = np.random.default_rng(1)
    sales = np.exp(rng.normal(8, 0.3, 2000))
    preds = {"a": np.log(sales) + rng.normal(0, 0.1, 2000), "b": np.log(sales) + rng.normal(0, 0.2, 2000)}
    offset = np.where(np.arange(2000) < 100, np.log(0.5), 0.0)
    fitted = members.fit_blend(preds, sales, True, offset)
    blended = fitted["weights"]["a"] * preds["a"] + fitted["weights"]["b"] * preds["b"]
    assert fitted["members"]["blend"] == pytest.approx(
        members.shifted_rmspe(blended + offset, sales, fitted["log_shift"]), abs=1e-6
    )
    assert fitted["members"]["a"] != members.fit_blend(preds, sales, True)["members"]["a"]
