"""Atomic writes: a writer killed mid-write (kill -9) leaves a temp file that the next write removes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pandas as pd

from features.io import atomic_path, remove_stale_temps, write_feather
from pipelines.paths import ROOT

HANG_IN_WRITE = """
import sys, time
from features.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a feather file")
    print("writing", flush=True)
    time.sleep(60)
"""


def killed_writer(path) -> int:
    """Start a process that is writing `path` and kill -9 it mid-write; returns its pid."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HANG_IN_WRITE, str(path)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.pid


def test_a_temp_file_left_by_kill_9_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "train.feather"
    pid = killed_writer(target)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".train.feather.pid{pid}.") and left[0].endswith(".tmp")
    write_feather(pd.DataFrame({"a": [1, 2]}), target)
    assert [p.name for p in tmp_path.iterdir()] == ["train.feather"]
    assert pd.read_feather(target).a.tolist() == [1, 2]


def test_sweep_removes_only_temps_of_dead_writers(tmp_path):
    (tmp_path / "sub").mkdir()
    pid = killed_writer(tmp_path / "sub" / "procs.json")
    with atomic_path(tmp_path / "sub" / "live.json") as live:  # this process is alive: its temp stays
        live.write_text("{}")
        removed = remove_stale_temps(tmp_path, recursive=True)
        assert [p.name.split(".pid")[1].split(".")[0] for p in removed] == [str(pid)]
        assert live.exists()
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["live.json"]


def test_cached_computes_once_per_key_and_again_when_damaged_or_cut_short(tmp_path, capsys):
    import numpy as np

    from features.io import cached

    calls = []

    def compute(value):
        calls.append(value)
        return np.full(3, value)

    def save(a, p):
        np.save(p, a)

    path = tmp_path / "c.npy"
    first = cached(path, ["k", 1], lambda: compute(1), save, np.load)
    again = cached(path, ["k", 1], lambda: compute(1), save, np.load)
    assert calls == [1] and (first == again).all()
    assert cached(path, ["k", 2], lambda: compute(2), save, np.load)[0] == 2 and calls == [1, 2]
    path.write_bytes(b"\x93NUMPY broken")  # damaged under a valid key: named, computed again
    assert cached(path, ["k", 2], lambda: compute(2), save, np.load)[0] == 2 and calls == [1, 2, 2]
    assert "cannot be read back" in capsys.readouterr().out
    (tmp_path / "c.npy.key").unlink()  # a save cut short before its key: computed again
    cached(path, ["k", 2], lambda: compute(2), save, np.load)
    assert calls == [1, 2, 2, 2]
