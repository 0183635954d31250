"""Image competitions, the features step: the split and a pre-resized uint8 cache of every image
(processed/), and `ImageData`, what training reads back."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.images import build_cache, load_resized
from features.io import atomic_write_text, cached, read_feather, write_feather
from models.metrics import get_metric, to_target
from pipelines.cv import random_folds
from pipelines.download import read_source
from pipelines.paths import Paths
from pipelines.runs import features_identity, write_features_stamp
from pipelines.vision import table
from pipelines.vision.config import VisionConfig
from pipelines.vision.pixels import Pixels
from pipelines.vision.task import ImageTask

if TYPE_CHECKING:
    import torch

    from models.image_data import ImageDataset


SIDES = 500  # images (a seeded sample) whose headers say how large the competition's images are


def wanted_size(cfg: VisionConfig) -> int:
    """The cache's side the settings ask for: cache_scale x the largest of sizes= (a margin for random crops)."""
    return int(round(cfg.cache_scale * max(cfg.sizes)))


def cache_size(cfg: VisionConfig, files: list[Path], pixels: Pixels | None = None) -> int:
    """The cache's side in px: wanted_size, or the images' own (their shorter side) where every one of SIDES of
    them is smaller. The views are resized from the cache whatever its size; 32 px photos cached at 83 px took 7x
    their disk, Histopathologic's 96 px tiles at the default 291 px 9x (70 GB), for no pixel more."""
    wanted = wanted_size(cfg)
    if pixels is not None:
        own = max(min(t.shape) for t in pixels.tables)
    else:
        picked = np.random.default_rng(0).permutation(len(files))[:SIDES]
        own = max((side for i in picked if (side := image_side(files[i]))), default=wanted)  # (0: did not open)
    if own < wanted:
        print(
            f"the images are {own} px or less (the shorter side): cached at {own} px, not {wanted} (sizes=, cache_scale=)"
        )
    return min(own, wanted)


