"""CIFAR-10 benchmarks on the real data in ../shared/data/images/cifar10.tar.gz (skipped when absent).

    python -m pipelines.cifar10.bench [--parts throughput,ablations,seeds] [--epochs 2] [--seeds 0,1,2] [--args ...]
    (`make bench COMP=cifar10` runs all three parts with these defaults)

throughput: training images/s of the whitened net and the ResNet (and the ResNet with the strided 1x1
            shortcuts it had before ResNet-D's), fp32 / bf16 autocast x NCHW / channels_last, median of 3
            interleaved passes.
ablations:  the same short fixed budget (`--epochs`, default 2) with one thing changed: LSUV on/off, and AdamW
            with eps 1e-8 / 1e-3 / 1e-1; validation and test accuracy of each.
seeds:      the default config (`--args` on top) trained with each seed: test accuracy with and without TTA,
            wall time, mean and spread.
cache:      peak memory of the decoded-image cache build at 10k and 60k images (--parts cache).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.gpu_check import GpuPart
from pipelines.paths import ROOT, SHARED

TAR = SHARED / "images" / "cifar10.tar.gz"
# python -m pipelines.gpu_check's parts for this competition: name -> GpuPart (pipelines/gpu_check.py)
GPU_CHECK = {"cifar10": GpuPart(2, "chain", "images/cifar10.tar.gz", 120)}
ADAM = "opt=adamw lr=2e-3 wd=0.05 bn_bias_lr_mult=1"  # Adam's steps are normalised: no 64x for the biases
ABLATIONS = {
    "default (SGD, whitening + dirac init)": "",
    "lsuv=true": "lsuv=true",
    "AdamW eps 1e-8": f"{ADAM} adam_eps=1e-8",
    "AdamW eps 1e-3": f"{ADAM} adam_eps=1e-3",
    "AdamW eps 1e-1": f"{ADAM} adam_eps=1e-1",
}


def bench_throughput(bs: int = 512, steps: int = 5, repeats: int = 3) -> None:
    import torch

    from models.resnet import ResNet, WhitenedNet

    x = torch.randint(0, 256, (bs, 3, 32, 32), dtype=torch.uint8)
    y = torch.randint(0, 10, (bs,))
    nets = {
        "whitened [64,256,256] x [2,2,2]": WhitenedNet(10),
        "resnet [64,128,256] x [1,1,1]": ResNet(10),
        "resnet, strided 1x1 shortcuts": strided_shortcuts(ResNet(10)),
    }
    print(f"training step images/s, batch {bs}, {torch.get_num_threads()} threads, median of {repeats}:")
    for name, model in nets.items():
        for cl in (False, True):
            m = model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
            xb = x.contiguous(memory_format=torch.channels_last) if cl else x
            opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=1e-3, momentum=0.9, fused=True)
            rates = {"fp32": [], "bf16": []}
            for _ in range(repeats):  # interleaved, so both precisions see the same machine load
                for label, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
                    with torch.autocast("cpu", dtype or torch.float32, enabled=dtype is not None):
                        m(xb)  # warm-up
                    t0 = time.perf_counter()
                    for _ in range(steps):
                        with torch.autocast("cpu", dtype or torch.float32, enabled=dtype is not None):
                            loss = torch.nn.functional.cross_entropy(m(xb).float(), y)
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
                    rates[label].append(bs * steps / (time.perf_counter() - t0))
            layout = "channels_last" if cl else "NCHW"
            print(
                f"  {name:<32} {layout:<13} fp32 {statistics.median(rates['fp32']):7.0f}   "
                f"bf16 {statistics.median(rates['bf16']):7.0f}",
                flush=True,
            )


def strided_shortcuts(model):
    """The ResNet with the original stride-2 1x1 shortcut convolutions instead of ResNet-D's average pool +
    1x1 (for comparison only: on AVX-512 CPUs without AMX that layer's channels_last backward is unsafe)."""
    import torch

    for block in model.stages:
        if isinstance(block.shortcut, torch.nn.Sequential):
            pool, conv = block.shortcut
            stride = pool.kernel_size if isinstance(pool, torch.nn.AvgPool2d) else 1
            block.shortcut = torch.nn.Conv2d(conv.in_channels, conv.out_channels, 1, stride, bias=False)
    return model


def _train(data: str, run: str, args: str) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "pipelines", "train", "cifar10", "--data", data, "--run", run, *args.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise SystemExit(f"training {args!r} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    result = json.loads((Path(data) / "cifar10" / "runs" / run / "result.json").read_text())
    return {**result, "wall_s": time.perf_counter() - t0}


def bench_ablations(data: str, epochs: int) -> None:
    print(f"short fixed budget: {epochs} epochs, seed 0, validation 5,000 / test 10,000 images")
    for i, (name, args) in enumerate(ABLATIONS.items()):
        r = _train(data, f"ablation{i}", f"epochs={epochs} {args}")
        print(
            f"  {name:<40} valid {r['valid_accuracy']:.4f}   test {r['test_accuracy']:.4f} "
            f"({r['test_accuracy_tta']:.4f} TTA)   {r['train_seconds']:.0f} s",
            flush=True,
        )


def bench_seeds(data: str, seeds: list[int], args: str) -> None:
    print(f"default config {args}, seeds {seeds}:")
    plain, tta = [], []
    for seed in seeds:
        r = _train(data, f"seed{seed}", f"seed={seed} {args}")
        plain.append(r["test_accuracy"])
        tta.append(r["test_accuracy_tta"])
        print(
            f"  seed {seed}: test {r['test_accuracy']:.4f} plain, {r['test_accuracy_tta']:.4f} TTA; valid "
            f"{r['valid_accuracy']:.4f} / {r['valid_accuracy_tta']:.4f}; training {r['train_seconds']:.0f} s, "
            f"train step wall {r['wall_s']:.0f} s, {r['images_per_s']:.0f} images/s",
            flush=True,
        )
    if len(seeds) > 1:
        print(
            f"  test accuracy: plain mean {statistics.mean(plain):.4f} (sd {statistics.stdev(plain):.4f}, "
            f"{min(plain):.4f}..{max(plain):.4f}); TTA mean {statistics.mean(tta):.4f} (sd {statistics.stdev(tta):.4f}, "
            f"{min(tta):.4f}..{max(tta):.4f})"
        )


CACHE_RSS = """
import resource, sys
from pathlib import Path
from features.images import build_cache

files = sorted(Path(sys.argv[1]).rglob("*.jpg"))[: int(sys.argv[2])]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
build_cache(files, 32, Path(sys.argv[3]), progress=False)
print(before // 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def bench_cache(tmp: str) -> None:
    """Peak memory of the decoded-image cache build (features.images.build_cache) at 10k and 60k images: each
    in a fresh process, its peak RSS before and after the build."""
    import tarfile

    with tarfile.open(TAR) as tar:
        tar.extractall(Path(tmp) / "jpg", filter="data")
    print("cache build, CIFAR-10 JPEGs at 32 px: images, peak RSS before the build (MB), after (MB)")
    for n in (10_000, 60_000):
        cmd = [sys.executable, "-c", CACHE_RSS, str(Path(tmp) / "jpg"), str(n), str(Path(tmp) / f"cache{n}.npy")]
        before, after = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        print(f"  {n:>6,}  {before:>5}  {after:>5}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="throughput,ablations,seeds")
    parser.add_argument("--epochs", type=int, default=2, help="budget of the ablations")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--args", default="", help="config on top of the defaults for the seeds part")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if "throughput" in parts:
        bench_throughput()
    if not parts & {"ablations", "seeds", "cache"}:
        return
    if not TAR.is_file():
        print(f"skipped: real CIFAR-10 not found at {TAR}")
        return
    with tempfile.TemporaryDirectory(prefix="bench-cifar10-") as tmp:
        env = {**os.environ}
        if "cache" in parts:
            bench_cache(tmp)
        if not parts & {"ablations", "seeds"}:
            return
        for step in (["download", "--src", str(TAR)], ["features"]):
            subprocess.run(
                [sys.executable, "-m", "pipelines", step[0], "cifar10", "--data", tmp, *step[1:]],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        if "ablations" in parts:
            bench_ablations(tmp, args.epochs)
        if "seeds" in parts:
            bench_seeds(tmp, [int(s) for s in args.seeds.split(",")], args.args)


if __name__ == "__main__":
    main()
