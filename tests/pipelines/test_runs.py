"""Run folders: one process at a time trains in a run; the features' fingerprint guards reuse."""

from __future__ import annotations

import os

import pytest

from pipelines.runs import RunLocked, run_lock


def test_a_second_holder_is_refused_with_the_first_named(tmp_path):
    with run_lock(tmp_path / "run", "train"):
        with pytest.raises(RunLocked, match=rf"run is in use by pid {os.getpid()} on .*\(train, since .*\)"):
            with run_lock(tmp_path / "run", "train"):
                pass
        with run_lock(tmp_path / "other", "train"):  # another run folder is free
            pass
    with run_lock(tmp_path / "run", "predict"):  # released at the end
        pass
