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
