"""Embedded samples for the image competitions are made from scikit-learn's handwritten digits (real scans of
8x8 digits that ship inside the installed package), rendered as photo-like colour images; each competition's
`sample.py` writes them in its exact Kaggle layout. These are the shared drawing helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digit scans (N, 8, 8) in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target


def render(digit: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A digit scan as a colour photo-like image: random ink and paper colours, jitter and noise (HWC uint8)."""
    img = Image.fromarray((digit * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
    ink_mask = np.asarray(img, np.float32)[..., None] / 255
    paper, ink = rng.uniform(120, 255, 3), rng.uniform(0, 110, 3)
    out = paper * (1 - ink_mask) + ink * ink_mask + rng.normal(0, 8, (size, size, 3))
    shift = rng.integers(-size // 10, size // 10 + 1, 2)
    out = np.roll(out, tuple(shift), axis=(0, 1))
    return np.clip(out, 0, 255).astype(np.uint8)


def save_jpeg(arr: np.ndarray, path: Path, mode: str = "RGB") -> None:
    """Save an HWC uint8 image as a JPEG (quality 90) in `mode`, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, format="JPEG", quality=90)


def mixed_mode(i: int) -> str:
    """The JPEG mode of sample image `i`: RGB, with a few greyscale and CMYK files as real data mixes modes."""
    return "L" if i % 17 == 5 else "CMYK" if i % 23 == 7 else "RGB"  # a few greyscale and CMYK files
