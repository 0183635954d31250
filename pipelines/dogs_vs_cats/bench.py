"""dogs-vs-cats benchmarks on its real sample, ../shared/data/images/dogs-vs-cats.tar (pipelines/vision/bench.py)."""

from __future__ import annotations

from pipelines.gpu_check import GpuPart
from pipelines.vision import bench

# python -m pipelines.gpu_check's parts for this competition: name -> GpuPart (pipelines/gpu_check.py)
GPU_CHECK = {"dogs-vs-cats": GpuPart(4, "chain", "images/dogs-vs-cats.tar", 120)}  # a subset travels


def main(argv: list[str] | None = None) -> None:
    bench.main(argv, "dogs-vs-cats", "dogs-vs-cats.tar")


if __name__ == "__main__":
    main()
