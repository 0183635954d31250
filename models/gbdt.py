"""Gradient-boosted trees (LightGBM) on a float feature matrix: an ensemble member beside the networks.

LightGBM 4.7 was chosen over XGBoost 3.2 (3.4 needs Python 3.12) by measurement on the real Rossmann features
(844k training rows x 43 columns, log target, the same 300 rounds of 255-leaf trees, lr 0.1, 63 bins, 70% of
the columns and 80% of the rows per tree, 2 AMD EPYC cores): LightGBM 151 s, validation RMSPE 0.1222;
XGBoost (hist, lossguide) 201 s, 0.1296. Deterministic for a given seed and thread count
(`deterministic=True`, row-wise histograms).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import atomic_path
from models.progress import Throttle


@dataclass(frozen=True)
class GBDTParams:
    rounds: int = 3000  # the most boosting rounds; early stopping on the validation rows picks fewer
    lr: float = 0.05
    leaves: int = 255
    min_leaf: int = 100  # rows per leaf at least
    colsample: float = 0.7  # share of the features each tree sees
    subsample: float = 0.8  # share of the rows each tree sees
    max_bin: int = 63
    early_stopping: int = 100  # stop when the validation loss has not improved for this many rounds
    seed: int = 0
    objective: str = "regression"  # LightGBM's: regression (squared error), regression_l1, binary, multiclass
    num_class: int = 1  # classes, for multiclass
    # LightGBM's device_type: cpu, or gpu (the PyPI wheel's OpenCL learner, where the machine has an OpenCL device;
    # the wheel has no cuda learner). `make bench COMP=rossmann PARTS=gbdt` times them side by side.
    device: str = "cpu"

    @classmethod
    def from_config(cls, cfg, **overrides) -> GBDTParams:
        """The fields a config names `gbdt_<field>` (gbdt_rounds, gbdt_lr, gbdt_leaves, ...), then `overrides`."""
        named = {f.name: getattr(cfg, f"gbdt_{f.name}") for f in fields(cls) if hasattr(cfg, f"gbdt_{f.name}")}
        return cls(**{**named, **overrides})


def default_threads() -> int:
    """OMP_NUM_THREADS where set (it caps torch's threads the same way; tests/conftest.py sets it for pytest's
    workers), else one per core. Under torchrun, which sets it to 1 for each rank's share of the networks, one per
    core: rank 0 fits the trees alone."""
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0]
    if omp.isdigit() and int(omp) > 0 and "LOCAL_WORLD_SIZE" not in os.environ:
        return int(omp)
    return os.cpu_count() or 1


def _params(p: GBDTParams, threads: int | None) -> dict:
    return {
        "objective": p.objective,
        **({"num_class": p.num_class} if p.objective == "multiclass" else {}),
        "learning_rate": p.lr,
        "num_leaves": p.leaves,
        "min_data_in_leaf": p.min_leaf,
        "feature_fraction": p.colsample,
        "bagging_fraction": p.subsample,
        "bagging_freq": 1 if p.subsample < 1 else 0,
        "max_bin": p.max_bin,
        "seed": p.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads or default_threads(),
        "verbose": -1,
        "device_type": p.device,
    }


def fit(
    x: np.ndarray,
    y: np.ndarray,
    params: GBDTParams,
    names: list[str],
    valid: tuple[np.ndarray, np.ndarray] | None = None,
    rounds: int | None = None,
    label: str = "gbdt",
    threads: int | None = None,
    categorical: tuple[str, ...] = (),
    at_least: int | None = None,
):
    """Train on (x, y); with `valid`, early-stopped on it (returns the best round's model). `rounds` overrides
    params.rounds (a refit trains the rounds the validated fit chose). `at_least` (with `valid`): the fit goes on
    to that many rounds where early stopping would end it sooner and keeps every tree, its best round still the one
    early stopping chose (a booster's first k trees are the ones a fit of k rounds grows, so one fit is both).
    `categorical`: columns (of `names`) holding category codes, split by LightGBM's own categorical splits (groups
    of codes, not thresholds on them). Prints progress every 100 rounds, one line every PROGRESS_EVERY seconds at
    the most (models.progress)."""
    import lightgbm as lgb

    t0 = time.perf_counter()
    cats = [n for n in names if n in set(categorical)]
    train = lgb.Dataset(
        x, y, feature_name=names, categorical_feature=cats, params={"max_bin": params.max_bin}, free_raw_data=True
    )
    progress = Progress(label, t0)
    sets, cbs = [], [progress]
    if valid is not None:
        sets = [lgb.Dataset(valid[0], valid[1], reference=train)]
        cbs.append(EarlyStopping(params.early_stopping, at_least or 0))
    booster = lgb.train(
        _params(params, threads), train, rounds or params.rounds, valid_sets=sets, callbacks=cbs,
        keep_training_booster=bool(at_least),  # every tree kept (else cut at the best round)
    )  # fmt: skip
    progress.flush()  # an early-stopped fit's last round, where its line was held back
    return booster


class EarlyStopping:
    """LightGBM's early stopping (`lgb.early_stopping`), its stop held back until `at_least` rounds are grown: the
    best round is the one it chose when it stopped first."""

    def __init__(self, patience: int, at_least: int):
        import lightgbm as lgb

        self.inner, self.at_least, self.stopped = lgb.early_stopping(patience, verbose=False), at_least, None
        self.order, self.before_iteration = self.inner.order, False  # where lgb.train runs it among the callbacks

    def __call__(self, env) -> None:
        from lightgbm.callback import EarlyStopException

        if self.stopped is None:
            try:
                self.inner(env)
            except EarlyStopException as stop:
                self.stopped = stop
        if self.stopped is not None and env.iteration + 1 >= min(self.at_least, env.end_iteration):
            raise self.stopped


class Progress:
    """LightGBM's callback: every 100th round's line, one every PROGRESS_EVERY seconds at the most (models.progress),
    the first and the last (held back and printed by `flush` where early stopping ends the fit)."""

    def __init__(self, label: str, t0: float):
        self.label, self.t0, self.throttle, self.held = label, t0, Throttle(), None

    def __call__(self, env) -> None:
        i = env.iteration + 1
        if i % 100 == 0 or i == env.end_iteration:
            scores = " ".join(f"valid {name} {value:.5f}" for _, name, value, _ in env.evaluation_result_list)
            self.held = f"{self.label}: round {i}/{env.end_iteration} {scores} ({time.perf_counter() - self.t0:.0f} s)"
            if self.throttle.due(last=i == env.end_iteration):
                self.flush()

    def flush(self) -> None:
        if self.held is not None:
            print(self.held, flush=True)
            self.held = None


def best_rounds(booster) -> int:
    """The early-stopped round, or every round (no early stopping; or read from a file: best_iteration -1)."""
    return booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()


def predict(booster, x: np.ndarray, rounds: int | None = None) -> np.ndarray:
    """Predictions of the model's first `rounds` trees (default: up to its best round)."""
    return booster.predict(x, num_iteration=rounds or best_rounds(booster)).astype(np.float64)


def importance(boosters: list) -> pd.DataFrame:
    """Each feature's total gain over `boosters` (the models that predict the test) as a share of all gain, and
    how many splits use it; most important first."""
    gain = np.sum([b.feature_importance("gain") for b in boosters], axis=0)
    splits = np.sum([b.feature_importance("split") for b in boosters], axis=0)
    frame = pd.DataFrame({"feature": boosters[0].feature_name(), "gain_share": gain / max(gain.sum(), 1e-12)})
    return frame.assign(splits=splits).sort_values("gain_share", ascending=False, ignore_index=True)


def save(booster, path: Path) -> None:
    """The model as LightGBM's text format, up to its best round, written atomically."""
    with atomic_path(path) as tmp:
        booster.save_model(str(tmp), num_iteration=best_rounds(booster))


def load(path: Path):
    import lightgbm as lgb

    return lgb.Booster(model_file=str(path))
