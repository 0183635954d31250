"""Run folders: one process at a time trains in a run (or builds the features); a run keeps its own settings;
run names are plain."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipelines import registry
from pipelines.__main__ import main, write_features_config
from pipelines.config import ConfigError, resolve
from pipelines.paths import Paths
from pipelines.runs import RunLocked, run_lock, run_settings, write_run_settings


def test_a_second_holder_is_refused_with_the_first_named(tmp_path):
    with run_lock(tmp_path / "run", "train"):
        with pytest.raises(RunLocked, match=rf"run is in use by pid {os.getpid()} on .*\(train, since .*\)"):
            with run_lock(tmp_path / "run", "train"):
                pass
        with run_lock(tmp_path / "other", "train"):  # another run folder is free
            pass
    with run_lock(tmp_path / "run", "predict"):  # released at the end
        pass


rossmann = registry.load("rossmann")


@pytest.fixture()
def paths(tmp_path):
    return Paths.for_comp("rossmann", tmp_path / "data", tmp_path / "subs")


def test_a_run_keeps_its_settings_and_refuses_contradictions_once_finished(paths):
    """The drill's flow: `make all RUN=ens2 ARGS=gbdt_seeds=3`, then `make submit RUN=ens2` must predict with 3
    seeds, and `gbdt_seeds=1` for the finished run is refused naming the key, unless RETRAIN=1."""
    cfg = run_settings(rossmann, paths, "ens2", overrides=["gbdt_seeds=3", "net_epochs=3"])
    assert write_run_settings(paths, "ens2", cfg) and not write_run_settings(paths, "ens2", cfg)  # written once
    later = run_settings(rossmann, paths, "ens2")  # no arguments: the run's own settings
    assert (later.gbdt_seeds, later.net_epochs) == (3, 3)
    assert run_settings(rossmann, paths, "ens2", overrides=["net_lr=1e-3"]).net_lr == 1e-3  # unfinished: may change
    (paths.runs / "ens2" / "result.json").write_text("{}")
    assert run_settings(rossmann, paths, "ens2", overrides=["gbdt_seeds=3", "device=cpu"]).gbdt_seeds == 3  # agrees
    with pytest.raises(ConfigError, match=r"run 'ens2' is finished .* gbdt_seeds=1 \(the run has 3\).*RETRAIN=1"):
        run_settings(rossmann, paths, "ens2", overrides=["gbdt_seeds=1"])
    fresh = run_settings(rossmann, paths, "ens2", overrides=["gbdt_seeds=1"], retrain=True)
    assert (fresh.gbdt_seeds, fresh.net_epochs) == (1, rossmann.Config().net_epochs)  # afresh: defaults + these
    (paths.runs / "ens2" / "settings.json").write_text("{not json")
    with pytest.raises(ConfigError, match="settings.json: unreadable"):
        run_settings(rossmann, paths, "ens2")


@pytest.mark.parametrize("run", ["../../x", "/abs/folder", "", "team/exp1", "..", ".x", "a b", "x;y"])
def test_run_names_that_are_not_plain_are_refused_before_anything_is_written(tmp_path, run, capsys):
    data = tmp_path / "data"
    assert main(["predict", "rossmann", "--data", str(data), "--run", run]) == 2
    assert "is not a plain name" in capsys.readouterr().err
    assert not tmp_path.joinpath("x").exists() and not data.exists()


def test_unknown_competition_names_list_the_known_ones(capsys):
    for comp in ("../rossmann", "rossmann; ls", ""):
        with pytest.raises(SystemExit, match="is not a competition name; known: .*rossmann"):
            main(["features", comp])


def test_features_refused_or_built_elsewhere_is_rebuilt_by_the_next_make_features(paths):
    """processed/ built with other settings than config/features.json says (another build won, or one was
    stopped): the config step touches the file, so `make features` rebuilds instead of calling it up to date."""
    cfg = resolve(rossmann.Config())
    assert write_features_config(paths, cfg) and not write_features_config(paths, cfg)
    paths.processed.mkdir(parents=True)
    stamp = {"config": {"horizon": 30}}
    (paths.processed / "features.json").write_text(json.dumps(stamp))
    assert write_features_config(paths, cfg)  # rewritten: newer than the stamp, so make rebuilds


def test_a_second_features_build_is_refused_while_one_runs(sample_paths, capsys):
    with run_lock(sample_paths.processed, "features"):
        code = main(["features", "rossmann", "--data", str(sample_paths.data_root)])
    assert code == 1 and "processed is in use by pid" in capsys.readouterr().err


def test_a_damaged_checkpoint_is_named_and_the_run_starts_afresh(tmp_path, capsys):
    from pipelines.runs import resumable

    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"PK\x03\x04 cut short")
    assert resumable(ckpt, {"x": 1}, 10) == 0
    assert f"{ckpt}: damaged, not a readable checkpoint" in capsys.readouterr().out


def test_a_damaged_feather_file_is_named_and_rebuilt(sample_paths, capsys):
    """A cut-short processed file: one line naming it, and `make features` rebuilds (its stamp is dropped)."""
    data = ["--data", str(sample_paths.data_root)]
    assert main(["features", "rossmann", *data]) == 0
    valid = sample_paths.processed / "train.feather"
    valid.write_bytes(valid.read_bytes()[:100])
    assert main(["train", "rossmann", *data, "--run", "r", "net_epochs=1"]) == 1
    err = capsys.readouterr().err
    assert f"error: {valid}: damaged, not a readable Feather file" in err and "make features COMP=rossmann" in err
    assert "Traceback" not in err and not (sample_paths.processed / "features.json").exists()


def steps_import_none_of(steps: list[list[str]], heavy: tuple[str, ...]) -> None:
    """Run `steps` (pipelines.__main__.main's arguments) in a fresh interpreter, each returning 0, and fail if any
    module of `heavy` was imported."""
    import subprocess
    import sys

    code = "import sys; from pipelines.__main__ import main; " + "".join(f"assert main({s!r}) == 0; " for s in steps)
    code += f"heavy = [m for m in {heavy!r} if m in sys.modules]; assert not heavy, heavy"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


@pytest.mark.parametrize("comp", ["rossmann", "cifar10", "planet"])
def test_steps_that_need_no_torch_do_not_import_it(tmp_path, comp):
    """The config and download-side steps run where torch cannot even be mapped (a 1.5 GB memory limit)."""
    config = ["config", comp, "--data", str(tmp_path)]
    steps_import_none_of([config, [*config, "--run-settings"]], ("torch",))


def test_the_image_features_step_imports_no_torch(tmp_path):
    """`make features` on images decodes and resizes them without torch, torchvision or timm (about 5 s a run:
    pipelines/vision/card.py binds the features step to its own module, pipelines/vision/data.py)."""
    data = ["--data", str(tmp_path / "data")]
    steps_import_none_of(
        [["sample", "dogs-vs-cats", *data], ["features", "dogs-vs-cats", *data, "sizes=[32]"]],
        ("torch", "torchvision", "timm"),
    )
    assert (tmp_path / "data" / "dogs-vs-cats" / "processed" / "layout.json").is_file()


def test_what_the_machine_refuses_is_one_line_with_the_fix(paths):
    import errno

    from pipelines.__main__ import resource_message

    where = str(paths.processed / "train.feather")
    assert "cannot write" in resource_message(PermissionError(errno.EACCES, "Permission denied", where), paths)
    assert "disk full writing" in resource_message(OSError(errno.ENOSPC, "No space left on device", where), paths)
    assert "ulimit -f" in resource_message(OSError(errno.EFBIG, "File too large", where), paths)
    assert "out of memory" in resource_message(MemoryError("Unable to allocate 1.5 GiB"), paths)


def test_a_runs_inputs_name_every_module_its_package_imports(tmp_path, monkeypatch):
    """Editing pipelines/rossmann/features.py or pipelines/ensemble.py must retrain: finished work is reused only
    when the code its package imports (read from the import statements, lazy ones too) is unchanged, and make
    reruns the train step when any of it changes."""
    import subprocess

    import pipelines
    from pipelines import registry

    root = Path(__file__).parents[2]
    files = {str(p.relative_to(root)) for p in registry.code_files("rossmann") if p.is_relative_to(root)}
    assert {"pipelines/rossmann/features.py", "pipelines/ensemble.py", "pipelines/tabular/steps.py"} <= files
    assert {"pipelines/tabular/features.py", "pipelines/tabular/members.py", "pipelines/tabular/blend.py"} <= files
    assert {"models/learner.py", "features/procs.py", "pipelines/runs.py"} <= files
    assert "pipelines/cifar10/model.py" not in files and "tests/conftest.py" not in files
    make = subprocess.run(["make", "-pn", "help"], cwd=root, capture_output=True, text=True).stdout
    train_code = next(line for line in make.splitlines() if line.startswith("TRAIN_CODE :="))
    assert "pipelines/rossmann/features.py" in train_code and "pipelines/ensemble.py" in train_code

    package = tmp_path / "ext" / "mycomp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def train():\n    from pipelines.mycomp import helper\n")
    (package / "helper.py").write_text("X = 1\n")
    monkeypatch.setenv("KAGGLE_COMPETITIONS", str(tmp_path / "ext"))
    monkeypatch.setattr(pipelines, "__path__", list(pipelines.__path__))
    assert package / "helper.py" in registry.code_files("mycomp")
    before = registry.code_fingerprint("mycomp")
    (package / "helper.py").write_text("X = 2\n")
    registry.code_fingerprint.cache_clear()
    assert registry.code_fingerprint("mycomp") != before


def test_a_file_size_limit_or_a_small_memory_limit_gets_one_line(sample_paths):
    """The drill's limits, for real: `ulimit -f` during features (EFBIG: one line, no traceback) and a 1.5 GB
    address-space limit for the config step (which once mapped libtorch and died)."""
    import resource
    import subprocess
    import sys

    def run(step, limit, value):
        cmd = [sys.executable, "-m", "pipelines", step, "rossmann", "--data", str(sample_paths.data_root)]
        return subprocess.run(
            cmd,
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            preexec_fn=lambda: resource.setrlimit(limit, (value, value)),
        )

    r = run("features", resource.RLIMIT_FSIZE, 200_000)
    assert r.returncode == 1 and "file too large writing" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run("config", resource.RLIMIT_AS, 1_500_000_000)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


def test_the_reviews_run_settings_cases(paths, capsys):
    """A refused second configure leaves the running run's settings alone; a 'how to run' key given to a finished
    run is used but not saved (it would retrain it); a run from before settings.json reads its tracking.json; a
    later --args group overrides an earlier one (make demo's own settings, then ARGS) but one group may not
    name a key twice."""
    data = ["--data", str(paths.data_root)]
    assert main(["config", "rossmann", *data, "--run", "r", "--run-settings", "net_epochs=3"]) == 0
    settings = paths.runs / "r" / "settings.json"
    before = settings.read_text()
    with run_lock(paths.runs / "r", "train"):
        assert main(["config", "rossmann", *data, "--run", "r", "--run-settings", "net_epochs=5"]) == 1
    assert "is in use by" in capsys.readouterr().err and settings.read_text() == before
    (paths.runs / "r" / "result.json").write_text("{}")
    assert main(["config", "rossmann", *data, "--run", "r", "--run-settings", "device=cpu"]) == 0
    assert settings.read_text() == before
    assert run_settings(rossmann, paths, "r", overrides=["device=cpu"]).device == "cpu"
    assert main(["config", "rossmann", *data, "--run", "r", "--run-settings", "--retrain", "net_epochs=4"]) == 0
    assert json.loads(settings.read_text())["net_epochs"] == 4

    legacy = paths.runs / "old"
    legacy.mkdir()
    (legacy / "result.json").write_text("{}")
    config = {**json.loads(settings.read_text()), "net_epochs": 7}
    (legacy / "tracking.json").write_text(json.dumps({"config": config}))
    assert run_settings(rossmann, paths, "old").net_epochs == 7
    with pytest.raises(ConfigError, match=r"net_epochs=2 \(the run has 7\)"):
        run_settings(rossmann, paths, "old", overrides=["net_epochs=2"])

    from pipelines.__main__ import resolve_config

    args = type("A", (), {"overrides": [], "args": ["net_epochs=20 net_lr=1e-2", "net_epochs=5"], "step": "config"})()
    args.config, args.run, args.retrain, args.run_settings = None, "demo", False, False
    assert resolve_config(rossmann, args, paths).net_epochs == 5
    args.args = ["net_epochs=5 net_epochs=6"]
    with pytest.raises(ConfigError, match="given twice"):
        resolve_config(rossmann, args, paths)


def test_a_finished_run_trained_again_says_why_and_keeps_its_result_till_the_new_one_ends(paths, capsys):
    """A Store Item Demand trial: a retrain set off by a code change was stopped midway, and the finished run was
    gone (its result.json removed at the start): `make runs` listed nothing, `make submit` said only "No such file".
    Now the training says why it trains again, the last result waits in result.previous.json, `make runs` lists
    the unfinished run with that figure and `make submit` names the command that sends the last training's file."""
    from pipelines.runs import RunDir
    from pipelines.submit import SubmissionError, submittable
    from pipelines.tracking import print_runs

    rd = RunDir(paths.runs / "r")
    rd.start({"run": {"lr": 0.01, "epochs": 4, "inputs": "features1-code1"}})
    rd.write_json("run.json", {"git": {"commit": "0123456789abcdef", "dirty": False}, "started": "2026-12-07T10:00"})
    rd.finish({"oof_rmspe": 0.1})
    csv = paths.submissions / "r.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text("Id,Sales\n1,2\n")  # the finished training's file
    rd.start({"run": {"lr": 0.02, "epochs": 4, "inputs": "features1-code2"}})
    assert capsys.readouterr().out == (
        f"{rd.path}: trains again (other settings: lr 0.01 -> 0.02; other code than its last training's: git diff "
        "01234567 shows what changed); its last result is kept in result.previous.json till this one ends\n"
    )
    assert not rd.result.exists() and json.loads(rd.previous.read_text()) == {"oof_rmspe": 0.1}
    started = json.loads((rd.path / "run.json").read_text())["started"]
    print_runs(paths.data_root, "rossmann")  # stopped here: the run is unfinished
    assert capsys.readouterr().out.splitlines() == [
        f"no finished runs under {paths.data_root} (make train writes them)",
        f"rossmann r: unfinished, a training started {started} (stopped, or running now); its last finished "
        f"training's oof_rmspe 0.1 ({rd.previous}): make all COMP=rossmann RUN=r finishes it",
    ]
    with pytest.raises(SubmissionError) as refused:
        submittable(csv, rd.result, "rossmann", "r", "rossmann-store-sales")
    assert str(refused.value) == (
        f"run 'r' is unfinished (no {rd.result}: a training stopped, or running now), so {csv} is its last "
        f"finished training's ({rd.previous}); make all COMP=rossmann RUN=r finishes the run and writes its file, "
        f"then make submit; or send this one as it is: kaggle competitions submit -c rossmann-store-sales -f {csv} "
        "-m r"
    )
    rd.start({"run": {"lr": 0.02, "epochs": 4, "inputs": "features1-code2"}})  # the same training resumed
    assert capsys.readouterr().out == "" and rd.previous.is_file()
    rd.finish({"oof_rmspe": 0.09})
    assert not rd.previous.exists()
    rd.start({"run": {"lr": 0.02, "epochs": 5, "inputs": "features2-code2"}})  # no commit on record
    assert "trains again (other settings: epochs 4 -> 5; other features (make features built them again))" in (
        capsys.readouterr().out
    )
    rd.finish({"oof_rmspe": 0.09})
    rd.start({"run": {"lr": 0.02, "epochs": 5, "layers": 2, "inputs": "features2-code3"}})  # a setting added
    assert "trains again (its last training's config.json is missing or was written by other code)" in (
        capsys.readouterr().out
    )
