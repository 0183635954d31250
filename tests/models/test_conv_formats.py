"""channels_last must give the same outputs and gradients as NCHW for every convolution the shipped nets use.

On AVX-512 CPUs without AMX (AMD EPYC), oneDNN's channels_last 1x1 stride-2 backward pass crashed or returned
wrong weight gradients for small channel counts and odd batch sizes (uxlfoundation/oneDNN#6035); the check
runs in a subprocess (conv_format_worker.py) so a crash fails this test and names the shape.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipelines.paths import ROOT


@pytest.mark.slow
def test_channels_last_matches_nchw_for_every_shipped_conv_shape_and_batch_1_to_8():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = ROOT / "tests" / "models" / "conv_format_worker.py"
    r = subprocess.run([sys.executable, str(worker)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    lines = r.stdout.splitlines()
    if r.returncode < 0:  # killed by a signal: the last shape it started is the one that crashed
        last = next((ln for ln in reversed(lines) if ln.startswith("checking")), "before the first shape")
        pytest.fail(f"the process died with signal {-r.returncode} while {last}\n{r.stderr[-1500:]}")
    assert r.returncode == 0, "\n".join(ln for ln in lines if ln.startswith("MISMATCH")) + r.stderr[-1500:]
    assert lines[-1].endswith(" 0 mismatches") and int(lines[0].split()[0]) > 50, lines[:1] + lines[-1:]
