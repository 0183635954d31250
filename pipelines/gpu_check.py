"""The GPU measurements as one prepared run: `python -m pipelines.gpu_check OUT [--parts a,b] [--budget 540]`
(time on a lent GPU is short: every figure from one command). Each part runs the project's own make targets,
timed, into a fresh data folder; its whole output goes to OUT/<part>.log, the profiles to OUT/, and the figures
of each command to OUT/summary.txt (printed as it goes). A part that would not finish inside `--budget` seconds
is skipped.

The real data: SHARED_DATA=<folder> laid out as ../shared/data, i.e. `rossmann/rossmann-store-sales.zip` with the
course's extra tables beside it, `images/cifar10.tar.gz`, `images/planet-sample.tar`, `images/dogs-vs-cats.tar`
(a subset: the whole one is past what travels to a GPU machine). With SHARED_DATA set, a part whose file is not
there is an error naming the path; without it, a part whose data is absent runs on the embedded sample (a dry
run of the plumbing, as on a CPU).

  rossmann-throughput  `make bench COMP=rossmann PARTS=throughput,gbdt`: the network's rows/s, eager and compiled,
                       beside the same step captured in one CUDA graph (its ceiling) and its dense layers alone;
                       LightGBM's CPU learner beside the wheel's GPU learners
  cifar10              download, features, then train and predict under `make profile` (step wall vs epochs)
  rossmann             download, features, then train under `make profile` (the network, LightGBM, the refit)
                       and predict
  dogs-vs-cats, planet download, features, train under `make profile`, predict
  rossmann-backtest    `make backtest COMP=rossmann`
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.paths import ROOT, SHARED

PARTS = {  # part -> (competition, its real data under SHARED_DATA, the seconds it takes on an H200, roughly)
    "rossmann-throughput": ("rossmann", "rossmann/rossmann-store-sales.zip", 150),
    "cifar10": ("cifar10", "images/cifar10.tar.gz", 120),
    "rossmann": ("rossmann", "rossmann/rossmann-store-sales.zip", 240),
    "dogs-vs-cats": ("dogs-vs-cats", "images/dogs-vs-cats.tar", 120),
    "planet": ("planet", "images/planet-sample.tar", 150),
    "rossmann-backtest": ("rossmann", "rossmann/rossmann-store-sales.zip", 360),
}
DEFAULT = "rossmann-throughput,cifar10,rossmann"


def commands(part: str, comp: str, src: Path | None) -> list[list[str]]:
    """The make commands of a part (their DATA and SUBMISSIONS are added by the caller)."""
    if part == "rossmann-throughput":
        return [["bench", "COMP=rossmann", "PARTS=throughput,gbdt"]]
    get = ["download", f"COMP={comp}", *source(comp, src)] if src else ["sample", f"COMP={comp}"]
    if part == "rossmann-backtest":
        return [get, ["backtest", "COMP=rossmann"]]
    profiled = [["profile", f"COMP={comp}", f"STEP={step}"] for step in ("train", "predict")]  # fresh runs
    return [get, ["features", f"COMP={comp}"], *profiled]


def source(comp: str, src: Path | None) -> list[str]:
    if src is None:
        return []
    extra = [f"EXTRA={src.parent}"] if comp == "rossmann" else []  # the course's extra tables beside the zip
    return [f"SRC={src}", *extra]


def run(cmd: list[str], timeout: float) -> tuple[str, str]:
    """(output, status) of one command; at the timeout its whole process group is killed (make and the step it
    started, which would otherwise keep the GPU busy)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            status = "ok" if proc.wait(timeout=max(timeout, 1)) == 0 else f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            status = "cut at the budget"
        out.seek(0)
        return out.read(), status


def figures(text: str) -> list[str]:
    """The lines of a command's output worth the summary: a profile's table, a benchmark's figures, the epochs."""
    lines, keep = text.splitlines(), []
    if "profiled:" in text:
        start = next(i for i, line in enumerate(lines) if line.endswith("profiled:"))
        keep += lines[start + 1 : start + 14]
    keep += [
        line
        for line in lines
        if "rows/s" in line or "full network" in line or line.startswith(("epoch ", "validation", "backtest"))
    ]
    return keep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the logs, profiles and summary.txt")
    parser.add_argument("--parts", default=DEFAULT, help=f"comma list of: {', '.join(PARTS)} (default {DEFAULT})")
    parser.add_argument(
        "--budget", type=float, default=540, help="seconds in all; parts that would not fit are skipped"
    )
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise SystemExit(f"--parts: {unknown} unknown; choose from {', '.join(PARTS)}")
    missing = [PARTS[p][1] for p in parts if not (SHARED / PARTS[p][1]).is_file()]
    if missing and os.environ.get("SHARED_DATA"):  # before any time is spent
        raise SystemExit(f"SHARED_DATA={SHARED}: no {', '.join(sorted(set(missing)))} there (../shared/data's layout)")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = args.out / "summary.txt"
    t0 = time.perf_counter()

    def say(line: str) -> None:
        print(line, flush=True)
        with summary.open("a") as f:
            f.write(line + "\n")

    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU: a dry run)"
    say(f"# gpu_check {time.strftime('%Y-%m-%d %H:%M')}: {device}, torch {torch.__version__}, parts {parts}")
    for part in parts:
        comp, rel, expected = PARTS[part]
        left = args.budget - (time.perf_counter() - t0)
        if left < expected:
            say(f"{part}: skipped ({left:.0f} s left of the budget, it takes about {expected} s)")
            continue
        src = SHARED / rel if (SHARED / rel).is_file() else None
        with tempfile.TemporaryDirectory(prefix=f"gpu-check-{part}-") as tmp:
            common = [f"DATA={tmp}/data", f"SUBMISSIONS={tmp}/subs"]
            for cmd in commands(part, comp, src):
                left = args.budget - (time.perf_counter() - t0)
                start = time.perf_counter()
                text, status = run(["make", "--no-print-directory", *cmd, *common], left)
                with (args.out / f"{part}.log").open("a") as log:
                    log.write(f"$ make {' '.join(cmd)}\n{text}\n")
                data = "real data" if src else "sample"
                say(f"{part}: make {' '.join(cmd)} ({data}): {time.perf_counter() - start:.1f} s, {status}")
                for line in figures(text):
                    say(f"    {line}")
                for prof in Path(tmp).glob("data/*/runs/*/profile-*.prof"):
                    shutil.copy(prof, args.out / f"{part}-{prof.name}")
                if status != "ok":
                    break
    say(f"# done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
