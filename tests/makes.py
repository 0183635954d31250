"""`make` as the tests run it: a subprocess in the repository root, its output kept, a failure shown whole."""

from __future__ import annotations

import os
import subprocess

from pipelines.paths import ROOT


def make(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `make ARGS` (with `env` added to the environment); AssertionError with its output when it fails."""
    r = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        capture_output=True,
        text=True,
    )
    if check and r.returncode:
        raise AssertionError(f"make {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r
