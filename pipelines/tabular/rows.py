"""rows=N: train on N of train.csv's labelled rows, for a table too large to train on whole (NYC Taxi Fare's 55M).

Which N: the latest, in whole days, where the validation is by time (a holdout's last day must be whole), else a
seeded random sample: the rows of the N smallest of one uniform draw a labelled row (fold_seed's stream, in the
file's order). The schema says which, and it is read after the file. So train.csv is read in pieces, and of each
only the labelled rows either rule could still choose are kept: the N smallest draws so far, and for each column
that test.csv holds as dates, the N+1 latest rows so far (the time rule takes the days after the (N+1)th latest
row's). A 55M-row file then takes the memory of a piece and of a few N rows, not of 55M (about 20 GB read whole).
The rows kept are then read by pandas as a file of those rows would be, and the schema is read from them: a value
only in rows left out (a stray "n/k" among numbers) does not make its column text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from pandas._libs.parsers import STR_NA_VALUES  # the values pandas reads as missing (its read_csv's na_values)

from pipelines.tabular import TabularConfig
from pipelines.tabular.schema import Schema, SchemaError, date_format, parse_dates, unix_format
from pipelines.tabular.validation import validation_kind

DRAW = "_rows_draw"  # a labelled row's uniform draw under rows= (missing: not among the N smallest read)
BLOCK = 64 << 20  # bytes of train.csv a piece (NYC Taxi's 55M rows: 85 pieces of 650,000 rows)
HEAD = 100_000  # train.csv's first rows, with the test's, say which columns are dates
# labelled rows past which the features step says how to train on fewer (rows=): NYC Taxi's 55M, not Rossmann's 844k
MANY_ROWS = 2_000_000


@dataclass
class Rows:
    """How rows= reads train.csv (N, the seed of the draws, the card's date=: read as seconds since 1970 where it
    names such a column), and what the reading found: train.csv's labelled rows, the date columns ranked with their
    formats, and how many values of each that format did not read."""

    n: int
    seed: int
    date: str | None = None
    labelled: int = 0
    dates: dict[str, str] = field(default_factory=dict)
    unread: dict[str, int] = field(default_factory=dict)

    def date_columns(self, path: Path, test: pd.DataFrame) -> dict[str, str]:
        """{column: format} of the test's columns that train.csv's first rows (read as the whole file is) also
        hold as dates."""
        head = pd.read_csv(path, nrows=HEAD, dtype=str)
        out = {}
        for c in [c for c in test.columns if c in head.columns]:
            both = pd.concat([test[c].astype("str").where(test[c].notna()), head[c]])
            fmt = date_format(both) or (unix_format(both) if c == self.date else None)
            if fmt:
                out[c] = fmt
        return out

    def kept(self, path: Path, test: pd.DataFrame, targets: list[str]) -> tuple[io.BytesIO, np.ndarray]:
        """(the rows kept, as CSV to be read as the whole file would be; their draws, NaN where not among the N
        smallest): train.csv read in pieces of BLOCK bytes, each cut to the labelled rows (a value in one of
        `targets`, where any is a column of it) either rule could still choose. pyarrow parses each piece, every
        value as written (pandas' chunks as text took 4x its whole typed read; pyarrow's own streaming reader read
        the file ahead of us, 1.9 GB held of a 2 GB file); where pyarrow refuses the file (a row short of fields,
        which pandas fills), pandas' chunks."""
        with open(path, newline="", encoding="utf-8-sig") as f:
            names = next(csv.reader(f))
        self.dates = {c: fmt for c, fmt in self.date_columns(path, test).items() if names.count(c) == 1}
        targets = [c for c in targets if names.count(c) == 1]
        try:
            return self.keep(path, arrow_pieces(path, names), targets)
        except pa.ArrowInvalid as e:
            print(f"{path.name}: pyarrow refused it in pieces ({str(e)[:200]}); read in pandas' chunks (slower)")
            return self.keep(path, pandas_chunks(path), targets)

    def keep(self, path: Path, pieces: Iterator[pa.Table], targets: list[str]) -> tuple[io.BytesIO, np.ndarray]:
        """kept()'s work on `pieces` (tables of text, as written)."""
        rng, pool, marks = np.random.default_rng(self.seed), None, None
        self.labelled, self.unread, total = 0, dict.fromkeys(self.dates, 0), 0
        for rows in pieces:
            text = {c: rows.column(c).to_pandas() for c in {*targets, *self.dates}}
            labelled = (
                np.logical_or.reduce([~text[c].isin(STR_NA_VALUES).to_numpy() for c in targets])
                if targets
                else np.ones(rows.num_rows, bool)
            )
            mark = pd.DataFrame({DRAW: np.full(rows.num_rows, np.nan)})
            mark.loc[labelled, DRAW] = rng.random(int(labelled.sum()))  # the whole read's stream, labelled rows'
            for c, fmt in self.dates.items():
                days = parse_dates(text[c], fmt, errors="coerce").dt.normalize()
                self.unread[c] += int((days.isna() & ~text[c].isin(STR_NA_VALUES)).sum())
                mark[c] = days.where(labelled)
            total, self.labelled = total + rows.num_rows, self.labelled + int(labelled.sum())
            pool = rows.filter(pa.array(labelled)) if pool is None else pa.concat_tables([pool, rows.filter(labelled)])
            mark = mark[labelled]
            marks = mark if marks is None else pd.concat([marks, mark], ignore_index=True)
            keep = self.candidates(marks)
            pool, marks = pool.filter(pa.array(keep)), marks[keep].reset_index(drop=True)
        draw = np.zeros(0) if marks is None else marks[DRAW].to_numpy(float)
        draw = np.where(smallest(draw, self.n), draw, np.nan)
        print(
            f"rows={self.n:,}: {path.name} read in pieces, {len(draw):,} of its {self.labelled:,} labelled rows kept "
            f"({total - self.labelled:,} unlabelled): a random sample (fold_seed {self.seed})"
            + (f" and the latest of {', '.join(self.dates)}" if self.dates else "")
            + ", which one trains is chosen once the schema is read"
        )
        text = io.BytesIO()
        if pool is not None:
            pacsv.write_csv(pool, text)
        else:
            text.write(path.read_bytes()[: 1 << 20].split(b"\n")[0] + b"\n")  # a header alone
        text.seek(0)
        return text, draw

    def candidates(self, marks: pd.DataFrame) -> np.ndarray:
        """The rows of `marks` either rule could still choose: the N smallest draws, and each date's N+1 latest
        rows (the time rule takes the days after the (N+1)th latest row's; ties there are cut anyway)."""
        keep = smallest(marks[DRAW].to_numpy(), self.n)
        for c in self.dates:
            days = marks[c].to_numpy().astype("int64")  # NaT: the smallest int64, never among the latest
            dated = days != np.iinfo(np.int64).min
            if dated.sum() > self.n + 1:
                keep[np.argpartition(days, len(days) - self.n - 1)[len(days) - self.n - 1 :]] = True
            else:
                keep |= dated
        return keep

    def check(self, schema: Schema) -> None:
        """SchemaError where the time rule would cut by a date the reading did not rank as the schema reads it."""
        c = schema.date
        if self.dates.get(c) != schema.date_format or self.unread.get(c):
            found = (
                f"its first {HEAD:,} rows read it as {self.dates[c]}, and {self.unread[c]:,} of its values are not"
                if c in self.dates
                else "test.csv and its first rows do not hold it as dates"
            )
            raise SchemaError(
                f"rows={self.n:,}: the latest days of {c!r} ({schema.date_format}) cannot be told while reading "
                f"train.csv in pieces: {found}. ARGS='rows={self.n} validation=kfold' trains on a random sample; "
                f"leave rows= out to read it whole"
            )


