"""Run directories: every training run gets a folder holding its resolved config, git commit, metrics,
timings, plots and checkpoint, so any number in a submission can be traced back to what made it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features.io import atomic_write_text, read_json_object
from pipelines import config as configlib
from pipelines.download import read_source
from pipelines.paths import ROOT, Paths, plain_name

SETTINGS = "settings.json"
# Keys that say where or how one command runs, not what a run is: a finished run may be predicted on another
# device, or without resuming. Every other key of a finished run is fixed (see `run_settings`).
HOW_TO_RUN = ("device", "resume", "workers", "cam_image")


def run_settings(comp, paths: Paths, run: str, file=None, overrides=(), retrain: bool = False, check: bool = True):
    """The config of run `run`: its own settings (runs/RUN/settings.json, saved when it was configured) unless
    `retrain`, else the defaults; then the TOML `file`, then the `key=value` overrides. So `make predict RUN=x`
    predicts with x's settings without repeating them. With `check`, arguments that contradict a finished run
    are refused (ConfigError naming each key, the run's value, the one asked, and the ways on)."""
    folder = paths.runs / plain_name(run)
    saved_file = folder / SETTINGS
    if not saved_file.is_file() and (folder / "tracking.json").is_file():
        saved_file = folder / "tracking.json"  # a run finished before settings.json existed: its recorded config
    base = comp.Config()
    if saved_file.is_file() and not retrain:
        try:
            saved = json.loads(saved_file.read_text())
            saved = saved["config"] if saved_file.name == "tracking.json" else saved
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
            raise configlib.ConfigError(
                f"{saved_file}: unreadable ({e}); delete it, or add RETRAIN=1 to configure run {run!r} afresh"
            ) from None
        try:
            base = configlib.check(configlib.update(base, saved, str(saved_file)), str(saved_file))
        except configlib.ConfigError as e:
            raise configlib.ConfigError(
                f"{e}\n(run {run!r} was configured by other code; RETRAIN=1 configures it afresh)"
            ) from None
    cfg = configlib.resolve(base, file, overrides)
    if check and not retrain and saved_file.is_file() and (folder / "result.json").is_file():
        was, now = configlib.to_dict(base), configlib.to_dict(cfg)
        differ = [k for k in now if now[k] != was[k] and k not in HOW_TO_RUN]
        if differ:
            asked = ", ".join(f"{k}={json.dumps(now[k])} (the run has {json.dumps(was[k])})" for k in differ)
            raise configlib.ConfigError(
                f"run {run!r} is finished ({folder / 'result.json'}) and these arguments contradict its settings: "
                f"{asked}. A finished run keeps its settings: leave them out to use the run's, name a new run "
                f"to train these beside it (RUN={run}-2), or add RETRAIN=1 to retrain {run!r} with them."
            )
    return cfg


def write_run_settings(paths: Paths, run: str, cfg, retrain: bool = False) -> bool:
    """Save `cfg` as run `run`'s settings (runs/RUN/settings.json), only when they changed (make tracks the
    file); True when written. A finished run's settings stay as they are unless `retrain`: what may differ
    for it (HOW_TO_RUN: a device to predict on) applies to one command, and must not make it retrain."""
    folder = paths.runs / plain_name(run)
    target = folder / SETTINGS
    if not retrain and (folder / "result.json").is_file() and target.is_file():
        return False
    text = json.dumps(configlib.to_dict(cfg), indent=1, sort_keys=True)
    if target.is_file() and target.read_text() == text:
        return False
    atomic_write_text(target, text)
    return True


def git_commit() -> dict:
    """The repo's HEAD commit and whether the work tree had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}


class RunLocked(RuntimeError):
    """Another process is working in this run folder."""


@contextlib.contextmanager
def run_lock(folder: Path, step: str, name: str = ".lock", hint: str | None = None) -> Iterator[None]:
    """Hold `folder`/.lock (an exclusive, non-blocking flock) while `step` runs; a second process that tries
    raises RunLocked naming the holder. The kernel drops the lock when its process dies, kill -9 included,
    so a lock never outlives its holder and needs no cleaning."""
    try:
        import fcntl
    except ImportError:  # not POSIX (Windows): no locking
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            hint = hint or "Wait for it to finish (or stop it), or use another run name (RUN=...)"
            raise RunLocked(f"{folder} is in use by {holder}. {hint}") from None
        f.seek(0)
        f.truncate()
        command = shlex.join(["python", *sys.argv]) if sys.argv and sys.argv[0] else step
        f.write(f"pid {os.getpid()} on {socket.gethostname()} ({step}, since {time.strftime('%F %T')}: {command})")
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)
            fcntl.flock(f, fcntl.LOCK_UN)


def write_features_stamp(paths: Paths, cfg, **built) -> dict:
    """processed/features.json, written last by every features step: the feature settings, the raw data's
    SOURCE.json stamp (which download) and what was `built` (rows, columns, ...)."""
    stamp = {"config": configlib.result_settings(cfg, ("features",)), "raw": read_source(paths), **built}
    atomic_write_text(paths.processed / "features.json", json.dumps(stamp, indent=1, default=str))
    return stamp


def features_identity(paths: Paths, cfg=None) -> str:
    """Identity of the processed features a run trains on: a hash of processed/features.json without its
    timing. A finished or interrupted run is reused only when this and its config both match, so new data
    (the real download replacing the sample) retrains instead of reusing the sample's model.

    Refuses (ValueError, with the fix) features built from other raw data than raw/ holds now, or, given
    `cfg`, with other feature settings than `cfg`'s."""
    stamp = paths.processed / "features.json"
    if not stamp.is_file():
        raise FileNotFoundError(f"{stamp} not found: run `make features COMP={paths.comp}` first")
    built = {k: v for k, v in json.loads(stamp.read_text()).items() if k != "seconds"}
    raw = read_source(paths)
    if raw is not None and built.get("raw") != raw:
        raise ValueError(
            f"{paths.processed} was built from other raw data than {paths.raw} holds now "
            f"(SOURCE.json changed); rebuild it: make features COMP={paths.comp}"
        )
    if cfg is not None:
        stale = [
            k for k, v in configlib.result_settings(cfg, ("features",)).items() if built.get("config", {}).get(k) != v
        ]
        if stale:
            raise ValueError(
                f"{paths.processed} was built with other feature settings ({', '.join(stale)}); rebuild "
                f"it for this run: make features COMP={paths.comp} RUN=<this run> (or make all, which does)"
            )
    return hashlib.sha256(json.dumps(built, sort_keys=True, default=str).encode()).hexdigest()[:16]


def inputs_identity(paths: Paths) -> str:
    """What a run's result depends on besides its settings: the processed features (`features_identity`) and
    the code its competition's package imports (`registry.code_fingerprint`). Finished work is reused only when
    this matches, so editing pipelines/rossmann/features.py or pipelines/ensemble.py retrains what they shape."""
    from pipelines.registry import code_fingerprint

    return f"{features_identity(paths)}-{code_fingerprint(paths.comp)}"


def run_identity(cfg, paths: Paths, members: tuple[str, ...] | None = None, **extra) -> dict:
    """What finished or interrupted work must have been made with to be reused, for every trainer: the settings
    that shape it (the shared ones and those of `members`: `config.result_settings`), the features and the code
    it read (`inputs_identity`) and `extra` (the seed, refit, the number of data-parallel processes...)."""
    return {**configlib.result_settings(cfg, members=members), "inputs": inputs_identity(paths), **extra}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) RNGs."""
    import torch  # here, not at the top: the data steps import this module and never need torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds the legacy global RNG that third-party code may use
    torch.manual_seed(seed)


def environment() -> dict:
    """Versions and hardware a result was produced with."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": platform.machine(),
    }


