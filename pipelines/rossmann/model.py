"""Rossmann model glue: which rows train, the log target, RMSPE, seed ensembles and the submission format.

Everything generic (network, learner, schedules, run folders, submission checks) lives in models/ and
pipelines/; this file only says what is Rossmann about it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from features import TabularProcessor
from features.io import atomic_write_text, read_feather, write_feather
from models.callbacks import ProgressCallback, Recorder
from models.data import tensor_loader
from models.distributed import device_for_rank, finish, init_distributed, is_main, world_size
from models.learner import Learner, Predictor, read_checkpoint
from models.metrics import exp_rmspe
from models.summary import model_summary
from models.tabular import TabularModel, emb_sizes, frame_tensors
from pipelines import ensemble
from pipelines import submit as submitlib
from pipelines.config import to_dict
from pipelines.paths import Paths
from pipelines.rossmann import members
from pipelines.rossmann.config import SPEC, SUBMISSION_COLUMNS, RossmannConfig, net_columns
from pipelines.rossmann.members import log_shift
from pipelines.runs import RunDir, features_identity, fit_resumable, run_identity, seed_everything


class CheckpointMismatch(ValueError):
    """A checkpoint built for other features than the current processed tables."""


def load_processed(paths: Paths, cfg: RossmannConfig) -> tuple[TabularProcessor, dict[str, pd.DataFrame]]:
    """procs.json and the train/valid/test tables from data/rossmann/processed, checked against the config."""
    features_identity(paths, cfg)  # built, from the raw data there now, with these settings
    proc = TabularProcessor.load(paths.processed / "procs.json")
    frames = {name: read_feather(paths.processed / f"{name}.feather") for name in ("train", "valid", "test")}
    return proc, frames


def feature_signature(cfg: RossmannConfig, proc: TabularProcessor) -> dict:
    """What a checkpoint must agree on with the features: the network's columns, order, vocabulary sizes and
    contents."""
    vocab = json.dumps(proc.categorify.vocab, sort_keys=True, default=str).encode()
    cats, conts = net_columns(cfg, proc)
    return {
        "cat_names": cats,
        "cont_names": conts,
        "cardinality": proc.categorify.cardinality(),
        "vocab_sha": hashlib.sha256(vocab).hexdigest()[:16],
    }


def check_signature(saved: dict, current: dict, where: Path) -> None:
    """Refuse (with what differs) a checkpoint whose features differ from the current ones."""
    diffs = [k for k in current if saved.get(k) != current[k]]
    if diffs:
        detail = []
        for k in diffs:
            a, b = saved.get(k), current[k]
            if isinstance(a, list) and isinstance(b, list):
                detail.append(f"{k}: only in checkpoint {sorted(set(a) - set(b))}, only now {sorted(set(b) - set(a))}")
            elif isinstance(a, dict) and isinstance(b, dict):
                changed = sorted(c for c in set(a) | set(b) if a.get(c) != b.get(c))
                detail.append(f"{k} differs for {changed}")
            else:
                detail.append(f"{k}: {a} vs {b}")
        raise CheckpointMismatch(
            f"{where} was trained on different features ({'; '.join(detail)}). Retrain it on the current features "
            f"(make train COMP=rossmann), or rebuild the features it was trained with."
        )


def training_mask(df: pd.DataFrame, how: str) -> pd.Series:
    """Rows the model learns from: open days with sales (default) or every open day."""
    if how == "sales":
        return (df.Open == 1) & (df.Sales > 0)
    if how == "open":
        return (df.Open == 1) & (df.Sales >= 0)
    raise ValueError(f"train_rows={how!r}: expected 'sales' or 'open'")


def log_target(sales: pd.Series) -> torch.Tensor:
    """log(Sales) as float32; a zero-sales open day (train_rows=open) counts as log(1) = 0."""
    return torch.from_numpy(np.log(np.maximum(sales.to_numpy(np.float64), 1.0)).astype(np.float32))


def rmspe_from_log(pred_log, target_log) -> float:
    """RMSPE in sales space for predictions and targets in log space, ignoring zero sales (Kaggle's rule)."""
    return exp_rmspe(np.asarray(pred_log, np.float64), np.asarray(target_log, np.float64))


def build_model(cfg: RossmannConfig, proc: TabularProcessor, max_log_sales: float) -> TabularModel:
    """The entity-embedding network for the processed Rossmann columns."""
    overrides = {}
    for item in cfg.emb_sizes:
        col, sep, width = item.partition("=")
        if not sep or not width.isdigit():
            raise ValueError(f"emb_sizes item {item!r}: expected COLUMN=WIDTH, e.g. Store=50")
        overrides[col] = int(width)
    cats, conts = net_columns(cfg, proc)
    szs = emb_sizes({c: proc.categorify.cardinality()[c] for c in cats}, overrides)
    return TabularModel(
        szs,
        len(conts),
        1,
        tuple(cfg.layers),
        tuple(cfg.ps),
        cfg.emb_drop,
        (0.0, cfg.y_range_mult * max_log_sales),
    )


def seed_dir(paths: Paths, run: str, seed: int, refit: bool = False) -> Path:
    """runs/RUN/sSEED: a seed validated on the held-out days; runs/RUN/refit/sSEED: the same on all rows."""
    return paths.runs / run / ("refit" if refit else "") / f"s{seed}"


def fit_rows(cfg: RossmannConfig, frames: dict, refit: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, scored validation rows); a refit trains on the validation days too and has none."""
    valid = frames["valid"][frames["valid"].Sales > 0]  # Kaggle ignores zero-sales days
    train = pd.concat([frames["train"], frames["valid"]], ignore_index=True) if refit else frames["train"]
    return train[training_mask(train, cfg.train_rows)], valid.iloc[:0] if refit else valid


def make_learner(
    cfg: RossmannConfig, proc: TabularProcessor, frames: dict, seed: int, cbs=(), refit: bool = False
) -> tuple[Learner, pd.DataFrame, DataLoader]:
    """Data on the device, the model and the learner for one seed (no training yet); also the validation rows
    (for the out-of-fold predictions) and a loader of a fixed training subsample (for the RMSPE shift)."""
    train, valid = fit_rows(cfg, frames, refit)
    if len(train) == 0:
        raise ValueError("no training rows: check valid_days and train_rows")
    max_log = float(np.log(train.Sales.max()))
    model = build_model(cfg, proc, max_log)
    learn = Learner(
        model,
        None,
        None,
        loss_func=torch.nn.functional.mse_loss,
        metrics={"rmspe": rmspe_from_log},
        wd=cfg.wd,
        eps=cfg.adam_eps,
        clip=cfg.clip or None,
        device=device_for_rank(cfg.device),
        amp=cfg.amp,
        cbs=cbs,
    )
    dev, columns = learn.device, net_columns(cfg, proc)
    x_cat, x_cont = frame_tensors(train, *columns)
    learn.train_dl = tensor_loader(
        x_cat.to(dev), x_cont.to(dev), log_target(train.Sales).to(dev), batch_size=cfg.bs, shuffle=True, seed=seed
    )
    if len(valid):
        v_cat, v_cont = frame_tensors(valid, *columns)
        learn.valid_dl = tensor_loader(
            v_cat.to(dev), v_cont.to(dev), log_target(valid.Sales).to(dev), batch_size=4096, shuffle=False
        )
    # A fixed subsample of training rows (same for every seed) to measure the residual variance on.
    step = max(1, len(train) // 200_000)
    t_cat, t_cont = x_cat[::step], x_cont[::step]
    train_sample_dl = tensor_loader(
        t_cat.to(dev), t_cont.to(dev), log_target(train.Sales.iloc[::step]).to(dev), batch_size=8192, shuffle=False
    )
    return learn, valid, train_sample_dl


def train_seed(
    paths: Paths, cfg: RossmannConfig, run: str, seed: int, proc, frames, refit: bool = False
) -> dict | None:
    """Train (or reuse, or resume) one seed of run `run` (`refit`: on every row); returns its result.json
    content (None on the ranks other than 0 under torchrun: rank 0 alone evaluates and writes)."""
    main = is_main()
    rd = RunDir(seed_dir(paths, run, seed, refit))
    identity = run_identity(cfg, paths, ("nn",), seed=seed, world_size=world_size(), refit=refit)
    signature = feature_signature(cfg, proc)
    result = rd.finished(identity, f"seed {seed}" if main else None, "valid_rmspe")
    if result is not None:
        return result
    seed_everything(seed)
    label = f"refit s{seed}" if refit else f"s{seed}"
    cbs = [ProgressCallback(label=label), Recorder(rd.path)] if main else []
    learn, valid, train_sample_dl = make_learner(cfg, proc, frames, seed, cbs=cbs, refit=refit)

    def start() -> None:
        rd.start({"run": identity, "full": to_dict(cfg), "features": signature})
        example = next(iter(learn.train_dl))[:-1]
        atomic_write_text(rd.path / "model.txt", model_summary(learn.model, *(t[:2] for t in example)) + "\n")

    if main:
        print(
            f"{rd.path}: training {cfg.epochs} epochs on {len(learn.train_dl.dataset):,} rows, "
            f"{learn.device} {learn.precision}, {sum(p.numel() for p in learn.model.parameters()):,} parameters"
        )
    t0 = time.perf_counter()
    fit = lambda start_epoch: learn.fit_schedule(
        cfg.schedule, cfg.epochs, cfg.lr, start_epoch, cfg.pct_start, cfg.cycle_len, cfg.cycle_mult
    )
    fit_resumable(
        learn,
        rd.checkpoint,
        identity,
        cfg.epochs,
        fit,
        start if main else None,
        write=main,
        resume=cfg.resume,
        extra={"features": signature},
    )
    seconds = time.perf_counter() - t0
    if not main:
        return None
    result = {
        "seed": seed,
        "epochs": cfg.epochs,
        "rows": len(learn.train_dl.dataset),
        "train_seconds": round(seconds, 1),
        "rows_per_s": learn.history[-1].get("rows_per_s"),
        "device": str(learn.device),
        "precision": str(learn.precision),
    }
    tr_preds, tr_targets = learn.get_preds(train_sample_dl)
    result["train_mse"] = round(float(((tr_preds - tr_targets) ** 2).mean()), 6)
    result["log_shift"] = round(log_shift(result["train_mse"], cfg.rmspe_shift), 6)
    if learn.valid_dl is not None:
        preds, targets = learn.get_preds()
        result["valid_rmspe_raw"] = round(rmspe_from_log(preds.numpy(), targets.numpy()), 6)
        result["valid_rmspe"] = round(rmspe_from_log(preds.numpy() + result["log_shift"], targets.numpy()), 6)
        oof = valid[["Date", "Store", "Sales"]].assign(pred_log=preds.numpy())
        write_feather(oof, rd.path / "valid_preds.feather")  # out-of-fold predictions, kept for blending
    rd.finish(result, to_dict(cfg))
    return result


def train(paths: Paths, cfg: RossmannConfig, run: str) -> dict | None:
    """The run's ensemble: every network seed (and the boosting member) fitted with the last `valid_days` held
    out, a blend weighed on those days, then (`refit`) every member retrained on all rows for the submission.
    Alone, or as one rank under torchrun (`make train NPROC=2`): each rank trains on its shard of every epoch
    of the networks; rank 0 alone fits the boosting member and the blend."""
    if not cfg.members:
        raise ValueError("members=[] leaves nothing to train: name at least one of nn, gbdt (ARGS='members=[nn,gbdt]')")
    init_distributed()
    t0 = time.perf_counter()
    try:
        proc, frames = load_processed(paths, cfg)
        seeds = list(range(cfg.seed, cfg.seed + cfg.n_seeds))
        # The boosting member alone, without embeddings (members=[gbdt] gbdt_embeddings=[]), needs no network.
        nets = seeds if "nn" in cfg.members or cfg.gbdt_embeddings else []
        results = [train_seed(paths, cfg, run, s, proc, frames) for s in nets]
        refit = cfg.refit and len(frames["valid"]) > 0
        if refit:
            for s in nets:
                train_seed(paths, cfg, run, s, proc, frames, refit=True)
        return fit_ensemble(paths, cfg, run, seeds, results, proc, frames, refit, t0) if is_main() else None
    finally:
        finish()


def fit_ensemble(
    paths: Paths,
    cfg: RossmannConfig,
    run: str,
    seeds: list[int],
    results: list[dict],
    proc,
    frames,
    refit: bool,
    t0: float,
) -> dict:
    """The rest of the ensemble after the networks (rank 0): the closure factors, the boosting member (fitted,
    or reused, and refit), the blend weights and shift fitted on the validation days; writes and returns the
    run's result.json (the headline `valid_rmspe` is the blend's, and which models write the submission)."""
    summary = {"run": run, "seeds": seeds if results else [], "per_seed": results, "members": {}, "refit": refit}
    train_rows, valid = fit_rows(cfg, frames)
    # from the rows before the validation days, for the validation scores and the submission alike
    factors = members.closure_factors(train_rows, cfg.closure_days) if cfg.rmspe_shift and cfg.closure_days else {}
    summary["closure_factors"] = factors
    if "gbdt" in cfg.members:
        fitted = members.train_gbdt(paths, cfg, run, proc, seed_dir(paths, run, seeds[0]), train_rows, valid)
        summary["gbdt"] = fitted
        if refit:  # the rounds the validated fit kept, on every row, with the refit network's embeddings
            all_rows, none = fit_rows(cfg, frames, refit=True)
            net = seed_dir(paths, run, seeds[0], refit=True)
            summary["gbdt_refit"] = members.train_gbdt(paths, cfg, run, proc, net, all_rows, none, fitted["rounds"])
    if len(valid):
        sales = valid.Sales.to_numpy(np.float64)
        preds = {}
        if "nn" in cfg.members:
            oofs = [read_feather(seed_dir(paths, run, s) / "valid_preds.feather") for s in seeds]
            preds["nn"] = np.mean([o.pred_log.to_numpy() for o in oofs], axis=0)
        if "gbdt" in cfg.members:
            preds["gbdt"] = read_feather(paths.runs / run / "gbdt" / "valid_preds.feather").pred_log.to_numpy()
        offset = members.closure_offsets(valid, factors)
        blend = members.fit_blend(preds, sales, cfg.rmspe_shift, offset)
        summary.update(blend, valid_rmspe=blend["members"].get("blend", blend["members"][next(iter(preds))]))
        singles = ", ".join(f"{n} {v:.5f}" for n, v in blend["members"].items() if n != "blend")
        weights = ", ".join(f"{n} {w:.3f}" for n, w in blend["weights"].items())
        seeds_note = (
            f" ({len(seeds)} seeds averaged, single seeds {min(r['valid_rmspe'] for r in results):.5f}..)"
            if len(seeds) > 1
            else ""
        )
        closure = (
            f", x{factors['before']:.2f} / x{factors['after']:.2f} within {factors['days']} days before / after a "
            f"long closure ({int((offset != 0).sum())} validation rows)"
            if factors
            else ""
        )
        print(
            f"valid RMSPE: {summary['valid_rmspe']:.5f}; members {singles}{seeds_note}; blend weights {weights}, "
            f"RMSPE shift {blend['log_shift']:+.4f}{closure}"
            + ("; the submission comes from the refit members" if refit else "")
        )
    else:  # no validation days: equal weights, each network's shift from its training rows
        summary.update(
            weights={n: 1 / len(cfg.members) for n in cfg.members},
            log_shift=float(np.mean([r["log_shift"] for r in results])) if results else 0.0,
        )
    summary["total_seconds"] = round(time.perf_counter() - t0, 1)  # every member, fit and refit (reused: ~0)
    RunDir(paths.runs / run).finish(summary, to_dict(cfg))
    return summary


def net_test_preds(paths: Paths, cfg: RossmannConfig, run: str, seeds, proc, test, refit: bool) -> np.ndarray:
    """The network member on `test`: its seeds' log predictions, averaged (checked against the features)."""
    signature = feature_signature(cfg, proc)
    x_cat, x_cont = frame_tensors(test, *net_columns(cfg, proc))
    dl = tensor_loader(x_cat, x_cont, batch_size=8192, shuffle=False)
    preds = []
    for seed in seeds:
        ckpt = seed_dir(paths, run, seed, refit) / "checkpoint.pt"
        state = read_checkpoint(ckpt)
        check_signature(state["extra"]["features"], signature, ckpt)
        model = build_model(cfg, proc, max_log_sales=1.0)  # y_range is a buffer: the checkpoint's value replaces it
        model.load_state_dict(state["model"])
        learn = Predictor(model, device=cfg.device, amp=cfg.amp)
        preds.append(learn.get_preds(dl, with_targets=False)[0].numpy().astype(np.float64))
    return np.mean(preds, axis=0)


