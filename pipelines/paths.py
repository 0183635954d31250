"""Where each competition's artifacts live. Data and outputs never sit beside code."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The real data for benchmarks and real-data tests: ../shared/data, or SHARED_DATA=<a folder laid out as it is:
# rossmann/, images/> (a GPU machine without ../shared: a copy inside the checkout, e.g. .gpu/)
SHARED = Path(os.environ.get("SHARED_DATA") or ROOT.parent / "shared" / "data").resolve()
# A run or competition name becomes a folder and a file name (runs/RUN/, submissions/COMP/RUN.csv): one plain
# path component, never '.', '..', an absolute path or a path with '/'.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def plain_name(value: str, what: str = "RUN") -> str:
    """`value` if it is a plain name (a letter or digit, then letters, digits and . _ -, at most 100), else
    ValueError stating the rule."""
    if not isinstance(value, str) or not _PLAIN.fullmatch(value):
        raise ValueError(
            f"{what}={value!r} is not a plain name: use letters, digits and . _ - (starting with a letter or "
            f"digit, at most 100), e.g. {what}=exp1"
        )
    return value


@dataclass(frozen=True)
class Paths:
    """data/<comp>/{raw,interim,processed,runs} and submissions/<comp>/ under a data root."""

    comp: str
    data_root: Path = ROOT / "data"
    submissions_root: Path = ROOT / "submissions"

    @classmethod
    def for_comp(
        cls, comp: str, data_root: str | Path | None = None, submissions_root: str | Path | None = None
    ) -> Paths:
        """Paths for `comp`; roots default to $DATA / $SUBMISSIONS or the repo's data/ and submissions/."""
        plain_name(comp, "COMP")
        data = Path(data_root or os.environ.get("DATA") or ROOT / "data")
        subs = Path(submissions_root or os.environ.get("SUBMISSIONS") or ROOT / "submissions")
        return cls(comp, data.resolve(), subs.resolve())

    @property
    def comp_dir(self) -> Path:
        return self.data_root / self.comp

    @property
    def raw(self) -> Path:
        """Immutable download (or the generated sample); SOURCE.json says which."""
        return self.comp_dir / "raw"

    @property
    def interim(self) -> Path:
        return self.comp_dir / "interim"

    @property
    def processed(self) -> Path:
        return self.comp_dir / "processed"

    @property
    def runs(self) -> Path:
        return self.comp_dir / "runs"

    @property
    def config(self) -> Path:
        """Resolved config sections, rewritten only when they change (so make rebuilds only what they affect)."""
        return self.comp_dir / "config"

    @property
    def submissions(self) -> Path:
        return self.submissions_root / self.comp

    @property
    def source_stamp(self) -> Path:
        return self.raw / "SOURCE.json"
