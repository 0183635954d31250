"""Where competitors run: a Kaggle notebook. The competition's files in a read-only folder (as Kaggle mounts
/kaggle/input/<slug>), an interpreter whose packages are installed already (PY=..., no venv built): `make
download` links the files, `make all OUT=submission.csv` writes the submission there too, and not a byte under
the input folder changes.
`make test-oldest` runs the same test with CHAIN_PY= the oldest versions pyproject.toml claims."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from makes import make

from pipelines.paths import ROOT

CHAIN_PY = str(ROOT / os.environ["CHAIN_PY"]) if os.environ.get("CHAIN_PY") else sys.executable
QUICK = "net_epochs=2 net_bs=256 net_layers=[64,32] net_lr=1e-2 gbdt_rounds=60 gbdt_leaves=15 gbdt_seeds=1"


def snapshot(folder: Path) -> dict:
    """Every entry under folder: its mode, size, modification time and content hash."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        out[str(p.relative_to(folder))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def set_writable(folder: Path, writable: bool) -> None:
    for p in [folder, *folder.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.mark.slow
def test_all_in_notebook_mode_from_a_read_only_input(tmp_path):
    gen, data, subs = tmp_path / "gen", tmp_path / "working" / "data", tmp_path / "working" / "submissions"
    make("sample", f"DATA={gen}")  # the embedded sample, as a Kaggle input folder holds the real files
    src = tmp_path / "input" / "rossmann-store-sales"
    shutil.copytree(gen / "rossmann" / "raw", src, ignore=shutil.ignore_patterns("SOURCE.json"))
    set_writable(src, False)
    before = snapshot(src)
    try:
        py, where = f"PY={CHAIN_PY}", [f"DATA={data}", f"SUBMISSIONS={subs}", "RUN=nb"]
        got = make("download", f"SRC={src}", py, *where).stdout
        assert f"environment: {CHAIN_PY} as it is" in got and "is read-only: its files are linked" in got
        raw = data / "rossmann" / "raw"
        linked = sorted(p.name for p in raw.iterdir() if p.is_symlink())
        assert linked == sorted(before) and all((raw / n).resolve().parent == src for n in linked)
        out = tmp_path / "working" / "submission.csv"  # where a code competition's notebook leaves it
        got = make("all", py, *where, f"ARGS={QUICK}", f"OUT={out}").stdout
        assert "pip install" not in got and "-m venv" not in got  # nothing built: the interpreter as it is
        assert out.read_bytes() == (subs / "rossmann" / "nb.csv").read_bytes() and f"copied to {out}" in got
        assert snapshot(src) == before
    finally:
        set_writable(src, True)
