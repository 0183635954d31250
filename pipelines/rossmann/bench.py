"""Rossmann benchmarks on the real data in ../shared/data/rossmann (skipped when absent):
`python -m pipelines.bench rossmann [--repeats 3] [--parts data,throughput,all]`.

data:       wall time and peak memory of download and features, median of `--repeats`.
throughput: training rows/s of the full network's step, eager and torch.compile'd, vs its dense layers alone, fp32
            and bf16; on a GPU also the same step captured in one CUDA graph (the ceiling on a GPU).
gbdt:       LightGBM's CPU learner beside the wheel's GPU learners (OpenCL `gpu`, `cuda`), 100 rounds each.
all:        `make all`: wall time, peak memory, the RMSPE on the 48-day holdout of the blend and each member.
peers:      the network alone and LightGBM alone beside fastai's tabular_learner (course recipe) on the same
            features and holdout: RMSPE, time, rows/s (needs `make peers-env`).
autogluon:  the backtest beside AutoGluon-Tabular (pipelines/tabular/bench.py; needs `make autogluon-env`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pipelines.bench import report, run_measured
from pipelines.gpu_check import GpuPart
from pipelines.paths import ROOT, SHARED

# python -m pipelines.gpu_check's parts for this competition: name -> GpuPart (pipelines/gpu_check.py)
GPU_CHECK = {
    "rossmann-throughput": GpuPart(1, "bench", "rossmann/rossmann-store-sales.zip", 150, "throughput,gbdt", True),
    "rossmann": GpuPart(3, "chain", "rossmann/rossmann-store-sales.zip", 240, extra_beside=True),
    "rossmann-backtest": GpuPart(6, "backtest", "rossmann/rossmann-store-sales.zip", 360, extra_beside=True),
}


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
            shutil.rmtree(data / "rossmann" / "processed", ignore_errors=True)
            feats.append(run_measured([py, "-m", "pipelines", "features", "rossmann", "--data", str(data)]))
        print(f"rossmann, real data (1,017,209 train + 41,088 test rows), median of {repeats}:")
        report("download (local zip + extras)", downloads)
        report("features (raw -> processed)", feats)


def rows_per_s(step, bs: int, n_batches: int = 200, warmup: int = 20, device=None) -> float:
    """Throughput of `step(i)` (one training step on batch i) in rows per second; on a GPU the clock stops when
    the device has finished the steps queued (they return before it has)."""
    import torch

    def sync():
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)

    for i in range(warmup):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(n_batches):
        step(warmup + i)
    sync()
    return bs * n_batches / (time.perf_counter() - t0)


def graphed_step(learn, batches: list) -> Callable[[int], None]:
    """The Learner's training step on the same network, captured once in a CUDA graph and replayed per batch:
    the step without Python, launch or host-side overheads (the ceiling an eager step is measured against).
    AdamW fused and capturable with its lr a device tensor, as a graphed Learner would need; betas fixed. The
    Learner's step as Rossmann's runs it: no gradient clipping, no GradScaler (bf16, not fp16)."""
    import contextlib

    import torch

    model, dev, dtype = learn.model, learn.device, learn.precision.dtype
    groups = [{k: v for k, v in g.items() if k in ("params", "weight_decay")} for g in learn.opt.param_groups]
    lr = torch.tensor(learn.opt.param_groups[-1]["lr"], device=dev)
    opt = torch.optim.AdamW(groups, lr=lr, betas=learn.betas, eps=learn.eps, fused=True, capturable=True)
    static = [t.clone() for t in batches[0]]

    def step():
        autocast = torch.autocast("cuda", dtype=dtype, cache_enabled=False) if dtype else contextlib.nullcontext()
        with autocast:
            out = model(*static[:-1])
        loss = learn.loss_func(out.float(), static[-1])
        loss.backward()
        opt.step()

    side = torch.cuda.Stream(dev)  # warm-up off the capturing stream, as torch.cuda.graphs asks
    side.wait_stream(torch.cuda.current_stream(dev))
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream(dev).wait_stream(side)
    opt.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()

    def replay(i):
        for buffer, t in zip(static, batches[i % len(batches)], strict=True):
            buffer.copy_(t, non_blocking=True)
        graph.replay()

    return replay


def first_fit(data: Path):
    """The processed Rossmann features as the card's first fit sees them: (config, schema, metric, procs, the train
    frame, the targets, the rows it fits)."""
    from features.io import read_feather
    from models.metrics import get_metric
    from pipelines import registry
    from pipelines.paths import Paths
    from pipelines.tabular.features import FOLD, load
    from pipelines.tabular.schema import targets
    from pipelines.tabular.validation import first_fit_rows

    comp, paths = registry.load("rossmann"), Paths.for_comp("rossmann", data)
    cfg = comp.Config()
    schema, validation, proc = load(paths, cfg)
    frame = read_feather(paths.processed / "train.feather")
    metric = get_metric(comp.CARD.metric)
    y, ok = targets(metric, schema, frame)
    return cfg, schema, metric, proc, frame, y, first_fit_rows(frame[FOLD].to_numpy(), validation, ok)


def bench_rossmann_throughput(
    data: Path, repeats: int, n_batches: int = 200, warmup: int = 20, backend: str = "inductor"
) -> None:
    """Training rows/s of the full network (eager, compiled) vs its dense layers alone, fp32 and bf16, same run.
    `backend`: torch.compile's; the tests trace with "aot_eager" (no code generated: inductor's C++ build of the two
    graphs took 55 of the test's 78 s on 2 AMD EPYC cores)."""
    import torch

    from pipelines.tabular import net

    cfg, schema, metric, proc, frame, y, rows = first_fit(data)
    print(f"rossmann training throughput (rows/s, {torch.get_num_threads()} threads), median of {repeats}:")
    for amp in ("off", "bf16"):
        learn, *_ = net.make_learner(
            proc, frame[rows], y[rows], "regression", 1, metric.loss, replace(cfg, net_amp=amp), "bench"
        )
        _throughput(learn, cfg, repeats, n_batches, warmup, backend)


