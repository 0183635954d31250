"""Command line for every pipeline step: `python -m pipelines STEP COMP [options] [key=value ...]`.

The Makefile calls these; they work the same by hand. Steps:
  download   fetch the competition (Kaggle API, or --src local copy) into data/COMP/raw
  sample     put the embedded sample into data/COMP/raw unless real data is there
  config     write the resolved config sections (rewritten only when they change, for make)
  features   raw -> interim -> processed feature tables
  train      train the run's model(s) into data/COMP/runs/RUN
  lr-find    lr finder sweep, plot saved in the run folder
  predict    write submissions/COMP/RUN.csv (validated against sample_submission.csv)
  submit     validate again and send it with `kaggle competitions submit`
  backtest   cut a pseudo-test set off the labelled data, run features/train/predict on the rest, score it
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys

from features.io import atomic_write_text, remove_stale_temps
from pipelines import backtest, registry
from pipelines import config as configlib
from pipelines.download import DownloadError, download, make_sample
from pipelines.paths import Paths
from pipelines.runs import RunLocked, run_lock


def competition(name: str):
    """The package of competition `name` (pipelines/registry.py), or a SystemExit listing the known ones."""
    return registry.load(name)


def write_config_sections(comp, paths: Paths, cfg) -> list[str]:
    """Write one JSON per config section under data/COMP/config, touching only the ones whose content changed."""
    changed = []
    full = configlib.to_dict(cfg)
    for section, keys in configlib.sections(type(cfg)).items():
        target = paths.config / f"{section}.json"
        text = json.dumps({k: full[k] for k in keys}, indent=1, sort_keys=True)
        if not target.is_file() or target.read_text() != text:
            atomic_write_text(target, text)
            changed.append(section)
    return changed


def run_step(comp, args: argparse.Namespace, paths: Paths, cfg) -> None:
    """One step of the chain for one competition."""
    if args.step == "download":
        download(comp.SPEC, paths, src=args.src, extra=args.extra, force=args.force)
    elif args.step == "sample":
        make_sample(comp.SPEC, paths, force=args.force)
    elif args.step == "config":
        changed = write_config_sections(comp, paths, cfg)
        if changed:
            print(f"config: {', '.join(changed)} changed ({paths.config})")
    elif args.step == "features":
        comp.build_features(paths, cfg)
    elif args.step == "train":
        comp.train(paths, cfg, args.run)
    elif args.step == "lr-find":
        comp.lr_find(paths, cfg, args.run)
    elif args.step == "predict":
        comp.predict(paths, cfg, args.run)
    elif args.step == "submit":
        comp.submit(paths, cfg, args.run)
    elif args.step == "backtest":
        backtest.run(comp, paths, cfg, args.run, [w for w in (args.windows or "").split(",") if w] or None)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.splitlines()[0])
    parser.add_argument(
        "step",
        choices=["download", "sample", "config", "features", "train", "lr-find", "predict", "submit", "backtest"],
    )
    parser.add_argument("comp", help="competition: a package under pipelines/ (see pipelines/registry.py)")
    parser.add_argument("--data", help="data root (default: ./data or $DATA)")
    parser.add_argument("--src", help="download: local archive or folder instead of the Kaggle API")
    parser.add_argument("--extra", help="download: folder or archive with the external tables")
    parser.add_argument("--force", action="store_true", help="download/sample: replace what raw/ holds")
    parser.add_argument("--config", help="TOML file of config overrides")
    parser.add_argument("--windows", help="backtest: comma-separated windows (default: all the competition has)")
    parser.add_argument(
        "--run",
        default=os.environ.get("RUN", "default"),
        help="run name: data/COMP/runs/RUN, submissions/COMP/RUN.csv (default: $RUN or default)",
    )
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_intermixed_args(argv)

    comp = competition(args.comp)
    paths = Paths.for_comp(args.comp, args.data)
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
        cfg = configlib.resolve(comp.Config(), args.config, args.overrides)
        for folder in (paths.interim, paths.processed, paths.runs, paths.config, paths.submissions):
            remove_stale_temps(folder, recursive=True)  # left by a writer killed mid-write
        locked = args.step in ("train", "lr-find", "predict", "backtest") and rank0
        folder = paths.comp_dir / "backtest" if args.step == "backtest" else paths.runs / args.run
        with run_lock(folder, args.step) if locked else contextlib.nullcontext():
            run_step(comp, args, paths, cfg)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: the last finished epoch is checkpointed; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    except (DownloadError, RunLocked, configlib.ConfigError, FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 1
    return 0


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
