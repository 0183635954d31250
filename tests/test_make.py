"""The make chain end to end on the embedded sample, and on the real data when ../shared/data is present."""

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipelines.paths import ROOT

pytestmark = pytest.mark.slow


# Small settings for the chain tests: what they check is make's targets, not the models' quality.
QUICK = "net_bs=256 net_layers=[64,32] net_lr=1e-2 gbdt_rounds=60 gbdt_leaves=15 gbdt_seeds=1"


def make(*args, data: Path, check=True):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run(
        ["make", "--no-print-directory", *args, f"DATA={data}"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if check and r.returncode:
        raise AssertionError(f"make {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def test_features_chain_on_the_sample(tmp_path):
    data = tmp_path / "data"
    first = make("features", data=data)
    assert "generating the embedded sample" in first.stdout
    processed = data / "rossmann" / "processed"
    assert {p.name for p in processed.iterdir()} >= {"train.feather", "test.feather", "procs.json", "schema.json"}
    stamp = (processed / "features.json").stat().st_mtime_ns

    again = make("features", data=data)
    assert "pipelines features" not in again.stdout  # up to date: nothing rebuilt
    assert (processed / "features.json").stat().st_mtime_ns == stamp

    changed = make("features", "ARGS=horizon=30", data=data)
    assert "pipelines features" in changed.stdout
    train = pd.read_feather(processed / "train.feather", columns=["Dayofyear", "_fold"])
    assert train[train._fold == 0].Dayofyear.nunique() == 30  # the holdout: the last 30 days

    bad = make("features", "ARGS=horizn=3", data=data, check=False)
    assert bad.returncode != 0 and "unknown config key(s) ['horizn']" in bad.stderr


def test_download_failure_is_one_clear_message(tmp_path):
    bad = make("download", f"SRC={tmp_path / 'nope.zip'}", data=tmp_path / "data", check=False)
    assert bad.returncode != 0
    assert "nope.zip: no such file or folder" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.real_data
def test_real_data_download_and_features(tmp_path, rossmann_real_dir):
    data = tmp_path / "data"
    make("download", f"SRC={rossmann_real_dir / 'rossmann-store-sales.zip'}", f"EXTRA={rossmann_real_dir}", data=data)
    make("features", data=data)
    summary = json.loads((data / "rossmann" / "processed" / "features.json").read_text())
    assert summary["rows"] == {"train": 1_017_209, "test": 41_088}
    assert summary["validation"]["horizon_days"] == 48
    train = pd.read_feather(data / "rossmann" / "processed" / "train.feather", columns=["Sales", "_fold"])
    assert int(train.Sales.sum()) == 5_873_180_623  # cross-check figure from the data README
    with zipfile.ZipFile(rossmann_real_dir / "rossmann-store-sales.zip") as z:
        assert len(pd.read_csv(z.open("test.csv"))) == 41_088
        dates = pd.read_csv(z.open("train.csv"), usecols=["Date"]).Date
    assert (train._fold == 0).sum() == (dates >= "2015-06-14").sum()  # the holdout: 2015-06-14..07-31
    assert "pipelines features" not in make("features", data=data).stdout


def test_all_on_the_sample_then_nothing_to_do(tmp_path):
    """The whole chain, then nothing to redo, in folders whose paths hold spaces (file targets escape them)."""
    data, subs = tmp_path / "my data", tmp_path / "my subs"
    args = ["all", "RUN=quick_1", f"ARGS=net_epochs=2 {QUICK}", f"SUBMISSIONS={subs}"]
    first = make(*args, data=data)
    assert "pipelines train" in first.stdout and "rmspe 0." in first.stdout
    sub = subs / "rossmann" / "quick_1.csv"
    assert f"submission: {sub}" in first.stdout and sub.is_file()
    again = make(*args, data=data)
    assert "pipelines" not in again.stdout and f"up to date: {sub} (nothing to redo" in again.stdout  # and said
    result = data / "rossmann" / "runs" / "quick_1" / "result.json"
    kept = {p: p.read_bytes() for p in (sub, result)}
    for good, bad, message in (
        ("net_epochs=2", "net_epochs=-1", "'net_epochs': -1 is out of range (valid: >= 0 and <= 1000)"),
        ("net_lr=1e-2", "net_lr=-1", "'net_lr': -1.0 is out of range (valid: > 0 and <= 10)"),
    ):
        refused = make(*[a.replace(good, bad) for a in args], data=data, check=False)
        assert refused.returncode != 0 and message in refused.stderr and "Traceback" not in refused.stderr
        assert all(p.read_bytes() == b for p, b in kept.items())  # the finished run and its submission stay
    # the run keeps its settings: predict with none given uses them (nothing to redo); contradicting them is refused
    assert "pipelines" not in make("predict", "RUN=quick_1", f"SUBMISSIONS={subs}", data=data).stdout
    settings = json.loads((result.parent / "settings.json").read_text())
    assert settings["net_epochs"] == 2 and settings["net_layers"] == [64, 32]
    contradict = make("predict", "RUN=quick_1", "ARGS=net_epochs=1", f"SUBMISSIONS={subs}", data=data, check=False)
    assert contradict.returncode != 0 and "Traceback" not in contradict.stderr
    assert "run 'quick_1' is finished" in contradict.stderr and "net_epochs=1 (the run has 2)" in contradict.stderr
    assert "RETRAIN=1" in contradict.stderr and all(p.read_bytes() == b for p, b in kept.items())
    changed = make(*[a.replace("net_epochs=2", "net_epochs=1") for a in args], "RETRAIN=1", data=data)
    assert "pipelines train" in changed.stdout and "pipelines features" not in changed.stdout
    assert json.loads((result.parent / "settings.json").read_text())["net_epochs"] == 1


def test_make_variables_never_run_commands_and_names_stay_plain(tmp_path):
    """COMP / ARGS / DATA holding shell or make code run nothing; RUN / COMP must be plain names (no path)."""
    data, marker = tmp_path / "data", tmp_path / "pwned"
    for bad in (f"COMP=rossmann; touch {marker}", f"COMP=$(shell touch {marker})", f"COMP=`touch {marker}`"):
        r = make("help", bad, data=data, check=False)
        assert r.returncode != 0 and "is not a competition name" in r.stderr
    for run in ("../../x", "/abs/folder", "", "team/exp1", ".hidden", "a b"):
        r = make("features", f"RUN={run}", data=data, check=False)
        assert r.returncode != 0 and "is not a plain run name" in r.stderr, run
    r = make("features", f"ARGS=horizon=30; touch {marker}", data=data, check=False)
    assert r.returncode != 0 and "override 'touch' is not of the form key=value" in r.stderr
    r = make("features", f"ARGS=horizon=$(shell touch {marker})", f"SRC=$$(touch {marker})", data=data, check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    r = make("sample", data=tmp_path / f"d$(touch {marker})'`touch {marker}`")
    assert not marker.exists() and not (tmp_path / "x").exists()


def test_switches_and_names_the_review_found(tmp_path):
    """RETRAIN=0 / FORCE=no are off; a run name with a tab, a leading - or _ is refused by make itself."""
    data = tmp_path / "data"
    for switch in ("RETRAIN=0", "RETRAIN=no", "FORCE=false"):
        assert "--retrain" not in make("-n", "predict", switch, data=data).stdout
        assert "--force" not in make("-n", "download", switch, data=data).stdout
    assert "--retrain" in make("-n", "predict", "RETRAIN=1", data=data).stdout
    for run in ("x\t", "-rf", "_x"):
        r = make("help", f"RUN={run}", data=data, check=False)
        assert r.returncode != 0 and "is not a plain run name" in r.stderr, run


def test_make_help_lists_the_competitions_without_python(tmp_path):
    """`make help` works before the venv exists and names every competition, the cards of $KAGGLE_COMPETITIONS too."""
    card = tmp_path / "ext" / "my_card"
    card.mkdir(parents=True)
    (card / "__init__.py").write_text(
        'from pipelines.tabular import Card\n\nCARD = Card(\n    slug="my-card",\n    metric="auc",\n)\n'
    )
    env = {**os.environ, "KAGGLE_COMPETITIONS": str(tmp_path / "ext"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(["make", "help"], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("competitions:"))
    assert line.split("(")[0].split()[1:] == ["cifar10", "dog-breed", "dogs-vs-cats", "my-card", "planet", "rossmann"]