def trains_again(before: dict, now: dict, provenance: dict) -> str:
    """Why a finished run's folder trains again, from its config.json `before` and the one of the training that
    starts (`now`: each {"run": identity, ...}, `run_identity`) and its run.json (`provenance`: the git commit)."""
    was, will = before.get("run"), now.get("run", {})
    if not isinstance(was, dict) or was.keys() != will.keys():  # settings added or removed since: not compared
        return "its last training's config.json is missing or was written by other code"
    settings = [k for k in sorted(was) if k != "inputs" and was[k] != will[k]]
    changed = ", ".join(f"{k} {json.dumps(was[k])} -> {json.dumps(will[k])}" for k in settings[:6])
    more = f" and {len(settings) - 6} more" if len(settings) > 6 else ""
    why = [f"other settings: {changed}{more}"] if settings else []
    old, new = (str(i.get("inputs", "")).rpartition("-") for i in (was, will))  # "<features>-<code>"
    if old[0] != new[0]:
        why.append("other features (make features built them again)")
    if old[2] != new[2]:
        git = provenance.get("git") or {}
        commit = (git.get("commit") or "")[:8]
        since = f": git diff {commit} shows what changed" if commit and not git.get("dirty") else ""
        why.append(f"other code than its last training's{since}")
    return "; ".join(why) or "asked again: the same settings, features and code"


