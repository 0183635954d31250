"""Kill a training run with SIGKILL after its first checkpoint, run it again, and compare with a run that was
never interrupted (imported by the trainers' resume tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.paths import ROOT


def kill_after_checkpoint(args: list[str], checkpoint: Path, timeout: float = 300) -> None:
    """Start `python -m pipelines *args`; SIGKILL it once `checkpoint` exists (an epoch has finished)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + timeout
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it could be killed:\n{out[-2000:]}"


def run(args: list[str]) -> str:
    """`python -m pipelines *args`, checked; its stdout."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout
