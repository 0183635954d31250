"""rows=N: train on N of train.csv's labelled rows, for a table too large to train on whole (NYC Taxi Fare's 55M).

Which N: the latest, in whole days, where the validation is by time (a holdout's last day must be whole), else a
seeded random sample: the rows of the N smallest of one uniform draw a row (fold_seed's stream, in the file's
order). The schema says which, and it is read after the file. So train.csv is read in chunks, and of each only
the rows either rule could still choose are kept: the N smallest draws so far, and for each column that test.csv
holds as dates, the latest whole days of N rows so far. A 55M-row file then takes the memory of a chunk and of a
few N rows, not of 55M (about 20 GB read whole). The schema is read from the rows kept.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.tabular import TabularConfig
from pipelines.tabular.schema import Schema, SchemaError, date_format, parse_dates, unix_format
from pipelines.tabular.validation import validation_kind

DRAW = "_rows_draw"  # a row's uniform draw under rows= (missing: not among the N smallest read)
BLOCK = 64 << 20  # bytes of train.csv a block (NYC Taxi's 55M rows: 850 blocks of 650,000 rows)
HEAD = 100_000  # train.csv's first rows, with the test's, say which columns are dates
# labelled rows past which the features step says how to train on fewer (rows=): NYC Taxi's 55M, not Rossmann's 844k
MANY_ROWS = 2_000_000


@dataclass(frozen=True)
class Rows:
    """How rows= reads train.csv: N, the seed of the draws, the test frame (its dates are the ones the time rule may
    cut by) and the card's date= (read as seconds since 1970 where it names such a column)."""

    n: int
    seed: int
    test: pd.DataFrame
    date: str | None = None

    def dates(self, path: Path) -> dict[str, str]:
        """{column: format} of the test's columns that train.csv's first rows (read as the whole file is) also
        hold as dates."""
        head = pd.read_csv(path, nrows=HEAD, dtype=str)
        out = {}
        for c in [c for c in self.test.columns if c in head.columns]:
            both = pd.concat([self.test[c].astype("str").where(self.test[c].notna()), head[c]])
            fmt = date_format(both) or (unix_format(both) if c == self.date else None)
            if fmt:
                out[c] = fmt
        return out

    def kept(self, path: Path) -> tuple[io.BytesIO, np.ndarray]:
        """(the rows kept, as CSV to be read as the whole file would be; their draws, NaN where not among the N
        smallest): train.csv read in pieces of BLOCK bytes, each cut to the rows either rule could still choose.
        Each piece is parsed by pyarrow, every value as written (pandas' chunks as text took 4x its whole typed
        read); pyarrow's own streaming reader read the file ahead of us (1.9 GB held of a 2 GB file)."""
        rng, dates = np.random.default_rng(self.seed), self.dates(path)
        with open(path, newline="", encoding="utf-8-sig") as f:
            names = next(csv.reader(f))
        types = pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,  # a blank, an NA: as written, read as pandas reads them at the end
            quoted_strings_can_be_null=False,
        )
        pool = pa.schema([(c, pa.string()) for c in names]).empty_table()
        marks, total = pd.DataFrame({DRAW: [], **dict.fromkeys(dates, [])}), 0
        for i, piece in enumerate(pieces(path, BLOCK)):
            rows = pacsv.read_csv(
                io.BytesIO(piece), pacsv.ReadOptions(column_names=names, skip_rows=int(i == 0)), convert_options=types
            )
            mark = pd.DataFrame({DRAW: rng.random(rows.num_rows)})
            for c, fmt in dates.items():
                mark[c] = parse_dates(rows.column(c).to_pandas(), fmt, errors="coerce").dt.normalize()
            total += rows.num_rows
            pool = pa.concat_tables([pool, rows])
            marks = pd.concat([marks, mark], ignore_index=True) if len(marks) else mark  # (empty ones' dtypes)
            keep = self.candidates(marks, list(dates))
            pool, marks = pool.filter(pa.array(keep)), marks[keep].reset_index(drop=True)
        draw = marks[DRAW].to_numpy(float)
        if len(draw) > self.n:
            draw = np.where(draw <= np.partition(draw, self.n - 1)[self.n - 1], draw, np.nan)
        print(
            f"rows={self.n:,}: {path.name} read in pieces of {BLOCK >> 20 or 1} MB, {len(draw):,} of its {total:,} "
            f"rows kept: a random sample (fold_seed {self.seed})"
            + (f" and the latest whole days of {', '.join(dates)}" if dates else "")
            + ", which one trains is chosen once the schema is read"
        )
        text = io.BytesIO()
        pacsv.write_csv(pool, text)
        text.seek(0)
        return text, draw

    def candidates(self, marks: pd.DataFrame, dates: list[str]) -> np.ndarray:
        """The rows of `marks` either rule could still choose: the N smallest draws, and each date's rows from the
        day of its (N+1)th latest on (that day's rows whole; all dated rows where there are no more than N)."""
        draw = marks[DRAW].to_numpy()
        keep = draw <= np.partition(draw, self.n - 1)[self.n - 1] if len(draw) > self.n else np.ones(len(draw), bool)
        for c in dates:
            days = marks[c].to_numpy()
            dated = days[~np.isnat(days)]
            if len(dated) > self.n:
                keep |= days >= np.partition(dated, len(dated) - self.n - 1)[len(dated) - self.n - 1]
            else:
                keep |= ~np.isnat(days)
        return keep


