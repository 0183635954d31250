"""Shared fixtures: the embedded Rossmann sample (generated once per session) and the optional real data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipelines.paths import SHARED  # ../shared/data, or SHARED_DATA=folder


def pytest_configure(config):
    """Under pytest-xdist (`make test`: TEST_JOBS workers), each worker and the runs it starts get an equal share of
    the cores: torch and LightGBM would otherwise each start one thread per core in every worker (one worker: every
    core, and the steps do not sample the machine's load). Runs before any test module imports torch, which reads
    OMP_NUM_THREADS once; a value the caller set is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    # xdist's controller sets nothing: its workers inherit its environment and would keep its value
    controller = "PYTEST_XDIST_WORKER" not in os.environ and config.getoption("numprocesses", None) not in (None, 0)
    if "OMP_NUM_THREADS" not in os.environ and not controller:  # set: the steps leave it (pipelines.env.cap_threads)
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture(scope="session")
def rossmann_sample_dir(tmp_path_factory) -> Path:
    """A folder with the eight generated Rossmann CSVs (default size, seed 0). Treat as read-only."""
    from pipelines.rossmann.sample import generate

    out = tmp_path_factory.mktemp("rossmann_sample")
    generate(out)
    return out


@pytest.fixture()
def rossmann_real_dir() -> Path:
    """../shared/data/rossmann, or skip the test when it is absent (a fresh clone has no ../shared)."""
    path = SHARED / "rossmann"
    if not (path / "rossmann-store-sales.zip").is_file():
        pytest.skip(f"real Rossmann data not found at {path}")
    return path


@pytest.fixture()
def sample_paths(tmp_path, rossmann_sample_dir):
    """Paths for a private data root whose rossmann/raw holds a copy of the sample (stamped as the sample)."""
    from pipelines.download import make_sample
    from pipelines.paths import Paths
    from pipelines.rossmann import SPEC

    paths = Paths.for_comp("rossmann", tmp_path / "data", tmp_path / "submissions")
    spec = type(SPEC)(**{**SPEC.__dict__, "make_sample": lambda folder: _copy(rossmann_sample_dir, folder)})
    make_sample(spec, paths)
    return paths


def _copy(src: Path, dst: Path) -> None:
    for p in src.iterdir():
        shutil.copy2(p, dst / p.name)
