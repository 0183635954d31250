"""Run directories: every training run gets a folder holding its resolved config, git commit, metrics,
timings, plots and checkpoint, so any number in a submission can be traced back to what made it."""

from __future__ import annotations

import json
import platform
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from features.io import atomic_write_text
from pipelines.paths import ROOT


def git_commit() -> dict:
    """The repo's HEAD commit and whether the work tree had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True)  # fmt: skip
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds the legacy global RNG that third-party code may use
    torch.manual_seed(seed)


def environment() -> dict:
    """Versions and hardware a result was produced with."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": platform.machine(),
    }


@dataclass
class RunDir:
    """data/<comp>/runs/<name>/: config.json, run.json (commit, env, timings), metrics, plots, checkpoint.pt."""

    path: Path

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def result(self) -> Path:
        """Written last, when the run is complete."""
        return self.path / "result.json"

    def start(self, config: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_json("config.json", config)
        self.write_json("run.json", {"git": git_commit(), "env": environment(), "started": time.strftime("%FT%T")})

    def write_json(self, name: str, obj) -> None:
        atomic_write_text(self.path / name, json.dumps(obj, indent=1, default=str))

    def read_json(self, name: str):
        return json.loads((self.path / name).read_text())

    def is_complete(self) -> bool:
        return self.result.is_file()
