"""Atomic file writes: every artifact is written to a temp file beside it and renamed into place.

The one place for it in the bottom layer: models/ (checkpoints, plots) and pipelines/ write through these
functions too. The layers stack features/ <- models/ <- pipelines/, so models/ importing from here is the
allowed direction (as it reads images through features.images); tests/test_layering.py checks that
features/ never imports models/ or pipelines/."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def temp_name(prefix: str) -> str:
    """A temp-file or -folder name prefix that records this process: `prefix` + `pid<N>.`."""
    return f"{prefix}pid{os.getpid()}."


def is_orphan(path: Path) -> bool:
    """True for a temp file or folder named by `temp_name` whose process is gone (killed mid-write)."""
    pid = path.name.rsplit("pid", 1)[-1].split(".", 1)[0]
    return pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid))


def remove_stale_temps(folder: str | Path, name: str = "*", recursive: bool = False) -> list[Path]:
    """Delete the temp files that `atomic_path` left for `name` in `folder` (any name; with `recursive`, in
    sub-folders too) when the process that wrote them is gone (killed mid-write, e.g. by kill -9)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f".{name}.pid*.tmp"
    removed = [tmp for tmp in (folder.rglob(pattern) if recursive else folder.glob(pattern)) if is_orphan(tmp)]
    for tmp in removed:
        tmp.unlink(missing_ok=True)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path in `path`'s folder; on success rename it to `path`, on error delete it.

    The temp file's name carries the writer's pid (`.NAME.pid123.XXXX.tmp`), so one left by a killed writer
    is recognised and removed the next time NAME is written (or by `remove_stale_temps`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, glob.escape(path.name))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_name(f".{path.name}."), suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions a plain open() would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json_object(path: str | Path) -> dict:
    """The JSON object in `path`; {} where there is none: no file, not JSON, not an object (an older run's folder)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):  # ValueError: JSONDecodeError, UnicodeDecodeError
        return {}
    return data if isinstance(data, dict) else {}


class DamagedFile(ValueError):
    """A cache or artifact that cannot be read back (cut short by a full disk, a kill or a copy)."""

    def __init__(self, path: Path, error: Exception, kind: str = "Feather file"):
        self.path = Path(path)
        reason = str(error).splitlines()[0] if str(error) else ""
        super().__init__(f"{path}: damaged, not a readable {kind} ({type(error).__name__}: {reason})")


def read_feather(path: str | Path, **kwargs) -> pd.DataFrame:
    """Read a Feather file; DamagedFile naming it when it is not one (the caller rebuilds it or says how)."""
    import pyarrow

    try:
        return pd.read_feather(path, **kwargs)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowIOError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise DamagedFile(Path(path), e) from None


def write_feather(df: pd.DataFrame, path: str | Path) -> None:
    """Write a frame as Feather (index dropped) atomically."""
    with atomic_path(path) as tmp:
        df.reset_index(drop=True).to_feather(tmp)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a frame as CSV (index dropped) atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def write_npy(array, path: str | Path) -> None:
    """Write a NumPy array as .npy atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def write_sparse(matrix, path: str | Path) -> None:
    """Write a SciPy sparse matrix as .npz (uncompressed: a million texts' TF-IDF in seconds) atomically; None
    removes an earlier one."""
    if matrix is None:
        Path(path).unlink(missing_ok=True)
        return
    import scipy.sparse as sp

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        sp.save_npz(f, matrix, compressed=False)


def cached(path: Path, key, compute: Callable[[], T], save: Callable[[T, Path], None], load: Callable[[Path], T]) -> T:
    """Every cache of derived data (activations, probe features, joined tables): `load(path)` when `path` was
    written for `key` (any JSON-able value; its hash sits beside the file in `<path>.key`), else `compute()`,
    saved with `save(value, path)` (which writes atomically), the key written last: an interrupted save leaves
    no key and is computed again, as is a file that `load` cannot read back (damaged, cut short, missing)."""
    stamp = path.with_name(path.name + ".key")
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    if path.exists() and stamp.is_file() and stamp.read_text() == digest:
        try:
            return load(path)
        except (DamagedFile, OSError, EOFError, ValueError, RuntimeError) as e:  # torch.load: RuntimeError
            print(
                f"{path}: cannot be read back ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); computing it again"
            )
    stamp.unlink(missing_ok=True)
    value = compute()
    save(value, path)
    atomic_write_text(stamp, digest)
    return value
