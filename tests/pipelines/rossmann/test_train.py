"""Rossmann training, prediction and submission on the embedded sample."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from pipelines.paths import ROOT
from pipelines.rossmann import RossmannConfig, build_features, predict, train
from pipelines.rossmann.model import CheckpointMismatch

pytestmark = pytest.mark.slow
# The network alone: the boosting member, the refit and the blend have their own tests (test_ensemble.py).
FAST = dict(epochs=3, lr=1e-2, bs=256, layers=[64, 32], members=["nn"], refit=False)


def train_command(featured, *args: str) -> list[str]:
    """`python -m pipelines train rossmann` on the featured sample, small and fast, with `args` added."""
    return [
        sys.executable,
        "-m",
        "pipelines",
        "train",
        "rossmann",
        "--data",
        str(featured.data_root),
        *args,
        "lr=1e-2",
        "bs=64",
        "layers=[64,32]",
        "members=[nn]",
        "refit=false",
    ]


def test_train_predict_writes_a_valid_submission(featured):
    cfg = RossmannConfig(**FAST)
    summary = train(featured, cfg, "t")
    run = featured.runs / "t" / "s0"
    assert {
        "config.json",
        "run.json",
        "metrics.csv",
        "metrics.json",
        "checkpoint.pt",
        "training.png",
        "valid_preds.feather",
        "result.json",
        "model.txt",
    } <= {p.name for p in run.iterdir()}
    assert "embeds.0" in (run / "model.txt").read_text()
    assert json.loads((run / "run.json").read_text())["git"]["commit"]
    assert len(json.loads((run / "metrics.json").read_text())) == 3
    assert 0 < summary["valid_rmspe"] < 0.5
    out = predict(featured, cfg, "t")
    sub = pd.read_csv(out)
    sample = pd.read_csv(featured.raw / "sample_submission.csv")
    test = pd.read_csv(featured.raw / "test.csv")
    assert list(sub.columns) == ["Id", "Sales"] and sub.Id.tolist() == sample.Id.tolist()
    assert sub.Sales.notna().all() and (sub.Sales >= 0).all()
    closed = test.set_index("Id").Open.reindex(sub.Id).eq(0).to_numpy()
    assert (sub.Sales[closed] == 0).all() and (sub.Sales[~closed] > 0).all()  # blank Open counted as open
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["runs"] == [str(run)]


def test_same_seed_same_rmspe_and_reuse(featured, capsys):
    a = train(featured, RossmannConfig(**FAST), "a")
    b = train(featured, RossmannConfig(**FAST), "b")
    assert a["valid_rmspe"] == b["valid_rmspe"]
    train(featured, RossmannConfig(**FAST), "a")
    assert "already trained with this config on these features" in capsys.readouterr().out


def test_seed_ensemble_averages_in_log_space(featured):
    summary = train(featured, RossmannConfig(**FAST, n_seeds=2), "ens")
    assert summary["seeds"] == [0, 1]
    singles = [r["valid_rmspe"] for r in summary["per_seed"]]
    assert singles[0] != singles[1]
    assert summary["valid_rmspe"] <= max(singles)
    meta = json.loads(predict(featured, RossmannConfig(**FAST, n_seeds=2), "ens").with_suffix(".json").read_text())
    assert len(meta["runs"]) == 2 and meta["averaged"] == "log space"


def test_checkpoint_for_other_features_is_refused(featured):
    cfg = RossmannConfig(**FAST)
    train(featured, cfg, "t")
    fewer = RossmannConfig(**FAST, cat_names=[c for c in cfg.cat_names if c != "Events"])
    build_features(featured, fewer)
    with pytest.raises(CheckpointMismatch, match=r"only in checkpoint \['Events'\]"):
        predict(featured, fewer, "t")
    ckpt = torch.load(featured.runs / "t" / "s0" / "checkpoint.pt", weights_only=True)  # plain tensors and data only
    assert ckpt["epoch"] == 3


def test_interrupted_training_resumes(featured):
    args = train_command(featured, "epochs=8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Ctrl-C reaches Python as KeyboardInterrupt only if SIGINT was not ignored when it started, and a shell ignores
    # it for a job started with `&` (a CI run in the background): the child gets the terminal's default back.
    proc = subprocess.Popen(
        [*args, "--run", "r"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    ckpt = featured.runs / "r" / "s0" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C after the first checkpoint
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, out
    assert "run the same command again to resume" in out
    done = torch.load(ckpt, weights_only=True)["epoch"]
    assert 1 <= done < 8
    resumed = subprocess.run([*args, "--run", "r"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert f"resuming after epoch {done} of 8" in resumed.stdout
    subprocess.run([*args, "--run", "straight"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    rmspe = lambda run: json.loads((featured.runs / run / "result.json").read_text())["valid_rmspe"]
    assert rmspe("r") == rmspe("straight")
    # the resumed run's record covers all 8 epochs: steps continue, the plot shows every batch
    metrics = {run: pd.read_csv(featured.runs / run / "s0" / "metrics.csv") for run in ("r", "straight")}
    assert metrics["r"].step.tolist() == metrics["straight"].step.tolist()
    assert metrics["r"].train_loss.tolist() == metrics["straight"].train_loss.tolist()
    plots = [(featured.runs / run / "s0" / "training.png").read_bytes() for run in ("r", "straight")]
    assert plots[0] == plots[1]


@pytest.mark.parametrize("schedule", ["sgdr", "constant"])
def test_other_schedules(featured, schedule):
    cfg = RossmannConfig(**{**FAST, "schedule": schedule, "cycle_len": 1, "cycle_mult": 2})
    summary = train(featured, cfg, schedule)
    assert summary["valid_rmspe"] < 1.0
    lrs = [r["lr"] for r in json.loads((featured.runs / schedule / "s0" / "metrics.json").read_text())]
    if schedule == "constant":
        assert lrs == [cfg.lr] * 3
    else:  # cycles of 1 and 2 epochs: the lr is near zero at the end of epochs 1 and 3
        assert lrs[0] < 0.01 * cfg.lr and lrs[2] < 0.01 * cfg.lr and lrs[1] > 0.3 * cfg.lr
    with pytest.raises(ValueError, match="cannot add up"):
        train(featured, RossmannConfig(**{**FAST, "schedule": "sgdr", "epochs": 2, "cycle_mult": 2}), "bad")


def test_lr_finder_plot_and_suggestion(featured):
    from pipelines.rossmann import lr_find

    res = lr_find(featured, RossmannConfig(**FAST), "lrf")
    assert (featured.runs / "lrf" / "lr_find.png").stat().st_size > 1000
    assert 1e-6 < res["suggested_lr"] < 1.0


def test_training_on_features_built_with_other_settings_is_refused(featured):
    with pytest.raises(ValueError, match=r"built with other feature settings \(valid_days\)"):
        train(featured, RossmannConfig(**FAST, valid_days=30), "stale")


def test_new_raw_data_retrains_instead_of_reusing_the_old_model(featured, tmp_path, capsys):
    """The sample's model must not be reused once other data (say, the real download) replaces raw/."""
    from pipelines.download import download
    from pipelines.rossmann import SPEC

    cfg = RossmannConfig(**FAST)
    first = train(featured, cfg, "t")
    other = tmp_path / "other"
    other.mkdir()
    for f in featured.raw.iterdir():
        if f.name != "SOURCE.json":
            (other / f.name).write_bytes(f.read_bytes())
    train_csv = pd.read_csv(other / "train.csv", dtype={"StateHoliday": str})
    train_csv[train_csv.Store != train_csv.Store.min()].to_csv(other / "train.csv", index=False)  # one store less
    download(SPEC, featured, src=str(other), extra=str(other), force=True)
    with pytest.raises(ValueError, match="built from other raw data"):
        train(featured, cfg, "t")  # features not rebuilt yet: refused, nothing trained on stale tables
    build_features(featured, cfg)
    capsys.readouterr()
    second = train(featured, cfg, "t")
    assert "reusing" not in capsys.readouterr().out
    assert second["valid_rmspe"] != first["valid_rmspe"]
    predict(featured, cfg, "t")  # the retrained checkpoint fits the new features


