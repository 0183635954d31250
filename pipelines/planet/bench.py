"""planet benchmarks on its real sample, ../shared/data/images/planet-sample.tar (pipelines/vision/bench.py)."""

from __future__ import annotations

from pipelines.gpu_check import GpuPart
from pipelines.vision import bench

# python -m pipelines.gpu_check's parts for this competition: name -> GpuPart (pipelines/gpu_check.py)
GPU_CHECK = {"planet": GpuPart(5, "chain", "images/planet-sample.tar", 150)}


def main(argv: list[str] | None = None) -> None:
    bench.main(argv, "planet", "planet-sample.tar")


if __name__ == "__main__":
    main()
