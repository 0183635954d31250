"""Backtests, for any competition: the honest estimate of a leaderboard score.

Cut a pseudo-test set off the labelled data (`Backtest.cut`: for Rossmann the last 48 days of train.csv,
for images a seeded fraction), keep its answers aside, and run the whole default chain (features, train with
its own validation, refit, blend, predict) on the rest as if it were the competition. Then score the
submission, and every ensemble member, on the cut the way Kaggle would, beside the validation figures the
run printed. Nothing in the chain sees the cut's answers; the settings that chose anything chose them on
the run's own validation rows.

    python -m pipelines backtest COMP [--windows cut0,cut1] [key=value ...]    (make backtest COMP=...)

Each window is a data root of its own, data/COMP/backtest/WINDOW/, laid out like data/ (COMP/raw, processed,
runs; submissions/) so every step runs unchanged on it; its raw/ is rebuilt only when the real raw data, the
window or the competition's code changes, and finished runs there are reused like any other run. The table is written to
data/COMP/backtest/RUN.csv, and to RUN.json with what it was made with (`made_with`: the settings, the code and the raw
data), so that `make runs` marks a backtest that no longer matches its run (`stale`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from features.io import atomic_write_text, read_feather, read_json_object, write_csv
from pipelines import registry
from pipelines.config import check, field_meta, to_dict
from pipelines.download import read_source, staging_dir
from pipelines.paths import Paths
from pipelines.runs import HOW_TO_RUN, SETTINGS


@dataclass(frozen=True)
class Backtest:
    """What a competition provides (as `BACKTEST` in its package) to be backtested.

    - `windows`: name -> the parameter `cut` understands (an offset in days, a seed, ...); more than one, so
      that defaults are not tuned to one period. `default`: the windows a backtest runs when none are named
      (every one when empty); the others run when named (WINDOWS=...).
    - `cut(raw, dest, param)`: write a competition-shaped raw folder into `dest` (the same files a download
      gives, the cut rows as the test set) from the real `raw` folder; return the hidden answers: a frame of
      `id_col` and the columns `score` needs.
    - `score(submission, hidden)`: the competition's metric of a submission-shaped frame against the answers.
    """

    windows: dict[str, Any]
    cut: Callable[[Path, Path, Any], pd.DataFrame]
    score: Callable[[pd.DataFrame, pd.DataFrame], float]
    metric: str
    id_col: str
    greater_is_better: bool = False
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Callable[[pd.DataFrame, pd.DataFrame], float]] = field(default_factory=dict)  # more columns
    # the simplest honest baselines, run on the same cut beside the default: name -> train-step config overrides
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    default: tuple[str, ...] = ()

    def chosen(self, windows: list[str] | None = None) -> list[str]:
        """The windows named, else the default ones."""
        return list(windows or self.default or self.windows)


def place(src: Path, dst: Path) -> None:
    """dst as a hard link to src (no second copy of an image or a table; every writer here replaces a file, never
    edits it in place), or a copy where links are refused (another file system)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def window_paths(paths: Paths, window: str) -> Paths:
    """The data root of one backtest window: data/COMP/backtest/WINDOW/{COMP/...,submissions/COMP}."""
    root = paths.comp_dir / "backtest" / window
    return Paths(paths.comp, root, root / "submissions")


def prepare(spec: Backtest, paths: Paths, window: str) -> tuple[Paths, pd.DataFrame]:
    """The window's raw folder (cut afresh when the real raw data, the window or the code changed) and its
    answers."""
    if window not in spec.windows:
        raise ValueError(f"unknown backtest window {window!r}; known: {', '.join(spec.windows)} (WINDOWS=...)")
    source = read_source(paths)
    if source is None:
        raise FileNotFoundError(
            f"{paths.raw} holds no data to backtest on: run `make download COMP={paths.comp}` (or `make sample`)"
        )
    bt = window_paths(paths, window)
    # cut again when the real raw data, the window or the code (the cut's, the schema it reads) changed
    stamp = {
        "backtest": window,
        "cut": spec.windows[window],
        "from": source,
        "code": registry.code_fingerprint(paths.comp),
    }
    hidden_file = bt.comp_dir / "hidden.csv"
    if read_source(bt) == stamp and hidden_file.is_file():
        return bt, pd.read_csv(hidden_file)
    tmp = staging_dir(bt)  # a hidden folder beside raw/, removed if a killed cut left it
    hidden = spec.cut(paths.raw, tmp, spec.windows[window])
    atomic_write_text(tmp / "SOURCE.json", json.dumps(stamp, indent=1))
    shutil.rmtree(bt.raw, ignore_errors=True)
    tmp.rename(bt.raw)  # the raw folder appears whole or not at all
    write_csv(hidden, hidden_file)
    print(f"backtest {window}: cut {len(hidden):,} rows off {paths.raw} into {bt.raw} (answers: {hidden_file})")
    return bt, hidden