def predict(paths: Paths, cfg: RossmannConfig, run: str) -> Path:
    """The blend of the run's (refit) members on the test days, Sales=0 where closed; the validated CSV, and
    every member's own predictions beside the run (runs/RUN/test_members.feather, for backtests)."""
    summary_path = paths.runs / run / "result.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{summary_path} not found: train first (make train COMP=rossmann RUN={run})")
    summary = json.loads(summary_path.read_text())
    proc, frames = load_processed(paths, cfg)
    test, refit, seeds = frames["test"], summary.get("refit", False), summary["seeds"]
    preds = {}
    if "nn" in summary["weights"]:
        preds["nn"] = net_test_preds(paths, cfg, run, seeds, proc, test, refit)
    if "gbdt" in summary["weights"]:
        folder = paths.runs / run / ("refit" if refit else "") / "gbdt"
        net = seed_dir(paths, run, seeds[0], refit) if seeds else None  # whose embeddings it was trained with
        preds["gbdt"] = members.test_preds(folder, net, cfg, proc, test)
    closed = test.Open.to_numpy() == 0
    offset = members.closure_offsets(test, summary.get("closure_factors"))
    to_sales = lambda log, shift: np.where(closed, 0.0, np.exp(log + shift + offset)).clip(min=0)
    sales = to_sales(ensemble.blend(preds, summary["weights"]), summary["log_shift"])
    shifts = summary.get("shifts", {})
    write_feather(
        pd.DataFrame({"Id": test.Id.to_numpy(), **{n: to_sales(p, shifts.get(n, 0.0)) for n, p in preds.items()}}),
        paths.runs / run / "test_members.feather",
    )
    sample = pd.read_csv(paths.raw / "sample_submission.csv")
    sub = pd.DataFrame({"Id": test.Id.to_numpy(), "Sales": sales})
    missing = set(sample.Id) - set(sub.Id)
    if missing:
        raise submitlib.SubmissionError(
            f"test predictions lack {len(missing)} Ids of sample_submission.csv (e.g. {sorted(missing)[:5]})"
        )
    sub = sub.set_index("Id").loc[sample.Id].reset_index()
    out = submitlib.write_submission(sub, sample, "Id", paths.submissions / f"{run}.csv", SUBMISSION_COLUMNS)
    provenance = {
        "submission": str(out),
        "members": {n: w for n, w in summary["weights"].items()},
        "runs": [str(seed_dir(paths, run, s, refit)) for s in seeds]
        + ([str(paths.runs / run / ("refit" if refit else "") / "gbdt")] if "gbdt" in preds else []),
        "refit": refit,
        "averaged": "log space",
        "log_shift": summary["log_shift"],
        "closure_factors": summary.get("closure_factors") or None,
        "valid_rmspe": summary.get("valid_rmspe"),
        "rows": len(sub),
    }
    atomic_write_text(paths.submissions / f"{run}.json", json.dumps(provenance, indent=1))
    print(
        f"submission: {out} ({len(sub):,} rows, blend of {', '.join(preds)}{' refit on all rows' if refit else ''}"
        + (f", valid RMSPE {summary['valid_rmspe']:.5f})" if summary.get("valid_rmspe") else ")")
    )
    return out