def _throughput(learn, cfg, repeats: int, n_batches: int, warmup: int, backend: str) -> None:
    import itertools

    import torch

    learn.create_opt()
    learn.peak_lrs, learn.schedule, learn.momentum, learn.n_iter = [cfg.net_lr], lambda p: 1.0, None, 10**6
    batches = list(itertools.islice(learn.train_dl, n_batches + warmup))  # on the device, as the Learner's are
    if len(batches) < n_batches + warmup:
        raise ValueError(f"{len(batches)} batches of the first fit's rows; the bench times {n_batches} after {warmup}")
    bs = len(batches[0][-1])
    learn.model.train()
    eager = learn.model
    compiled = torch.compile(eager, dynamic=False, backend=backend)  # default mode: compiled in the warm-up steps

    def step_with(model):
        def step(i):
            learn.model, learn.batch_index = model, i
            learn._step(batches[i])

        return step

    dense = learn.model.dense_layers()
    n_in = dense[0].in_features
    x = torch.randn(bs * len(batches), n_in, device=learn.device)  # where the network is: a GPU's ceiling there
    y = torch.randn(bs * len(batches), device=learn.device)
    opt = torch.optim.AdamW(dense.parameters(), lr=1e-4, fused=True)  # as the Learner uses

    def dense_step(i):
        with learn.precision.autocast():
            out = dense(x[i * bs : (i + 1) * bs]).squeeze(-1)
        loss = torch.nn.functional.mse_loss(out.float(), y[i * bs : (i + 1) * bs])
        opt.zero_grad()
        loss.backward()
        opt.step()

    variants = {"eager": step_with(eager), "compiled": step_with(compiled), "dense": dense_step}
    failed: dict[str, str] = {}

    def why(e: Exception) -> str:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"

    if learn.device.type == "cuda":
        try:  # the eager model's step, captured before any compiled step has run
            variants["graphed"] = graphed_step(learn, batches)
        except Exception as e:  # an op that cannot be captured: said, the others measured
            failed["graphed"] = why(e)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):  # interleaved, so all see the same machine load
        for name, step in variants.items():
            if name in failed:
                continue
            try:
                rates[name].append(rows_per_s(step, bs, n_batches, warmup, learn.device))
            except Exception as e:  # a step that cannot compile here: said, the others measured
                failed[name] = why(e)
    learn.model = eager
    rate = {name: statistics.median(r) for name, r in rates.items() if r}
    f = rate.get("eager", float("nan"))

    def show(name: str, label: str) -> str:
        if name in failed:
            return f"   {label} failed ({failed[name]})"
        return f"   {label} {rate[name]:9,.0f} (eager at {f / rate[name]:.0%})" if name in rate else ""

    line = f"  {str(learn.precision):<9} batch {bs} full network " + (
        f"{f:9,.0f}" if "eager" in rate else show("eager", "")
    )
    line += show("compiled", "torch.compile'd" + ("" if backend == "inductor" else f" ({backend})"))
    line += show("graphed", "CUDA-graphed") + show("dense", f"dense layers alone ({n_in}->...->1)")
    print(line, flush=True)