def smallest(draw: np.ndarray, n: int) -> np.ndarray:
    """Which of `draw` are among its n smallest (all where it has no more; NaN never)."""
    if len(draw) <= n:
        return ~np.isnan(draw)
    return draw <= np.partition(draw, n - 1)[n - 1]


def row_end(block: bytes) -> int:
    """The offset after the last line break of `block` outside quoted values (0: none), `block` starting at a row's
    start. A quote opens a value only at a field's start (a quote inside a field, 5'10", is a character), and a
    doubled one inside a quoted value is a quote."""
    end = block.rfind(b"\n") + 1
    if b'"' not in block:
        return end
    spans, at, inside = [], 0, False
    while (q := block.find(b'"', at)) >= 0:
        if inside and block[q + 1 : q + 2] == b'"':
            at = q + 2
            continue
        if inside:
            spans[-1][1], inside = q, False
        elif q == 0 or block[q - 1 : q] in (b",", b"\n", b"\r"):
            spans.append([q, len(block)])
            inside = True
        at = q + 1
    for start, stop in reversed(spans):  # a line break inside the last quoted value before it: the one before that
        if stop < end - 1:
            break
        if start < end - 1:
            end = block.rfind(b"\n", 0, start) + 1
    return end


def pieces(path: Path, size: int) -> Iterator[bytes]:
    """A file's bytes in pieces of `size` or more, each ending at the end of a CSV row (row_end)."""
    with open(path, "rb") as f:
        rest = b""
        while block := f.read(size):
            block = rest + block
            end = row_end(block)
            if end:
                yield block[:end]
            rest = block[end:]
        if rest:
            yield rest


