"""Kill a training run with SIGKILL after its first checkpoint, run it again, and compare with a run that was
never interrupted (the trainers' resume tests); `run`, a step in the test's own process (the chain and torchrun
tests' too). The killed run is a process of its own."""

from __future__ import annotations

import contextlib
import io
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
    """`python -m pipelines *args` run in this process, checked; its stdout. The same code as the command (its
    `main`), without a new interpreter's imports (torch, torchvision, scikit-learn: 8 s a run on 2 AMD EPYC cores)."""
    from pipelines.__main__ import main

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = main(args)
    except BaseException:
        sys.stdout.write(out.getvalue()[-4000:])  # what the step said before it failed, beside pytest's traceback
        raise
    if code == 130:  # main's answer to Ctrl-C: stop the session, as a subprocess's would
        raise KeyboardInterrupt
    assert code == 0, out.getvalue()[-2000:]
    return out.getvalue()
