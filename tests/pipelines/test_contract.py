"""The competition contract (pipelines/registry.py): a new competition is one package and nothing else.

The test writes a toy competition package into a temporary folder, outside the repository, names that folder
in $KAGGLE_COMPETITIONS, and runs the whole chain on it through the command line: sample -> features ->
train (with the shared resume/reuse driver) -> predict (the shared, validated submission writer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

import pipelines
from pipelines import registry
from pipelines.paths import ROOT

TOY = '''
"""Toy Sales: predict y from two columns (a competition package kept outside the repository)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config import result_settings, setting
from pipelines.download import DataSpec
from pipelines.submit import number, write_submission


def make_sample(folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2))
    y = 3 * x[:, 0] - 2 * x[:, 1] + 1 + rng.normal(0, 0.1, 500)
    frame = pd.DataFrame({"id": range(500), "x1": x[:, 0], "x2": x[:, 1], "y": y})
    frame[:400].to_csv(folder / "train.csv", index=False)
    frame[400:].drop(columns="y").to_csv(folder / "test.csv", index=False)
    frame[400:][["id"]].assign(y=0.0).to_csv(folder / "sample_submission.csv", index=False)


SPEC = DataSpec(slug="toy-sales", files={"train.csv": ["id", "x1", "x2", "y"], "test.csv": ["id", "x1", "x2"],
                                         "sample_submission.csv": ["id", "y"]}, make_sample=make_sample)


@dataclass
class Config:
    valid_rows: int = setting(80, ge=1, step="features")
    epochs: int = setting(8, ge=1)
    lr: float = setting(0.1, gt=0)
    seed: int = setting(0, ge=0)


def build_features(paths, cfg):
    from features.io import write_feather
    from pipelines.runs import write_features_stamp

    train = pd.read_csv(paths.raw / "train.csv")
    write_feather(train[: -cfg.valid_rows], paths.processed / "train.feather")
    write_feather(train[-cfg.valid_rows :], paths.processed / "valid.feather")
    write_feather(pd.read_csv(paths.raw / "test.csv"), paths.processed / "test.feather")
    write_features_stamp(paths, cfg, rows=len(train))


def _tensors(frame):
    import torch

    x = torch.tensor(frame[["x1", "x2"]].to_numpy(), dtype=torch.float32)
    return (x, torch.tensor(frame[["y"]].to_numpy(), dtype=torch.float32)) if "y" in frame else (x,)


def _learner(paths, cfg, cbs=()):
    import torch

    from models.data import tensor_loader
    from models.learner import Learner

    train, valid = (pd.read_feather(paths.processed / f"{s}.feather") for s in ("train", "valid"))
    return Learner(torch.nn.Linear(2, 1), tensor_loader(*_tensors(train), batch_size=32, shuffle=True, seed=cfg.seed),
                   tensor_loader(*_tensors(valid), batch_size=256, shuffle=False), wd=0.0, device="cpu", cbs=cbs)


def train(paths, cfg, run):
    from models.callbacks import Recorder
    from pipelines.runs import RunDir, features_identity, fit_resumable, seed_everything

    rd = RunDir(paths.runs / run)
    identity = {**result_settings(cfg), "features": features_identity(paths, cfg)}
    done = rd.finished(identity)
    if done is not None:
        print(f"{rd.path}: reusing")
        return done
    seed_everything(cfg.seed)
    learn = _learner(paths, cfg, [Recorder(rd.path)])
    fit = lambda start: learn.fit_schedule("one_cycle", cfg.epochs, cfg.lr, start)
    fit_resumable(learn, rd.checkpoint, identity, cfg.epochs, fit, lambda: rd.start({"run": identity}))
    result = {"valid_mse": learn.history[-1]["valid_loss"]}
    rd.write_json("result.json", result)
    return result


def lr_find(paths, cfg, run):
    return _learner(paths, cfg).lr_find(plot=paths.runs / run / "lr_find.png")


def predict(paths, cfg, run):
    learn = _learner(paths, cfg)
    learn.load_checkpoint(paths.runs / run / "checkpoint.pt", with_opt=False)
    test = pd.read_feather(paths.processed / "test.feather")
    y = learn.model(_tensors(test)[0]).detach().numpy()[:, 0]
    sub = pd.DataFrame({"id": test.id, "y": y})
    sample = pd.read_csv(paths.raw / "sample_submission.csv")
    return write_submission(sub, sample, "id", paths.submissions / f"{run}.csv", {"y": number()})


def submit(paths, cfg, run):
    from pipelines.submit import submit as send

    send(SPEC.slug, "toy-sales", paths.submissions / f"{run}.csv", run)
'''


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout


@pytest.mark.slow
def test_a_competition_package_outside_the_repository_runs_the_whole_chain(tmp_path):
    package = tmp_path / "comps" / "toy_sales"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(TOY)
    env = {**os.environ, registry.EXTRA_PATH: str(tmp_path / "comps"), "PYTHONUNBUFFERED": "1"}
    data, subs = tmp_path / "data", tmp_path / "subs"
    before = git_status()
    for step in ("sample", "features", "train", "predict"):
        r = cli(step, "toy-sales", "--data", str(data), env={**env, "SUBMISSIONS": str(subs)})
        assert r.returncode == 0, f"{step}: {r.stdout[-1500:]}{r.stderr[-1500:]}"
    result = json.loads((data / "toy-sales" / "runs" / "default" / "result.json").read_text())
    assert result["valid_mse"] < 0.1  # y = 3 x1 - 2 x2 + 1 + noise(0.1): a linear model recovers it
    sub = pd.read_csv(subs / "toy-sales" / "default.csv")
    assert sub.id.tolist() == list(range(400, 500)) and sub.y.notna().all()
    again = cli("train", "toy-sales", "--data", str(data), env=env)
    assert "reusing" in again.stdout  # the shared run driver: same config and features -> reused
    bad = cli("train", "toy-sales", "--data", str(data), "epochs=0", env=env)
    assert bad.returncode == 1 and "'epochs': 0 is out of range" in bad.stderr  # the shared config checks
    unknown = cli("train", "toy-salez", "--data", str(data), env=env)
    assert "known: cifar10, dog-breed, dogs-vs-cats, planet, rossmann, toy-sales" in unknown.stderr
    assert git_status() == before  # nothing in the repository was touched


def test_an_incomplete_package_is_named_with_what_it_lacks(tmp_path, monkeypatch):
    package = tmp_path / "half_done"
    package.mkdir()
    (package / "__init__.py").write_text("SPEC = None\nclass Config: pass\ndef train(paths, cfg, run): pass\n")
    monkeypatch.setenv(registry.EXTRA_PATH, str(tmp_path))
    monkeypatch.setattr(pipelines, "__path__", list(pipelines.__path__))  # the search path is restored after
    with pytest.raises(SystemExit, match=r"pipelines.half_done .* lacks build_features, lr_find, predict, submit"):
        registry.load("half-done")
