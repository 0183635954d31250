"""How often training prints its progress: a fit's first and last lines, and between them one every
PROGRESS_EVERY seconds at the most (10 unless set; 0: every epoch's, every 100th LightGBM round's). A small table's
five folds of 28 network epochs of 0.1 s printed 190 lines that hid the rest of a step's output; every epoch's
figures are in the run's metrics.csv all the same. Used by models.callbacks.ProgressCallback and models.gbdt."""

from __future__ import annotations

import math
import os
import time


def progress_every() -> float:
    """Seconds between two progress lines: $PROGRESS_EVERY, else 10."""
    text = os.environ.get("PROGRESS_EVERY", "10")
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):  # nan would hide every line between the first and the last
        raise ValueError(f"PROGRESS_EVERY={text!r}: a number of seconds (0: every line)")
    return max(seconds, 0.0)


class Throttle:
    """Whether a progress line is due: the first, the `last`, and one every `every` seconds between them."""

    def __init__(self, every: float | None = None):
        self.every = progress_every() if every is None else every
        self.at: float | None = None  # when the last line was due (None: none yet)

    def due(self, last: bool = False) -> bool:
        now = time.monotonic()
        if self.at is None or last or now - self.at >= self.every:
            self.at = now
            return True
        return False
