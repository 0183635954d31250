"""Archives and folders we did not make: nothing is ever written outside the destination, bombs stop early,
links back into a folder do not copy forever, and an install killed midway never leaves raw/ mixed."""

import io
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipelines.archive import Budget, UnsafeArchive, copy_folder, member_path, read_first_line
from pipelines.download import DownloadError, _extract, download, make_sample, read_source
from pipelines.paths import Paths
from pipelines.rossmann import SPEC
from pipelines.rossmann.config import COMPETITION_FILES

GiB = 1 << 30


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root (links not followed) with its kind, size and content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            body = p.read_bytes() if stat.S_ISREG(st.st_mode) else os.readlink(p) if p.is_symlink() else None
            out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode), body)
    return out


def add(t: tarfile.TarFile, name: str, kind=tarfile.REGTYPE, data: bytes = b"", link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def cve_2025_4517_tar(path: Path) -> Path:
    """A tar shaped like the public CVE-2025-4517 proof of concept: a chain of symlinks to long folder names
    whose resolved path exceeds PATH_MAX (so `os.path.realpath` stops resolving and tarfile's "data" filter
    judges the unresolved path), a link through the chain that climbs out, then a file written through it."""
    comp, steps, prefix = "d" * 247, "abcdefghijklmnop", ""
    with tarfile.open(path, "w") as t:
        for step in steps:
            add(t, os.path.join(prefix, comp), tarfile.DIRTYPE)
            add(t, os.path.join(prefix, step), tarfile.SYMTYPE, link=comp)
            prefix = os.path.join(prefix, comp)
        chain = os.path.join(*steps)
        add(t, os.path.join(chain, "l" * 254), tarfile.SYMTYPE, link="../" * len(steps))
        add(t, "escape", tarfile.SYMTYPE, link=os.path.join(chain, "l" * 254, "..", "..", "outside"))
        add(t, "escape/pwned.csv", data=b"written outside the destination\n")
    return path


def test_cve_2025_4517_shaped_tar_is_refused_and_writes_nothing_outside(tmp_path):
    box = tmp_path / "box"
    (box / "outside").mkdir(parents=True)
    dest = box / "data" / "dest"
    dest.mkdir(parents=True)
    archive = cve_2025_4517_tar(tmp_path / "crafted.tar")
    before = tree(box)
    with pytest.raises(DownloadError, match="unsafe archive crafted.tar: member .* is a link"):
        _extract(archive, dest, Budget(GiB))
    assert {k: v for k, v in tree(box).items() if not k.startswith("data/dest")} == {
        k: v for k, v in before.items() if not k.startswith("data/dest")
    }


@pytest.mark.parametrize(
    "name, why",
    [
        ("../evil.csv", "climbs out"),
        ("a/../../evil.csv", "climbs out"),
        ("/tmp/evil.csv", "absolute name"),
        ("..\\..\\evil.csv", "climbs out"),
        ("C:/evil.csv", "absolute name"),
    ],
)
def test_zip_member_names_that_leave_the_folder_are_refused(tmp_path, name, why):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("train.csv", "a,b\n1,2\n")
        z.writestr(name, "x\n")
    dest = tmp_path / "deep" / "er" / "dest"
    dest.mkdir(parents=True)
    with pytest.raises(DownloadError, match=f"unsafe archive bad.zip: member .*{why}"):
        _extract(archive, dest, Budget(GiB))
    assert list(dest.iterdir()) == []  # checked before anything was written
    assert sorted(p.name for p in tmp_path.rglob("*evil*")) == []


def test_zip_symlink_member_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo("train.csv")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")
    with pytest.raises(DownloadError, match="member 'train.csv' is a link"):
        _extract(archive, tmp_path / "dest", Budget(GiB))


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.FIFOTYPE, tarfile.LNKTYPE])
def test_tar_special_members_are_refused(tmp_path, kind):
    archive = tmp_path / "special.tar"
    with tarfile.open(archive, "w") as t:
        add(t, "train.csv", data=b"a\n1\n")
        add(t, "dev", kind, link="train.csv")
    (tmp_path / "dest").mkdir()
    with pytest.raises(DownloadError, match="unsafe archive special.tar: member 'dev'"):
        _extract(archive, tmp_path / "dest", Budget(GiB))


def test_zip_bomb_is_refused_before_writing_and_says_the_numbers(tmp_path):
    """64 MiB of NUL bytes deflate to about 64 KiB (1000x): refused from the member's header, nothing written."""
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z, z.open("train.csv", "w") as f:
        for _ in range(64):
            f.write(bytes(1 << 20))
    assert archive.stat().st_size < 1 << 20
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DownloadError, match=r"unsafe archive bomb.zip: member 'train.csv' unpacks .* into 64.0 MiB"):
        _extract(archive, dest, Budget(GiB))
    assert list(dest.iterdir()) == []


