"""The fastai peer of the Rossmann benchmark: fastai 2.8's `tabular_learner` with the course recipe, trained on
this project's own processed features and holdout (never imported by the project; run by
`python -m pipelines.bench rossmann --parts peers` with the python of `.venv-peers`, `make peers-env`):

    .venv-peers/bin/python -m pipelines.rossmann.peer_fastai DATA_ROOT [EPOCHS]

Prints one JSON line: the holdout's RMSPE (fastai's `exp_rmspe`, no shift), training rows/s and seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from fastai.tabular.all import (
    Categorify,
    RegressionBlock,
    TabularPandas,
    exp_rmspe,
    tabular_config,
    tabular_learner,
)

from features import TabularProcessor  # the project's procs (run from the repository root)
from features.io import read_feather


def main(data: Path, epochs: int) -> dict:
    processed = data / "rossmann" / "processed"
    proc = TabularProcessor.load(processed / "procs.json")
    cats, conts = proc.all_cat_names, proc.cont_names
    labelled = read_feather(processed / "train.feather").query("Sales > 0")  # the rows ours train on
    train, valid = labelled[labelled._fold != 0], labelled[labelled._fold == 0]  # 0: the 48-day holdout
    df = pd.concat([train, valid], ignore_index=True)
    df["LogSales"] = np.log(df.Sales.astype("float64")).astype("float32")
    splits = (list(range(len(train))), list(range(len(train), len(df))))
    # The codes and normalised values are already this project's procs' output: fastai only re-indexes codes.
    to = TabularPandas(df, [Categorify], cats, conts, y_names="LogSales", splits=splits, y_block=RegressionBlock())
    dls = to.dataloaders(bs=512, num_workers=0)
    y_range = (0.0, float(np.log(train.Sales.max() * 1.2)))  # the course's max_log_y
    # The course (fast.ai v1 lesson 6 notebook): layers 1000-500, ps 0.001/0.01, emb_drop 0.04, wd 0.2, lr 1e-3.
    config = tabular_config(ps=[0.001, 0.01], embed_p=0.04, y_range=y_range)
    learn = tabular_learner(dls, layers=[1000, 500], config=config, metrics=exp_rmspe)
    t0 = time.perf_counter()
    learn.fit_one_cycle(epochs, 1e-3, wd=0.2)
    seconds = time.perf_counter() - t0
    preds, targets = learn.get_preds()
    rmspe = float(exp_rmspe(preds.squeeze(-1), targets.squeeze(-1)))
    return {
        "valid_rmspe": round(rmspe, 6),
        "rows_per_s": round(len(train) * epochs / seconds, 1),
        "train_seconds": round(seconds, 1),
        "rows": len(train),
        "epochs": epochs,
        "threads": torch.get_num_threads(),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 5)))
