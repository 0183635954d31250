"""Reading images as RGB and the pre-resized cache: every image decoded once, stored as uint8 at a fixed size.

Large JPEGs cost far more to decode than a small CNN step at 64-224 px, so the features step decodes each
image once (in JPEG draft mode, which lets libjpeg decode at 1/2, 1/4 or 1/8 scale when the target is
small), resizes its shorter side to `size`, centre-crops the longer side to `size` and stores the whole
split as one (N, size, size, 3) uint8 `.npy`. Training memory-maps it, so epochs and runs reuse it and a
dataset larger than RAM still works. Random crops at train time come out of the 1.3x margin.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from features.io import atomic_path, atomic_write_text

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
PIXEL_NAME = re.compile(r"(?i)pix(el)?[_ ]?(\d+)")  # a table's pixel columns: pixel0, pixel_12, pix3
MIN_PIXELS = 64  # an 8x8 image at least: fewer numbers are a table's features, not an image


def pixel_columns(columns) -> list[str]:
    """The columns named pixel<n>, in the order of n, where there are MIN_PIXELS or more: each row of the table is
    an image (Digit Recognizer's pixel0..pixel783); else none."""
    named = {c: int(m.group(2)) for c in columns if (m := PIXEL_NAME.fullmatch(str(c).strip()))}
    return sorted(named, key=named.get) if len(named) >= MIN_PIXELS else []


class BadImage(ValueError):
    """An image file that cannot be decoded (corrupt, truncated, not an image)."""


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode as RGB: CMYK through PIL's colour conversion (slicing bands would invert the colours),
    palette and alpha composited on white, greyscale repeated, 16-bit scaled."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() or 1.0
        return Image.fromarray((arr * (255.0 / hi)).astype(np.uint8)).convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, F


def open_rgb(path: str | Path, min_size: int | None = None) -> Image.Image:
    """Decode `path` as an upright RGB image; with `min_size`, JPEGs decode at the smallest scale whose
    shorter side is still >= min_size (draft mode). Raises BadImage naming the file on any decode error."""
    try:
        with Image.open(path) as img:
            if min_size and img.format == "JPEG":
                w, h = img.size
                scale = min_size / min(w, h)
                img.draft(img.mode, (max(1, round(w * scale)), max(1, round(h * scale))))
            img.load()  # raises on truncated data (PIL's default LOAD_TRUNCATED_IMAGES=False)
            img = ImageOps.exif_transpose(img)
            return to_rgb(img)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise BadImage(f"{path}: cannot decode ({type(e).__name__}: {e})") from None


def resize_crop(img: Image.Image, size: int) -> np.ndarray:
    """Shorter side to `size` (antialiased), then the centre `size` x `size` square, as an HWC uint8 array."""
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=None)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.array(img.crop((left, top, left + size, top + size)), dtype=np.uint8)  # a writable copy


def load_resized(path: str | Path, size: int) -> np.ndarray:
    """One image through the cache recipe: decode (draft mode) -> RGB -> shorter side `size` -> centre square."""
    return resize_crop(open_rgb(path, min_size=size), size)


CHUNK = 1024  # images submitted to the decoding threads at a time (build_cache)


