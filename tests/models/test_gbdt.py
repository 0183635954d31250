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


def test_an_early_stopped_fit_prints_its_last_hundredth_round(monkeypatch, capsys):
    """LightGBM calls the progress callback before early stopping's, and a stopped fit never reaches its last round:
    the latest line held back is printed when training returns."""
    import numpy as np

    from models import gbdt

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = x[:, 0] + 2 * rng.normal(size=400)  # a weak signal: early stopping ends the fit after a few hundred rounds
    params = GBDTParams(rounds=2000, leaves=4, min_leaf=5, max_bin=15, early_stopping=150, lr=0.02)
    monkeypatch.setenv("PROGRESS_EVERY", "3600")
    booster = gbdt.fit(x[:300], y[:300], params, ["a", "b", "c"], valid=(x[300:], y[300:]), threads=1)
    stopped = booster.best_iteration + params.early_stopping  # the last round trained
    lines = [line.split(" valid")[0] for line in capsys.readouterr().out.splitlines()]
    assert 200 <= stopped < 2000, stopped
    assert lines == ["gbdt: round 100/2000", f"gbdt: round {stopped // 100 * 100}/2000"], lines


@pytest.mark.parametrize("at_least", [3, 60])  # fewer rounds than early stopping grows, and more
def test_a_fit_grown_at_least_so_many_rounds_is_both_that_fit_and_the_early_stopped_one(at_least):
    """at_least=k: the booster's first k trees predict as a fit of k rounds does (bit for bit), and its best round is
    the one plain early stopping chose; every tree grown is kept."""
    import numpy as np

    from models import gbdt

    rng = np.random.default_rng(0)
    x = rng.normal(size=(900, 4))
    y = x[:, 0] + rng.normal(size=900)
    params = GBDTParams(rounds=200, lr=0.3, leaves=7, min_leaf=10, early_stopping=10)
    names, valid = ["a", "b", "c", "d"], (x[600:], y[600:])
    stopped = gbdt.fit(x[:600], y[:600], params, names, valid=valid, threads=1)
    fixed = gbdt.fit(x[:600], y[:600], params, names, rounds=at_least, threads=1)
    both = gbdt.fit(x[:600], y[:600], params, names, valid=valid, threads=1, at_least=at_least)
    best = gbdt.best_rounds(stopped)
    assert 3 < best + params.early_stopping < 60  # the two cases: the stop before and after at_least
    assert gbdt.best_rounds(both) == best
    assert both.current_iteration() == max(at_least, best + params.early_stopping)
    assert np.array_equal(gbdt.predict(both, x, at_least), gbdt.predict(fixed, x))