def submit(paths: Paths, cfg: RossmannConfig, run: str) -> None:
    """Validate the run's submission again and send it to Kaggle with the run name and valid RMSPE."""
    path = paths.submissions / f"{run}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: make predict COMP=rossmann RUN={run}")
    sample = pd.read_csv(paths.raw / "sample_submission.csv")
    sub = submitlib.read_submission(path)
    submitlib.validate_submission(sub, sample, "Id", where=str(path), columns=SUBMISSION_COLUMNS)
    meta = (
        json.loads((paths.submissions / f"{run}.json").read_text())
        if (paths.submissions / f"{run}.json").is_file()
        else {}
    )
    message = f"{run} valid RMSPE {meta.get('valid_rmspe')}"
    submitlib.submit(SPEC.slug, "rossmann", path, message)


def lr_find(paths: Paths, cfg: RossmannConfig, run: str) -> dict:
    """Run the lr finder on a fresh model; saves runs/<run>/lr_find.png and prints the suggestion."""
    proc, frames = load_processed(paths, cfg)
    seed_everything(cfg.seed)
    learn, *_ = make_learner(cfg, proc, frames, cfg.seed)
    result = learn.lr_find(plot=paths.runs / run / "lr_find.png")
    print(
        f"lr finder: suggested lr {result['suggested_lr']:.2e} (plot: {paths.runs / run / 'lr_find.png'}); "
        f'use it with ARGS="lr={result["suggested_lr"]:.1e}"'
    )
    return result