def build_cache(
    files: Sequence[str | Path],
    size: int,
    out: Path,
    workers: int | None = None,
    keep_bad: bool = False,
    progress: bool = True,
    extra: dict | None = None,
    load: Callable[[str, int], np.ndarray] = load_resized,
) -> dict:
    """Decode and resize `files` into `out` (N, size, size, 3 uint8 .npy) plus `out`.json listing the kept
    files and the bad ones. Bad images are reported and skipped (with `keep_bad`, kept as black images so
    rows stay aligned, e.g. for test ids). Written to temp files, then renamed, so an interrupted build
    leaves nothing half-written. Returns the json content (plus `extra`). `load(file, size)` gives one row: an
    image file's (load_resized), or a row of a table of pixels (pipelines/vision/pixels.py).

    Each image is written to the file as soon as it is decoded (os.pwrite at its row's offset, not through a
    memory map, whose written pages would count as the process's memory): memory holds the images in flight,
    a few per worker, whatever the number of images (a 25k-image competition at 224 px: 3.8 GB on disk)."""
    from tqdm.auto import tqdm

    files = [str(f) for f in files]
    workers = workers or min(8, os.cpu_count() or 1)
    row_bytes = size * size * 3
    bad: dict[int, str] = {}
    with atomic_path(out) as tmp:
        need, free = len(files) * row_bytes, shutil.disk_usage(tmp.parent).free + tmp.stat().st_size
        if need > free:  # refused before an hour of decoding fills the disk (the file is sparse until written)
            raise ValueError(
                f"{out}: {len(files):,} images at {size} px need {need / 1e9:.1f} GB, and its disk has "
                f"{free / 1e9:.1f} GB free: free space there, or cache smaller images (sizes=, cache_scale=: the "
                f"cache is cache_scale x the largest size, e.g. ARGS='sizes=[160] cache_scale=1')"
            )
        header = _npy_header(tmp, (len(files), size, size, 3))
        fd = os.open(tmp, os.O_RDWR)
        try:

            def work(i: int) -> None:
                try:
                    row = load(files[i], size)
                except BadImage as e:
                    bad[i] = str(e)
                    row = np.zeros((size, size, 3), np.uint8)  # the row stays black (keep_bad) or is dropped
                os.pwrite(fd, row.tobytes(), header + i * row_bytes)

            # PIL releases the GIL while decoding and resizing, so threads scale without pickling images. Submitted
            # a chunk at a time: a future per image up front (each with its lock) grew 60k images' build by 120 MB.
            bar = tqdm(
                total=len(files),
                desc=f"cache {out.name} @{size}px",
                disable=not (progress and sys.stderr.isatty()),
                mininterval=2,
                leave=False,
            )
            with ThreadPoolExecutor(workers) as pool, bar:
                for start in range(0, len(files), CHUNK):
                    chunk = range(start, min(start + CHUNK, len(files)))
                    list(pool.map(work, chunk))
                    bar.update(len(chunk))
        finally:
            os.close(fd)
        if bad and not keep_bad:  # the kept rows into a file of their own, one row at a time
            kept = [i for i in range(len(files)) if i not in bad]
            compact = tmp.with_name(tmp.name + ".kept")
            start = _npy_header(compact, (len(kept), size, size, 3))
            src, dst = os.open(tmp, os.O_RDONLY), os.open(compact, os.O_RDWR)
            try:
                for j, i in enumerate(kept):
                    os.pwrite(dst, os.pread(src, row_bytes, header + i * row_bytes), start + j * row_bytes)
                os.replace(compact, tmp)
            finally:
                os.close(src)
                os.close(dst)
                compact.unlink(missing_ok=True)  # an interrupted copy leaves nothing behind
    kept = [i for i in range(len(files)) if keep_bad or i not in bad]
    meta = {**(extra or {}), "size": size, "files": [files[i] for i in kept], "bad": sorted(bad.values())}
    atomic_write_text(out.with_suffix(".json"), json.dumps(meta, indent=0))
    return meta


def _npy_header(path: Path, shape: tuple[int, ...]) -> int:
    """A new .npy file at `path` for a uint8 array of `shape`: its header, then room for the data (sparse until
    written); returns the data's offset."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
        offset = f.tell()
        f.truncate(offset + int(np.prod(shape)))
    return offset


def load_cache(out: Path) -> tuple[np.ndarray, dict]:
    """The memory-mapped uint8 array and its metadata written by `build_cache`."""
    meta = json.loads(out.with_suffix(".json").read_text())
    return np.load(out, mmap_mode="r"), meta


def list_images(folder: Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name (numerically where names are numbers)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: (0, int(p.stem), "") if p.stem.isdigit() else (1, 0, p.name))
