"""Benchmarks on the real data in ../shared/data: wall time and peak memory of each pipeline step.

    python -m pipelines.bench rossmann [--repeats 3]
    python -m pipelines.bench dogs-vs-cats|planet [--parts loader,precision,all]   (pipelines/vision/bench.py)
    python -m pipelines.bench cifar10 [--parts throughput,ablations,seeds]         (pipelines/cifar10/bench.py)

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


def rows_per_s(step, bs: int, n_batches: int = 200, warmup: int = 20) -> float:
    """Throughput of `step(i)` (one training step on batch i) in rows per second."""
    for i in range(warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(n_batches):
        step(warmup + i)
    return bs * n_batches / (time.perf_counter() - t0)


def bench_rossmann_throughput(data: Path, repeats: int) -> None:
    """Training rows/s of the full network vs its dense layers alone (the ceiling), fp32 and bf16, same run."""
    import torch

    from pipelines.paths import Paths
    from pipelines.rossmann import RossmannConfig
    from pipelines.rossmann.model import load_processed

    paths = Paths.for_comp("rossmann", data)
    proc, frames = load_processed(paths, RossmannConfig())
    print(f"rossmann training throughput (rows/s, batch 512, {torch.get_num_threads()} threads), median of {repeats}:")
    for amp in ("off", "bf16"):
        _throughput(RossmannConfig(amp=amp), proc, frames, repeats)


def _throughput(cfg, proc, frames, repeats: int) -> None:
    import torch

    from pipelines.rossmann.model import make_learner

    learn = make_learner(cfg, proc, frames, seed=0)
    learn.create_opt()
    learn.peak_lrs, learn.schedule, learn.momentum, learn.n_iter = [cfg.lr], lambda p: 1.0, None, 10**6
    batches = list(iter(learn.train_dl))[:240]
    learn.model.train()

    def full_step(i):
        learn.batch_index = i
        learn._step(batches[i])

    dense = learn.model.dense_layers()
    n_in = dense[0].in_features
    x = torch.randn(512 * 240, n_in)
    y = torch.randn(512 * 240)
    opt = torch.optim.AdamW(dense.parameters(), lr=1e-4, fused=True)  # as the Learner uses

    def dense_step(i):
        with learn.precision.autocast():
            out = dense(x[i * 512 : (i + 1) * 512]).squeeze(-1)
        loss = torch.nn.functional.mse_loss(out.float(), y[i * 512 : (i + 1) * 512])
        opt.zero_grad()
        loss.backward()
        opt.step()

    full, ceiling = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        full.append(rows_per_s(full_step, 512))
        ceiling.append(rows_per_s(dense_step, 512))
    f, c = statistics.median(full), statistics.median(ceiling)
    print(f"  {str(learn.precision):<9} full network {f:9,.0f}   dense layers alone ({n_in}->...->1) {c:9,.0f}"
          f"   ratio {f / c:.0%}", flush=True)  # fmt: skip


def bench_rossmann_all(data: Path, n_seeds: int) -> None:
    """`make all` on the real data with an N-seed ensemble: wall time, peak memory, single and ensemble RMSPE."""
    import json

    for sub in ("interim", "processed"):  # time the whole chain, features included
        shutil.rmtree(data / "rossmann" / sub, ignore_errors=True)
    env = {"DATA": str(data)}
    wall, peak = run_measured(["make", "--no-print-directory", "all", "COMP=rossmann", f"DATA={data}", "RUN=bench",
                               f"N_SEEDS={n_seeds}", f"SUBMISSIONS={data.parent / 'subs'}"], env)  # fmt: skip
    summary = json.loads((data / "rossmann" / "runs" / "bench" / "result.json").read_text())
    singles = [r["valid_rmspe"] for r in summary["per_seed"]]
    print(f"make all (features -> {n_seeds} seeds -> submission): wall {wall / 60:.1f} min, peak {peak:.2f} GB")
    print(f"  valid RMSPE (2015-06-14..07-31): seed 0 {singles[0]:.4f}; seeds {min(singles):.4f}..{max(singles):.4f}"
          f" (mean {statistics.mean(singles):.4f}); {n_seeds}-seed average {summary['valid_rmspe']:.4f}")  # fmt: skip
    print(
        f"  per seed: {summary['per_seed'][0]['train_seconds']:.0f} s training, {summary['per_seed'][0]['precision']}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comp", nargs="?", default="rossmann")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="data,throughput,all", help="comma list of: data, throughput, all")
    parser.add_argument("--seeds", type=int, default=5, help="ensemble size for the `all` part")
    args = parser.parse_args(argv)
    if args.comp in ("dogs-vs-cats", "planet", "dog-breed"):
        from pipelines.vision import bench as vision_bench

        vision_bench.main(["--comps", args.comp] + ([] if args.parts == parser.get_default("parts") else
                                                    ["--parts", args.parts]))  # fmt: skip
        return
    if args.comp == "cifar10":
        from pipelines.cifar10 import bench as cifar10_bench

        cifar10_bench.main([] if args.parts == parser.get_default("parts") else ["--parts", args.parts])
        return
    if args.comp != "rossmann":
        print(f"no benchmark for {args.comp} yet")
        return
    parts = set(args.parts.split(","))
    if "data" in parts:
        bench_rossmann(args.repeats)
    src = SHARED / "rossmann"
    if not (src / "rossmann-store-sales.zip").is_file() or not parts & {"throughput", "all"}:
        return
    with tempfile.TemporaryDirectory(prefix="bench-rossmann-") as tmp:
        data = Path(tmp) / "data"
        py = sys.executable
        run_measured([py, "-m", "pipelines", "download", "rossmann", "--data", str(data),
                      "--src", str(src / "rossmann-store-sales.zip"), "--extra", str(src)])  # fmt: skip
        if "throughput" in parts:
            run_measured([py, "-m", "pipelines", "features", "rossmann", "--data", str(data)])
            bench_rossmann_throughput(data, args.repeats)
        if "all" in parts:
            bench_rossmann_all(data, args.seeds)


if __name__ == "__main__":
    main()
