"""Rossmann as a card on the generic tabular path, on the embedded sample: features -> train -> predict, the run's
lock, what forces a retrain, the lr finder, and the card the README shows."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pipelines import registry
from pipelines.config import resolve
from pipelines.paths import ROOT

pytestmark = pytest.mark.slow
SMALL = ["net_epochs=2", "net_layers=[64,32]", "net_bs=256", "net_lr=1e-2", "gbdt_rounds=40", "gbdt_leaves=15"]
SMALL += ["gbdt_seeds=1"]


@pytest.fixture()
def comp():
    return registry.load("rossmann")


@pytest.fixture()
def featured(sample_paths, comp):
    """The embedded sample with its features built (default settings)."""
    comp.build_features(sample_paths, comp.Config())
    return sample_paths


def test_train_predict_writes_a_valid_submission(featured, comp, capsys):
    cfg = resolve(comp.Config(), overrides=SMALL)
    result = comp.train(featured, cfg, "t")
    assert set(result["members"]) == {"net", "gbdt"} and 0 < result["oof_rmspe"] < 0.5
    assert result["validation"] == {"kind": "time", "horizon_days": 48, "why": result["validation"]["why"]}
    assert result["adjusted"] is True and result["refit"] is True
    raw = pd.read_csv(featured.raw / "train.csv", usecols=["Date", "Sales"], parse_dates=["Date"])
    before = ((raw.Sales > 0) & (raw.Date < raw.Date.max() - pd.Timedelta(days=47))).sum()  # the rows with sales
    assert f"net holdout: {before:,} rows, 2 epochs of batch 256" in capsys.readouterr().out
    out = comp.predict(featured, cfg, "t")
    sub = pd.read_csv(out)
    sample = pd.read_csv(featured.raw / "sample_submission.csv")
    assert list(sub.columns) == ["Id", "Sales"] and sub.Id.tolist() == sample.Id.tolist()
    assert sub.Sales.notna().all() and (sub.Sales > 0).all()


def test_the_readme_shows_the_package_card():
    readme = (ROOT / "pipelines" / "rossmann" / "README.md").read_text()
    shown = readme.split("```python\n", 1)[1].split("```", 1)[0]
    card = (ROOT / "pipelines" / "rossmann" / "__init__.py").read_text()
    assert shown.split("CARD = ")[1] == card.split("CARD = ")[1]


def test_features_built_with_other_settings_or_raw_data_retrain_nothing_stale(featured, comp, tmp_path, capsys):
    """Training on features of other settings is refused; so is training on tables built from older raw data (the
    real download replacing the sample); rebuilt, the run trains afresh instead of reusing the old model."""
    from pipelines.download import download

    cfg = resolve(comp.Config(), overrides=SMALL)
    with pytest.raises(ValueError, match=r"built with other feature settings \(horizon\)"):
        comp.train(featured, resolve(comp.Config(), overrides=[*SMALL, "horizon=30"]), "stale")
    first = comp.train(featured, cfg, "t")
    other = tmp_path / "other"
    other.mkdir()
    for f in featured.raw.iterdir():
        if f.name != "SOURCE.json":
            (other / f.name).write_bytes(f.read_bytes())
    train_csv = pd.read_csv(other / "train.csv", dtype={"StateHoliday": str})
    train_csv[train_csv.Store != train_csv.Store.min()].to_csv(other / "train.csv", index=False)  # one store less
    download(comp.SPEC, featured, src=str(other), extra=str(other), force=True)
    with pytest.raises(ValueError, match="built from other raw data"):
        comp.train(featured, cfg, "t")  # features not rebuilt yet: refused, nothing trained on stale tables
    comp.build_features(featured, cfg)
    capsys.readouterr()
    second = comp.train(featured, cfg, "t")
    assert "reusing" not in capsys.readouterr().out and second["oof_rmspe"] != first["oof_rmspe"]
    comp.predict(featured, cfg, "t")


def test_a_holdout_longer_than_the_test_is_refused_its_store_levels_lag_by_the_tests_span(sample_paths, comp):
    from pipelines.tabular.schema import SchemaError

    with pytest.raises(SchemaError, match="horizon=60 is longer than the test's 48 days.*set horizon <= 48"):
        comp.build_features(sample_paths, resolve(comp.Config(), overrides=["horizon=60"]))


def test_two_trainings_of_one_run_do_not_overwrite_each_other(featured):
    args = [sys.executable, "-m", "pipelines", "train", "rossmann", "--data", str(featured.data_root), "--run", "busy"]
    args += [*SMALL, "members=[net]", "gbdt_embeddings=[]"]
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
    assert "net holdout" not in second.stdout  # it trained nothing
    assert json.loads((featured.runs / "busy" / "result.json").read_text())["oof_rmspe"] > 0
    again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True)  # lock released
    assert "already trained with this config on these features" in again.stdout


def test_lr_finder_plot_and_suggestion(featured, comp, capsys):
    result = comp.lr_find(featured, resolve(comp.Config(), overrides=SMALL), "lrf")
    assert Path(featured.runs / "lrf" / "lr_find.png").stat().st_size > 1000
    assert 1e-7 < result["suggested_lr"] < 10
    assert "net_lr=" in capsys.readouterr().out


def test_the_throughput_and_lightgbm_device_benches_run_on_the_sample(featured, capsys):
    """The GPU check's first part (`make bench COMP=rossmann PARTS=throughput,gbdt`) on the embedded sample, so a
    GPU session does not find it broken: each variant's rows/s beside the eager step's, or its failure named;
    LightGBM's CPU learner timed, the wheel's GPU learners tried. torch.compile traces the step with "aot_eager":
    dynamo's capture is what a model change breaks; inductor's C++ build of it took 55 s here."""
    from pipelines.rossmann import bench

    bench.bench_rossmann_throughput(featured.data_root, repeats=1, n_batches=4, warmup=2, backend="aot_eager")
    bench.bench_gbdt_device(featured.data_root, rounds=3)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "full network" in line]
    assert len(lines) == 2 and "bfloat16" in lines[1], out  # fp32, then bf16
    for line in lines:
        assert re.search(r"full network +[\d,]+ ", line), line
        assert re.search(r"torch.compile'd \(aot_eager\) +[\d,]+ \(eager at \d+%\)", line), line  # not "failed"
        assert re.search(r"dense layers alone \(\d+->...->1\) +[\d,]+ \(eager at \d+%\)", line), line
    assert re.search(r"device_type=cpu +[\d.]+ s", out) and "device_type=gpu" in out and "device_type=cuda" in out
