"""The Python environment the chain runs in, checked against pyproject.toml's ranges; and the lock file.

`python -m pipelines.env` (what `make ... PY=python3` runs before a step: a Kaggle notebook, Colab or a cluster
image, whose packages are already installed) names every missing or out-of-range package and the fix, or
says which interpreter runs the chain. `python -m pipelines.env lock` writes requirements.txt, the full lock
of every package installed here (what `make venv` installs), from the environment it runs in.

Standard library only: it runs before anything is known to be installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11
    raise SystemExit(f"Python {sys.version.split()[0]} cannot run the chain: 3.11 or newer is needed") from None

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.txt"
OLDEST = ROOT / "requirements-oldest.txt"
# torch's CUDA libraries: Linux x86_64 wheels only; the lock says so, so that it installs on other machines too
LINUX_ONLY = re.compile(r"^(nvidia-.*|triton|cuda-.*)$")
LINUX_MARKER = 'platform_system == "Linux" and platform_machine == "x86_64"'
NOT_LOCKED = {"pip", "setuptools", "wheel", "kaggle-fastai-solutions"}


def busy_cpus(window: float = 0.3) -> float | None:
    """How many of the machine's CPUs other work kept busy over the next `window` seconds (this process is idle
    meanwhile), from /proc/stat; None where it cannot be read (not Linux)."""
    import time

    def sample() -> tuple[int, int] | None:  # (busy, total) jiffies over every CPU
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:9]]  # user..steal; guest is inside user
        except (OSError, ValueError):
            return None
        idle = fields[3] + fields[4]  # idle, iowait
        return sum(fields) - idle, sum(fields)

    first = sample()
    time.sleep(window)
    second = sample()
    if first is None or second is None or second[1] <= first[1]:
        return None
    return (second[0] - first[0]) / (second[1] - first[1]) * (os.cpu_count() or 1)


def cap_threads() -> int | None:
    """Where the caller set no OMP_NUM_THREADS and other work keeps some CPUs busy, set it (and the BLAS pools
    numpy has loaded) to the CPUs left, said, and return it; else None. LightGBM's (models.gbdt.default_threads)
    and torch's threads wait for each other at every step: beside a busy loop on one of 2 cores, 2 threads took
    LightGBM 2.1x and a torch epoch 3.4x as long as 1 thread did (100 rounds of 16,000 x 134; measured at stop
    48; a helper's trial saw 30x)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    ours = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = busy_cpus()
    if busy is None:
        return None
    free = max(1, min(ours, round((os.cpu_count() or 1) - busy)))
    if free >= ours:
        return None
    os.environ["OMP_NUM_THREADS"] = str(free)
    try:
        from threadpoolctl import threadpool_limits  # scikit-learn's: the BLAS pools loaded already

        threadpool_limits(free)
    except ImportError:
        pass
    if "torch" in sys.modules:  # torch reads OMP_NUM_THREADS when imported: one already imported is told
        sys.modules["torch"].set_num_threads(free)
    print(
        f"threads: {free} of {ours} CPUs, other work keeping {busy:.1f} busy (OMP_NUM_THREADS={free}; set it "
        f"yourself to choose)"
    )
    return free


def keep_freed_memory() -> bool:
    """On glibc (Linux), serve blocks up to 1 GiB from the heap and keep what is freed for the next ones, where its
    defaults mmap each large block afresh and unmap it when freed, so that the kernel zero-fills every page of it
    again at first touch: torch's activations on a CPU are such blocks (a batch of 64 images at 260 px, 138 MB a
    layer), allocated and freed at every layer of every batch. Measured on 2 AMD EPYC cores: EfficientNet-Lite2's
    forward pass at 260 px, batch 64, 17.7 -> 32.6 images/s (system time 13.2 -> 1.5 s of 256 images); the
    dogs-vs-cats sample's `make train` 126 / 131 s -> 61 / 60 s, its peak memory 2.0 -> 2.7 / 3.0 GB, the same
    figures. The image steps ask for it (pipelines/vision/card.py, pipelines/cifar10), not the tabular ones: their
    blocks are pandas' columns, and a 5M-row features step peaked 27% higher for no time saved.
    PIPELINES_KEEP_FREED=0 keeps glibc's defaults. True where set."""
    if sys.platform != "linux" or os.environ.get("PIPELINES_KEEP_FREED", "1") == "0":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl's has no mallopt)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(mallopt(m_trim_threshold, (1 << 31) - 1))


def normalize(name: str) -> str:
    """A distribution's name as the package index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(*extras: str) -> list[str]:
    """pyproject.toml's dependencies and those of `extras` (images, dev): requirement strings with ranges."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return list(project["dependencies"]) + [r for e in extras for r in project["optional-dependencies"][e]]


REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def release(version: str) -> tuple[int, ...]:
    """A version's release numbers (2.14.1+cu130 -> (2, 14, 1)); what the ranges here compare."""
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def meets(version: str, specifier: str) -> bool:
    """Whether `version` meets a range such as ">=3.0,<4". Written here rather than with `packaging`: this runs on
    an interpreter that may have nothing installed yet (a bare python3 names what it lacks instead of a
    traceback); the ranges in pyproject.toml use only these operators on release numbers."""
    have = release(version)
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        op = next(o for o in sorted(OPS, key=len, reverse=True) if clause.startswith(o))
        want = release(clause[len(op) :].strip())
        width = max(len(have), len(want))
        if not OPS[op](have + (0,) * (width - len(have)), want + (0,) * (width - len(want))):
            return False
    return True


def problems(reqs: list[str] | None = None) -> list[str]:
    """One line per requirement this interpreter does not meet (missing, or a version out of range)."""
    out = []
    for text in reqs if reqs is not None else requirements():
        name, _, specifier = REQUIREMENT.match(text).groups()
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            out.append(f"{name}: not installed (needs {specifier or 'any version'})")
            continue
        if not meets(have, specifier):
            out.append(f"{name} {have}: out of range (needs {specifier})")
    return out


def check(python: str = sys.executable) -> int:
    """Print what this interpreter lacks and the fix (exit 1), or the line that says it runs the chain."""
    bad = problems()
    images = problems([r for r in requirements("images") if r not in requirements()])
    if images:
        print(
            f"note: the image competitions also need: {'; '.join(images)} (pretrained=false and the other "
            "competitions run without them)"
        )
    if bad and os.environ.get("PIPELINES_ENV_CHECK") == "warn":  # a Kaggle kernel's own torch (pipelines/kernel.py)
        print(
            f"warning: {python} is outside pyproject.toml's ranges (PIPELINES_ENV_CHECK=warn):\n  " + "\n  ".join(bad)
        )
        return 0
    if bad:
        print(
            f"{python} cannot run the chain as it is:\n  " + "\n  ".join(bad) + "\n"
            "Install those (pip install 'name>=version'), or leave PY unset: make builds its own .venv "
            "from requirements.txt.",
            file=sys.stderr,
        )
        return 1
    print(f"environment: {python} as it is (no venv; every pyproject.toml range met)")
    return 0


def lock_lines() -> list[str]:
    """requirements.txt's lines: every distribution installed in this environment, pinned, sorted by name;
    torch's CUDA libraries marked Linux x86_64 only."""
    pins = {}
    for dist in md.distributions():
        name = normalize(dist.metadata["Name"])
        if name not in NOT_LOCKED:
            pins[name] = dist.version
    lines = []
    for name in sorted(pins):
        line = f"{name}=={pins[name]}"
        lines.append(f"{line} ; {LINUX_MARKER}" if LINUX_ONLY.match(name) else line)
    return lines


def write_lock(path: Path = LOCK) -> None:
    """Write the lock (temp file, then rename) after checking that it meets pyproject.toml's ranges."""
    bad = problems(requirements("images", "dev"))
    if bad:
        raise SystemExit("not locking an environment that pyproject.toml does not accept:\n  " + "\n  ".join(bad))
    header = [
        "# The full lock: every package `make venv` installs, pinned. Generated by `make lock` (python -m",
        "# pipelines.env lock) from a venv that meets pyproject.toml's ranges: edit pyproject.toml, not this file.",
    ]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(header + lock_lines()) + "\n")
    tmp.replace(path)
    print(f"{path}: {len(lock_lines())} packages")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.env", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", choices=["check", "lock"], default="check")
    args = parser.parse_args(argv)
    if args.action == "lock":
        write_lock()
        return 0
    return check()


if __name__ == "__main__":
    raise SystemExit(main())
