"""Rossmann's ensemble beyond the network: the gradient-boosting member and the validated blend.

The boosting member trains on the same processed rows as the network (log Sales target), with the first
network seed's learned embeddings of `gbdt_embeddings` as extra numeric features (the 3rd-place solution's
finding, Guo & Berkhahn 2016). Its first fit is early-stopped on the validation days; its refit trains the
rounds that fit chose on every row, with the refit network's embeddings. The blend (pipelines/ensemble.py)
weighs the members' validation predictions in log space; the RMSPE shift is applied once, on the blend.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import write_csv, write_feather
from models import gbdt
from models.metrics import rmspe, rmspe_log_shift
from models.tabular import embedding_features
from pipelines import ensemble
from pipelines.paths import Paths
from pipelines.rossmann import features
from pipelines.rossmann.config import RossmannConfig, net_columns
from pipelines.rossmann.features import CLOSURE_DAYS
from pipelines.runs import RunDir, run_identity


def params(cfg: RossmannConfig, seed: int) -> gbdt.GBDTParams:
    return gbdt.GBDTParams.from_config(cfg, seed=seed)


def model_file(i: int) -> str:
    """The file of the member's i-th LightGBM model (one per seed): model.txt, then model-2.txt, ..."""
    return "model.txt" if i == 0 else f"model-{i + 1}.txt"


def matrix(frame: pd.DataFrame, proc, net_state: dict, cfg: RossmannConfig) -> tuple[np.ndarray, list[str]]:
    """The boosting member's features: every categorical code and continuous value, then the network's
    embeddings of `gbdt_embeddings` (their top `gbdt_embedding_dims` principal components where set)."""
    codes = frame[proc.all_cat_names].to_numpy(np.int64)
    net_cats = net_columns(cfg, proc)[0]
    embs, emb_names = embedding_features(
        net_state, frame[net_cats].to_numpy(np.int64), net_cats, cfg.gbdt_embeddings, cfg.gbdt_embedding_dims
    )
    x = np.concatenate([codes.astype(np.float32), frame[proc.cont_names].to_numpy(np.float32), embs], axis=1)
    return x, [*proc.all_cat_names, *proc.cont_names, *emb_names]


def net_state(net_dir: Path, cfg: RossmannConfig) -> dict:
    """The weights of the network whose embeddings are features (none needed without `gbdt_embeddings`)."""
    if not cfg.gbdt_embeddings:
        return {}
    from models.learner import read_checkpoint  # torch: imported only when embeddings are read

    return read_checkpoint(net_dir / "checkpoint.pt")["model"]


