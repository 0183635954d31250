"""LightGBM's thread count follows OMP_NUM_THREADS as torch does, except under torchrun (rank 0 fits it alone)."""

import os

import pytest

from models.gbdt import GBDTParams, _params, default_threads


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, os.cpu_count()),
        ({"OMP_NUM_THREADS": "1"}, 1),
        ({"OMP_NUM_THREADS": "3,1"}, 3),  # OpenMP's nested list: the outer level
        ({"OMP_NUM_THREADS": "zero"}, os.cpu_count()),
        ({"OMP_NUM_THREADS": "1", "LOCAL_WORLD_SIZE": "2"}, os.cpu_count()),  # torchrun's ranks
    ],
)
def test_default_threads(monkeypatch, env, expected):
    for key in ("OMP_NUM_THREADS", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert default_threads() == expected
    assert _params(GBDTParams(), None)["num_threads"] == expected
    assert _params(GBDTParams(), 5)["num_threads"] == 5  # an explicit count wins
