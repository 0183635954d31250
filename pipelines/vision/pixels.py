"""Images given as pixel values in a table, as the image card reads them (card.py): Digit Recognizer's
`train.csv` (`label, pixel0..pixel783`) and `test.csv` (`pixel0..pixel783`, its rows numbered as the sample's
`ImageId`), Kannada MNIST's `test.csv` with an `id`, FER2013's one `pixels` column of space-separated values.

An image in a table is named `<table>#<row>` (`train.csv#0`: the first data row). The features step decodes those
names through `Pixels` into the same pre-resized cache that image files go to (features/images.py), so the
probe, the net, TTA, the top losses and the backtest see ordinary images. Images are greyscale squares unless the
card's `shape=(height, width)` says otherwise; values run 0..255 (0..1 is scaled).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from features.images import MIN_PIXELS, pixel_columns, resize_crop
from pipelines.tabular.schema import SchemaError as CardError
from pipelines.tabular.schema import align_ids, column_named
from pipelines.vision.layouts import first_few

SEP = "#"


@dataclass(frozen=True)
class PixelTable:
    """One .csv of images: its name (in raw/), its pixel columns in order (a single column when the values are
    space-separated in it), the other columns, and each image's (height, width)."""

    name: str
    pixels: tuple[str, ...]
    others: tuple[str, ...]
    shape: tuple[int, int]

    def __repr__(self) -> str:  # not 784 column names
        return f"PixelTable({self.name!r}, {len(self.pixels)} pixel columns, others={self.others}, shape={self.shape})"

    @property
    def spaced(self) -> bool:
        return len(self.pixels) == 1


def _spaced_column(path: Path, header: list[str]) -> tuple[str, int] | None:
    """(the column, its first filled row's count of values) whose first rows that hold anything each hold MIN_PIXELS
    or more space-separated numbers (FER2013's `pixels`); a blank cell among them is left to read_pixels, which
    names its row."""
    head = pd.read_csv(path, nrows=20, dtype=str, keep_default_na=False)
    for col in header:
        parts = head[col].str.split()
        filled = parts[parts.map(len) > 0]
        if len(filled) and filled.map(len).min() >= MIN_PIXELS:
            numbers = pd.to_numeric(pd.Series([p for row in filled for p in row[:MIN_PIXELS]]), errors="coerce")
            if numbers.notna().all():
                return col, len(filled.iloc[0])
    return None


def _rows(rows: np.ndarray) -> str:
    """Data rows as the images are named (#0 is the first) and as the file's lines count them (the header is 1)."""
    return f"rows {first_few(f'#{r}' for r in rows)} (lines {first_few(rows + 2)} of the file)"


