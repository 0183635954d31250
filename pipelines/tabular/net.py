"""The tabular kind's second member: fast.ai's entity-embedding network (models/tabular.py) on the processed
columns (Categorify codes embedded, FillMissing flags as categories, Normalize'd numbers through batch norm),
trained with one cycle for a fixed number of epochs on the metric's training target: the same target LightGBM
learns (log1p for rmsle, ...) within a `y_range` around it, or the classes by cross-entropy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from features import TabularProcessor
from models.callbacks import Callback, ProgressCallback, Recorder, log_images, tensorboard_on
from models.data import tensor_loader
from models.learner import Learner
from models.tabular import TabularModel, emb_sizes, embedding_features, frame_tensors
from pipelines.runs import seed_everything
from pipelines.tabular import TabularConfig


def loss_function(task: str, loss: str):
    """The training loss of the task the members learn: a logit's for binary, cross-entropy for classes, else the
    metric's (l1 or squared error)."""
    if task == "binary":
        return lambda out, y: F.binary_cross_entropy_with_logits(out.float(), y)
    if task == "multiclass":
        return lambda out, y: F.cross_entropy(out.float(), y.long())
    return F.l1_loss if loss == "l1" else F.mse_loss


class WatchLoss(Callback):
    """The loss on rows the network predicts (the holdout's, a fold's), after each epoch, in its history row as
    valid_loss: watched, never chosen on. Not the Learner's valid_dl: iterating a DataLoader draws its base seed
    from torch's global generator, so a validation pass would change the dropout masks of the epochs after it (House
    Prices' network moved 0.145 -> 0.135 out of fold from that alone); the pass here runs on a fork of it."""

    order = 40  # before ProgressCallback prints the row and Recorder writes it

    def __init__(self, dl):
        self.dl = dl

    def after_epoch(self, learn):
        with torch.random.fork_rng(devices=[]):
            preds, targets = learn.get_preds(self.dl)
        learn.history[-1]["valid_loss"] = float(learn.loss_func(preds, targets))


def band(y: np.ndarray) -> tuple[float, float]:
    """The `y_range` of a regression's sigmoid: the targets seen and a tenth beyond each end, so that its ends are
    never needed (the network's and the dot member's)."""
    lo, hi = float(y.min()), float(y.max())
    return lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)


