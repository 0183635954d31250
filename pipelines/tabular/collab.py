"""The tabular kind's collaborative-filtering member (`dot`): fast.ai's dot product of a user's and an item's learned
vectors plus their biases (models/collab.py), on the two ids the features step chose (schema.pair: a ratings
table's userId and movieId), trained as the course trains it: one cycle of `dot_epochs` at `dot_lr`, weight
decay `dot_wd`. It reads nothing else: the other members read the rest of the row (and the ids too, as embeddings
of the network and LightGBM's categories), and the blend weighs it beside them out of fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from features import TabularProcessor
from models.callbacks import ProgressCallback
from models.collab import EmbeddingDotBias
from models.data import tensor_loader
from models.learner import Learner
from pipelines.runs import seed_everything
from pipelines.tabular import TabularConfig
from pipelines.tabular.net import band, loss_function


def pair(chosen: list[str], proc: TabularProcessor) -> list[str]:
    """The user's and the item's columns the features step chose (schema.pair, features.dot_pair), where the
    processed table has both; else []."""
    cardinality = proc.categorify.cardinality()
    return list(chosen) if len(chosen) == 2 and all(c in cardinality for c in chosen) else []


def fit_predict(
    proc: TabularProcessor,
    columns: list[str],
    fit: pd.DataFrame,
    y: np.ndarray,
    evals: list[pd.DataFrame],
    task: str,
    loss: str,
    cfg: TabularConfig,
    label: str,
) -> list[np.ndarray]:
    """Train on `fit`'s rows (target `y`: the training target, or 0/1 for binary) and predict each frame of `evals`
    (the target's scale for regression, as the network's, P(class 1) for binary)."""
    seed_everything(cfg.seed)
    cardinality = proc.categorify.cardinality()
    y_range, mean = None, float(np.mean(y))
    if task == "regression":  # the network's band
        y_range = band(y)
        mean = (mean - y_range[0]) / ((y_range[1] - y_range[0]) or 1.0)  # its place in the band (one value: 0)
    share = float(np.clip(mean, 1e-3, 1 - 1e-3))
    start = float(np.log(share / (1 - share)))  # the mean's logit
    model = EmbeddingDotBias(cardinality[columns[0]], cardinality[columns[1]], cfg.dot_factors, y_range, start)
    learn = Learner(
        model,
        None,
        loss_func=loss_function(task, loss),
        wd=cfg.dot_wd,
        device=cfg.device,
        amp="off",
        cbs=[ProgressCallback(label=label)],
    )
    dev = learn.device
    codes = lambda frame: torch.tensor(frame[columns].to_numpy(np.int64)).to(dev)  # a copy: read-only arrays
    target = torch.tensor(y, dtype=torch.float32).to(dev)  # a copy: y may be a read-only view
    bs = min(cfg.dot_bs, len(fit))
    learn.train_dl = tensor_loader(codes(fit), target, batch_size=bs, shuffle=True, seed=cfg.seed)
    epochs = f"{cfg.dot_epochs} epoch{'s' * (cfg.dot_epochs > 1)}"
    print(f"{label}: {len(fit):,} rows, {columns[0]} x {columns[1]}, {epochs} of batch {bs}, {dev}")
    learn.fit_schedule("one_cycle", cfg.dot_epochs, cfg.dot_lr)
    out = []
    for frame in evals:
        raw = learn.get_preds(tensor_loader(codes(frame), batch_size=8192, shuffle=False), with_targets=False)[0]
        out.append((torch.sigmoid(raw) if task == "binary" else raw).double().numpy())
    return out