def run_window(comp, spec: Backtest, paths: Paths, cfg, run: str, window: str) -> list[dict]:
    """Features, train and predict on one window, then one row per member: validation vs backtest score; then
    one row per peer (the same cut, the peer's settings, its run `peer_run`)."""
    bt, hidden = prepare(spec, paths, window)
    seconds = {}
    t0 = time.perf_counter()
    print(f"backtest {window}: features", flush=True)
    comp.build_features(bt, cfg)
    seconds["features"] = round(time.perf_counter() - t0, 1)
    seconds.update(train_and_predict(comp, bt, cfg, run, window))
    result, submission = read_run(bt, run)
    valid = result.get("members", {})
    rows = []
    for name, frame in member_submissions(bt.runs / run, submission, spec.id_col).items():
        rows.append({"window": window, "member": name, "valid": valid.get(name), **scores(spec, frame, hidden)})
    rows.append(
        {
            "window": window,
            "member": "submission",
            "valid": headline(result, spec),
            **scores(spec, submission, hidden),
            **{f"{k}_s": v for k, v in seconds.items()},
        }
    )
    for peer, overrides in spec.peers.items():
        peer_cfg = untrained_at_defaults(check(dataclasses.replace(cfg, **overrides), f"backtest peer {peer!r}"))
        name = peer_run(peer, peer_cfg)
        took = train_and_predict(comp, bt, peer_cfg, name, window)
        result, submission = read_run(bt, name)
        row = {"window": window, "member": f"peer {peer}", "valid": headline(result, spec)}
        rows.append({**row, **scores(spec, submission, hidden), **{f"{k}_s": v for k, v in took.items()}})
    return rows


def untrained_at_defaults(cfg):
    """`cfg` with the settings of the members it does not train (the choices of `members` it leaves out) at their
    defaults: they shape nothing it makes, so a peer of runs that differ only there (the network's epochs) is one
    run. The ensemble's own settings (`members` itself, thresholds, clip) and the shared ones stay."""
    cls = type(cfg)
    hint = typing.get_type_hints(cls).get("members")  # list[Literal["gbdt", "net", ...]]
    if hint is None:
        return cfg
    left_out = set(typing.get_args(typing.get_args(hint)[0])) - set(cfg.members)
    unused = [f.name for f in dataclasses.fields(cfg) if field_meta(cls, f.name, "member") in left_out]
    base = cls()
    return dataclasses.replace(cfg, **{k: getattr(base, k) for k in unused})


def peer_run(peer: str, cfg) -> str:
    """A peer's run in the window, named by its settings (those that say how one command runs left out), not by
    the run backtested: a backtest of another run whose peer has the same settings reads it back (the trial of a
    second run on Digit Recognizer trained the same LightGBM defaults again, 45 to 73 s a cut)."""
    digest = hashlib.sha256(json.dumps(what_it_is(cfg), sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"peer-{peer}-{digest}"


def train_and_predict(comp, bt: Paths, cfg, run: str, window: str) -> dict[str, float]:
    seconds = {}
    for step, fn in (("train", comp.train), ("predict", comp.predict)):
        t0 = time.perf_counter()
        print(f"backtest {window}: {step} {run}", flush=True)
        fn(bt, cfg, run)
        seconds[step] = round(time.perf_counter() - t0, 1)
    return seconds


def read_run(bt: Paths, run: str) -> tuple[dict, pd.DataFrame]:
    return json.loads((bt.runs / run / "result.json").read_text()), pd.read_csv(bt.submissions / f"{run}.csv")


def headline(result: dict, spec: Backtest):
    """The run's own figure: out of fold where the competition cross-validates, else its validation."""
    return result.get(f"oof_{spec.metric}", result.get(f"valid_{spec.metric}"))


def scores(spec: Backtest, submission: pd.DataFrame, hidden: pd.DataFrame) -> dict:
    return {"backtest": spec.score(submission, hidden), **{k: f(submission, hidden) for k, f in spec.extra.items()}}


def member_submissions(run_dir: Path, submission: pd.DataFrame, id_col: str) -> dict[str, pd.DataFrame]:
    """Every member's test predictions in the submission's format, as predict wrote them beside the run:
    member_submissions/NAME.csv (whole submissions), or test_members.feather (the id and one column a member)."""
    folder = run_dir / "member_submissions"
    if folder.is_dir():
        return {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))}
    members_file = run_dir / "test_members.feather"
    if not members_file.is_file():
        return {}
    members, value_col = read_feather(members_file), submission.columns[1]
    return {name: members[[id_col, name]].rename(columns={name: value_col}) for name in members if name != id_col}