def test_budget_stops_a_download_larger_than_the_competition_allows(tmp_path, rossmann_sample_dir):
    spec = type(SPEC)(**{**SPEC.__dict__, "max_bytes": 100_000})
    paths = Paths.for_comp("rossmann", tmp_path / "data", tmp_path / "subs")
    with pytest.raises(DownloadError, match=r"would unpack to more than 97.7 KiB .*DataSpec.max_bytes=100000"):
        download(spec, paths, src=str(rossmann_sample_dir))
    assert not paths.raw.exists() and not list(paths.comp_dir.glob(".raw-*"))


@pytest.fixture()
def src(tmp_path, rossmann_sample_dir) -> Path:
    """A writable folder holding a copy of the Rossmann sample (a SRC= folder to damage)."""
    folder = tmp_path / "src"
    folder.mkdir()
    for p in rossmann_sample_dir.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


def test_header_check_reads_a_bounded_first_line(tmp_path, src):
    """A train.csv of one endless line (no newline): the header check reads 1 MiB of it, not the whole line."""
    with open(src / "train.csv", "wb") as f:
        f.truncate(64 << 20)  # 64 MiB of NUL bytes, sparse
    with pytest.raises(ValueError, match="first line is longer than 1.0 MiB"):
        read_first_line(src / "train.csv")
    paths = Paths.for_comp("rossmann", tmp_path / "data", tmp_path / "subs")
    with pytest.raises(DownloadError, match=r"train\.csv: unreadable as CSV \(its first line is longer"):
        download(SPEC, paths, src=str(src))
    assert not paths.raw.exists() and not list(paths.comp_dir.glob(".raw-*"))


def test_folder_with_links_back_into_itself_names_the_link(tmp_path, src, rossmann_sample_dir):
    paths = Paths.for_comp("rossmann", tmp_path / "data", tmp_path / "subs")
    (src / "a").symlink_to(".")  # the drill's case: ln -s . a; ln -s . b
    (src / "b").symlink_to(".")
    with pytest.raises(DownloadError, match=r"src/a \(a link to '\.'\) leads back to a folder already being copied"):
        download(SPEC, paths, src=str(src))
    (src / "a").unlink()
    (src / "b").unlink()
    (src / "images").mkdir()
    (src / "images" / "a").symlink_to(".")
    (src / "images" / "b").symlink_to("..")
    with pytest.raises(DownloadError, match=r"images/a \(a link to '\.'\) leads back to a folder already being copied"):
        download(SPEC, paths, src=str(src))
    assert not paths.raw.exists() and not list(paths.comp_dir.glob(".raw-*"))
    # a link to a file, or to a folder elsewhere, is copied as what it points to
    (src / "images" / "a").unlink()
    (src / "images" / "b").unlink()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.jpg").write_bytes(b"jpg")
    (src / "images" / "linked").symlink_to(tmp_path / "elsewhere")
    (src / "weather.csv").unlink()
    (src / "weather.csv").symlink_to(rossmann_sample_dir / "weather.csv")
    download(SPEC, paths, src=str(src))
    assert (paths.raw / "images" / "linked" / "x.jpg").read_bytes() == b"jpg"
    assert not (paths.raw / "weather.csv").is_symlink()


def test_member_path_normalizes_harmless_names():
    assert str(member_path("./rossmann//train.csv", Path("x.zip"))) == "rossmann/train.csv"
    assert str(member_path("a\\b.csv", Path("x.zip"))) == "a/b.csv"
    for bad in ("", ".", "a/\0b", "x" * 300):
        with pytest.raises(UnsafeArchive):
            member_path(bad, Path("x.zip"))


SAFE = ["a", "b", "a/b", "train.csv", "./c", "d/./e", "a/b/c", "f/", "..."]
UNSAFE = ["..", "../x", "/abs/x", "a/../../x", "c\\..\\..\\x", "/etc/x", "../../../etc"]
TARGETS = [*SAFE, *UNSAFE, "/", "/etc", "../../..", "a/../.."]