def bench_gbdt_device(data: Path, rounds: int = 100) -> None:
    """LightGBM's CPU learner beside the installed wheel's GPU learners (OpenCL `gpu`, `cuda`): `rounds` rounds of
    the card's trees (its settings, columns and categorical splits) on the rows the first fit uses, binning
    included, or why a learner cannot run on this machine."""
    from dataclasses import replace

    import lightgbm as lgb
    import numpy as np

    from models import gbdt
    from pipelines.tabular.members import objective

    cfg, schema, metric, proc, frame, y, rows = first_fit(data)
    names = [*proc.all_cat_names, *proc.cont_names]
    x = frame[names].to_numpy(np.float32)[rows]
    params = gbdt.GBDTParams.from_config(cfg, seed=cfg.seed, **objective(metric, schema, cfg))
    categorical = tuple(proc.all_cat_names) if cfg.gbdt_categorical else ()
    print(f"LightGBM {lgb.__version__}, {rounds} rounds on {len(x):,} rows x {len(names)} columns:")
    for device in ("cpu", "gpu", "cuda"):
        t0 = time.perf_counter()
        try:
            gbdt.fit(x, y[rows], replace(params, device=device), names, rounds=rounds, categorical=categorical)
            print(f"  device_type={device:<5} {time.perf_counter() - t0:7.1f} s", flush=True)
        except lgb.basic.LightGBMError as e:
            print(f"  device_type={device:<5} cannot run here: {str(e).splitlines()[0]}", flush=True)


def bench_rossmann_all(data: Path) -> None:
    """`make all` on the real data: wall time, peak memory, the holdout RMSPE of the blend and of each member."""
    import json

    shutil.rmtree(data / "rossmann" / "processed", ignore_errors=True)  # time the whole chain, features included
    subs = f"SUBMISSIONS={data.parent / 'subs'}"
    wall, peak = run_measured(
        ["make", "--no-print-directory", "all", "COMP=rossmann", f"DATA={data}", "RUN=bench", subs]
    )
    result = json.loads((data / "rossmann" / "runs" / "bench" / "result.json").read_text())
    members = ", ".join(f"{name} {score:.4f}" for name, score in result["members"].items())
    print(f"make all (features -> train -> submission): wall {wall / 60:.1f} min, peak {peak:.2f} GB")
    print(
        f"  RMSPE on the 48-day holdout (chose the blend's weights out of fold): {result['oof_rmspe']:.4f}; {members}"
    )
    print(f"  seconds per member (fit and refit): {result['member_seconds']}")


PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"


def holdout_rmspe(data: Path, run: str, member: str) -> float:
    """The RMSPE of a one-member run's raw predictions (no shift) on the 48-day holdout (processed train rows of fold
    0 with sales, as Kaggle scores), from its oof.feather (the member's column: its log predictions)."""
    import numpy as np
    import pandas as pd

    from models.metrics import rmspe

    sales = pd.read_feather(data / "rossmann" / "processed" / "train.feather", columns=["Sales", "_fold"])
    pred = pd.read_feather(data / "rossmann" / "runs" / run / "oof.feather")[member].to_numpy()
    held = (sales._fold == 0).to_numpy() & (sales.Sales > 0).to_numpy()
    return rmspe(np.exp(pred[held]), sales.Sales.to_numpy()[held])


