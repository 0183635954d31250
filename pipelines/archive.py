"""Unpacking archives and copying folders we did not make, without trusting them.

Every member of a zip or tar is checked before anything is written, and written by this module (not by
`tarfile.extractall` / `zipfile.extractall`): a member may only be a plain file or a folder whose name stays
inside the destination (no absolute names, no `..`, no links, no devices), and what is written is counted
against a `Budget`, so a zip bomb stops at the budget instead of at the disk or the memory.

Why not the tar `filter="data"` alone: Python's own filter was bypassed by crafted symlink chains
(CVE-2025-4517 and its relatives; Python 3.11.7 here is affected), and zipfile has no filter at all.
Competition archives hold plain files and folders, so refusing every link costs nothing.

Folders (`SRC=folder`) are copied without following links to folders, so a link back into the folder
(`ln -s . a`) cannot make the copy endless; a link to a file is copied as the file it points to.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

GiB = 1 << 30
MiB = 1 << 20
CHUNK = 1 << 20
# A real competition file compresses 2-10x (Rossmann's train.csv 5.5x, store sales 5.4x, JPEGs 1.0-1.4x);
# deflate's ceiling is about 1032x. Past 100x on a member of some size, the "data" is padding or a bomb.
MAX_RATIO = 100
RATIO_FLOOR = 16 * MiB  # smaller members may compress as they like (a column of zeros, a tiny CSV)
BLOCK = 4096  # what a file costs on disk at least: a million empty members are not free


class UnsafeArchive(ValueError):
    """An archive or folder that would write outside its destination, or more than it may."""


@dataclass
class Budget:
    """How many bytes one download may write in all (archives, nested archives, copied folders).

    `limit`: the competition's ceiling (DataSpec.max_bytes); the free disk space is checked as well."""

    limit: int
    what: str = "the download"
    written: int = 0

    def reserve(self, nbytes: int, name: str, dest: Path) -> None:
        """Account for a file of `nbytes` about to be written as `name` (at least one disk block); UnsafeArchive
        when over the limit or the disk."""
        nbytes = max(nbytes, BLOCK)
        if self.written + nbytes > self.limit:
            raise UnsafeArchive(
                f"{name}: {self.what} would unpack to more than {_size(self.limit)} "
                f"({_size(self.written)} written, this member {_size(nbytes)}); this competition's limit is "
                f"DataSpec.max_bytes={self.limit}. If the data really is that large, raise max_bytes in its card."
            )
        free = shutil.disk_usage(dest).free
        if nbytes > free:
            raise UnsafeArchive(f"{name}: needs {_size(nbytes)} but {dest} has {_size(free)} free; free some disk")
        self.written += nbytes


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def member_path(name: str, archive: Path) -> PurePosixPath:
    """The relative path a member `name` may be written to, or UnsafeArchive saying why it may not.

    Backslashes count as separators (zips made on Windows), so `..\\x` is caught as well as `../x`."""
    unsafe = f"unsafe archive {archive.name}: member {name!r}"
    if "\0" in name:
        raise UnsafeArchive(f"{unsafe} has a NUL byte in its name")
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UnsafeArchive(f"{unsafe} has an absolute name")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"{unsafe} climbs out of the folder with '..'")
    if not parts:
        raise UnsafeArchive(f"{unsafe} has an empty name")
    if any(len(p.encode()) > 255 for p in parts) or len(text.encode()) > 1024:
        raise UnsafeArchive(f"{unsafe} has a name too long for a competition file")
    return PurePosixPath(*parts)


def _target(dest: Path, rel: PurePosixPath) -> Path:
    """dest/rel, checked once more after resolving what is already on disk (a folder we made can't be a link,
    but the check costs nothing and holds whatever the members were)."""
    target = dest.joinpath(*rel.parts)
    root = os.path.realpath(dest)
    if os.path.commonpath([root, os.path.realpath(target)]) != root:
        raise UnsafeArchive(f"unsafe archive: {rel} resolves outside {dest}")
    return target