def random_archive(rng: random.Random, path: Path) -> Path:
    kinds = ["file"] * 12 + ["dir"] * 4 + ["sym", "hard", "fifo"]
    members = []
    for i in range(rng.randint(1, 6)):
        name = "/".join(rng.choice(UNSAFE if rng.random() < 0.05 else SAFE) for _ in range(rng.randint(1, 3)))
        name = f"{name}{i}" if rng.random() < 0.7 else name  # mostly distinct names, some repeated
        members.append((rng.choice(kinds), name, rng.choice(TARGETS), rng.randbytes(rng.choice([0, 1, 100, 5000]))))
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])) as z:
            for kind, name, target, data in members:
                info = zipfile.ZipInfo(name + ("/" if kind == "dir" else ""))
                mode = {"sym": stat.S_IFLNK, "dir": stat.S_IFDIR, "fifo": stat.S_IFIFO}.get(kind, stat.S_IFREG)
                info.external_attr = (mode | 0o755) << 16
                z.writestr(info, target if kind == "sym" else b"" if kind == "dir" else data)
    else:
        type_of = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE}
        type_of |= {"hard": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}
        with tarfile.open(path, "w:gz" if path.name.endswith(".tar.gz") else "w") as t:
            for kind, name, target, data in members:
                add(t, name, type_of[kind], data=data, link=target)
    return path


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_fuzz_random_archives_never_write_outside_the_destination(tmp_path):
    """300 generated tars and zips of random names, links, special files and sizes: each either unpacks into
    the destination (plain files and folders only) or is refused as unsafe; nothing outside ever changes."""
    rng = random.Random(0)
    box = tmp_path / "box"
    for folder in ("x", "abs", "etc", "data"):
        (box / folder).mkdir(parents=True)
        (box / folder / "keep.txt").write_text(folder)
    outcomes = {"unpacked": 0, "refused": 0}
    for i in range(300):
        archive = random_archive(rng, tmp_path / f"a{i}{rng.choice(['.zip', '.tar', '.tar.gz'])}")
        dest = box / "data" / f"dest{i}"
        dest.mkdir()
        before = {k: v for k, v in tree(box).items() if not k.startswith(f"data/dest{i}")}
        try:
            _extract(archive, dest, Budget(GiB))
            outcomes["unpacked"] += 1
        except DownloadError as e:
            assert "unsafe archive" in str(e), e
            outcomes["refused"] += 1
        after = tree(box)
        assert {k: v for k, v in after.items() if not k.startswith(f"data/dest{i}")} == before, archive
        inside = [k for k in after if k.startswith(f"data/dest{i}/")]
        assert all(after[k][0] in (stat.S_IFREG, stat.S_IFDIR) for k in inside)
        shutil.rmtree(dest)  # checked; keeps the next snapshot small
    assert outcomes["unpacked"] > 20 and outcomes["refused"] > 100, outcomes


def test_copy_folder_budget_counts_every_file(tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "sub" / "x").write_bytes(bytes(1000))
    with pytest.raises(UnsafeArchive, match="more than 500 B"):
        copy_folder(tmp_path / "src", tmp_path / "dst", Budget(500))


@pytest.fixture()
def paths(tmp_path):
    return Paths.for_comp("rossmann", tmp_path / "data", tmp_path / "subs")


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_an_install_killed_between_its_renames_is_finished_not_mixed(paths, rossmann_sample_dir):
    """kill -9 between 'raw/ aside' and 'staging in': the next command installs the complete new folder whole;
    with no complete new folder, the old raw/ comes back. Never a raw/ of half old, half new files."""
    download(SPEC, paths, src=str(rossmann_sample_dir))
    pid = dead_pid()
    staged = paths.comp_dir / f".raw-staging-pid{pid}.x"
    old = paths.comp_dir / f".raw-old-pid{pid}.y"
    os.replace(paths.raw, old)  # the state a kill leaves: raw/ aside, the staged folder complete
    staged.mkdir()
    (staged / "train.csv").write_text("new\n")
    (staged / "SOURCE.json").write_text(json.dumps({"kind": "real", "source": "new", "files": ["train.csv"]}))
    make_sample(SPEC, paths)  # what `make features` runs first
    assert read_source(paths)["source"] == "new" and sorted(p.name for p in paths.raw.iterdir()) == [
        "SOURCE.json",
        "train.csv",
    ]
    assert not old.exists() and not staged.exists()
    # killed before the staged folder was complete: the old raw/ comes back
    os.replace(paths.raw, old)
    staged.mkdir()
    (staged / "train.csv").write_text("half\n")
    make_sample(SPEC, paths)
    assert read_source(paths)["source"] == "new" and (paths.raw / "train.csv").read_text() == "new\n"


def test_an_install_that_fails_at_the_swap_puts_the_old_raw_back(paths, rossmann_sample_dir, monkeypatch):
    download(SPEC, paths, src=str(rossmann_sample_dir))
    before = tree(paths.raw)
    real = os.replace
    calls = []

    def failing_second_rename(a, b):
        calls.append(b)
        if Path(b) == paths.raw and len([c for c in calls if Path(c) == paths.raw]) == 1:
            raise KeyboardInterrupt
        return real(a, b)

    monkeypatch.setattr("pipelines.download.os.replace", failing_second_rename)
    with pytest.raises(KeyboardInterrupt):
        download(SPEC, paths, src=str(rossmann_sample_dir), force=True)
    assert tree(paths.raw) == before
    assert not list(paths.comp_dir.glob(".raw-*"))