def run(comp, paths: Paths, cfg, run_name: str, windows: list[str] | None = None) -> pd.DataFrame:
    """Backtest `comp` on `windows` (default: its default windows, `Backtest.chosen`); print and save the table."""
    spec: Backtest | None = getattr(comp, "BACKTEST", None)
    if spec is None:
        raise ValueError(f"{paths.comp} declares no backtest (BACKTEST in its package)")
    rows = []
    for window in spec.chosen(windows):
        rows += run_window(comp, spec, paths, cfg, run_name, window)
    table = pd.DataFrame(rows)
    out = paths.comp_dir / "backtest" / f"{run_name}.csv"
    write_csv(table, out)
    made = {"made_with": made_with(paths, cfg), "rows": json.loads(table.to_json(orient="records"))}
    atomic_write_text(out.with_suffix(".json"), json.dumps(made, indent=1))
    if (paths.runs / run_name / "result.json").is_file() and (why := stale(paths, run_name, made["made_with"])):
        print(
            f"note: this backtest was made with {why}: `make runs` marks it stale beside run {run_name!r}'s figure "
            f"(RUN=<another name> keeps a backtest of other settings beside it)"
        )
    better = "higher" if spec.greater_is_better else "lower"
    print(f"\nbacktest of {paths.comp} run {run_name} ({spec.metric}, {better} is better; valid = the run's own):")
    shown = table.assign(
        **{c: table[c].map(lambda v: "-" if pd.isna(v) else f"{v:.0f}") for c in table if c.endswith("_s")}
    )
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.5f}", na_rep="-"))
    print_means(table, "member", ["valid", "backtest"])
    print(f"table: {out}")
    return table


def made_with(paths: Paths, cfg) -> dict:
    """What a backtest of `cfg` was made with: the settings (those that say how one command runs left out), the
    competition's code (`registry.code_fingerprint`) and the raw data it was cut from (SOURCE.json)."""
    return {"settings": what_it_is(cfg), "code": registry.code_fingerprint(paths.comp), "raw": read_source(paths)}


def what_it_is(cfg) -> dict:
    """`cfg`'s settings, those that say how one command runs (HOW_TO_RUN: a device) left out."""
    return {k: v for k, v in to_dict(cfg).items() if k not in HOW_TO_RUN}


def stale(paths: Paths, run: str, made: dict) -> str:
    """Why a backtest `made` with other things than run `run` was trained with (its settings, its code) or than raw/
    holds now no longer speaks for the run ("" when it does, or when the run or the backtest does not say)."""
    # the run's settings as configured (CIFAR-10's tracking.json holds its batch and lr after fitting them to the
    # data: not what a backtest of the same settings resolves); a run older than settings.json: its tracking.json
    config = read_json_object(paths.runs / run / SETTINGS) or read_json_object(paths.runs / run / "tracking.json").get(
        "config", {}
    )
    inputs = read_json_object(paths.runs / run / "config.json").get("run", {}).get("inputs", "")  # "<features>-<code>"
    settings = made.get("settings", {})
    differ = sorted(
        k for k in config.keys() | settings.keys() if k not in HOW_TO_RUN and config.get(k) != settings.get(k)
    )
    if config and "settings" in made and differ:
        return f"other settings than the run's: {', '.join(differ)}"
    if isinstance(inputs, str) and "-" in inputs and "code" in made and inputs.rsplit("-", 1)[-1] != made["code"]:
        return "other code than the run's (the card or the project changed)"
    if "raw" in made and made["raw"] != read_source(paths):
        return f"other raw data than {paths.raw} holds now"
    return ""


def print_means(table: pd.DataFrame, by: str, columns: list[str]) -> None:
    """Over more than two windows, each `by`'s mean of `columns` (one cut of a small table is noisy)."""
    windows = table.window.nunique()
    if windows > 2:
        means = table.groupby(by, sort=False)[columns].mean()
        print(f"mean over the {windows} windows:\n" + means.to_string(float_format=lambda v: f"{v:.5f}"))
