"""The environment's contract: pyproject.toml's ranges, the full lock (requirements.txt), the oldest versions
(requirements-oldest.txt) and the imports of the code agree; the check that notebook mode runs names what is
missing."""

from __future__ import annotations

import ast
import importlib.metadata as md
import sys

import pytest

from pipelines import env
from pipelines.paths import ROOT

PEERS = {"fastai", "autogluon"}  # imported only by the bench peers, in their own venvs (make peers-env, autogluon-env)


def pins(path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split(";")[0].strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            out[env.normalize(name)] = version
    return out


def ranges() -> dict[str, str]:
    return {
        env.normalize(n): spec
        for n, _, spec in (env.REQUIREMENT.match(r).groups() for r in env.requirements("images", "dev"))
    }


def test_the_lock_pins_every_direct_dependency_inside_its_range():
    lock = pins(env.LOCK)
    for name, spec in ranges().items():
        assert name in lock, f"{name} is in pyproject.toml but not in requirements.txt: run `make lock`"
        assert env.meets(lock[name], spec), f"requirements.txt pins {name}=={lock[name]}, outside {spec}"
    assert not [line for line in env.LOCK.read_text().splitlines() if line.startswith("torch") and "+" in line]


def test_the_oldest_versions_are_the_ranges_lower_bounds():
    oldest, claimed = pins(env.OLDEST), ranges()
    for name, version in oldest.items():
        lower = [c.strip()[2:] for c in claimed[name].split(",") if c.strip().startswith(">=")]
        assert lower and env.meets(version, f"=={lower[0]}"), f"{name}: oldest {version}, pyproject {claimed[name]}"
    untested = (
        {n for n, s in claimed.items() if ">=" in s}
        - set(oldest)
        - {"torch", "torchvision", "pytest", "pytest-xdist", "scikit-image", "ruff"}  # torch: checked below
    )
    assert not untested
    # torch and torchvision: one build here, the lock's; their lower bound is that pin
    for name in ("torch", "torchvision"):
        assert env.meets(pins(env.LOCK)[name], "==" + claimed[name].split(",")[0][2:])


def test_every_import_of_the_code_is_a_declared_dependency():
    modules = set()
    for folder in ("features", "models", "pipelines"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules.add(node.module.split(".")[0])
    third = modules - set(sys.stdlib_module_names) - {"features", "models", "pipelines"} - PEERS
    dists = md.packages_distributions()
    declared = set(ranges())
    undeclared = {m: dists.get(m) for m in third if not {env.normalize(d) for d in dists.get(m, [m])} & declared}
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


@pytest.mark.parametrize(
    "version, spec, ok",
    [
        ("3.0.0", ">=3.0,<4", True),
        ("2.3.3", ">=3.0,<4", False),
        ("4.0", ">=3.0,<4", False),
        ("2.14.1+cu130", ">=2.14.1,<2.15", True),
        ("2.14", ">=2.14.1", False),
        ("1.0.25", ">=1.0.25", True),
        ("0.1.9", "==0.1.9", True),
        ("5", "", True),
    ],
)
def test_ranges_compare_release_numbers(version, spec, ok):
    assert env.meets(version, spec) is ok


def test_the_check_names_what_is_missing_or_too_old(capsys, monkeypatch):
    assert env.problems(["pandas>=99", "surely-not-installed-pkg>=1", "numpy>=1"]) == [
        f"pandas {md.version('pandas')}: out of range (needs >=99)",
        "surely-not-installed-pkg: not installed (needs >=1)",
    ]
    monkeypatch.setattr(env, "requirements", lambda *extras: ["pandas>=99"])
    assert env.check("python3") == 1
    err = capsys.readouterr().err
    assert "python3 cannot run the chain as it is" in err and "pandas" in err and "leave PY unset" in err


def test_the_threads_are_capped_to_the_cpus_other_work_leaves(monkeypatch, capsys):
    """No OMP_NUM_THREADS given and one of 2 CPUs busy: 1 thread, said; nothing busy, or a value given: left."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(env.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(env.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(env, "busy_cpus", lambda window=0.3: 0.3)
    assert env.cap_threads() is None and "OMP_NUM_THREADS" not in env.os.environ
    monkeypatch.setattr(env, "busy_cpus", lambda window=0.3: 1.1)
    assert env.cap_threads() == 1 and env.os.environ["OMP_NUM_THREADS"] == "1"
    assert "threads: 1 of 2 CPUs, other work keeping 1.1 busy" in capsys.readouterr().out
    monkeypatch.setattr(env, "busy_cpus", lambda window=0.3: 2.0)
    assert env.cap_threads() is None  # OMP_NUM_THREADS is set now: the caller's, kept
    from models.gbdt import default_threads

    assert default_threads() == 1  # what LightGBM reads


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_busy_cpus_reads_the_machine():
    busy = env.busy_cpus(0.05)
    assert busy is not None and 0 <= busy <= env.os.cpu_count()


KEPT = """
import os, sys
import numpy as np
from pipelines import env
if sys.argv[1] == "image steps":  # what an image step loads first
    from pipelines.vision.card import _steps
    _steps()
    print(True)
else:
    print(env.keep_freed_memory())
resident = lambda: int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = resident()
np.ones(64 << 20, np.uint8)  # 64 MB (glibc maps any block past 32 MB of its own), freed at once
print((resident() - before) >> 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize("keep, how", [("1", "env"), ("0", "env"), ("1", "image steps")])
def test_a_freed_large_block_stays_for_the_next_one(keep, how):
    """keep_freed_memory: a freed 64 MB block stays in the process (resident) for the next one to reuse, where
    glibc's defaults unmap it, and the next is mapped and zero-filled afresh; PIPELINES_KEEP_FREED=0 keeps those.
    The image card's steps ask for it when they load (its convolutions on a CPU: 2x the images/s)."""
    import os
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", KEPT, how],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PIPELINES_KEEP_FREED": keep},
    ).stdout.split()
    kept, megabytes = out[0] == "True", int(out[1])
    if keep == "1":
        assert kept and megabytes >= 60
    else:
        assert not kept and megabytes < 8