def bench_peers(data: Path) -> None:
    """Ours (the network alone, and LightGBM alone) beside fastai's tabular_learner with the course recipe, on the
    same processed features and holdout, in one run: holdout RMSPE (no shift), training time and rows/s."""
    import json

    import pandas as pd

    py = sys.executable
    if not PEERS_PYTHON.is_file():
        print(f"peers skipped: no {PEERS_PYTHON} (make peers-env installs fastai 2.8.12 there)")
        return
    train = [py, "-m", "pipelines", "train", "rossmann", "--data", str(data), "refit=false", "gbdt_embeddings=[]"]
    runs = {
        "ours: network, bf16 auto (default)": ["members=[net]"],
        "ours: network, fp32 (net_amp=off)": ["members=[net]", "net_amp=off"],
        "ours: LightGBM alone, no embeddings": ["members=[gbdt]"],
    }
    rows = []
    for i, (name, args) in enumerate(runs.items()):
        run = f"peer{i}"
        run_measured([*train, "--run", run, *args])
        result = json.loads((data / "rossmann" / "runs" / run / "result.json").read_text())
        epochs = data / "rossmann" / "runs" / run / "net-holdout" / "metrics.csv"
        if epochs.is_file():  # the network: its epochs' own clock
            metrics = pd.read_csv(epochs)
            seconds, speed = float(metrics.time_s.sum()), float(metrics.rows_per_s.median())
        else:
            seconds, speed = result["member_seconds"]["gbdt"], None
        member = args[0].removeprefix("members=[").removesuffix("]")
        rows.append((name, holdout_rmspe(data, run, member), seconds, speed))
    out = subprocess.run(
        [str(PEERS_PYTHON), "-m", "pipelines.rossmann.peer_fastai", str(data), "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    fastai = json.loads(out.stdout.strip().splitlines()[-1])
    name = "fastai 2.8.12 tabular_learner, course recipe (5 epochs)"
    rows.append((name, fastai["valid_rmspe"], fastai["train_seconds"], fastai["rows_per_s"]))
    base = rows[-1][3]
    print("rossmann peers on the same features and holdout (the last 48 days; RMSPE before any shift):")
    print(f"  {'':<58}{'RMSPE':>8}{'train s':>9}{'rows/s':>10}{'vs fastai':>10}")
    for name, score, seconds, speed in rows:
        ratio = f"{speed / base:.2f}x" if speed else "-"
        print(f"  {name:<58}{score:8.4f}{seconds:9.0f}{(f'{speed:,.0f}' if speed else '-'):>10}{ratio:>10}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bench rossmann", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--parts",
        default="data,throughput,all",
        help="comma list of: data, throughput, gbdt (LightGBM's CPU and GPU learners), all, peers (fastai side by "
        "side), autogluon",
    )
    args, rest = parser.parse_known_args(argv)
    parts = set(args.parts.split(","))
    if "data" in parts:
        bench_rossmann(args.repeats)
    src = SHARED / "rossmann"
    if (src / "rossmann-store-sales.zip").is_file() and parts & {"throughput", "gbdt", "all", "peers"}:
        with tempfile.TemporaryDirectory(prefix="bench-rossmann-") as tmp:
            data = Path(tmp) / "data"
            py = sys.executable
            run_measured(download_command(data, src))
            if parts & {"throughput", "peers", "gbdt"}:
                run_measured([py, "-m", "pipelines", "features", "rossmann", "--data", str(data)])
            if "throughput" in parts:
                bench_rossmann_throughput(data, args.repeats)
            if "gbdt" in parts:
                bench_gbdt_device(data)
            if "peers" in parts:
                bench_peers(data)
            if "all" in parts:
                bench_rossmann_all(data)
    if "autogluon" in parts:  # the backtest beside AutoGluon, in the project's data folder (as make backtest)
        from pipelines.tabular import bench

        bench.main(["rossmann", *rest])


if __name__ == "__main__":
    main()
