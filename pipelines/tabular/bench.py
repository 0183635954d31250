"""`make bench COMP=<a tabular card> [DATA=...]`: the card's backtest beside AutoGluon-Tabular on the same cuts and
machine, in one run. Ours: `make backtest`'s submission rows (the default chain, cut by cut, with its wall time:
features + train + predict). AutoGluon (`make autogluon-env`, its own venv): `best_quality` with a time limit equal
to our wall time on that cut, and `medium_quality` with the same limit (equal time for every entrant). All scored
by the card's metric against the same hidden answers.

    python -m pipelines.bench COMP [--presets best_quality,medium_quality] [--windows cut0,cut1] [--run bench]
        [--reuse]  (our figures from the last fresh run: AutoGluon alone again)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time

import numpy as np
import pandas as pd

from models.metrics import Metric, get_metric
from pipelines import backtest, registry
from pipelines.config import resolve
from pipelines.paths import ROOT, Paths
from pipelines.tabular.schema import Schema
from pipelines.tabular.submission import submission_frame

AUTOGLUON_PYTHON = ROOT / ".venv-autogluon" / "bin" / "python"
# The card's metric as AutoGluon names it (the nearest one where it has no such metric: map@k ranks by
# probabilities, which log loss fits). RMSLE is RMSE fitted on log1p of the target.
AUTOGLUON_METRIC = {
    "rmse": "root_mean_squared_error",
    "rmsle": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "smape": "symmetric_mean_absolute_percentage_error",
    "mape": "mean_absolute_percentage_error",
    "r2": "r2",
    "gini": "roc_auc",  # 2 AUC - 1: the same ranking
    "logloss": "log_loss",
    "mlogloss": "log_loss",
    "auc": "roc_auc",
    "accuracy": "accuracy",
    "f1": "f1",
    "f1_macro": "f1_macro",
    "mcc": "mcc",
    "qwk": "quadratic_kappa",
    **{f"map@{k}": "log_loss" for k in (3, 5, 7, 10)},
}


def peer_args(metric: Metric, schema: Schema) -> list[str]:
    """The peer's command-line arguments for the card's task and metric."""
    if schema.several:
        raise SystemExit(f"the AutoGluon peer fits one target column: this card has {len(schema.targets)}")
    if schema.task not in ("regression", "binary", "multiclass"):
        raise SystemExit(f"the AutoGluon peer fits regression, binary and multi-class tables: not {schema.task}")
    name = AUTOGLUON_METRIC[metric.name]
    if schema.task == "multiclass" and name == "roc_auc":
        name = "log_loss"  # AutoGluon's roc_auc is binary only
    return [
        f"--label={schema.target_column}",
        f"--problem-type={schema.task}",
        f"--metric={name}",
        *(["--log1p"] if metric.name == "rmsle" else []),
        *(["--proba"] if metric.submits in ("probability", "ranked") else []),
    ]


def peer_submission(metric: Metric, schema: Schema, sample: pd.DataFrame, peer: pd.DataFrame) -> pd.DataFrame:
    """The peer's predictions (pipelines/tabular/peer_autogluon.py's OUT.csv) in the sample's rows and columns: its
    numbers or labels as they are, its class probabilities through the card's own submission form."""
    if schema.id not in peer:  # a test with no id column: its rows in the sample's order (schema.align_ids)
        peer = peer.assign(**{schema.id: sample[schema.id].to_numpy()})
    rows = peer.set_index(peer[schema.id].astype(str)).loc[sample[schema.id].astype(str)].reset_index(drop=True)
    value = [c for c in sample.columns if c != schema.id]
    if "value" in rows or "label" in rows:
        return sample[[schema.id]].assign(**{value[0]: rows["value" if "value" in rows else "label"].to_numpy()})
    proba = rows[[str(c) for c in schema.classes]].to_numpy(np.float64)
    return submission_frame(metric, schema, sample, proba[:, 1] if schema.task == "binary" else proba, {})[0]


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m pipelines.bench COMP")
    ap.add_argument("comp")
    ap.add_argument("--presets", default="best_quality,medium_quality")
    ap.add_argument("--windows", default="")
    ap.add_argument("--run", default="bench")
    ap.add_argument("--reuse", action="store_true", help="our figures from the last fresh bench run, not a new one")
    ap.add_argument("--parts", default="all")  # (make bench passes PARTS; one part here)
    args = ap.parse_args(argv)
    comp = registry.load(args.comp)
    paths = Paths.for_comp(args.comp)
    metric = get_metric(comp.CARD.metric)
    if metric.name not in AUTOGLUON_METRIC:
        raise SystemExit(f"the AutoGluon peer covers {', '.join(AUTOGLUON_METRIC)}; not {metric.name}")
    if not AUTOGLUON_PYTHON.is_file():
        raise SystemExit(f"{AUTOGLUON_PYTHON} not found: make autogluon-env")
    windows = comp.BACKTEST.chosen([w for w in args.windows.split(",") if w])
    saved = paths.comp_dir / "backtest" / f"{args.run}.csv"
    if args.reuse and saved.is_file():  # the table (and wall times) of our last fresh run under this name
        ours = pd.read_csv(saved)
    else:
        for window in windows:  # our wall time is what AutoGluon gets: nothing of ours may be reused
            for old in backtest.window_paths(paths, window).runs.glob(f"{args.run}*"):
                shutil.rmtree(old)
        ours = backtest.run(comp, paths, resolve(comp.Config()), args.run, windows)
    rows = []
    for window in windows:
        mine = ours[(ours.window == window) & (ours.member == "submission")].iloc[0]
        wall = float(mine.features_s + mine.train_s + mine.predict_s)
        rows.append({"window": window, "who": "ours (make backtest)", "score": mine.backtest, "wall_s": wall})
        cut = backtest.window_paths(paths, window)
        hidden = pd.read_csv(cut.comp_dir / "hidden.csv")
        schema = Schema.read(cut.processed)  # what our features step read
        sample = pd.read_csv(cut.raw / comp.CARD.file("sample"))
        for presets in args.presets.split(","):
            out = cut.comp_dir / "peers" / f"autogluon-{presets}.csv"
            cmd = [
                str(AUTOGLUON_PYTHON),
                str(ROOT / "pipelines" / "tabular" / "peer_autogluon.py"),
                str(cut.raw),
                str(out),
                f"--id={schema.id}",
                *peer_args(metric, schema),
                f"--presets={presets}",
                f"--time-limit={wall:.0f}",
                *(f"--{role}={comp.CARD.file(role)}" for role in ("train", "test")),
                *(f"--extra={name}" for name in comp.CARD.extra_train),  # fitted beside train's rows, as ours are
            ]
            print(f"bench {window}: AutoGluon {presets}, time limit {wall:.0f} s", flush=True)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=ROOT)
            took = time.perf_counter() - t0
            score = comp.BACKTEST.score(peer_submission(metric, schema, sample, pd.read_csv(out)), hidden)
            rows.append({"window": window, "who": f"AutoGluon {presets}", "score": score, "wall_s": round(took, 1)})
    table = pd.DataFrame(rows)
    better = "higher" if metric.greater_is_better else "lower"
    print(f"\n{args.comp}: {metric.name} on the backtest cuts ({better} is better), ours beside AutoGluon-Tabular:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.5f}"))
    backtest.print_means(table, "who", ["score", "wall_s"])
    path = paths.comp_dir / "backtest" / f"{args.run}-peers.json"
    path.write_text(json.dumps(rows, indent=1))
    print(f"table: {path}")