def batches(rows: int, bs: int, epochs: int) -> tuple[int, int]:
    """(batch size, epochs): the settings, or where 0 (auto) a batch near rows/20 (a power of 2 in 64..512: small
    tables need small batches to take enough steps) and the epochs that make at least 500 steps (4..100)."""
    bs = bs or int(np.clip(2 ** round(np.log2(max(rows / 20, 1))), 64, 512))
    bs = min(bs, rows)
    return bs, epochs or int(np.clip(np.ceil(500 / max(rows // bs, 1)), 4, 100))


def make_learner(
    proc: TabularProcessor,
    fit: pd.DataFrame,
    y: np.ndarray,
    task: str,
    n_classes: int,
    loss: str,
    cfg: TabularConfig,
    label: str,
) -> tuple[Learner, list[str], list[str], int]:
    """The network and its learner on `fit`'s rows (target `y`: the training target, or class indices), nothing
    trained yet; also the categorical and continuous columns it reads and the epochs to train."""
    seed_everything(cfg.seed)
    unknown = sorted(set(cfg.net_exclude) - {*proc.all_cat_names, *proc.cont_names})
    if unknown:
        raise ValueError(
            f"net_exclude={cfg.net_exclude}: {unknown} not a processed column (they are "
            f"{', '.join(proc.all_cat_names + proc.cont_names)})"
        )
    cats, conts = ([c for c in names if c not in cfg.net_exclude] for names in (proc.all_cat_names, proc.cont_names))
    unknown = [c for c in cfg.gbdt_embeddings if c not in cats]
    if unknown:
        excluded = [c for c in unknown if c in cfg.net_exclude]
        raise ValueError(
            f"gbdt_embeddings={cfg.gbdt_embeddings}: {unknown} not a category the network embeds ({cats})"
            + (f"; {excluded} in net_exclude: take them out of one of the two" if excluded else "")
        )
    cardinality = proc.categorify.cardinality()
    y_range = band(y) if task == "regression" else None
    model = TabularModel(
        emb_sizes({c: cardinality[c] for c in cats}),
        len(conts),
        n_classes if task == "multiclass" else 1,
        tuple(cfg.net_layers),
        tuple(cfg.net_ps),
        cfg.net_emb_drop,
        y_range,
    )
    learn = Learner(
        model,
        None,
        loss_func=loss_function(task, loss),
        wd=cfg.net_wd,
        device=cfg.device,
        amp=cfg.net_amp,
        cbs=[ProgressCallback(label=label)],
    )
    x_cat, x_cont = frame_tensors(fit, cats, conts)
    dev = learn.device
    target = torch.tensor(y, dtype=torch.float32)  # a copy: y may be a read-only view (pandas copy-on-write)
    bs, epochs = batches(len(fit), cfg.net_bs, cfg.net_epochs)
    learn.train_dl = tensor_loader(
        x_cat.to(dev), x_cont.to(dev), target.to(dev), batch_size=bs, shuffle=True, seed=cfg.seed
    )
    print(f"{label}: {len(fit):,} rows, {epochs} epochs of batch {bs}, {dev} {learn.precision}")
    return learn, cats, conts, epochs


def fit_predict(
    proc: TabularProcessor,
    fit: pd.DataFrame,
    y: np.ndarray,
    evals: list[pd.DataFrame],
    task: str,
    n_classes: int,
    loss: str,
    cfg: TabularConfig,
    label: str,
    record: Path | None = None,
    valid: tuple[pd.DataFrame, np.ndarray] | None = None,
) -> tuple[list[np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Train a network on `fit`'s rows (target `y`: the training target, or class indices); return its
    predictions on each frame of `evals` (the target's scale for regression, P(class 1) for binary, a rows x
    classes matrix of probabilities for multi-class, as LightGBM's predictions are) and its embedding tables of
    `gbdt_embeddings` ({column: codes x dims}, their top principal components where `gbdt_embedding_dims` says).
    `record`: a folder for every epoch's figures (models.callbacks.Recorder); `valid`: rows and targets whose loss
    each epoch reports, returned third (one per epoch; empty without `valid`): the epochs of other networks may be
    chosen on it (members.fit_net), never this one's."""
    learn, cats, conts, epochs = make_learner(proc, fit, y, task, n_classes, loss, cfg, label)
    if record is not None:
        learn.add_cb(Recorder(record))
    if valid is not None:
        v_cat, v_cont = frame_tensors(valid[0], cats, conts)
        dev, target = learn.device, torch.tensor(valid[1], dtype=torch.float32)
        learn.add_cb(
            WatchLoss(tensor_loader(v_cat.to(dev), v_cont.to(dev), target.to(dev), batch_size=8192, shuffle=False))
        )
    dev, cardinality = learn.device, proc.categorify.cardinality()
    learn.fit_schedule("one_cycle", epochs, cfg.net_lr)
    if record is not None and tensorboard_on():  # the curves beside the epochs' scalars
        log_images(record, {"training": record / "training.png"})
    out = []
    state = {k: v.detach().cpu() for k, v in learn.model.state_dict().items() if k.startswith("embeds.")}
    tables = {}
    for col in cfg.gbdt_embeddings:  # each table whole (a row per code), for LightGBM to look its rows up in
        every = np.zeros((cardinality[col], len(cats)), np.int64)
        every[:, cats.index(col)] = np.arange(cardinality[col])
        tables[col] = embedding_features(state, every, cats, [col], cfg.gbdt_embedding_dims)[0]
    for frame in evals:
        e_cat, e_cont = frame_tensors(frame, cats, conts)
        dl = tensor_loader(e_cat.to(dev), e_cont.to(dev), batch_size=8192, shuffle=False)
        raw = learn.get_preds(dl, with_targets=False)[0]
        if task == "binary":
            raw = torch.sigmoid(raw)
        elif task == "multiclass":
            raw = torch.softmax(raw, 1)
        out.append(raw.double().numpy())
    watched = np.array([row["valid_loss"] for row in learn.history if "valid_loss" in row], np.float64)
    return out, tables, watched
