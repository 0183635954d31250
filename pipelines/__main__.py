"""Command line for every pipeline step: `python -m pipelines STEP COMP [options] [key=value ...]`.

The Makefile calls these; they work the same by hand. Steps:
  new        write the card of a new competition (pipelines/COMP/__init__.py): --kind tabular|image --metric NAME
  download   fetch the competition (Kaggle API, or --src local copy) into data/COMP/raw
  sample     put the embedded sample into data/COMP/raw unless real data is there
  config     write the feature settings, or (--run-settings) the run's settings (each only when it changes, for make)
  features   raw -> processed feature tables
  train      train the run's model(s) into data/COMP/runs/RUN
  lr-find    lr finder sweep, plot saved in the run folder
  predict    write submissions/COMP/RUN.csv (validated against sample_submission.csv)
  submit     validate again and send it with `kaggle competitions submit`
  backtest   cut a pseudo-test set off the labelled data, run features/train/predict on the rest, score it
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import shlex
import sys

from features.io import DamagedFile, atomic_write_text, remove_stale_temps
from pipelines import backtest, registry
from pipelines import config as configlib
from pipelines import env as envlib
from pipelines.download import DownloadError, download, make_sample
from pipelines.paths import Paths, plain_name
from pipelines.runs import RunLocked, run_lock, run_settings, write_run_settings


def competition(name: str):
    """The package of competition `name` (pipelines/registry.py), or a SystemExit listing the known ones."""
    return registry.load(name)


def write_features_config(paths: Paths, cfg) -> bool:
    """config/features.json: the feature settings, rewritten only when they change (make tracks the file), and
    touched when processed/ was built with other ones (a build refused or stopped midway), so that the next
    `make features` rebuilds it. True when written."""
    target = paths.config / "features.json"
    full = configlib.to_dict(cfg)
    text = json.dumps({k: full[k] for k in configlib.sections(type(cfg))["features"]}, indent=1, sort_keys=True)
    if target.is_file() and target.read_text() == text:
        stamp = paths.processed / "features.json"
        try:
            built = json.loads(stamp.read_text()).get("config") if stamp.is_file() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            built = None
        if built == configlib.result_settings(cfg, ("features",)) or not stamp.is_file():
            return False
    atomic_write_text(target, text)
    return True


def build_features(comp, paths: Paths, cfg) -> None:
    """The competition's features step, with processed/features.json (the stamp written last) removed while
    it runs, so a build stopped midway never looks complete; put back when the build failed before writing."""
    stamp = paths.processed / "features.json"
    before = {p: p.stat().st_mtime_ns for p in paths.processed.glob("*")} if paths.processed.is_dir() else {}
    text = stamp.read_bytes() if stamp.is_file() else None
    stamp.unlink(missing_ok=True)
    try:
        comp.build_features(paths, cfg)
    except BaseException:
        now = {p: p.stat().st_mtime_ns for p in paths.processed.glob("*") if p != stamp}
        unchanged = all(before.get(p) == t for p, t in now.items())
        if text is not None and unchanged and not stamp.exists():
            atomic_write_text(stamp, text.decode())
        raise


WAIT = "Wait for it to finish (or stop it)."


def raw_lock(paths: Paths, step: str):
    """data/COMP/.raw.lock while a step installs or reads raw/ (download, sample, features): one at a time."""
    return run_lock(paths.comp_dir, step, name=".raw.lock", hint=WAIT)


RUN_STEPS = ("train", "lr-find", "predict", "submit")  # the steps that work in a run folder: its settings apply


def run_step(comp, args: argparse.Namespace, paths: Paths, cfg) -> None:
    """One step of the chain for one competition."""
    if args.step == "download":
        with raw_lock(paths, "download"):
            download(comp.SPEC, paths, src=args.src, extra=args.extra, force=args.force)
    elif args.step == "sample":
        with raw_lock(paths, "sample"):
            make_sample(comp.SPEC, paths, force=args.force)
    elif args.step == "config":
        if args.run_settings:
            if write_run_settings(paths, args.run, cfg, retrain=args.retrain):
                print(f"config: run {args.run!r} settings written ({paths.runs / args.run / 'settings.json'})")
        else:
            existed = (paths.config / "features.json").is_file()
            if write_features_config(paths, cfg):
                print(
                    f"config: feature settings {'changed' if existed else 'written'} ({paths.config / 'features.json'})"
                )
    elif args.step == "features":
        with run_lock(paths.processed, "features", hint=WAIT), raw_lock(paths, "features"):
            build_features(comp, paths, cfg)  # two builds at once would mix their files
    elif args.step == "train":
        if os.environ.get("RANK", "0") == "0":
            write_run_settings(paths, args.run, cfg, retrain=args.retrain)
        comp.train(paths, cfg, args.run)
    elif args.step == "lr-find":
        comp.lr_find(paths, cfg, args.run)
    elif args.step == "predict":
        comp.predict(paths, cfg, args.run)
    elif args.step == "submit":
        comp.submit(paths, cfg, args.run)
    elif args.step == "backtest":
        backtest.run(comp, paths, cfg, args.run, [w for w in (args.windows or "").split(",") if w] or None)


def resolve_config(comp, args: argparse.Namespace, paths: Paths):
    """The step's config. The steps of a run (and its config, features and backtest) start from the run's own
    settings (pipelines/runs.py: run_settings); download and sample from the defaults. A backtest may try other
    settings under a finished run's name: `make runs` then marks its figures stale (`backtest.stale`)."""
    # each group (the positional words, then each --args) may name a key once; a later group overrides an earlier
    # one (make's PRE_ARGS, then the user's ARGS)
    merged: dict[str, str] = {}
    for group in (args.overrides, *(shlex.split(text) for text in args.args)):
        merged.update(configlib.parse_overrides(group))
    overrides = [f"{k}={v}" for k, v in merged.items()]
    if args.step in ("download", "sample"):
        return configlib.resolve(comp.Config(), args.config, overrides)
    check = args.step in RUN_STEPS or (args.step == "config" and args.run_settings)
    return run_settings(comp, paths, args.run, args.config, overrides, retrain=args.retrain, check=check)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.splitlines()[0])
    parser.add_argument(
        "step",
        choices=[
            "new",
            "download",
            "sample",
            "config",
            "features",
            "train",
            "lr-find",
            "predict",
            "submit",
            "backtest",
        ],
    )
    parser.add_argument("comp", help="competition: a package under pipelines/ (see pipelines/registry.py)")
    parser.add_argument("--data", help="data root (default: ./data or $DATA)")
    parser.add_argument("--src", help="download: local archive or folder instead of the Kaggle API")
    parser.add_argument("--extra", help="download: folder or archive with the external tables")
    parser.add_argument("--force", action="store_true", help="download/sample: replace what raw/ holds")
    parser.add_argument("--config", help="TOML file of config overrides")
    parser.add_argument(
        "--windows", help="backtest: comma-separated windows (default: the competition's default ones, cut0,cut1)"
    )
    parser.add_argument(
        "--run",
        default=os.environ.get("RUN", "default"),
        help="run name: data/COMP/runs/RUN, submissions/COMP/RUN.csv (default: $RUN or default)",
    )
    parser.add_argument(
        "--retrain", action="store_true", help="configure the run afresh (defaults + these arguments), replacing it"
    )
    parser.add_argument("--run-settings", action="store_true", help="config: write the run's settings.json")
    parser.add_argument("--keys", action="store_true", help="config: list every key (type, default, range, step)")
    parser.add_argument(
        "--args", action="append", default=[], help="key=value overrides as one string (split like a shell would)"
    )
    parser.add_argument("--kind", default="tabular", help="new: the kind of competition (tabular or image)")
    parser.add_argument("--metric", help="new: the competition's metric (models/metrics.py)")
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_intermixed_args(argv)
    if args.step == "new":
        from pipelines.new import new

        try:
            new(plain_name(args.comp, "COMP"), args.kind, args.metric)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0

    if args.step in ("features", "train", "lr-find", "predict", "backtest"):  # the steps that compute
        envlib.cap_threads()
    comp = competition(args.comp)
    if args.step == "config" and args.keys:
        print(configlib.key_table(comp.Config))
        return 0
    try:
        paths = Paths.for_comp(args.comp, args.data)
        plain_name(args.run, "RUN")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not (
        args.step == "train" and getattr(comp, "DISTRIBUTED", False)
    ):
        print(
            f"error: data-parallel runs (torchrun) are supported for `train` of: "
            f"{', '.join(n for n in registry.names() if getattr(competition(n), 'DISTRIBUTED', False))}",
            file=sys.stderr,
        )
        return 2
    rank0 = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 alone holds the run's lock
    try:
        cfg = resolve_config(comp, args, paths)
        for folder in (paths.interim, paths.processed, paths.runs, paths.config, paths.submissions):
            remove_stale_temps(folder, recursive=True)  # left by a writer killed mid-write
        locked = (args.step in ("train", "lr-find", "predict", "backtest") or args.run_settings) and rank0
        folder = paths.comp_dir / "backtest" if args.step == "backtest" else paths.runs / args.run
        with run_lock(folder, args.step) if locked else contextlib.nullcontext():
            run_step(comp, args, paths, cfg)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: what finished is kept (the last epoch's checkpoint, a tabular run's finished models); "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except DamagedFile as e:
        hint = "it is rebuilt by the next run of the step that wrote it"
        if e.path.parent == paths.processed:  # so that `make features` rebuilds instead of calling it up to date
            (paths.processed / "features.json").unlink(missing_ok=True)
            hint = f"rebuild it: make features COMP={args.comp}"
        elif e.path.is_relative_to(paths.runs):
            hint = f"delete it and retrain the run (for a finished run also its result.json): make train RUN={args.run}"
        print(f"error: {e}; {hint}", file=sys.stderr)
        return 1
    except (DownloadError, RunLocked, configlib.ConfigError, FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 1
    except (PermissionError, MemoryError, OSError) as e:
        print(f"error: {resource_message(e, paths)}", file=sys.stderr)
        return 1
    return 0


def resource_message(e: BaseException, paths: Paths) -> str:
    """One line for what the machine refused: a folder not writable, a full disk, a file-size or memory limit."""
    import shutil

    where = getattr(e, "filename", None) or paths.comp_dir
    if isinstance(e, MemoryError) or "ArrayMemoryError" in type(e).__name__:
        return f"out of memory ({e}); free memory, raise the limit (ulimit -v), or use a smaller bs / sample"
    if isinstance(e, PermissionError):
        return f"cannot write {where}: permission denied; make it writable or point DATA= elsewhere"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        free = shutil.disk_usage(paths.data_root if paths.data_root.exists() else ".").free
        return f"disk full writing {where} ({free / 2**20:.0f} MiB free); free some space or point DATA= elsewhere"
    if e.errno == errno.EFBIG:
        return f"file too large writing {where} (a file-size limit: ulimit -f); raise it or point DATA= elsewhere"
    if e.errno == errno.ENOMEM:
        return f"out of memory ({e.strerror}) at {where}; free memory or raise the limit"
    raise e


def exit_now(code: int) -> None:
    """Leave a data-parallel (torchrun) process without interpreter finalization: there, threads that torch's
    gloo backend leaves behind can abort the process ("terminate called without an active exception", 2 of 15
    runs of `make train NPROC=2` on a loaded 2-core machine) after all the work is done and written. Files are
    closed and written atomically; only the streams need flushing."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        exit_now(code)
    sys.exit(code)
