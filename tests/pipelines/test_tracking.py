"""Experiment tracking: the runs table, TensorBoard events, and the report page (rendered in Chromium when
Debian's `chromium` is installed; skipped otherwise)."""

import json
import os
import re
import shutil
import signal
import subprocess

import pandas as pd
import pytest

from pipelines import tracking
from pipelines.paths import Paths


def fake_run(data, comp, run, result, config=None, commit="abc123456789"):
    folder = data / comp / "runs" / run
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(result))
    tracking_json = {"config": config or {}, "git": {"commit": commit, "dirty": False}, "env": {}, "finished": "x"}
    (folder / "tracking.json").write_text(json.dumps(tracking_json))
    return folder


def test_runs_table_ranks_each_competition_by_its_headline(tmp_path):
    from pipelines import registry

    data = tmp_path / "data"
    defaults = registry.load("rossmann").Config().__dict__
    fake_run(data, "rossmann", "worse", {"oof_rmspe": 0.12, "seeds": [0]}, {**defaults, "net_epochs": 3})
    fake_run(data, "rossmann", "better", {"oof_rmspe": 0.10, "seeds": [0, 1]}, defaults)
    fake_run(data, "planet", "low", {"valid_f2": 0.90, "oof_f2": 0.85, "total_seconds": 12.5})
    fake_run(data, "planet", "high", {"valid_f2": 0.82, "oof_f2": 0.88, "scored_on": "the 260 holdout images"})
    (data / "rossmann" / "runs" / "unfinished").mkdir()  # no result.json: not listed
    backtest = data / "rossmann" / "backtest"
    backtest.mkdir()
    pd.DataFrame({"window": ["last48"], "member": ["submission"], "valid": [0.1], "backtest": [0.105]}).to_csv(
        backtest / "better.csv", index=False
    )
    table = tracking.print_runs(data)
    assert table[["competition", "run"]].values.tolist() == [
        ["planet", "high"],  # F2: higher first
        ["planet", "low"],
        ["rossmann", "better"],  # RMSPE: lower first
        ["rossmann", "worse"],
    ]
    rows = table.set_index("run")
    assert rows.loc["worse", "changed"] == "net_epochs=3" and rows.loc["better", "changed"] == ""
    assert rows.loc["high", "metric"] == "oof_f2"  # the package's HEADLINE, not the first valid_ key
    assert rows.loc["high", "on"] == "the 260 holdout images" and rows.loc["low", "on"] == ""  # what it was scored on
    assert rows.loc["better", "backtest"] == "last48 0.10500" and rows.loc["better", "seeds"] == "0 1"
    assert rows.loc["low", "wall_s"] == 12.5 and rows.loc["worse", "commit"] == "abc12345"
    assert pd.read_csv(data / "runs.csv").run.tolist() == table.run.tolist()
    assert tracking.runs_table(data, "planet").competition.unique().tolist() == ["planet"]


def test_a_backtest_of_other_settings_or_code_than_its_runs_is_marked_stale(tmp_path):
    """A card edit retrains the run and leaves the last backtest, made with the card before: `make runs` marks it."""
    data = tmp_path / "data"
    config = {"net_epochs": 8, "device": "cpu"}
    folder = fake_run(data, "rossmann", "default", {"oof_rmspe": 0.1}, {**config, "net_bs": 64})  # as fitted
    (folder / "settings.json").write_text(json.dumps(config))  # as configured: what a backtest resolves
    (folder / "config.json").write_text(json.dumps({"run": {"inputs": "features1-code1"}}))
    (data / "rossmann" / "backtest").mkdir()

    def shown(settings: dict, code: str) -> str:
        rows = [{"window": "cut0", "member": "submission", "valid": 0.1, "backtest": 0.105}]
        made = {"made_with": {"settings": settings, "code": code, "raw": None}, "rows": rows}
        (data / "rossmann" / "backtest" / "default.json").write_text(json.dumps(made))
        return tracking.runs_table(data, "rossmann").backtest.iloc[0]

    assert shown({"net_epochs": 8, "device": "cuda"}, "code1") == "cut0 0.10500"  # the device: how it ran, not what
    assert shown({"net_epochs": 20}, "code1") == "cut0 0.10500 (stale: other settings than the run's: net_epochs)"
    assert shown(config, "code2") == "cut0 0.10500 (stale: other code than the run's (the card or the project changed))"
    rows = [{"window": "cut0", "member": "submission", "valid": 0.1, "backtest": 0.105}]
    (data / "rossmann" / "backtest" / "default.json").write_text(json.dumps(rows))  # older: no made_with
    pd.DataFrame(rows).to_csv(data / "rossmann" / "backtest" / "default.csv", index=False)  # the table, as ever
    assert tracking.runs_table(data, "rossmann").backtest.iloc[0] == "cut0 0.10500"  # not known: not marked
    (data / "rossmann" / "raw").mkdir()
    (data / "rossmann" / "raw" / "SOURCE.json").write_text('{"source": "kaggle"}')
    assert shown(config, "code1").endswith(
        "(stale: other raw data than " + str(data / "rossmann" / "raw") + " holds now)"
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, rossmann_sample_dir):
    """One small Rossmann run on the sample, shared by the TensorBoard and report tests."""
    from pipelines import registry
    from pipelines.config import resolve
    from pipelines.download import make_sample

    comp = registry.load("rossmann")
    root = tmp_path_factory.mktemp("tracked")
    paths = Paths.for_comp("rossmann", root / "data", root / "subs")
    copy = lambda folder: [shutil.copy2(p, folder / p.name) for p in rossmann_sample_dir.iterdir()]
    make_sample(type(comp.SPEC)(**{**comp.SPEC.__dict__, "make_sample": copy}), paths)
    small = ["net_epochs=2", "net_lr=1e-2", "net_bs=256", "net_layers=[64,32]", "gbdt_rounds=30", "gbdt_leaves=15"]
    cfg = resolve(comp.Config(), overrides=[*small, "gbdt_seeds=1"])
    comp.build_features(paths, cfg)
    comp.train(paths, cfg, "tracked")
    return paths