def image_side(path: Path) -> int:
    """An image's shorter side from its header (nothing decoded); 0 for a file that does not open (the cache says
    which are bad)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return min(img.size)
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0


def split_valid(frame: pd.DataFrame, cfg: VisionConfig) -> np.ndarray:
    """Boolean validation mask: the layout's own valid/ folder, else a seeded random `valid_pct` share (of whole
    groups, where the card names them: one in 1/valid_pct of them)."""
    if "valid" in frame.columns:
        return frame.valid.to_numpy(bool)
    if not 0 < cfg.valid_pct < 1:
        raise ValueError(f"valid_pct={cfg.valid_pct}: expected a fraction between 0 and 1")
    if "group" in frame.columns:
        codes = pd.factorize(frame.group)[0]
        parts, g = max(2, round(1 / cfg.valid_pct)), codes.max() + 1
        if g < max(parts, cfg.folds):  # said here, at features, for the k-fold of train too: one error, both fixes
            fix = (
                f"set ARGS='folds={g} valid_pct={np.ceil(100 / g) / 100:g}' (or the card's defaults=), or "
                if g > 1
                else ""
            )
            raise ValueError(
                f"the groups= column has {g} group{'s' if g > 1 else ''} of images; keeping each whole needs "
                f"{max(parts, cfg.folds)} or more (the holdout takes one part in {parts}: valid_pct={cfg.valid_pct:g}; "
                f"the k-fold {cfg.folds}: folds={cfg.folds}): {fix}name a column of more groups in groups="
            )
        return random_folds(len(frame), parts, cfg.split_seed, codes) == 0
    rng = np.random.default_rng(cfg.split_seed)
    mask = np.zeros(len(frame), bool)
    mask[rng.permutation(len(frame))[: max(1, round(cfg.valid_pct * len(frame)))]] = True
    return mask


def _cache(paths: Paths, files: list[str], name: str, size: int, keep_bad: bool, pixels: Pixels | None = None) -> dict:
    """processed/cache<size>/<name>.npy (and its .json: the files kept, the bad ones), rebuilt only when the
    files, their source or the size change; the rows of tables of pixels read by `pixels`, whose columns and
    shape= are part of what the images are."""
    out = paths.processed / f"cache{size}" / f"{name}.npy"
    source = (read_source(paths) or {}).get("at", "")
    tables, load_row = (pixels.key, pixels) if pixels else (None, load_resized)

    def build() -> dict:  # build_cache writes the .npy and the .json itself
        t0 = time.perf_counter()
        extra = {"source": source, **({"tables": tables} if tables else {})}
        meta = build_cache([paths.raw / f for f in files], size, out, keep_bad=keep_bad, extra=extra, load=load_row)
        seconds = time.perf_counter() - t0
        print(
            f"{out}: {len(files)} images decoded and resized to {size}px in {seconds:.1f} s "
            f"({len(files) / max(seconds, 1e-9):.0f} images/s)" + (f", {len(meta['bad'])} bad" if meta["bad"] else "")
        )
        for line in meta["bad"][:10]:
            print(f"  bad image: {line}")
        return meta

    def load(path: Path) -> dict:
        meta = json.loads(path.with_suffix(".json").read_text())
        rows = np.load(path, mmap_mode="r").shape[0]  # a .npy cut short does not open, or holds too few rows
        if rows != len(meta["files"]):
            raise ValueError(f"{rows} images for {len(meta['files'])} files")
        print(f"{path}: up to date ({len(meta['files'])} images at {size}px)")
        return meta

    return cached(out, [source, files, keep_bad, size, *([tables] if tables else [])], build, lambda m, p: None, load)


def build_features(task: ImageTask, paths: Paths, cfg: VisionConfig) -> None:
    """raw/ -> processed/: items.feather (file, label, valid, row), test.feather, layout.json and the cache."""
    layout = task.read(paths.raw)
    for note in layout.notes:
        print(f"note: {note}")
    items = layout.train.copy()
    items["valid"] = split_valid(items, cfg)
    pixels = Pixels(paths.raw, list(layout.tables)) if layout.tables else None
    size = cache_size(cfg, [paths.raw / f for f in (*items.file, *layout.test.file)], pixels)
    meta = _cache(paths, list(items.file), "labelled", size, keep_bad=False, pixels=pixels)
    bad = set(items.file) - {str(Path(f).relative_to(paths.raw)) for f in meta["files"]}
    if bad:
        print(
            f"note: {len(bad)} labelled images could not be decoded and were skipped (listed in "
            f"{paths.processed}/cache{size}/labelled.json)"
        )
        items = items[~items.file.isin(bad)]
    items["row"] = np.arange(len(items))  # rows of labelled.npy, in the same order
    test = layout.test.copy()
    test_meta = _cache(paths, list(test.file), "test", size, keep_bad=True, pixels=pixels) if len(test) else {"bad": []}
    test["row"] = np.arange(len(test))
    write_feather(items, paths.processed / "items.feather")
    write_feather(test, paths.processed / "test.feather")
    (paths.processed / table.FILE).unlink(missing_ok=True)  # another layout's
    beside = table.write(layout.beside, list(items.file), list(test.file), paths.processed) if layout.beside else None
    info = {
        "classes": layout.classes,
        "multi_label": layout.multi_label,
        "regression": layout.regression,
        "cache_size": size,
        "sample_matches": layout.sample_matches,
        "notes": layout.notes,
        "bad_labelled": sorted(bad),
        "bad_test": test_meta["bad"],
        "n_train": int((~items.valid).sum()),
        "n_valid": int(items.valid.sum()),
        "n_test": len(test),
        "format": task.format_fields(),
        "table": beside,
    }
    atomic_write_text(paths.processed / "layout.json", json.dumps(info, indent=1))
    edited = {"table": beside["digest"]} if beside else {}  # a table edited retrains what read it
    write_features_stamp(paths, cfg, n_labelled=len(items), n_test=len(test), classes=layout.classes, **edited)
    kind = "tags" if layout.multi_label else "classes"
    print(
        f"{paths.processed}: {info['n_train']} training, {info['n_valid']} validation, {info['n_test']} test "
        f"images; " + ("a number an image" if layout.regression else f"{len(layout.classes)} {kind}")
    )


@dataclass
class ImageData:
    items: pd.DataFrame
    test: pd.DataFrame
    info: dict
    cache_dir: Path

    @property
    def classes(self) -> list[str]:
        return self.info["classes"]

    @property
    def multi_label(self) -> bool:
        return self.info["multi_label"]

    @property
    def regression(self) -> bool:
        """Labels are numbers: one output, `classes` its column's name."""
        return self.info.get("regression", False)

    @property
    def metric(self) -> str:
        """The card's metric (models.metrics), where a card made the layout."""
        return self.info.get("format", {}).get("metric", "")

    def numbers(self, frame: pd.DataFrame) -> np.ndarray:
        """A regression's labels, as the metric scores them (n,)."""
        return frame.label.astype(float).to_numpy()

    def answers(self, frame: pd.DataFrame) -> np.ndarray:
        """What the metric scores predictions against: class indices, a tag matrix, or a regression's numbers."""
        return self.numbers(frame) if self.regression else self.targets(frame).numpy()

    def targets(self, frame: pd.DataFrame) -> torch.Tensor:
        """What the models fit: class indices (n,), a 0/1 tag matrix (n, tags), or a regression's numbers on the
        metric's training scale (n, 1): log1p of them for rmsle (models.metrics.to_target)."""
        import torch  # here: the features step (build_features) never imports it

        if self.regression:
            y = to_target(get_metric(self.metric), self.numbers(frame))
            return torch.tensor(y, dtype=torch.float32).unsqueeze(1)
        index = {c: i for i, c in enumerate(self.classes)}
        if self.multi_label:
            y = torch.zeros(len(frame), len(self.classes))
            for r, tags in enumerate(frame.label):
                for t in tags.split():
                    y[r, index[t]] = 1.0
            return y
        return torch.tensor([index[c] for c in frame.label], dtype=torch.long)

    def dataset(self, split: str, transform, with_targets: bool = True) -> ImageDataset:
        """A split's cached images as a dataset."""
        from models.image_data import ImageDataset  # torchvision: not for CIFAR-10, which reads the cache whole

        if split == "test":
            return ImageDataset(self.cache_dir / "test.npy", None, transform, rows=self.test.row.to_numpy())
        frame = self.frame(split)
        return ImageDataset(
            self.cache_dir / "labelled.npy",
            self.targets(frame) if with_targets else None,
            transform,
            rows=frame.row.to_numpy(),
        )

    def frame(self, split: str) -> pd.DataFrame:
        """The rows of a split: train, valid (the holdout), labelled (both) or test."""
        if split in ("test", "labelled"):
            return self.test if split == "test" else self.items
        return self.items[self.items.valid == (split == "valid")]


def load_processed(paths: Paths, cfg: VisionConfig, comp: str) -> ImageData:
    features_identity(paths, cfg)  # built, from the raw data there now, with these settings
    info = json.loads((paths.processed / "layout.json").read_text())
    items = read_feather(paths.processed / "items.feather")
    test = read_feather(paths.processed / "test.feather")
    return ImageData(items, test, info, paths.processed / f"cache{info['cache_size']}")


def n_workers(cfg: VisionConfig, device: torch.device) -> int:
    if cfg.workers >= 0:
        return cfg.workers
    from models.distributed import world_size

    # data-parallel: the ranks share the machine's cores
    return min(8, (os.cpu_count() or 1) // world_size()) if device.type == "cuda" else 0