def train_gbdt(
    paths: Paths, cfg: RossmannConfig, run: str, proc, net_dir: Path | None, rows, valid, refit_rounds=None
) -> dict:
    """Fit (or reuse) the boosting member into runs/RUN/gbdt (refit: runs/RUN/refit/gbdt, `refit_rounds` rounds
    per seed on `rows`, which then include the validation days): `gbdt_seeds` models whose log predictions are
    averaged. Returns its result.json content."""
    refit = refit_rounds is not None
    rd = RunDir(paths.runs / run / ("refit" if refit else "") / "gbdt")
    net_identity = RunDir(net_dir).read_json("config.json")["run"] if cfg.gbdt_embeddings else None
    seeds = list(range(cfg.seed, cfg.seed + cfg.gbdt_seeds))
    identity = run_identity(cfg, paths, ("gbdt",), net=net_identity, seeds=seeds, rounds=refit_rounds)
    done = rd.reuse_or_start(identity, "gbdt")
    if done is not None:
        return done
    t0 = time.perf_counter()
    state = net_state(net_dir, cfg)
    x, names = matrix(rows, proc, state, cfg)
    y = np.log(np.maximum(rows.Sales.to_numpy(np.float64), 1.0))
    label = "refit gbdt" if refit else "gbdt"
    embeddings = f"{', '.join(cfg.gbdt_embeddings)} embeddings" if cfg.gbdt_embeddings else "no embeddings"
    if cfg.gbdt_embeddings and cfg.gbdt_embedding_dims:
        embeddings += f", top {cfg.gbdt_embedding_dims} principal components each"
    print(f"{rd.path}: {label} on {len(x):,} rows x {len(names)} features ({embeddings}), seeds {seeds}")
    xv = matrix(valid, proc, state, cfg)[0] if len(valid) else None
    kept, gain, preds = [], np.zeros(len(names)), []
    for i, seed in enumerate(seeds):
        booster = gbdt.fit(
            x,
            y,
            params(cfg, seed),
            names,
            valid=(xv, np.log(valid.Sales.to_numpy(np.float64))) if xv is not None else None,
            rounds=refit_rounds[i] if refit else None,
            label=f"{label} seed {seed}",
        )
        kept.append(gbdt.best_rounds(booster))
        print(f"{label} seed {seed}: {kept[-1]} rounds kept ({time.perf_counter() - t0:.0f} s)")
        gbdt.save(booster, rd.path / model_file(i))
        gain += booster.feature_importance("gain", iteration=kept[-1])
        if xv is not None:
            preds.append(gbdt.predict(booster, xv))
    importance = pd.DataFrame({"feature": names, "gain": gain / len(seeds)})
    write_csv(importance.sort_values("gain", ascending=False), rd.path / "feature_importance.csv")
    result = {
        "rounds": kept,
        "models": [model_file(i) for i in range(len(seeds))],
        "rows": len(x),
        "features": len(names),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    if xv is not None:
        pred = np.mean(preds, axis=0)  # log space, as the network's seeds
        write_feather(valid[["Date", "Store", "Sales"]].assign(pred_log=pred), rd.path / "valid_preds.feather")
        result["valid_rmspe_raw"] = round(rmspe(np.exp(pred), valid.Sales.to_numpy()), 6)
    rd.write_json("result.json", result)
    return result


def test_preds(folder: Path, net_dir: Path, cfg: RossmannConfig, proc, test: pd.DataFrame) -> np.ndarray:
    """The boosting member's log predictions on `test` (its seeds' models averaged), with the embeddings of the
    network it was trained with."""
    x, _ = matrix(test, proc, net_state(net_dir, cfg), cfg)
    files = RunDir(folder).read_json("result.json").get("models", ["model.txt"])
    return np.mean([gbdt.predict(gbdt.load(folder / f), x) for f in files], axis=0)


def log_shift(mse: float, enabled: bool = True) -> float:
    """Shift added to log predictions so exp() of them minimises RMSPE (models.metrics.rmspe_log_shift), from the
    residual variance `mse` in log space; 0 when not `enabled` (RossmannConfig.rmspe_shift)."""
    return rmspe_log_shift(mse) if enabled else 0.0


def closure_factors(train: pd.DataFrame, days: int) -> dict[str, float]:
    """features.closure_factors on the processed tables (the distances as Days<name>)."""
    return features.closure_factors(train.rename(columns={f"Days{c}": c for c in CLOSURE_DAYS}), days)


def closure_offsets(frame: pd.DataFrame, factors: dict | None) -> np.ndarray:
    """features.closure_offsets on the processed tables."""
    return features.closure_offsets(frame.rename(columns={f"Days{c}": c for c in CLOSURE_DAYS}), factors)


def shifted_rmspe(pred_log: np.ndarray, sales: np.ndarray, shift: float) -> float:
    """RMSPE in sales space of log predictions plus `shift`."""
    return rmspe(np.exp(pred_log + shift), sales)


def fit_blend(
    valid_preds: dict[str, np.ndarray], sales: np.ndarray, shift: bool = True, offset: np.ndarray | float = 0.0
) -> dict:
    """Blend weights and shifts (`shift=False`: none) from the members' validation predictions; every member's
    own validation RMSPE (each with its own shift) beside the blend's. `offset`: per-row log factors (the
    closure factors) every prediction is scored with, as the submission applies them."""
    target = np.log(sales)
    measured = lambda pred: log_shift(float(np.mean((pred - target) ** 2)), shift)

    def score(pred: np.ndarray, by: float) -> float:
        return shifted_rmspe(pred + offset, sales, by)

    weights = ensemble.fit_weights(valid_preds, lambda pred: score(pred, measured(pred)))
    blended = ensemble.blend(valid_preds, weights)
    shifts = {n: round(measured(p), 6) for n, p in valid_preds.items()}
    scores = {n: round(score(p, shifts[n]), 6) for n, p in valid_preds.items()}
    shift = measured(blended)
    if len(valid_preds) > 1:
        scores["blend"] = round(score(blended, shift), 6)
    return {"weights": weights, "shifts": shifts, "log_shift": round(shift, 6), "members": scores}
