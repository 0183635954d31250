"""Benchmarks on the real data in ../shared/data: `python -m pipelines.bench COMP [options]` runs the
competition's own `pipelines/<comp>/bench.py` (options: `python -m pipelines.bench COMP --help`), e.g.

    python -m pipelines.bench rossmann [--repeats 3] [--parts data,throughput,all]
    python -m pipelines.bench dogs-vs-cats|planet|dog-breed [--parts loader,precision,all]
    python -m pipelines.bench cifar10 [--parts throughput,ablations,seeds]
    python -m pipelines.bench <a tabular card> [--presets best_quality,medium_quality]   (AutoGluon beside it)

Each pipeline step runs as its own process (as `make` runs it); peak memory is that process's max RSS, read
with os.wait4. Figures are medians over repeats. Skips cleanly when the real data is absent (SHARED_DATA=folder:
the real data elsewhere than ../shared/data).
"""

from __future__ import annotations

import importlib
import os
import statistics
import subprocess
import sys
import time

from pipelines import registry
from pipelines.paths import ROOT


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
    print(
        f"{name:<34} wall {statistics.median(walls):6.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)})"
        f"   peak {statistics.median(peaks):5.2f} GB",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        raise SystemExit(f"usage: python -m pipelines.bench COMP [options]; COMP one of {', '.join(registry.names())}")
    comp, rest = argv[0], argv[1:]
    package = registry.load(comp)
    try:
        bench = importlib.import_module(f"{registry.module_name(comp)}.bench")
    except ModuleNotFoundError:
        from pipelines.tabular import Card

        if not isinstance(getattr(package, "CARD", None), Card):
            print(f"no benchmark for {comp} yet (pipelines/{comp.replace('-', '_')}/bench.py)")
            return
        from pipelines.tabular import bench  # a tabular card: its backtest beside AutoGluon's

        rest = [comp, *rest]
    bench.main(rest)


if __name__ == "__main__":
    main()