def arrow_pieces(path: Path, names: list[str]) -> Iterator[pa.Table]:
    """train.csv's rows as tables of text, as written, a piece at a time (the first piece's header read by pyarrow)."""
    types = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=False,  # a blank, an NA: as written, read as pandas reads them at the end
        quoted_strings_can_be_null=False,
    )
    for i, piece in enumerate(pieces(path, BLOCK)):
        read = pacsv.ReadOptions(block_size=len(piece) + 1, column_names=None if i == 0 else names)
        yield pacsv.read_csv(io.BytesIO(piece), read, pacsv.ParseOptions(newlines_in_values=True), types)


def pandas_chunks(path: Path) -> Iterator[pa.Table]:
    """train.csv's rows as tables of text, as written, by pandas' parser (its quirks: a short row filled), in chunks
    of about BLOCK bytes."""
    with open(path, "rb") as f:
        sample = f.read(1 << 20)
    rows = max(1, BLOCK * max(1, sample.count(b"\n")) // max(1, len(sample)))
    for chunk in pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, chunksize=rows):
        yield pa.Table.from_pandas(chunk, preserve_index=False)


def fewer_rows(
    schema: Schema,
    train: pd.DataFrame,
    extra: np.ndarray,
    test: pd.DataFrame,
    cfg: TabularConfig,
    draw: np.ndarray | None = None,
    rows: Rows | None = None,
):
    """(train, extra) with cfg.rows of train's own labelled rows (all where cfg.rows is 0 or more than it has): the
    latest, in whole days, where the validation is by time (the test after train, or validation=time: a holdout's
    last day must be whole; a row without a date is not among them), else the rows of the smallest `draw`s (`rows`'
    draws, NaN for a row not drawn; None: drawn here, fold_seed's stream); the card's extra_train rows (`extra`)
    all kept. `rows`: how train.csv was read, where it was read in pieces."""
    own = np.flatnonzero(~extra)
    labelled = rows.labelled if rows else len(own)  # train.csv's, where only some were kept
    if not cfg.rows and labelled > MANY_ROWS:
        print(
            f"{labelled:,} labelled rows: every member fits each fold on all of them, which takes hours on a few CPU "
            f"cores; ARGS='rows={MANY_ROWS // 2}' trains on {MANY_ROWS // 2:,} (the latest whole days, or at random)"
        )
    if not cfg.rows or labelled <= cfg.rows:
        return train, extra
    if schema.date and validation_kind(schema, train.iloc[own], test, cfg)[0] == "time":
        if rows:
            rows.check(schema)
        days = train[schema.date].iloc[own].dt.normalize().to_numpy()
        dated = np.sort(days[~np.isnat(days)])
        # after the day of the latest row left out (that day's rows go too; NaT is never later), or every dated row
        chosen = days > dated[-cfg.rows - 1] if len(dated) > cfg.rows else ~np.isnat(days)
        if not chosen.any():
            raise SchemaError(f"rows={cfg.rows:,} is fewer than train's last day's rows: set rows= higher")
        undated = len(days) - len(dated)
        keep, how = (
            own[chosen],
            f"the latest, whole days from {pd.Timestamp(days[chosen].min()):%Y-%m-%d}"
            + (f" ({undated:,} rows without a date left out)" if undated and not rows else ""),
        )
    else:
        draw = np.random.default_rng(cfg.fold_seed).random(len(train)) if draw is None else draw
        drawn = own[~np.isnan(draw[own])]
        keep = np.sort(drawn[np.argsort(draw[drawn], kind="stable")[: cfg.rows]])
        how = f"a random sample (fold_seed {cfg.fold_seed})"
    print(f"rows={cfg.rows:,}: {len(keep):,} of train's {labelled:,} labelled rows, {how}; every test row")
    keep = np.union1d(keep, np.flatnonzero(extra))
    return train.iloc[keep].reset_index(drop=True), extra[keep]
