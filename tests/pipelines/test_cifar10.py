"""CIFAR-10 from scratch on the embedded sample (Kaggle layout) and the class-folder layout."""

from __future__ import annotations

import json
import os
import subprocess

import pandas as pd
import pytest
from PIL import Image

from pipelines.paths import ROOT
from pipelines.vision.layouts import cifar10_submission, read_cifar10


def test_class_folder_layout_keeps_test_labels(tmp_path):
    for split, n in (("train", 2), ("test", 1)):
        for cls in ("cat", "ship"):
            for i in range(n):
                (tmp_path / split / cls).mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (32, 32)).save(tmp_path / split / cls / f"{i:04d}.jpg")
    layout = read_cifar10(tmp_path)
    assert layout.classes == ["cat", "ship"] and len(layout.train) == 4
    assert list(layout.test.label) == ["cat", "ship"] and list(layout.test.id) == ["cat/0000", "ship/0000"]
    import numpy as np

    sub = cifar10_submission(layout.test, np.array([[0.1, 0.9], [0.8, 0.2]]), layout, None, 0.0)
    assert sub.label.tolist() == ["ship", "cat"]


@pytest.mark.slow
def test_make_all_on_the_sample_learns_and_writes_a_submission(tmp_path):
    data, subs = tmp_path / "data", tmp_path / "subs"
    args = "ARGS=bs=64 epochs=15 lr=1e-2 widths=[16,32,64]"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run(["make", "--no-print-directory", "all", "COMP=cifar10", f"DATA={data}", f"SUBMISSIONS={subs}",
                        args], cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    result = json.loads((data / "cifar10" / "runs" / "default" / "result.json").read_text())
    assert result["valid_accuracy"] >= 0.5  # ten digit classes from 540 images; chance is 0.1
    sub = pd.read_csv(subs / "cifar10" / "default.csv")
    sample = pd.read_csv(data / "cifar10" / "raw" / "sampleSubmission.csv")
    assert list(sub.columns) == ["id", "label"] and sub.id.tolist() == sample.id.tolist()
    run = data / "cifar10" / "runs" / "default"
    assert {"telemetry.png", "model.txt", "metrics.csv"} <= {p.name for p in run.iterdir()}


@pytest.mark.slow
def test_make_train_runs_data_parallel_under_torchrun(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run(["make", "--no-print-directory", "train", "COMP=cifar10", "NPROC=2", "RUN=ddp", f"DATA={data}",
                        "ARGS=bs=32 epochs=2 widths=[16,32,64]"], cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count("validation accuracy") == 1  # only rank 0 reports and writes
    result = json.loads((data / "cifar10" / "runs" / "ddp" / "result.json").read_text())
    assert result["world_size"] == 2
    metrics = pd.read_csv(data / "cifar10" / "runs" / "ddp" / "metrics.csv")
    assert len(metrics) == 2


def test_other_steps_refuse_torchrun(monkeypatch, capsys):
    from pipelines.__main__ import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "rossmann"]) == 2
    assert "supported for `train` of: cifar10" in capsys.readouterr().err
