"""Where a step's wall time goes: `python -m pipelines.profile STEP COMP [the step's options]` (`make profile
STEP=predict COMP=cifar10`) runs the step in this process under cProfile, then prints its wall time: the imports,
the project's functions that take the most of it (cumulative, each with what it calls) and the rest; the whole
profile is saved beside the run (`python -m pstats` or snakeviz read it). A finished training is reused, not
redone: profile `train` with a new RUN. On a GPU, kernels run asynchronously: a function's time is the host's, which
includes its waits for the device (a `.item()`, a copy to the CPU) and not the kernels it only queued.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from pathlib import Path

from pipelines.paths import ROOT

TOP = 25  # the project's functions listed


def summary(stats: pstats.Stats, wall: float, top: int = TOP) -> str:
    """The wall time, the imports' share and the project's `top` functions by cumulative time."""
    rows = stats.stats  # (file, line, name) -> (calls, primitive calls, own time, cumulative time, callers)
    imports = max((v[3] for (f, _, name), v in rows.items() if name == "_find_and_load"), default=0.0)
    ours = [
        (v[3], v[0], f"{f.removeprefix(str(ROOT) + '/')}:{line} {name}")
        for (f, line, name), v in rows.items()
        if f.startswith(str(ROOT)) and "/.venv" not in f and name != "<module>"
    ]
    lines = [
        f"wall {wall:.2f} s, of which imports {imports:.2f} s ({imports / wall:.0%})",
        "",
        f"{'cumulative s':>12}  {'calls':>7}  function",
    ]
    lines += [f"{t:12.2f}  {n:7d}  {where}" for t, n, where in sorted(ours, reverse=True)[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = next((a.removeprefix("--out=") for a in argv if a.startswith("--out=")), None)
    argv = [a for a in argv if not a.startswith("--out=")]
    if len(argv) < 2 or argv[0].startswith("-"):
        raise SystemExit("usage: python -m pipelines.profile STEP COMP [--out=file.prof] [the step's options]")
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    try:
        from pipelines.__main__ import main as run_step  # its imports (torch, pandas) are part of the step's time

        code = run_step(argv)
    finally:
        profiler.disable()
        wall = time.perf_counter() - t0
        from features.io import atomic_path  # after the profile: pandas' import belongs to the step

        path = Path(out or f"profile-{argv[0]}-{argv[1]}.prof")
        with atomic_path(path) as tmp:
            profiler.dump_stats(tmp)
        print(f"\n{argv[0]} {argv[1]} profiled:\n{summary(pstats.Stats(profiler), wall)}\n(whole profile: {path})")
    return code


if __name__ == "__main__":
    sys.exit(main())
