"""Blend weights (pipelines/ensemble.py): non-negative, summing to 1, fitted to the validation loss."""

import numpy as np
import pytest

from pipelines.ensemble import blend, fit_weights


def mse_to(target):
    return lambda pred: float(np.mean((pred - target) ** 2))


def test_weights_recover_a_known_mixture():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=5000), rng.normal(size=5000)
    target = 0.7 * a + 0.3 * b
    w = fit_weights({"a": a, "b": b}, mse_to(target))
    assert w == pytest.approx({"a": 0.7, "b": 0.3}, abs=1e-3)


def test_a_member_that_only_hurts_gets_no_weight():
    rng = np.random.default_rng(1)
    target = rng.normal(size=5000)
    good = target + 0.1 * rng.normal(size=5000)
    wrong = target + 2 * (good - target)  # good's errors, doubled: any weight on it raises the loss
    w = fit_weights({"good": good, "wrong": wrong}, mse_to(target))
    assert w == {"good": 1.0, "wrong": 0.0}


def test_weights_are_a_convex_combination_and_never_worse_than_equal():
    rng = np.random.default_rng(2)
    target = rng.normal(size=2000)
    preds = {f"m{i}": target + rng.normal(scale=0.2 + 0.3 * i, size=2000) + 0.1 * i for i in range(4)}
    w = fit_weights(preds, mse_to(target))
    assert all(v >= 0 for v in w.values()) and sum(w.values()) == pytest.approx(1.0, abs=1e-5)
    equal = blend(preds, dict.fromkeys(preds, 0.25))
    assert mse_to(target)(blend(preds, w)) <= mse_to(target)(equal)
    assert w["m0"] > w["m3"]  # the most accurate member weighs most


def test_one_member_weighs_one_and_blend_names_a_missing_member():
    assert fit_weights({"only": np.zeros(3)}, lambda p: 0.0) == {"only": 1.0}
    with pytest.raises(KeyError, match="gbdt"):
        blend({"nn": np.zeros(3)}, {"nn": 0.5, "gbdt": 0.5})
    # a member weighted 0 need not be predicted at all
    assert blend({"nn": np.ones(3)}, {"nn": 1.0, "gbdt": 0.0}).tolist() == [1.0, 1.0, 1.0]
