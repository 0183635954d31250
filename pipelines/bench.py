"""Benchmarks on the real data in ../shared/data: wall time and peak memory of each pipeline step.

    python -m pipelines.bench rossmann [--repeats 3]

Each step runs as its own process (as `make` runs it); peak memory is that process's max RSS, read
with os.wait4. Figures are medians over repeats. Skips cleanly when the real data is absent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.paths import ROOT

SHARED = ROOT.parent / "shared" / "data"


def run_measured(args: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in GB) of that process alone."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(args)}")
    return wall, usage.ru_maxrss / 1024**2  # ru_maxrss is KiB on Linux


def report(name: str, samples: list[tuple[float, float]]) -> None:
    walls, peaks = zip(*samples, strict=True)
    print(f"{name:<34} wall {statistics.median(walls):6.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)})"
          f"   peak {statistics.median(peaks):5.2f} GB", flush=True)  # fmt: skip


def bench_rossmann(repeats: int) -> None:
    src = SHARED / "rossmann"
    if not (src / "rossmann-store-sales.zip").is_file():
        print(f"skipped: real Rossmann data not found at {src}")
        return
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-rossmann-") as tmp:
        data = Path(tmp) / "data"
        downloads, feats = [], []
        for _ in range(repeats):
            shutil.rmtree(data, ignore_errors=True)
            downloads.append(run_measured([py, "-m", "pipelines", "download", "rossmann", "--data", str(data),
                                           "--src", str(src / "rossmann-store-sales.zip"), "--extra", str(src)]))  # fmt: skip
        for _ in range(repeats):
            for sub in ("interim", "processed"):
                shutil.rmtree(data / "rossmann" / sub, ignore_errors=True)
            feats.append(run_measured([py, "-m", "pipelines", "features", "rossmann", "--data", str(data)]))
        print(f"rossmann, real data (1,017,209 train + 41,088 test rows), median of {repeats}:")
        report("download (local zip + extras)", downloads)
        report("features (raw -> processed)", feats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comp", nargs="?", default="rossmann")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    benches = {"rossmann": bench_rossmann}
    if args.comp not in benches:
        print(f"no benchmark for {args.comp} yet")
        return
    benches[args.comp](args.repeats)


if __name__ == "__main__":
    main()