def _mkdir(folder: Path, name: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UnsafeArchive(f"unsafe archive: member {name!r} needs a folder where the archive put a file") from None


def _write(src, target: Path, size: int, name: str) -> None:
    """Stream `size` bytes from file object `src` into a new file `target` (never through a link, never over
    an existing file)."""
    _mkdir(target.parent, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o644)
    except FileExistsError:
        raise UnsafeArchive(f"unsafe archive: member {name!r} appears twice (or as a file and a folder)") from None
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > size:  # a header that lies about the size
                raise UnsafeArchive(f"unsafe archive: member {name!r} holds more than the {size} bytes it declares")
            out.write(chunk)


def _check_ratio(name: str, size: int, packed: int, archive: Path) -> None:
    if size > RATIO_FLOOR and size > MAX_RATIO * max(packed, 1):
        raise UnsafeArchive(
            f"unsafe archive {archive.name}: member {name!r} unpacks {_size(packed)} into {_size(size)} "
            f"({size / max(packed, 1):.0f}x; real competition files compress under {MAX_RATIO}x): a zip bomb "
            f"or padding, not data"
        )


@dataclass(frozen=True)
class Member:
    """One checked member: its name in the archive, where it goes, whether it is a folder, its size, and how
    to open its bytes."""

    name: str
    rel: PurePosixPath
    is_dir: bool
    size: int
    open: Callable[[], IO[bytes]]


def _unpack(members: list[Member], dest: Path, budget: Budget) -> None:
    """Write checked members into dest: folders made, files streamed within the budget."""
    for m in members:
        target = _target(dest, m.rel)
        if m.is_dir:
            _mkdir(target, m.name)
            continue
        budget.reserve(m.size, m.name, dest)
        with m.open() as src:
            _write(src, target, m.size, m.name)


def extract_zip(archive: Path, dest: Path, budget: Budget) -> None:
    """Check every member of a zip, then write them into dest (zipfile verifies each member's CRC as it reads)."""
    with zipfile.ZipFile(archive) as z:
        members = []
        for info in z.infolist():
            rel = member_path(info.filename, archive)
            kind = stat.S_IFMT(info.external_attr >> 16)  # a Unix file type, where the zip records one
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                kind = "a link" if kind == stat.S_IFLNK else "not a plain file"
                raise UnsafeArchive(f"unsafe archive {archive.name}: member {info.filename!r} is {kind}")
            if not info.is_dir():
                _check_ratio(info.filename, info.file_size, info.compress_size, archive)
            opener = functools.partial(z.open, info)
            members.append(Member(info.filename, rel, info.is_dir(), info.file_size, opener))
        # the members' packed sizes are the archive's word; its size on disk is not: check the whole as well
        _check_ratio(archive.name, sum(m.size for m in members), archive.stat().st_size, archive)
        _unpack(members, dest, budget)


def extract_tar(archive: Path, dest: Path, budget: Budget) -> None:
    """Check every member of a tar (plain, .gz, .bz2, .xz), then write the files and folders into dest."""
    with tarfile.open(archive) as t:
        members = []
        for m in t.getmembers():
            rel = member_path(m.name, archive)
            if m.issym() or m.islnk():
                raise UnsafeArchive(
                    f"unsafe archive {archive.name}: member {m.name!r} is a link (to {m.linkname!r}); "
                    f"competition archives hold plain files and folders"
                )
            if not (m.isreg() or m.isdir()):
                raise UnsafeArchive(
                    f"unsafe archive {archive.name}: member {m.name!r} is a device, fifo or other special file"
                )
            members.append(Member(m.name, rel, m.isdir(), m.size, functools.partial(t.extractfile, m)))
        _check_ratio(archive.name, sum(m.size for m in members), archive.stat().st_size, archive)
        _unpack(members, dest, budget)


def extract(archive: Path, dest: Path, budget: Budget) -> None:
    """Unpack a .zip or a tar archive into dest; UnsafeArchive for a member that may not be written, ValueError
    for a file that is not an archive, and the library's own errors for a corrupt one."""
    name = archive.name.lower()
    if name.endswith(".zip"):
        extract_zip(archive, dest, budget)
    elif name.endswith((".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")):
        extract_tar(archive, dest, budget)
    else:
        raise ValueError(f"{archive}: not a .zip, .tar, .tgz or .tar.gz archive")


CORRUPT = (zipfile.BadZipFile, zlib.error, tarfile.TarError, EOFError)


def copy_folder(src: Path, dest: Path, budget: Budget, within: Path | None = None) -> None:
    """Copy folder src (a sub-folder of `within`, if given) to dest. Links to files are copied as the file; a
    link to a folder is followed only when it does not lead back to a folder being copied (UnsafeArchive
    naming the link otherwise)."""

    copied: set[tuple[int, int]] = set()  # every folder copied: two links to one folder copy it once, not 2^n

    def loop(path: Path) -> UnsafeArchive:
        how = f"a link to {os.readlink(path)!r}" if path.is_symlink() else "reached through a link"
        return UnsafeArchive(
            f"{path} ({how}) leads back to a folder already being copied: copying it would never end (or copy "
            f"the same files again); remove the link"
        )

    target = Path(os.path.realpath(dest))

    def walk(folder: Path, out: Path, seen: tuple[tuple[int, int], ...]) -> None:
        if target.is_relative_to(os.path.realpath(folder)):
            raise UnsafeArchive(f"{folder} holds the destination {dest} (through a link?): it would copy its own copy")
        out.mkdir(parents=True, exist_ok=True)
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            path = Path(entry.path)
            try:
                st = os.stat(path)  # follows links
            except OSError as e:
                raise UnsafeArchive(f"{path}: a broken link or unreadable entry ({e.strerror}); remove it") from None
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in seen or key in copied:
                    raise loop(path)
                copied.add(key)
                walk(path, out / entry.name, (*seen, key))
            elif stat.S_ISREG(st.st_mode):
                budget.reserve(st.st_size, str(path), out)
                shutil.copyfile(path, out / entry.name)  # through a link: the file it points to
            else:
                raise UnsafeArchive(f"{path}: not a plain file or folder (a device, fifo or socket); remove it")

    seen = tuple((st.st_dev, st.st_ino) for st in map(os.stat, [p for p in (within,) if p is not None]))
    root = os.stat(src)
    if (root.st_dev, root.st_ino) in seen:
        raise loop(src)
    walk(src, dest, (*seen, (root.st_dev, root.st_ino)))


def read_first_line(path: Path, limit: int = MiB) -> bytes:
    """The first line of a file, reading at most `limit` bytes (ValueError past that): a header check that a
    2 GiB line without a newline cannot blow up."""
    with open(path, "rb") as f:
        line = f.readline(limit + 1)
    if len(line) > limit:
        raise ValueError(f"its first line is longer than {_size(limit)}: not a CSV header")
    return line
