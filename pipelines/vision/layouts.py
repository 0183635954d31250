"""What the image competitions' layouts share: `Layout` (labelled items, test items, classes) and the helpers
the image card (card.py) reads the files with (a label file whose images
may be missing, a test folder, the sample submission's order).

Labels that name images not on disk are reported (how many, the first few) and dropped; the class list
comes from sample_submission.csv where the competition has one, so a submission can never name an unknown
class or miss a column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.images import list_images

if TYPE_CHECKING:
    from pipelines.vision.table import Table


@dataclass
class Layout:
    """train: file (relative to raw/), label (multi-label: space-separated tags), valid (bool, or absent when
    the split is random); test: file, id (and label where the test images sit in class folders); classes in
    model-output order."""

    train: pd.DataFrame
    test: pd.DataFrame
    classes: list[str]
    multi_label: bool = False
    notes: list[str] = field(default_factory=list)
    sample_matches: bool = True  # test ids are exactly the sample submission's (when there is one)
    regression: bool = False  # labels are numbers (classes: the one value column the submission holds)
    tables: tuple = ()  # the pixels.PixelTable(s) whose rows are the images (files named <table>#<row>), if any
    beside: Table | None = None  # the columns shipped beside the images (PetFinder's flags), if any


def relative(paths, raw: Path) -> list[str]:
    return [str(Path(p).relative_to(raw)) for p in paths]


def first_few(names, k: int = 5) -> str:
    names = list(names)
    return ", ".join(map(str, names[:k])) + (", ..." if len(names) > k else "")


def test_frame(raw: Path, folders: tuple[str, ...]) -> pd.DataFrame:
    files = [f for name in folders if (raw / name).is_dir() for f in list_images(raw / name)]
    return pd.DataFrame({"file": relative(files, raw), "id": [f.stem for f in files]})


def order_by_sample(
    layout_test: pd.DataFrame, ids: pd.Series, what: str, notes: list[str]
) -> tuple[pd.DataFrame, bool]:
    """Test items in the sample submission's order, and whether the two match. When the sample names ids
    with no test image (a partial copy of the data), that is reported in `notes` and the test images on
    disk are kept in their own order: the submission then covers them but is not submittable as is."""
    by_id = layout_test.set_index("id")
    ids = ids.astype(str)
    missing = [i for i in ids if i not in by_id.index]
    if missing:
        notes.append(
            f"{what} lists {len(missing):,} of {len(ids):,} ids with no test image ({first_few(missing)}); "
            f"predicting the {len(layout_test):,} test images on disk instead: that submission cannot go "
            f"to Kaggle until the test folder is complete"
        )
        return layout_test, False
    extra = len(by_id) - len(ids)
    if extra:
        notes.append(f"{extra:,} test images are not in {what} and are not predicted")
    return by_id.loc[ids].reset_index()[["file", "id"]], True


def labelled_csv(raw: Path, csv: str, id_col: str, label_col: str, folders: tuple[str, ...], labels=None):
    """Rows of a label file (`labels`: its frame, as read, where the caller derived its label column) whose image
    exists in one of `folders` (an id names it by file name or by stem); the missing ones reported and dropped."""
    labels = pd.read_csv(raw / csv, dtype=str) if labels is None else labels
    for col in (id_col, label_col):
        if col not in labels.columns:
            raise ValueError(f"{raw / csv}: no column {col!r} (has {list(labels.columns)})")
    notes = []
    dupes = labels[id_col].duplicated()
    if dupes.any():
        notes.append(
            f"{csv}: {int(dupes.sum())} duplicated {id_col}s, kept the first ({first_few(labels[id_col][dupes])})"
        )
        labels = labels[~dupes]
    on_disk = {}
    for folder in folders:
        for p in list_images(raw / folder) if (raw / folder).is_dir() else []:
            on_disk.setdefault(p.stem, f"{folder}/{p.name}")
            on_disk.setdefault(p.name, f"{folder}/{p.name}")
    files = labels[id_col].map(on_disk)
    missing = labels[id_col][files.isna()]
    if len(missing):
        notes.append(
            f"{csv}: {len(missing):,} of {len(labels):,} labelled images are not in {'/'.join(folders)}/ "
            f"and were dropped ({first_few(missing)})"
        )
    frame = pd.DataFrame({"file": files, "label": labels[label_col].fillna("").str.strip(), "id": labels[id_col]})
    return frame[files.notna()].reset_index(drop=True), notes
