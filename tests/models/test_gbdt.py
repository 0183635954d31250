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


def test_progress_prints_the_first_and_the_last_rounds_line_and_one_every_so_many_seconds(monkeypatch, capsys):
    import numpy as np

    from models import gbdt, progress

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    params = GBDTParams(rounds=500, leaves=4, min_leaf=5, max_bin=15)
    clock = iter(range(0, 10_000, 4))  # each round 4 s after the one before
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    monkeypatch.setenv("PROGRESS_EVERY", "500")
    gbdt.fit(x, x[:, 0], params, ["a", "b", "c"], threads=1)
    rounds = [line.split(" valid")[0].split(" (")[0].strip() for line in capsys.readouterr().out.splitlines()]
    # the clock is read at each 100th round: 100 at 0 s, 200 at 4 s, 300 at 8 s, 400 at 12 s (none 500 s after the
    # line before), and the last round is always said
    assert rounds == ["gbdt: round 100/500", "gbdt: round 500/500"]