@dataclass
class RunDir:
    """data/<comp>/runs/<name>/: config.json, run.json (commit, env, timings), metrics, plots, checkpoint.pt."""

    path: Path
    used: set[str] = field(default_factory=set, compare=False, repr=False)  # the parts this training read or made

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def result(self) -> Path:
        """Written last, when the run is complete."""
        return self.path / "result.json"

    @property
    def previous(self) -> Path:
        """The result of the run's last finished training while another trains in its place (`start`): what a
        training stopped midway leaves for `make runs` and `make submit` to name."""
        return self.path / "result.previous.json"

    def start(self, config: dict) -> None:
        """A fresh run: the resolved config and the run's provenance are written. A finished run trained again
        says why (`trains_again`) and keeps its result as `previous` until this training finishes."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.is_complete():
            why = trains_again(
                read_json_object(self.path / "config.json"), config, read_json_object(self.path / "run.json")
            )
            os.replace(self.result, self.previous)
            print(
                f"{self.path}: trains again ({why}); its last result is kept in {self.previous.name} till this one ends"
            )
        shutil.rmtree(self.path / "tb", ignore_errors=True)  # TensorBoard events of an earlier, replaced run
        self.write_json("config.json", config)
        self.write_json("run.json", {"git": git_commit(), "env": environment(), "started": time.strftime("%FT%T")})

    def finish(self, result: dict, config: dict | None = None) -> None:
        """Write result.json (the run is complete) and, given the run's `config`: tracking.json before it (config,
        git commit, environment: what `make runs` and `make report` read), and after it the TensorBoard HParams
        entry (the config with the result's numbers, so runs compare side by side) and the folder's plots."""
        if config is not None:  # first, so that a complete run always has it (make runs, make report read it)
            self.write_json(
                "tracking.json",
                {"config": config, "git": git_commit(), "env": environment(), "finished": time.strftime("%FT%T")},
            )
        self.write_json("result.json", result)
        self.previous.unlink(missing_ok=True)
        from models.callbacks import log_images, tensorboard_on

        if config is not None and tensorboard_on():
            log_hparams(self.path, config, result)
            # the training curves and the interpretation plots (confusion matrix, top losses, CAM ...)
            log_images(self.path, {p.stem: p for p in sorted(self.path.glob("*.png"))})

    def write_json(self, name: str, obj) -> None:
        atomic_write_text(self.path / name, json.dumps(obj, indent=1, default=str))

    def read_json(self, name: str):
        return json.loads((self.path / name).read_text())

    def is_complete(self) -> bool:
        return self.result.is_file()

    @property
    def parts(self) -> Path:
        """The finished pieces of a run that trains several models (each booster, each network's predictions):
        kept when an interrupted run with the same identity starts again, which then resumes after them (the
        tabular kind's: each read back where its member's identity is unchanged, `reuse_or_start`)."""
        return self.path / "parts"

    def reuse_or_start(self, identity: dict, what: str, members: dict | None = None) -> dict | None:
        """The result of a finished run made with `identity` (said to be reused), else None, the folder started
        with `identity` as its config: its `parts` kept (said) when an interrupted run with the same identity left
        them, else removed. `members` (each member's identity: the tabular kind's): the parts are also kept where a
        member's identity is its last training's, each read back where its member's is the one it was made with
        (`part`)."""
        done = self.finished(identity, what)
        if done is None:
            before = self.read_json("config.json") if (self.path / "config.json").is_file() else {}
            same = before.get("run") == identity
            unchanged = [m for m, v in (members or {}).items() if before.get("members", {}).get(m) == v]
            kept = sorted(p.name for p in self.parts.glob("*") if p.suffix != ".key" and p.name[0] != ".")
            reused = [m for m in unchanged if any(k.startswith(f"{m}-") for k in kept)]  # parts: <member>-...
            if not (same or unchanged):
                shutil.rmtree(self.parts, ignore_errors=True)
            elif kept and same:
                print(f"{what}: resuming {self.path}: {len(kept)} finished parts kept ({', '.join(kept)})")
            elif reused:
                print(
                    f"{what}: other settings than its last training's: the finished parts of {', '.join(reused)} "
                    f"(their settings, the features and the code unchanged) are read back ({self.parts})"
                )
            self.start({"run": identity} | ({"members": members} if members else {}))
        return done

    def prune_parts(self) -> None:
        """Remove the parts this training did not use (an earlier training's, of other settings)."""
        for p in self.parts.glob("*") if self.parts.is_dir() else ():
            if p.name.removesuffix(".key") not in self.used and p.name[0] != ".":
                p.unlink(missing_ok=True)

    def finished(self, identity: dict, what: str | None = None, headline: str | None = None) -> dict | None:
        """The result of a finished run made with `identity` (`run_identity`: its settings, features, code, seed),
        else None. Every trainer's reuse says so the same way, naming `what` and the result's `headline` figure
        (None: silent, e.g. on the ranks other than 0 under torchrun)."""
        config = self.path / "config.json"
        if not (self.is_complete() and config.is_file() and self.read_json("config.json").get("run") == identity):
            return None
        result = self.read_json("result.json")
        if what is not None:
            figure = f", {headline} {result.get(headline)}" if headline else ""
            print(f"{what}: already trained with this config on these features ({self.path}{figure}); reusing")
        return result


def log_hparams(folder: Path, config: dict, result: dict) -> None:
    """TensorBoard HParams of the run in `folder`: each config value (lists as text) and each number of `result`."""
    from models.callbacks import tensorboard_writer

    hparams = {k: v if isinstance(v, (int, float, str, bool)) else json.dumps(v) for k, v in config.items()}
    metrics = {f"result/{k}": v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    writer = tensorboard_writer(folder)
    try:
        writer.add_hparams(hparams, metrics, run_name=".")
    finally:
        writer.close()


def resumable(checkpoint: Path, identity: dict, epochs: int, complete: bool = False) -> int:
    """The epochs a checkpoint made by a run with `identity` has finished, when fewer than `epochs` (or, with
    `complete`, all of them: nothing left to train, what follows the training resumes); else 0."""
    if not checkpoint.is_file():
        return 0
    from features.io import DamagedFile
    from models.learner import read_checkpoint

    try:
        state = read_checkpoint(checkpoint)
    except DamagedFile as e:
        print(f"{e}: starting this run afresh (the damaged file is replaced)")
        return 0
    done = state["epoch"] if state.get("extra", {}).get("run") == identity else 0
    return done if done < epochs or (complete and done == epochs) else 0


def fit_resumable(
    learn,
    checkpoint: Path,
    identity: dict,
    epochs: int,
    fit,
    on_start=None,
    label: str = "",
    write: bool = True,
    resume: bool = True,
    extra: dict | None = None,
    complete: bool = False,
) -> int:
    """Every trainer's fit: continue from `checkpoint` when a run with the same `identity` left it after a
    finished epoch (weights, optimizer, history, RNG and callback state restored, so the result equals an
    uninterrupted run's); else `on_start()` (write the run's config, say). Then `fit(start_epoch)`,
    checkpointing after every epoch where `write` (rank 0 under torchrun). `complete`: a finished checkpoint is
    resumed too (its weights restored, no epoch to train), for a trainer with a later stage to resume. Returns the
    epoch it started from."""
    from models.callbacks import CheckpointCallback

    start = resumable(checkpoint, identity, epochs, complete) if resume else 0
    if start:
        learn.load_checkpoint(checkpoint)
        if write:  # rank 0 alone, under torchrun
            print(f"{checkpoint.parent}: {label + ' ' if label else ''}resuming after epoch {start} of {epochs}")
    else:
        if write:
            checkpoint.unlink(missing_ok=True)
        if on_start is not None:
            on_start()
    if write:
        learn.add_cb(CheckpointCallback(checkpoint, {"run": identity, **(extra or {})}))
    fit(start)
    return start
