"""Image datasets and augmentation on uint8 tensors (torchvision.transforms.v2), and TTA views.

Images stay uint8 (N, 3, H, W) from the cache to the device; the model normalises them (models.vision).
Two augmentation families, as in the course: `side_on` photos (dogs, cats) flip left-right only;
`top_down` imagery (satellite chips) may be seen in any of the 8 dihedral orientations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from features.images import BadImage, load_resized
from models.data import EpochSampler, drop_last_default
from models.distributed import rank, world_size


class Dihedral(v2.Transform):
    """One of the 8 symmetries of the square (k: 0-7, or random when None): transpose? then rotate 90 x k%4."""

    def __init__(self, k: int | None = None):
        super().__init__()
        self.k = k

    def make_params(self, flat_inputs):
        return {"k": int(torch.randint(8, ()).item()) if self.k is None else self.k}

    def transform(self, inpt, params):
        k = params["k"]
        out = inpt.transpose(-1, -2) if k >= 4 else inpt
        return torch.rot90(out, k % 4, dims=(-2, -1)).contiguous()


def train_transform(size: int, kind: str, *, max_rotate: float, min_scale: float, lighting: float) -> Callable:
    """Augmentation for training at `size` px from the (larger, square) cached image, all on uint8 (the
    settings' defaults live once, in the image competitions' config).

    Rotation happens on a reflection-padded copy, so corners show mirrored content instead of black.
    """
    if kind == "none":
        return valid_transform(size)
    # `aug`'s choices (the config's Literal): fast.ai's transforms_side_on, _top_down and _basic (no flip)
    flips = {"side_on": [v2.RandomHorizontalFlip()], "top_down": [Dihedral()], "basic": []}
    if kind not in flips:
        raise ValueError(f"aug={kind!r}: side_on, top_down, basic or none")
    # Crop first, rotate the crop: rotating at the training size instead of the cache size is ~2x cheaper.
    steps: list = [v2.RandomResizedCrop(size, scale=(min_scale, 1.0), ratio=(3 / 4, 4 / 3), antialias=True)]
    if max_rotate:
        steps.append(ReflectRotate(max_rotate))
    steps += flips[kind]
    if lighting:
        steps.append(v2.ColorJitter(brightness=lighting, contrast=lighting))
    return v2.Compose(steps)


class ReflectRotate(v2.Transform):
    """Rotate by a random angle in [-degrees, degrees] with reflection padding (the course's default)."""

    def __init__(self, degrees: float):
        super().__init__()
        self.degrees = degrees

    def make_params(self, flat_inputs):
        return {"angle": float(torch.empty(()).uniform_(-self.degrees, self.degrees))}

    def transform(self, inpt, params):
        h, w = inpt.shape[-2:]
        # just enough padding that the rotated frame's corners stay inside the reflected image
        a = math.radians(min(abs(self.degrees), 45))
        pad = int(math.ceil(max(h, w) / 2 * (math.cos(a) + math.sin(a) - 1))) + 2
        x = v2.functional.pad(inpt, [pad], padding_mode="reflect")
        x = v2.functional.rotate(x, params["angle"], interpolation=v2.InterpolationMode.BILINEAR)
        return v2.functional.center_crop(x, [h, w])


def valid_transform(size: int) -> Callable:
    """The cached centre square resized to `size`: no randomness."""
    return v2.Resize([size, size], antialias=True)


def tta_transforms(size: int, kind: str, n: int) -> list[Callable]:
    """The views TTA averages: the plain image, then `n` more. Top-down: the other dihedral symmetries
    first (exact, no interpolation); side-on: the mirror image. Further views are mild random zoom crops
    (80-100% of the image, flipped at random): on dogs-vs-cats they scored 0.9900 / log loss 0.048 where
    the training augmentation's stronger crops, rotations and lighting scored 0.9875 / 0.049. `basic` and `none`
    (digits, letters: a mirror image is another character): the zoom crops alone, never flipped."""
    views = [valid_transform(size)]
    if kind == "top_down":
        views += [v2.Compose([valid_transform(size), Dihedral(k)]) for k in range(1, min(n, 7) + 1)]
    elif n >= 1 and kind == "side_on":
        views.append(v2.Compose([valid_transform(size), v2.RandomHorizontalFlip(p=1.0)]))
    extra = n + 1 - len(views)
    if extra > 0:
        zoom = v2.RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(0.9, 1.1), antialias=True)
        flips = {"top_down": [Dihedral()], "side_on": [v2.RandomHorizontalFlip()]}.get(kind, [])
        views += [v2.Compose([zoom, *flips])] * extra
    return views


class ImageDataset(Dataset):
    """Images from the pre-resized cache (a memory-mapped .npy) or, without one, decoded from the files every
    time; yields (uint8 CHW tensor, target) or just the image when there are no targets."""

    def __init__(
        self,
        source: Path | Sequence[str | Path],
        targets: torch.Tensor | None,
        transform: Callable,
        size: int | None = None,
        rows: Sequence[int] | None = None,
    ):
        """`source`: a cache .npy (then `rows` picks its rows) or a list of image files (decoded at `size`)."""
        self.cache = Path(source) if isinstance(source, (str, Path)) else None
        self.files = None if self.cache else [str(f) for f in source]
        self.targets, self.transform, self.size = targets, transform, size
        self._arr = None  # opened lazily, so DataLoader workers each map the file instead of pickling it
        if self.cache is not None:
            self.rows = np.arange(len(np.load(self.cache, mmap_mode="r"))) if rows is None else np.asarray(rows)
        self.n = len(self.rows) if self.cache else len(self.files)
        if targets is not None and len(targets) != self.n:
            raise ValueError(f"{len(targets)} targets for {self.n} images")

    def __len__(self) -> int:
        return self.n

    def image(self, i: int) -> torch.Tensor:
        """Image i as a uint8 (3, H, W) tensor, before augmentation."""
        if self.cache is not None:
            if self._arr is None:
                self._arr = np.load(self.cache, mmap_mode="r")
            arr = np.array(self._arr[self.rows[i]])
        else:
            try:
                arr = load_resized(self.files[i], self.size)
            except BadImage:  # reported when the cache was built; here a blank image keeps the batch shape
                arr = np.zeros((self.size, self.size, 3), np.uint8)
        return torch.from_numpy(arr).permute(2, 0, 1)

    def __getitem__(self, i: int):
        x = self.transform(self.image(i))
        return x if self.targets is None else (x, self.targets[i])


def image_loader(
    ds: ImageDataset,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    workers: int = 0,
    pin_memory: bool = False,
    drop_last: bool | None = None,
) -> DataLoader:
    """A DataLoader with the per-epoch seeded sampler (reproducible, resumable; under torchrun, this rank's
    shard) when shuffling; a training loader drops its last partial batch (`models.data.drop_last_default`)."""
    sampler = EpochSampler(len(ds), seed, rank(), world_size()) if shuffle else None
    if drop_last is None:
        drop_last = drop_last_default(len(sampler) if shuffle else len(ds), batch_size, shuffle)
    return DataLoader(
        ds,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=drop_last,
        persistent_workers=workers > 0,
    )