def test_two_trainings_of_one_run_do_not_overwrite_each_other(featured):
    args = train_command(featured, "--run", "busy", "epochs=4")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lock = featured.runs / "busy" / ".lock"
    deadline = time.time() + 120
    while not (lock.is_file() and lock.read_text()) and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    out = first.communicate(timeout=300)[0]
    assert first.returncode == 0, out
    assert second.returncode == 1 and f"is in use by pid {first.pid} on " in second.stderr, second.stderr
    assert "training 4 epochs" not in second.stdout  # it trained nothing
    assert json.loads((featured.runs / "busy" / "result.json").read_text())["valid_rmspe"] > 0
    again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True)  # lock released
    assert "already trained with this config on these features" in again.stdout


def test_kill_9_then_the_same_command_resumes_to_the_uninterrupted_result(featured):
    from resume import kill_after_checkpoint, run

    # the network alone, no refit: what resumes is its epoch loop (the boosting member and the refit reuse finished
    # folders, tested in test_members.py)
    args = ["rossmann", "--data", str(featured.data_root), "epochs=5", "lr=1e-2", "bs=64", "layers=[64,32]"]
    args += ["members=[nn]", "refit=false"]
    kill_after_checkpoint(["train", *args, "--run", "killed"], featured.runs / "killed" / "s0" / "checkpoint.pt")
    assert "resuming after epoch" in run(["train", *args, "--run", "killed"])
    run(["train", *args, "--run", "straight"])
    results = [json.loads((featured.runs / r / "result.json").read_text()) for r in ("killed", "straight")]
    assert results[0]["valid_rmspe"] == results[1]["valid_rmspe"]
    metrics = [pd.read_csv(featured.runs / r / "s0" / "metrics.csv") for r in ("killed", "straight")]
    assert metrics[0].train_loss.tolist() == metrics[1].train_loss.tolist()
