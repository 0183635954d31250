"""The GPU measurements as one prepared run: `python -m pipelines.gpu_check OUT [--parts a,b] [--budget 540]`
(time on a lent GPU is short: every figure from one command). Each part runs the project's own make targets,
timed, into a fresh data folder; its whole output goes to OUT/<part>.log, the profiles to OUT/, and the figures
of each command to OUT/summary.txt (printed as it goes). A part that would not finish inside `--budget` seconds
is skipped.

The real data: SHARED_DATA=<folder> laid out as ../shared/data (`--parts=list` names each part's file; an
image tar past what travels to a GPU machine: a subset of it). With SHARED_DATA set, a part whose file is not
there is named before anything runs: an error for a part --parts asks for, left out of the default (every part);
without it, a part whose data is absent runs on the embedded sample (a dry run of the plumbing, as on a CPU).

Each competition's bench module declares its parts (`GPU_CHECK`: name -> GpuPart): a `chain` (download,
features, then train and predict under `make profile`: each step's wall beside its epochs and imports), a `bench`
(`make bench` with its PARTS: e.g. a network's rows/s beside the same step CUDA-graphed), or a `backtest`; they run
in their `order`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines import env, registry
from pipelines.paths import ROOT, SHARED


@dataclass(frozen=True)
class GpuPart:
    """One part of the check, declared by a competition's bench module (`GPU_CHECK`)."""

    order: int  # parts run in this order; the budget skips the later ones
    kind: str  # chain | bench | backtest
    data: str  # its real data under SHARED_DATA (a file, laid out as ../shared/data)
    seconds: int  # about how long it takes on an H200
    bench_parts: str = ""  # kind bench: `make bench PARTS=...`
    extra_beside: bool = False  # the download's extra tables sit beside the data file (EXTRA=its folder)

    def __post_init__(self):
        if self.kind not in ("chain", "bench", "backtest"):
            raise ValueError(f"GpuPart kind={self.kind!r}: expected chain, bench or backtest")


def declared() -> dict[str, tuple[str, GpuPart]]:
    """Every competition's parts, in their order: name -> (competition, part)."""
    found = {}
    for comp in registry.names():
        name = f"{registry.module_name(comp)}.bench"
        try:
            bench = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # the module is there and one of its imports is missing: said
                raise
            continue
        found |= {name: (comp, part) for name, part in getattr(bench, "GPU_CHECK", {}).items()}
    return dict(sorted(found.items(), key=lambda item: item[1][1].order))


def commands(comp: str, part: GpuPart, src: Path | None) -> list[list[str]]:
    """The make commands of a part (their DATA and SUBMISSIONS are added by the caller)."""
    if part.kind == "bench":
        return [["bench", f"COMP={comp}", f"PARTS={part.bench_parts}"]]
    get = ["download", f"COMP={comp}", *source(part, src)] if src else ["sample", f"COMP={comp}"]
    if part.kind == "backtest":
        return [get, ["backtest", f"COMP={comp}"]]
    profiled = [["profile", f"COMP={comp}", f"STEP={step}"] for step in ("train", "predict")]  # fresh runs
    return [get, ["features", f"COMP={comp}"], *profiled]


def source(part: GpuPart, src: Path | None) -> list[str]:
    if src is None:
        return []
    return [f"SRC={src}", *([f"EXTRA={src.parent}"] if part.extra_beside else [])]


def run(cmd: list[str], timeout: float) -> tuple[str, str]:
    """(output, status) of one command; at the timeout its whole process group is killed (make and the step it
    started, which would otherwise keep the GPU busy)."""
    with tempfile.TemporaryFile("w+", errors="replace") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            status = "ok" if proc.wait(timeout=max(timeout, 1)) == 0 else f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            status = "cut at the budget"
        finally:  # also when this script is stopped (Ctrl-C, SIGTERM): no step left running on the GPU
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
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
        if "rows/s" in line
        or "full network" in line
        or "device_type=" in line
        or line.startswith(("epoch ", "refit epoch ", "validation", "backtest"))
    ]
    return keep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the logs, profiles and summary.txt")
    parser.add_argument(
        "--parts", help="comma list of the parts (default: every one, in order); --parts=list names them"
    )
    parser.add_argument(
        "--budget", type=float, default=540, help="seconds in all; parts that would not fit are skipped"
    )
    args = parser.parse_args(argv)
    known = declared()
    if args.parts == "list":
        for name, (comp, part) in known.items():
            print(f"{name:<22} {comp:<14} {part.kind:<9} {part.data} (about {part.seconds} s)")
        return 0
    parts = [p for p in (args.parts or ",".join(known)).split(",") if p]
    unknown = [p for p in parts if p not in known]
    if unknown:
        raise SystemExit(f"--parts: {unknown} unknown; choose from {', '.join(known)}")
    absent = [p for p in parts if not (SHARED / known[p][1].data).is_file()]
    if absent and os.environ.get("SHARED_DATA"):  # before any time is spent
        where = ", ".join(sorted({known[p][1].data for p in absent}))
        if args.parts:
            raise SystemExit(f"SHARED_DATA={SHARED}: no {where} there (../shared/data's layout; --parts=list)")
        print(f"SHARED_DATA={SHARED} holds no {where}: {', '.join(absent)} left out")
        parts = [p for p in parts if p not in absent]
    args.out.mkdir(parents=True, exist_ok=True)
    # a SIGTERM unwinds through run(), which ends its command's process group
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        summary = args.out / "summary.txt"
        t0 = time.perf_counter()

        def say(line: str) -> None:
            print(line, flush=True)
            with summary.open("a") as f:
                f.write(line + "\n")

        missing = env.problems(env.requirements("images"))  # a GPU machine's own python: what it lacks fails a part
        say("# packages: " + ("; ".join(missing) if missing else "every one pyproject.toml asks for, in range"))
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU: a dry run)"
        say(f"# gpu_check {time.strftime('%Y-%m-%d %H:%M')}: {device}, torch {torch.__version__}, parts {parts}")
        for part in parts:
            comp, declared_part = known[part]
            left = args.budget - (time.perf_counter() - t0)
            if left < declared_part.seconds:
                say(f"{part}: skipped ({left:.0f} s left of the budget, it takes about {declared_part.seconds} s)")
                continue
            src = SHARED / declared_part.data if (SHARED / declared_part.data).is_file() else None
            with tempfile.TemporaryDirectory(prefix=f"gpu-check-{part}-") as tmp:
                common = [f"DATA={tmp}/data", f"SUBMISSIONS={tmp}/subs"]
                for cmd in commands(comp, declared_part, src):
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
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