def _shape(path: Path, n: int, shape: tuple[int, ...]) -> tuple[int, int]:
    if shape:
        if len(shape) != 2 or shape[0] * shape[1] != n:
            raise CardError(
                f"{path}: {n} pixels an image, but shape={tuple(shape)} in the card holds {math.prod(shape)}"
            )
        return int(shape[0]), int(shape[1])
    side = math.isqrt(n)
    if side * side != n:
        colour = math.isqrt(n // 3) ** 2 * 3 == n
        raise CardError(
            f"{path}: {n} pixels an image, no square: set shape=(height, width) in the card"
            + (
                f" (colour {math.isqrt(n // 3)}x{math.isqrt(n // 3)}x3 images in a table are not read)"
                if colour
                else ""
            )
        )
    return side, side


def find(raw: Path, sample: Path | None, shape: tuple[int, ...] = ()) -> list[PixelTable]:
    """The .csv files of raw/ (the sample submission aside) that hold images: MIN_PIXELS or more columns named
    pixel<n>, or one column of space-separated numbers."""
    tables = []
    for path in sorted(raw.glob("*.csv")):
        if path == sample:
            continue
        header = pd.read_csv(path, nrows=0).columns.tolist()
        pixels, n = pixel_columns(header), 0
        if pixels:
            n = len(pixels)
        elif spaced := _spaced_column(path, header):
            pixels, n = [spaced[0]], spaced[1]
        if pixels:
            others = tuple(c for c in header if c not in set(pixels))
            tables.append(PixelTable(path.name, tuple(pixels), others, _shape(path, n, shape)))
    return tables


def read_pixels(raw: Path, table: PixelTable) -> np.ndarray:
    """(rows, height, width) uint8 of a table's images; missing or unreadable values, and values outside 0..255,
    are refused naming the rows and the fix."""
    path = raw / table.name
    n = math.prod(table.shape)
    if table.spaced:  # row by row: one list of every value as text took 0.4 MB a 48x48 row
        text = pd.read_csv(path, usecols=list(table.pixels), dtype=str, keep_default_na=False).iloc[:, 0]
        values = np.full((len(text), n), np.nan, np.float32)
        short = []
        for i, row in enumerate(text):
            try:
                parsed = np.array(row.split(), dtype=np.float32)
            except ValueError:  # a value that is no number: the row stays missing, named below
                continue
            if len(parsed) == n:
                values[i] = parsed
            else:
                short.append(i)
        short = np.array(short, int)
        if len(short):
            raise CardError(
                f"{path}: column {table.pixels[0]!r}: {_rows(short)} do not hold {n} values; each row is one "
                f"{table.shape[0]}x{table.shape[1]} image: fill or drop them"
            )
    else:
        try:
            frame = pd.read_csv(path, usecols=list(table.pixels), dtype=np.float32, engine="pyarrow")
        except (ValueError, TypeError, pd.errors.ParserError):  # text among the numbers: find its rows
            frame = pd.read_csv(path, usecols=list(table.pixels), dtype=str).apply(pd.to_numeric, errors="coerce")
        values = frame[list(table.pixels)].to_numpy(np.float32)
    bad = np.flatnonzero(~np.isfinite(values).all(1))
    if len(bad):
        raise CardError(f"{path}: {_rows(bad)} have missing or non-numeric pixel values: fill or drop them")
    top = float(values.max()) if values.size else 0.0
    if values.size and (values.min() < 0 or top > 255):
        out = np.flatnonzero(((values < 0) | (values > 255)).any(1))
        raise CardError(
            f"{path}: pixel values run from {values.min():g} to {top:g} ({_rows(out)}); images are read as 0..255 (or "
            f"0..1): undo the scaling in a copy of the file"
        )
    scale = 255.0 if top <= 1.0 else 1.0
    return np.rint(values * scale).astype(np.uint8).reshape(len(values), *table.shape)


def row_of(file: str) -> tuple[str, int]:
    """(table, row) of an image named `<table>#<row>` (or a path ending so)."""
    name, _, row = Path(file).name.rpartition(SEP)
    return name, int(row)


class Pixels:
    """Decodes `<table>#<row>` names into cache rows (features.images.build_cache's `load`): the tables are read
    when the first row is asked for (not at all when the cache is up to date), once, under a lock, so the
    decoding threads then only index arrays."""

    def __init__(self, raw: Path, tables: list[PixelTable]):
        self.raw, self.tables, self.arrays, self.lock = raw, tables, None, threading.Lock()
        self.error: CardError | None = None
        # what the cached images depend on beside the rows: the tables' pixel columns and each image's shape
        self.key = [[t.name, t.pixels[0], len(t.pixels), list(t.shape)] for t in tables]

    def __call__(self, file: str | Path, size: int) -> np.ndarray:
        with self.lock:
            if self.error is not None:  # a table refused once is not read again by every decoding thread
                raise self.error
            if self.arrays is None:
                try:
                    self.arrays = {t.name: read_pixels(self.raw, t) for t in self.tables}
                except CardError as e:
                    self.error = e
                    raise
        name, row = row_of(str(file))
        return resize_crop(Image.fromarray(self.arrays[name][row]).convert("RGB"), size)


def labelled(
    card, raw: Path, tables: list[PixelTable], id_col: str, value: str, sample: pd.DataFrame | None, notes: list[str]
) -> tuple[pd.DataFrame, str, pd.DataFrame, PixelTable, PixelTable | None]:
    """(labelled: file, label, id; where the labels come from; test: file, id; the training table; the test
    table) of a competition whose images are rows of tables: the table holding the label column `value` (the card's
    target=, else the sample's value column, whatever its case, or the one column beside the pixels and the id) labels
    its rows (of several, the one named train*), a table without one (named test*, or the card's test=) holds the
    test images, their ids in its id column or numbered as the sample's."""
    wanted = value
    by_name = {t.name: t for t in tables}
    if card.labels:
        if card.labels not in by_name:
            raise CardError(f"{raw / card.labels}: no pixel columns (labels= in the card names the training table)")
        train = by_name[card.labels]
    else:
        holding = [
            t for t in tables if column_named(t.others, wanted) or len([c for c in t.others if c != id_col]) == 1
        ]
        named = [t for t in holding if t.name.lower().startswith("train")]  # Kannada MNIST's Dig-MNIST.csv beside
        holding = named or [t for t in holding if not t.name.lower().startswith("test")] or holding
        if len(holding) != 1:
            raise CardError(
                f"{raw}: {len(holding)} tables of pixels hold a label column {wanted!r} "
                f"({first_few(t.name for t in holding) or 'none'}); set labels= (the training table) in the card"
            )
        train = holding[0]
    label_col = column_named(train.others, wanted) if wanted else None
    if label_col is None and not card.target:
        rest = [c for c in train.others if column_named([c], id_col) is None]
        label_col = rest[0] if len(rest) == 1 else None
    if label_col is None:
        raise CardError(
            f"{raw / train.name}: no column {card.target!r} (target=); beside its {len(train.pixels)} pixel columns it "
            f"has {first_few(train.others) or 'none'}"
            if card.target
            else f"{raw / train.name}: which column is the label? Beside its {len(train.pixels)} pixel columns it has "
            f"{first_few(train.others) or 'none'}; set target= in the card"
        )
    read_others = lambda t: pd.read_csv(  # noqa: E731  the columns beside the pixels (one pixel column to count rows)
        raw / t.name, usecols=list(t.others) or [t.pixels[0]], dtype=str
    )[list(t.others)].fillna("")  # NA, n/a: blank, as the label files of image files read them
    train_rows = read_others(train)
    train_id = column_named(train.others, id_col)
    frame = pd.DataFrame(
        {
            "file": [f"{train.name}{SEP}{i}" for i in range(len(train_rows))],
            "label": train_rows[label_col].str.strip().to_numpy(),
            "id": train_rows[train_id].to_numpy() if train_id else [str(i) for i in range(len(train_rows))],
        }
    )
    notes.append(
        "a mirror image of a digit or a letter is another character: for those, defaults={'aug': 'basic'} in the card "
        "trains and predicts on crops, rotations and lighting without flips"
    )
    more = [t.name for t in tables if t is not train and column_named(t.others, label_col)]
    if more:  # Kannada MNIST's Dig-MNIST.csv: another labelled set, for a user to add by hand
        notes.append(f"{first_few(more)}: labelled too, not used: the training images are {train.name}'s (labels=)")
    unused = [c for c in train.others if c not in (label_col, train_id)]
    if unused:
        notes.append(f"{train.name}: its other columns are not used ({first_few(unused)}): the models see the images")
    named_test = [by_name[n] for n in card.test if n in by_name]
    rest = [t for t in tables if t is not train and column_named(t.others, label_col) is None]
    candidates = named_test or [t for t in rest if t.name.lower().startswith("test")] or rest
    if len(candidates) > 1:
        raise CardError(
            f"{raw}: {len(candidates)} tables of test images ({first_few(t.name for t in candidates)}); set test= in the card"
        )
    test_table = candidates[0] if candidates else None
    test = pd.DataFrame({"file": [], "id": []}, dtype=str)
    if test_table is not None:
        test_rows = read_others(test_table)
        if sample is not None and id_col:
            files = {"test": test_table.name, "sample": "the sample submission", "train": train.name}
            _, test_rows = align_ids(id_col, train_rows.iloc[:0], test_rows, sample, files)
        if id_col not in test_rows.columns:
            listed = f"it lists {len(sample):,} ids" if sample is not None else "there is none"
            raise CardError(
                f"{raw / test_table.name}: no id column {id_col!r}; its {len(test_rows):,} rows are numbered as the "
                f"sample submission's ids only where it lists as many, running in order ({listed}): a complete "
                f"test table, or id= naming its id column"
            )
        test = pd.DataFrame(
            {"file": [f"{test_table.name}{SEP}{i}" for i in range(len(test_rows))], "id": test_rows[id_col].astype(str)}
        )
    elif sample is not None and len(sample):
        raise CardError(
            f"the sample submission lists {len(sample):,} ids, but no table of test images was found (tables of pixels: "
            f'{first_few(t.name for t in tables)}): name it, test=("test.csv",) in the card'
        )
    return frame, f"{train.name}:{label_col}", test, train, test_table


def cut(
    raw: Path, dest: Path, train: PixelTable, test: PixelTable | None, files: list[str], held: np.ndarray, id_col: str
) -> list[str]:
    """A backtest's tables laid out as the competition's: the held rows of the training table become the test
    table (named as the test's, without the label, numbered 1..n where the test has no id of its own), the others
    stay; returns the held rows' ids."""
    table = pd.read_csv(raw / train.name, dtype=str, keep_default_na=False)
    rows = np.array([row_of(f)[1] for f in files])
    out = np.zeros(len(table), bool)
    out[rows[held]] = True
    dest.mkdir(parents=True, exist_ok=True)
    table[~out].to_csv(dest / train.name, index=False)
    held_rows = table[out].reset_index(drop=True)
    train_id = column_named(train.others, id_col)
    test_id = column_named(test.others, id_col) if test else None
    # a test without ids of its own numbers its rows as the sample does (Digit Recognizer's ImageId 1..n)
    ids = held_rows[train_id].tolist() if train_id and test_id else [str(i) for i in range(1, len(held_rows) + 1)]
    columns = [c for c in (*test.others, *test.pixels) if c in held_rows.columns] if test else list(train.pixels)
    name = test.name if test else "test.csv"
    written = held_rows[[c for c in columns if c != train_id]]
    if test_id:  # one concat: 784 inserted columns would fragment the frame
        written = pd.concat([pd.DataFrame({test_id: ids}), written], axis=1)
    written.to_csv(dest / name, index=False)
    return ids
