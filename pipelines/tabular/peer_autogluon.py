"""AutoGluon-Tabular as the peer of a tabular card's backtest: fitted on a cut's own files (train.csv, test.csv,
sample_submission.csv, as Kaggle ships them), its predictions written in the sample's format. Run with the python
of `.venv-autogluon` (`make autogluon-env`; never a dependency of the project, and it imports nothing of it):

    .venv-autogluon/bin/python pipelines/tabular/peer_autogluon.py RAW OUT.csv --label y --id Id
        --problem-type regression|binary|multiclass --metric rmse|roc_auc|... [--log1p] [--proba]
        --presets best_quality --time-limit SECONDS [--train train.csv --test test.csv] [--extra original.csv ...]

`--extra`: a card's extra_train files (a Playground competition's original dataset), their rows fitted beside
train's, as the card's own members fit them.

OUT.csv: the id (where the test has one: else the test's rows in order), then `value` (regression: the target's scale; `--log1p` fits log1p(label) with RMSE and writes
expm1, RMSLE as Kaggle scores House Prices), or one probability column per class (`--proba`), or `label` (the
predicted class; AutoGluon's own threshold). The caller (pipelines/tabular/bench.py) puts it in the sample's
format. Prints one JSON line: fit and predict seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--label", required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--problem-type", default="regression", choices=["regression", "binary", "multiclass"])
    ap.add_argument("--metric", required=True)  # AutoGluon's name: root_mean_squared_error, roc_auc, ...
    ap.add_argument("--log1p", action="store_true")
    ap.add_argument("--proba", action="store_true")
    ap.add_argument("--presets", default="best_quality")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--train", default="train.csv")  # the card's files= names
    ap.add_argument("--test", default="test.csv")
    ap.add_argument("--extra", action="append", default=[])  # the card's extra_train files
    args = ap.parse_args(argv)
    from autogluon.tabular import TabularPredictor

    train = pd.read_csv(args.raw / args.train, low_memory=False)
    test = pd.read_csv(args.raw / args.test, low_memory=False)
    shared = [c for c in train.columns if c in test.columns and c != args.id]  # what the test has: no leak
    extra = [pd.read_csv(args.raw / name, low_memory=False) for name in args.extra]
    train = pd.concat([train, *(e[[c for c in (*shared, args.label) if c in e]] for e in extra)], ignore_index=True)
    train = train[train[args.label].notna()]
    data = train[shared].assign(**{args.label: np.log1p(train[args.label]) if args.log1p else train[args.label]})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        predictor = TabularPredictor(  # the task said, not guessed (integer sales read as classes otherwise)
            label=args.label, problem_type=args.problem_type, eval_metric=args.metric, path=tmp, verbosity=1
        ).fit(data, presets=args.presets, time_limit=args.time_limit)
        fit_s = time.perf_counter() - t0
        if args.proba:
            pred = predictor.predict_proba(test[shared], as_multiclass=True)
            pred.columns = [str(c) for c in pred.columns]
        elif args.problem_type == "regression":
            value = predictor.predict(test[shared]).to_numpy(np.float64)
            pred = pd.DataFrame({"value": np.clip(np.expm1(value), 0, None) if args.log1p else value})
        else:
            pred = pd.DataFrame({"label": predictor.predict(test[shared]).to_numpy()})
    ids = test[[args.id]] if args.id in test else test.iloc[:, :0]  # no id column (Digit Recognizer): in order
    out = pd.concat([ids.reset_index(drop=True), pred.reset_index(drop=True)], axis=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    print(json.dumps({"fit_s": round(fit_s, 1), "total_s": round(time.perf_counter() - t0, 1), "rows": len(data)}))


if __name__ == "__main__":
    main(sys.argv[1:])
