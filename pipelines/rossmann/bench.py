"""Rossmann benchmarks on the real data in ../shared/data/rossmann (skipped when absent):
`python -m pipelines.bench rossmann [--repeats 3] [--parts data,throughput,all] [--seeds 5]`.

data:       wall time and peak memory of download and features, median of `--repeats`.
throughput: training rows/s of the full network vs its dense layers alone (the ceiling), fp32 and bf16.
all:        `make all` with an N-seed ensemble: wall time, peak memory, single and ensemble RMSPE.
peers:      the network alone and LightGBM alone beside fastai's tabular_learner (course recipe) on the same
            features and split: RMSPE, time, rows/s (needs `make peers-env`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.bench import SHARED, report, run_measured
from pipelines.paths import ROOT


def download_command(data: Path, src: Path) -> list[str]:
    """`python -m pipelines download rossmann` from the local zip and the course's extra tables in `src`."""
    zipped = str(src / "rossmann-store-sales.zip")
    return [
        sys.executable,
        "-m",
        "pipelines",
        "download",
        "rossmann",
        "--data",
        str(data),
        "--src",
        zipped,
        "--extra",
        str(src),
    ]


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
            downloads.append(run_measured(download_command(data, src)))
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

    learn, *_ = make_learner(cfg, proc, frames, seed=0)
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
    print(
        f"  {str(learn.precision):<9} full network {f:9,.0f}   dense layers alone ({n_in}->...->1) {c:9,.0f}"
        f"   ratio {f / c:.0%}",
        flush=True,
    )


def bench_rossmann_all(data: Path, n_seeds: int) -> None:
    """`make all` on the real data with an N-seed ensemble: wall time, peak memory, single and ensemble RMSPE."""
    import json

    for sub in ("interim", "processed"):  # time the whole chain, features included
        shutil.rmtree(data / "rossmann" / sub, ignore_errors=True)
    env = {"DATA": str(data)}
    wall, peak = run_measured(
        [
            "make",
            "--no-print-directory",
            "all",
            "COMP=rossmann",
            f"DATA={data}",
            "RUN=bench",
            f"N_SEEDS={n_seeds}",
            f"SUBMISSIONS={data.parent / 'subs'}",
        ],
        env,
    )
    summary = json.loads((data / "rossmann" / "runs" / "bench" / "result.json").read_text())
    singles = [r["valid_rmspe"] for r in summary["per_seed"]]
    print(f"make all (features -> {n_seeds} seeds -> submission): wall {wall / 60:.1f} min, peak {peak:.2f} GB")
    print(
        f"  valid RMSPE (2015-06-14..07-31): seed 0 {singles[0]:.4f}; seeds {min(singles):.4f}..{max(singles):.4f}"
        f" (mean {statistics.mean(singles):.4f}); {n_seeds}-seed average {summary['valid_rmspe']:.4f}"
    )
    print(
        f"  per seed: {summary['per_seed'][0]['train_seconds']:.0f} s training, {summary['per_seed'][0]['precision']}"
    )


PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"


def bench_peers(data: Path) -> None:
    """Ours (the network alone, and the boosting member alone) beside fastai's tabular_learner with the course
    recipe, on the same processed features and split, in one run: validation RMSPE, wall time and rows/s."""
    import json

    py = sys.executable
    if not PEERS_PYTHON.is_file():
        print(f"peers skipped: no {PEERS_PYTHON} (make peers-env installs fastai 2.8.12 there)")
        return
    train = [py, "-m", "pipelines", "train", "rossmann", "--data", str(data)]
    runs = {
        "ours: network, bf16 auto (default)": ["members=[nn]", "refit=false"],
        "ours: network, fp32 (amp=off)": ["members=[nn]", "refit=false", "amp=off"],
        "ours: LightGBM alone, no embeddings": ["members=[gbdt]", "gbdt_embeddings=[]", "refit=false"],
    }
    rows = []
    for i, (name, args) in enumerate(runs.items()):
        wall, peak = run_measured([*train, *args], {"RUN": f"peer{i}"})
        result = json.loads((data / "rossmann" / "runs" / f"peer{i}" / "result.json").read_text())
        seed = (result.get("per_seed") or [{}])[0]
        seconds = seed.get("train_seconds") or result.get("gbdt", {}).get("train_seconds")
        speed = seed["rows"] * seed["epochs"] / seconds if seed else None
        rmspe = seed["valid_rmspe_raw"] if seed else result["gbdt"]["valid_rmspe_raw"]
        rows.append((name, rmspe, seconds, speed, wall, peak))
    out = subprocess.run(
        [str(PEERS_PYTHON), "-m", "pipelines.rossmann.peer_fastai", str(data), "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    fastai = json.loads(out.stdout.strip().splitlines()[-1])
    rows.append(
        (
            "fastai 2.8.12 tabular_learner, course recipe (5 epochs)",
            fastai["valid_rmspe"],
            fastai["train_seconds"],
            fastai["rows_per_s"],
            None,
            None,
        )
    )
    base = next(r[3] for r in rows if r[0].startswith("fastai"))
    print("rossmann peers on the same features and split (validation = last 48 days; RMSPE before any shift):")
    print(f"  {'':<58}{'RMSPE':>8}{'train s':>9}{'rows/s':>10}{'vs fastai':>10}")
    for name, rmspe, seconds, speed, *_ in rows:
        ratio = f"{speed / base:.2f}x" if speed else "-"
        print(f"  {name:<58}{rmspe:8.4f}{seconds:9.0f}{(f'{speed:,.0f}' if speed else '-'):>10}{ratio:>10}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench rossmann", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--parts",
        default="data,throughput,all",
        help="comma list of: data, throughput, all, peers (fastai side by side)",
    )
    parser.add_argument("--seeds", type=int, default=5, help="ensemble size for the `all` part")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if "data" in parts:
        bench_rossmann(args.repeats)
    src = SHARED / "rossmann"
    if not (src / "rossmann-store-sales.zip").is_file() or not parts & {"throughput", "all", "peers"}:
        return
    with tempfile.TemporaryDirectory(prefix="bench-rossmann-") as tmp:
        data = Path(tmp) / "data"
        py = sys.executable
        run_measured(download_command(data, src))
        if parts & {"throughput", "peers"}:
            run_measured([py, "-m", "pipelines", "features", "rossmann", "--data", str(data)])
        if "throughput" in parts:
            bench_rossmann_throughput(data, args.repeats)
        if "peers" in parts:
            bench_peers(data)
        if "all" in parts:
            bench_rossmann_all(data, args.seeds)


if __name__ == "__main__":
    main()