def test_the_reviews_bombs_are_bounded(tmp_path):
    """A zip whose directory understates the packing (ratio checked on the file's real size), a tar of 20,000
    empty files (each costs a disk block of the budget), and a 'diamond' of folder links (each folder once)."""
    liar = tmp_path / "liar.zip"
    with zipfile.ZipFile(liar, "w", zipfile.ZIP_DEFLATED) as z, z.open("train.csv", "w") as f:
        for _ in range(40):
            f.write(bytes(1 << 20))
    data = bytearray(liar.read_bytes())
    cd = data.rfind(b"PK\x01\x02")  # the central directory entry: its compressed size at offset 20
    data[cd + 20 : cd + 24] = (3 << 20).to_bytes(4, "little")
    liar.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="unsafe archive liar.zip: member 'liar.zip' unpacks"):
        _extract(liar, tmp_path / "d1", Budget(GiB))
    many = tmp_path / "many.tar.gz"
    with tarfile.open(many, "w:gz") as t:
        for i in range(20_000):  # 20,000 x one 4 KiB block > 64 MiB
            add(t, f"f{i}")
    (tmp_path / "d2").mkdir()
    with pytest.raises(DownloadError, match="would unpack to more than 64.0 MiB"):
        _extract(many, tmp_path / "d2", Budget(64 << 20))
    src = tmp_path / "diamond"
    level = src
    level.mkdir()
    for i in range(14):  # l0/a -> l1, l0/b -> l1, ...: 2^14 paths to the last folder
        (level / f"l{i + 1}").mkdir()
        (level / "a").symlink_to(f"l{i + 1}")
        (level / "b").symlink_to(f"l{i + 1}")
        level = level / f"l{i + 1}"
    with pytest.raises(UnsafeArchive, match="leads back to a folder already being copied"):
        copy_folder(src, tmp_path / "d3", Budget(GiB))


def test_a_link_to_a_folder_above_src_is_one_line(tmp_path, src):
    (src / "d").mkdir()
    (src / "d" / "top").symlink_to("../..")
    paths = Paths.for_comp("rossmann", tmp_path / "data", tmp_path / "subs")
    with pytest.raises(DownloadError, match=r"d/top holds the destination .*: it would copy its own copy"):
        download(SPEC, paths, src=str(src))


def test_an_encrypted_zip_is_named(tmp_path):
    archive = tmp_path / "locked.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("train.csv", "a,b\n1,2\n")
    data = bytearray(archive.read_bytes())
    for header, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set "encrypted" in both headers
        at = data.find(header) + offset
        data[at] |= 0x1
    archive.write_bytes(bytes(data))
    (tmp_path / "d").mkdir()
    with pytest.raises(DownloadError, match="a zip Python cannot unpack .*point SRC= at the folder"):
        _extract(archive, tmp_path / "d", Budget(GiB))


def test_a_kaggle_download_is_unpacked_once(paths, tmp_path, rossmann_sample_dir, monkeypatch):
    from test_download import FakeKaggle, make_zip

    import pipelines.download as dl

    z = make_zip(rossmann_sample_dir, tmp_path / "x.zip")
    files = [p.stat().st_size for p in rossmann_sample_dir.iterdir()]
    zipped = sum(p.stat().st_size for p in rossmann_sample_dir.iterdir() if p.name in COMPETITION_FILES)
    spec = type(SPEC)(**{**SPEC.__dict__, "max_bytes": sum(files) + zipped // 2})  # the zip twice would not fit
    monkeypatch.setattr(dl, "kaggle_api", lambda comp, slug: FakeKaggle(archive=z))
    download(spec, paths, extra=str(rossmann_sample_dir))
    assert read_source(paths)["source"] == "kaggle:rossmann-store-sales"


def test_a_raw_folder_that_is_a_link_is_installed_into(paths, tmp_path, rossmann_sample_dir):
    elsewhere = tmp_path / "big-disk" / "raw"
    elsewhere.mkdir(parents=True)
    paths.comp_dir.mkdir(parents=True)
    paths.raw.symlink_to(elsewhere)
    download(SPEC, paths, src=str(rossmann_sample_dir))
    download(SPEC, paths, src=str(rossmann_sample_dir), force=True)
    assert paths.raw.is_symlink() and (elsewhere / "SOURCE.json").is_file() and (elsewhere / "train.csv").is_file()


def test_a_half_deleted_old_raw_is_never_brought_back(paths, rossmann_sample_dir):
    download(SPEC, paths, src=str(rossmann_sample_dir))
    trash = paths.comp_dir / f".raw-trash-pid{dead_pid()}.x"
    os.replace(paths.raw, trash)  # killed while deleting the replaced raw/, then raw/ deleted by hand
    (trash / "train.csv").unlink()
    make_sample(SPEC, paths)
    assert read_source(paths)["kind"] == "sample" and not trash.exists()