@pytest.mark.slow
def test_training_writes_tensorboard_scalars_and_hparams(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    seed = EventAccumulator(str(trained.runs / "tracked" / "net-holdout" / "tb")).Reload()
    scalars = set(seed.Tags()["scalars"])
    assert {"train_loss", "valid_loss", "lr", "rows_per_s", "train_loss_batch"} <= scalars
    assert [e.step for e in seed.Scalars("valid_loss")] == sorted(e.step for e in seed.Scalars("valid_loss"))
    assert len(seed.Scalars("valid_loss")) == 2 and "training" in seed.Tags()["images"]
    run = EventAccumulator(str(trained.runs / "tracked" / "tb")).Reload()
    assert "_hparams_/experiment" in run.Tags()["tensors"] or run.PluginTagToContent("hparams")
    assert "result/oof_rmspe" in run.Tags()["scalars"]


@pytest.mark.slow
def test_report_page_is_self_contained_and_renders(trained, tmp_path):
    out = tracking.report(trained, "tracked")
    text = out.read_text()
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', text)
    pngs = sorted((trained.runs / "tracked").rglob("*.png"))  # the training curves of the holdout and refit nets
    assert len(pngs) >= 2 and len(images) == len(pngs)  # each plot of the run once
    assert not re.search(r'src="(?!data:)', text) and "http" not in text  # nothing loaded from elsewhere
    assert "Per epoch: net-holdout" in text and "oof_rmspe" in text
    index = (trained.data_root / "index.html").read_text()
    assert 'href="rossmann/runs/tracked/report.html"' in index
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Debian's chromium is not installed: the page was checked as text only")
    # The page plus a check that every image decoded, written into the DOM that Chromium dumps.
    probe = tmp_path / "probe.html"
    check = (
        "<script>addEventListener('load',()=>{const bad=[...document.images].filter(i=>!i.complete||!i.naturalWidth);"
        "document.body.insertAdjacentHTML('beforeend','<p id=probe>images '+document.images.length+' broken '+bad.length+'</p>')})</script>"
    )
    probe.write_text(text.replace("</body>", check + "</body>"))
    run = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"images (\d+) broken (\d+)", run.stdout)
    assert found, run.stderr[-2000:]
    assert int(found.group(1)) == len(images) and found.group(2) == "0"
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console


@pytest.mark.slow
def test_make_tensorboard_serves_the_run_logs(trained):
    """`make tensorboard` on a free port answers with the run's scalar tags."""
    import socket
    import time
    import urllib.request

    from pipelines.paths import ROOT

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    cmd = ["make", "--no-print-directory", "tensorboard", f"DATA={trained.data_root}", f"TB_PORT={port}"]
    server = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline, tags = time.time() + 60, ""
        while time.time() < deadline and "valid_loss" not in tags:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/data/plugin/scalars/tags", timeout=5) as r:
                    tags = r.read().decode()
            except OSError:
                continue
        assert "valid_loss" in tags and "rossmann/runs/tracked/net-holdout" in tags, tags[:500]
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the server it started
        server.wait(timeout=20)


def test_a_result_with_a_non_numeric_headline_is_ranked_last_not_a_traceback(tmp_path):
    data = tmp_path / "data"
    fake_run(data, "rossmann", "good", {"oof_rmspe": 0.1})
    fake_run(data, "rossmann", "odd", {"oof_rmspe": "n/a"})
    fake_run(data, "rossmann", "list", {"oof_rmspe": [0.1]})
    (fake_run(data, "rossmann", "broken", {}) / "result.json").write_text("[1, 2]")
    table = tracking.print_runs(data)
    assert table.run.tolist()[0] == "good" and table.value.isna().sum() == 3
