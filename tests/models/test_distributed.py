"""Data-parallel training: 2 processes with gloo on CPU end with identical weights, on disjoint shards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from models.data import EpochSampler
from pipelines.paths import ROOT


def test_shards_are_disjoint_equal_and_cover_the_epoch():
    shards = [list(EpochSampler(10, seed=1, rank=r, world=3)) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]
    flat = [i for s in shards for i in s]
    assert len(set(flat)) == 9 and set(flat) <= set(range(10))
    again = EpochSampler(10, seed=1, rank=0, world=3)
    again.set_epoch(1)
    assert list(again) != shards[0]  # a new permutation each epoch


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(ROOT / "tests" / "models" / "ddp_worker.py"),
        str(tmp_path),
    ]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    a, b = (torch.load(tmp_path / f"rank{i}.pt", weights_only=True) for i in (0, 1))
    assert a["world"] == b["world"] == 2 and a["unwrapped"] and b["unwrapped"]  # DDP wrappers gone after fit
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert not set(a["seen"]) & set(b["seen"])  # each rank trained on its own shard
    assert len(a["seen"]) == len(b["seen"]) == 144  # 2 + 1 epochs x 48 rows each
    assert a["loss"] == b["loss"] and a["head_loss"] == b["head_loss"]  # averaged across ranks
