import numpy as np
import pytest
import torch

from models.metrics import exp_rmspe, rmspe


def test_rmspe_by_hand_and_zero_rows_ignored():
    y = np.array([100.0, 200.0, 0.0])
    p = np.array([110.0, 180.0, 50.0])
    assert rmspe(p, y) == pytest.approx(np.sqrt((0.1**2 + 0.1**2) / 2))


def test_exp_rmspe_matches_sales_space_and_accepts_tensors():
    y = np.array([5263.0, 6064.0, 8314.0])
    p = np.array([5000.0, 6500.0, 8000.0])
    assert exp_rmspe(torch.tensor(np.log(p)), torch.tensor(np.log(y))) == pytest.approx(rmspe(p, y), rel=1e-6)


def test_all_zero_targets_give_nan():
    assert np.isnan(rmspe([1.0], [0.0]))


def test_f2_matches_sklearn_and_threshold_search_helps():
    from sklearn.metrics import fbeta_score

    from models.metrics import _f2_per_sample, best_thresholds, f2_score

    rng = np.random.default_rng(0)
    y = rng.random((200, 6)) < 0.3
    y[:, 0] = True
    p = np.clip(y * 0.35 + rng.random((200, 6)) * 0.6, 0, 1)
    pred = p > 0.4
    assert np.isclose(_f2_per_sample(pred, y).mean(), fbeta_score(y, pred, beta=2, average="samples", zero_division=0))
    th = best_thresholds(p, y)
    assert th.shape == (6,)
    assert f2_score(p, y, th) >= f2_score(p, y, 0.2) and f2_score(p, y, th) >= f2_score(p, y, 0.5)


def test_accuracy_and_log_loss():
    from models.metrics import accuracy, log_loss

    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    target = np.array([0, 1, 1])
    assert accuracy(probs, target) == 2 / 3
    assert np.isclose(log_loss(probs, target), -np.mean(np.log([0.9, 0.8, 0.4])))
