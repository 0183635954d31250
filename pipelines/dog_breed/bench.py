"""dog-breed benchmarks on its real sample, ../shared/data/images/dog-breed-sample.tar (pipelines/vision/bench.py)."""

from __future__ import annotations

from pipelines.vision import bench


def main(argv: list[str] | None = None) -> None:
    bench.main(argv, "dog-breed", "dog-breed-sample.tar")


if __name__ == "__main__":
    main()
