"""dogs-vs-cats benchmarks on its real sample, ../shared/data/images/dogs-vs-cats.tar (pipelines/vision/bench.py)."""

from __future__ import annotations

from pipelines.vision import bench


def main(argv: list[str] | None = None) -> None:
    bench.main(argv, "dogs-vs-cats", "dogs-vs-cats.tar")


if __name__ == "__main__":
    main()