def fewer_rows(
    schema: Schema, train: pd.DataFrame, extra: np.ndarray, test: pd.DataFrame, cfg: TabularConfig, draw=None
):
    """(train, extra) with cfg.rows of train's own labelled rows (all where cfg.rows is 0 or more than it has): the
    latest, in whole days, where the validation is by time (the test after train, or validation=time: a holdout's
    last day must be whole; a row without a date is not among them), else the rows of the smallest `draw`s (Rows'
    draws, NaN for a row not drawn; None: drawn here, fold_seed's stream); the card's extra_train rows (`extra`)
    all kept."""
    own = np.flatnonzero(~extra)
    if not cfg.rows and len(own) > MANY_ROWS:
        print(
            f"{len(own):,} labelled rows: every member fits each fold on all of them, which takes hours on a few CPU "
            f"cores; ARGS='rows={MANY_ROWS // 2}' trains on {MANY_ROWS // 2:,} (the latest whole days, or at random)"
        )
    if not cfg.rows or len(own) <= cfg.rows:
        return train, extra
    if schema.date and validation_kind(schema, train.iloc[own], test, cfg)[0] == "time":
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
            + (f" ({undated:,} rows without a date left out)" if undated else ""),
        )
    else:
        draw = np.random.default_rng(cfg.fold_seed).random(len(train)) if draw is None else draw
        drawn = own[~np.isnan(draw[own])]
        keep = np.sort(drawn[np.argsort(draw[drawn], kind="stable")[: cfg.rows]])
        how = f"a random sample (fold_seed {cfg.fold_seed})"
    print(f"rows={cfg.rows:,}: {len(keep):,} of the {len(own):,} labelled rows read, {how}; every test row")
    keep = np.union1d(keep, np.flatnonzero(extra))
    return train.iloc[keep].reset_index(drop=True), extra[keep]


def pieces(path: Path, size: int) -> Iterator[bytes]:
    """A file's bytes in pieces of `size` or more, each ending at the end of a CSV row: a line break with an even
    count of quotes before it in the piece (outside quotes: a quote written inside a value is doubled)."""
    with open(path, "rb") as f:
        rest = b""
        while block := f.read(size):
            block, end = rest + block, 0
            quotes, pos = block.count(b'"'), len(block)
            while (at := block.rfind(b"\n", 0, pos)) >= 0:
                quotes -= block.count(b'"', at, pos)
                if quotes % 2 == 0:
                    end = at + 1
                    break
                pos = at
            if end:
                yield block[:end]
            rest = block[end:]
        if rest:
            yield rest
