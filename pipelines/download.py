"""Getting a competition's raw files into data/<comp>/raw: the Kaggle API, a local copy, or the embedded sample.

Everything is unpacked and verified in a staging folder first and only then moved into raw/, so a
failed download (no credentials, rules not accepted, no network, corrupt zip, missing file or
column) leaves raw/ exactly as it was. raw/SOURCE.json is written last and records where the data
came from; it is the file `make` tracks.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from features.io import atomic_write_text, is_orphan, temp_name
from pipelines.archive import CORRUPT, Budget, GiB, UnsafeArchive, copy_folder, extract, read_first_line
from pipelines.paths import Paths

ARCHIVES = (".zip", ".tar", ".tgz", ".tar.gz")
MAX_NESTING = 3  # zips inside zips: Kaggle nests one level; a self-containing zip must not unpack forever


class DownloadError(RuntimeError):
    """A download or verification failure; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class DataSpec:
    """What a competition's raw folder must hold."""

    slug: str  # Kaggle competition name, as in kaggle.com/c/<slug>
    files: dict[str, list[str]]  # competition file -> columns it must have (empty list: any file/folder)
    extra: dict[str, list[str]] = field(default_factory=dict)  # external tables (EXTRA=) -> columns
    extra_url: str | None = None  # public archive holding the external tables, used when online
    make_sample: Callable[[Path], object] | None = None  # writes the embedded sample into a folder
    # file -> the card's name for it, where a card may rename it (a tabular card's files={"sample": ...}): a file
    # missing under its default name but present under a look-alike one gets the card line that names it
    roles: dict[str, str] = field(default_factory=dict)
    max_bytes: int = 64 * GiB  # the most a download may unpack to, all files together (a zip bomb stops here)


def read_source(paths: Paths) -> dict | None:
    """raw/SOURCE.json as a dict, or None if raw/ holds nothing complete."""
    try:
        return json.loads(paths.source_stamp.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def staging_dir(paths: Paths) -> Path:
    """A fresh hidden folder beside raw/ to assemble a download in; ones left by killed processes are removed."""
    paths.comp_dir.mkdir(parents=True, exist_ok=True)
    recover_raw(paths)
    for old in paths.comp_dir.glob(".raw-staging-pid*"):
        if is_orphan(old):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=temp_name(".raw-staging-"), dir=paths.comp_dir))


def _extract(archive: Path, dest: Path, budget: Budget) -> None:
    """Unpack a zip or tar archive into dest, then any zips it contained (Kaggle nests train.csv.zip); every
    member checked first (pipelines/archive.py), everything counted against one `budget`."""
    _extract_one(archive, dest, budget)
    for _depth in range(MAX_NESTING):
        if not (nested := _nested_zips(dest)):
            return
        for inner in nested:
            _extract_one(inner, inner.parent, budget)
            inner.unlink()
    if nested := _nested_zips(dest):
        raise DownloadError(
            f"unsafe archive {archive.name}: zips nested more than {MAX_NESTING} deep ({nested[0].name}); "
            f"Kaggle nests one level (train.csv.zip)"
        )


def _nested_zips(dest: Path) -> list[Path]:
    """Zips unpacked into dest, not those in its hidden working folders (.kaggle holds the download itself)."""
    return sorted(p for p in dest.rglob("*.zip") if not any(s.startswith(".") for s in p.relative_to(dest).parts))


def _extract_one(archive: Path, dest: Path, budget: Budget) -> None:
    try:
        extract(archive, dest, budget)
    except UnsafeArchive as e:
        raise DownloadError(f"{e}. Nothing was installed; use the competition's own archive.") from None
    except ValueError as e:
        raise DownloadError(str(e)) from None
    except (RuntimeError, NotImplementedError) as e:  # zipfile: encrypted members, deflate64 and the like
        raise DownloadError(
            f"{archive}: a zip Python cannot unpack ({e}); unpack it with your own tool and point SRC= at the folder"
        ) from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise DownloadError(f"{archive}: {e.strerror} while unpacking into {dest}; free some disk") from None
        raise _corrupt(archive, e) from None
    except CORRUPT as e:
        raise _corrupt(archive, e) from None


def _corrupt(archive: Path, e: Exception) -> DownloadError:
    return DownloadError(
        f"{archive}: corrupt or truncated archive ({e}). Download it again "
        f"(e.g. `kaggle competitions download -c <slug>`) or point SRC= at a good copy."
    )


def _flatten_single_folder(staging: Path) -> None:
    """An archive that wraps everything in one top folder (rossmann/train.csv) is lifted one level. A link (a
    read-only folder's entry) is never lifted: that would move files out of the user's folder."""
    entries = [p for p in staging.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        inner = entries[0]
        for p in inner.iterdir():
            shutil.move(str(p), staging / p.name)
        inner.rmdir()


def read_only(folder: Path) -> bool:
    """Whether `folder` is read-only: on a read-only mount (Kaggle's /kaggle/input), or without write permission
    for anyone (checked on the mode, not with os.access: root may write anywhere)."""
    return bool(os.statvfs(folder).f_flag & os.ST_RDONLY) or not folder.stat().st_mode & 0o222


def _single_folder(src: Path) -> Path:
    """The folder whose entries are the competition's: `src`, or the one folder it alone holds (a copy
    unpacked into a folder of its own), down to the first level with more."""
    while True:
        entries = [p for p in src.iterdir() if not p.name.startswith(".")]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            return src
        src = entries[0]


def _import_local(src: Path, staging: Path, budget: Budget, wanted: set[str] | None = None) -> None:
    """Link (folder) or unpack (archive) a local copy into staging; with `wanted`, only those top-level names.

    A read-only folder's files and subfolders are linked, not copied (a Kaggle notebook's /kaggle/input/<slug>:
    no second copy of the data, and nothing is ever written under it); a writable folder is copied, so that
    raw/ never writes through to the user's own copy. An entry that is itself a link is copied, after checking
    that it stays inside `src`. A folder's own archives are unpacked only when the names wanted are not
    already lying in the folder.
    """
    if not src.exists():
        raise DownloadError(f"{src}: no such file or folder (check the SRC= / EXTRA= path)")
    unpack = staging / ".unpack"
    unpack.mkdir()
    if src.is_dir():
        src = _single_folder(src.resolve())
        entries = sorted(p for p in src.iterdir() if not p.name.startswith("."))
        link = read_only(src)
        if link:
            print(f"{src} is read-only: its files are linked into raw/, not copied")
        try:
            for p in entries:
                if wanted is None or p.name in wanted:
                    if link and not p.is_symlink() and (p.is_dir() or p.is_file()):
                        (unpack / p.name).symlink_to(p)
                    elif p.is_dir():
                        copy_folder(p, unpack / p.name, budget, within=src)
                    elif p.is_file():
                        budget.reserve(p.stat().st_size, str(p), unpack)
                        shutil.copy2(p, unpack / p.name)
                    else:
                        raise UnsafeArchive(f"{p}: a broken link or a special file; remove it from {src}")
        except UnsafeArchive as e:
            raise DownloadError(str(e)) from None
        if wanted is None or not all((unpack / n).exists() for n in wanted):
            archives = [p for p in entries if p.is_file() and p.name.lower().endswith(ARCHIVES)]
            if wanted is None:  # their copies out first: each unpacks from src, and unpacking one would also
                for archive in archives:  # unpack (and remove) the copies of the others lying beside it
                    (unpack / archive.name).unlink()
            for archive in archives:
                _extract(archive, unpack, budget)
    else:
        _extract(src, unpack, budget)
    _flatten_single_folder(unpack)
    for p in unpack.iterdir():
        if (wanted is None or p.name in wanted) and not (staging / p.name).exists():
            shutil.move(str(p), staging / p.name)
    shutil.rmtree(unpack)


def kaggle_credentials() -> str | None:
    """Where Kaggle credentials would come from, or None if there are none."""
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "$KAGGLE_API_TOKEN"
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "$KAGGLE_USERNAME/$KAGGLE_KEY"
    dirs = [os.environ.get("KAGGLE_CONFIG_DIR"), Path.home() / ".kaggle", Path.home() / ".config" / "kaggle"]
    for d in filter(None, dirs):
        for name in ("kaggle.json", "access_token"):
            if (Path(d) / name).is_file():
                return str(Path(d) / name)
    return None


def without_kaggle(comp: str, slug: str, action: str) -> str:
    """What to do instead when Kaggle cannot be used: a local copy to download from, a manual upload to submit."""
    if action == "submit":
        return f"upload the validated file by hand at https://www.kaggle.com/competitions/{slug}/submit"
    if action == "push":
        return "upload data/COMP/kernel/dataset as a dataset and kernel/run.py as a notebook by hand on kaggle.com"
    return f"use a local copy: make download COMP={comp} SRC=path/to/{slug}.zip"


def no_credentials(comp: str, slug: str, action: str = "download") -> str:
    """How to give the Kaggle client credentials, or do without them."""
    return (
        "no Kaggle credentials found. Either\n"
        "  - create an API token at https://www.kaggle.com/settings (API -> Create New Token) and save it as\n"
        "    ~/.kaggle/kaggle.json (chmod 600), or export KAGGLE_USERNAME=... KAGGLE_KEY=...\n"
        "    (or KAGGLE_API_TOKEN=...); or\n"
        f"  - {without_kaggle(comp, slug, action)}"
    )


def kaggle_api(comp: str, slug: str, action: str = "download"):
    """An authenticated `KaggleApi`, or DownloadError saying how to set up credentials (or do without, for
    `action`: download or submit)."""
    where = kaggle_credentials()
    if where is None:
        raise DownloadError(no_credentials(comp, slug, action))
    if where.endswith("kaggle.json"):  # read it ourselves first: the client's failure says nothing useful
        try:
            token = json.loads(Path(where).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            problem = f"is not valid JSON ({e})"
        else:
            missing = [k for k in ("username", "key") if not isinstance(token, dict) or not token.get(k)]
            problem = f"lacks {' and '.join(repr(k) for k in missing)}" if missing else ""
        if problem:
            raise DownloadError(
                f'{where} {problem}: it should read {{"username": "...", "key": "..."}} as Kaggle\'s '
                f"API token download writes it (Kaggle was not contacted). Create a new token at "
                f"https://www.kaggle.com/settings, or {without_kaggle(comp, slug, action)}"
            )
    # Importing `kaggle` authenticates and prints help on failure; keep its chatter out of our output.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        try:
            api.authenticate()
        except SystemExit:
            raise DownloadError(
                f"the Kaggle client could not use the credentials in {where} (Kaggle was not contacted yet); "
                f"{no_credentials(comp, slug, action)}"
            ) from None
    return api


def explain_kaggle_error(e: Exception, slug: str, comp: str, action: str) -> DownloadError:
    """Turn a Kaggle API / network exception into one actionable message."""
    import requests

    if isinstance(e, requests.exceptions.HTTPError) and e.response is not None:
        status = e.response.status_code
        if status == 401:
            return DownloadError(
                f"Kaggle answered 401 Unauthorized: the API key is wrong or expired; {no_credentials(comp, slug, action)}"
            )
        if status == 403:
            return DownloadError(
                f"Kaggle answered 403 Forbidden: you have not accepted the rules of {slug}. Open "
                f"https://www.kaggle.com/competitions/{slug}/rules, click 'I Understand and Accept', then run "
                f"`make {action} COMP={comp}` again."
            )
        if status == 404:
            return DownloadError(f"Kaggle answered 404: no competition named {slug!r} (check the slug).")
        return DownloadError(f"Kaggle answered HTTP {status} for {slug}: {e}")
    if isinstance(
        e, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, urllib.error.URLError, OSError)
    ):
        return DownloadError(
            f"cannot reach Kaggle ({type(e).__name__}: {e}). Check the network, or {without_kaggle(comp, slug, action)}"
        )
    return DownloadError(f"Kaggle API call failed: {type(e).__name__}: {e}")


def _download_kaggle(spec: DataSpec, comp: str, staging: Path, budget: Budget) -> str:
    api = kaggle_api(comp, spec.slug)
    print(f"downloading {spec.slug} with the Kaggle API ...", flush=True)
    inbox = staging / ".kaggle"
    inbox.mkdir()
    try:
        api.competition_download_files(spec.slug, path=str(inbox), quiet=False)
    except Exception as e:  # the client raises requests' and its own errors; map each to a fix
        raise explain_kaggle_error(e, spec.slug, comp, "download") from None
    archives = [p for p in inbox.iterdir() if p.name.lower().endswith(ARCHIVES)]
    if not archives:
        raise DownloadError(f"the Kaggle API returned no archive for {spec.slug}")
    for archive in archives:
        _extract(archive, staging, budget)
    shutil.rmtree(inbox)
    return f"kaggle:{spec.slug}"


def _fetch_extra(spec: DataSpec, comp: str, staging: Path, budget: Budget) -> str:
    if not spec.extra_url:
        raise DownloadError(f"no public archive known for {list(spec.extra)}; pass EXTRA=path/to/folder-or-archive")
    print(f"fetching the external tables from {spec.extra_url} ...", flush=True)
    archive = staging / ".extra" / Path(spec.extra_url).name
    archive.parent.mkdir()
    try:
        with urllib.request.urlopen(spec.extra_url, timeout=30) as r, open(archive, "wb") as f:
            shutil.copyfileobj(r, f)
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(
            f"cannot fetch the external tables {sorted(spec.extra)} from {spec.extra_url} ({e}). "
            f"Point EXTRA= at a folder or archive holding them: make download COMP={comp} SRC=... EXTRA=path"
        ) from None
    _import_local(archive, staging, budget, wanted=set(spec.extra))
    shutil.rmtree(archive.parent)
    return spec.extra_url


def _words(name: str) -> set[str]:
    """The words of a file name: sampleSubmission.csv and sample_submission.csv both {sample, submission}."""
    stem = re.sub(r"([a-z])([A-Z])", r"\1 \2", Path(name).name.split(".")[0])
    return {w.lower() for w in re.split(r"[\W_]+", stem) if w}


def look_alikes(name: str, folder: Path) -> list[str]:
    """Files in folder of name's type sharing a word with it (gender_submission.csv for sample_submission.csv)."""
    if not folder.is_dir():
        return []
    suffix, words = "".join(Path(name).suffixes), _words(name) - {"sample", "data"}
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(suffix) and words & _words(p.name))


def verify(spec: DataSpec, folder: Path, comp: str) -> None:
    """Check every expected file exists and has its expected columns; raise one DownloadError listing all problems."""
    problems, renamable = [], False
    for name, columns in {**spec.files, **spec.extra}.items():
        path = folder / name
        if not path.exists():
            alike = look_alikes(name, folder)
            problem = f"{name}: missing" + (f"; the download has {', '.join(alike)}" if alike else "")
            if alike and name in spec.roles:  # a card line names it
                renamable, role = True, spec.roles[name]
                if len(alike) == 1:
                    problem += f': if that is it, add files={{"{role}": "{alike[0]}"}} to the card'
                else:
                    problem += f': name the one that is in the card, files={{"{role}": ...}}'
            problems.append(problem)
            continue
        if columns:
            try:
                header = list(pd.read_csv(io.BytesIO(read_first_line(path)), nrows=0).columns)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
                problems.append(f"{name}: unreadable as CSV ({e})")
                continue
            missing = [c for c in columns if c not in header]
            if missing:
                problems.append(f"{name}: missing column(s) {missing} (has {header})")
    if problems:
        fix = f"use the competition's full download (make download COMP={comp} SRC=path/to/{spec.slug}.zip)" + (
            f" and the external tables (EXTRA=path/to/folder with {sorted(spec.extra)})" if spec.extra else ""
        )
        if renamable:
            fix = "Name the file in the card (make new printed where it is), then make download again, or " + fix
        raise DownloadError(
            f"the {comp} data is incomplete:\n  " + "\n  ".join(problems) + "\n" + fix[0].upper() + fix[1:]
        )


def download(
    spec: DataSpec, paths: Paths, src: str | None = None, extra: str | None = None, force: bool = False
) -> Path:
    """Fill paths.raw from `src` (archive or folder) or the Kaggle API, plus external tables; verify; move in."""
    recover_raw(paths)
    current = read_source(paths)
    if current and current.get("kind") == "real" and not force and not src:
        print(f"{paths.raw} already holds the real data ({current['source']}); FORCE=1 downloads again")
        return paths.raw
    staging = staging_dir(paths)
    budget = Budget(spec.max_bytes, f"the {paths.comp} download")
    try:
        if src:
            _import_local(Path(src), staging, budget, wanted=None)
            source = f"local:{Path(src).resolve()}"
        else:
            source = _download_kaggle(spec, paths.comp, staging, budget)
        extra_source = None
        if spec.extra:
            have = all((staging / n).exists() for n in spec.extra)
            if not have and extra:
                _import_local(Path(extra), staging, budget, wanted=set(spec.extra))
                extra_source = f"local:{Path(extra).resolve()}"
            elif (
                not have
                and current
                and current.get("kind") == "real"
                and all((paths.raw / n).exists() for n in spec.extra)
            ):
                for n in spec.extra:  # keep the external tables already downloaded
                    shutil.copy2(paths.raw / n, staging / n)
                extra_source = current.get("extra_source")
            elif not have:
                extra_source = _fetch_extra(spec, paths.comp, staging, budget)
        elif extra:  # no external tables named (a card's feature function reads its own): every file EXTRA holds
            before = {p.name for p in staging.iterdir()}
            _import_local(Path(extra), staging, budget, wanted=None)
            added = sorted({p.name for p in staging.iterdir()} - before)
            print(f"EXTRA={extra}: added {', '.join(added) or 'nothing (the download holds every file there)'}")
            extra_source = f"local:{Path(extra).resolve()}"
        verify(spec, staging, paths.comp)
        _install(staging, paths, {"kind": "real", "source": source, "extra_source": extra_source})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return paths.raw


def make_sample(spec: DataSpec, paths: Paths, force: bool = False) -> Path:
    """Generate the embedded sample into raw/ unless real data is already there (then do nothing)."""
    recover_raw(paths)
    current = read_source(paths)
    if current is None and paths.raw.is_dir() and any(paths.raw.iterdir()):
        try:  # files placed by hand: accept them if complete, never overwrite them with the sample
            verify(spec, paths.raw, paths.comp)
        except DownloadError as e:
            raise DownloadError(
                f"{paths.raw} holds files but no SOURCE.json (an interrupted download, or files copied by hand) "
                f"and they are incomplete: {e}\nRe-run `make download COMP={paths.comp} SRC=...`, or delete {paths.raw} "
                f"to use the embedded sample."
            ) from None
        files = sorted(p.name for p in paths.raw.iterdir())
        source = {"kind": "real", "source": f"placed by hand in {paths.raw}", "files": files}
        atomic_write_text(paths.source_stamp, json.dumps(source, indent=1))
        print(f"{paths.raw}: using the files placed there by hand")
        return paths.raw
    if current and current.get("kind") == "real" and not force:
        print(f"{paths.raw}: real data present ({current['source']}); not generating the sample")
        paths.source_stamp.touch()  # up to date for make
        return paths.raw
    if spec.make_sample is None:
        raise DownloadError(f"{paths.comp} has no embedded sample; run `make download COMP={paths.comp}`")
    print(
        f"no Kaggle data in {paths.raw}: generating the embedded sample (`make download COMP={paths.comp}` for real data)"
    )
    staging = staging_dir(paths)
    try:
        spec.make_sample(staging)
        verify(spec, staging, paths.comp)
        _install(staging, paths, {"kind": "sample", "source": f"pipelines.{paths.comp.replace('-', '_')}.sample"})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return paths.raw


def _install(staging: Path, paths: Paths, source: dict) -> None:
    """Swap the verified staging folder in as raw/, whole: SOURCE.json is written inside it first, then the
    old raw/ is renamed aside and staging renamed to raw/ (two renames, undone on any error; a kill -9
    between them is finished by `recover_raw`), then the old raw/ is deleted. raw/ is never half old, half new."""
    for p in staging.glob(".*"):  # working folders of the download (.unpack, .kaggle, .extra)
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    files = sorted(p.name for p in staging.iterdir())
    stamp = {**source, "files": files, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    atomic_write_text(staging / "SOURCE.json", json.dumps(stamp, indent=1))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp made it 0700; raw/ gets a plain mkdir's permissions
    if paths.raw.is_symlink() or os.path.ismount(paths.raw):
        _install_into(staging, paths.raw)  # a raw/ that is a link or a mount cannot be renamed away
    else:
        old = None
        if paths.raw.exists():
            old = Path(tempfile.mkdtemp(prefix=temp_name(".raw-old-"), dir=paths.comp_dir))
            os.replace(paths.raw, old)  # onto the empty folder just made: a rename, whatever raw/ holds
        try:
            os.replace(staging, paths.raw)
        except BaseException:
            if old is not None:
                os.replace(old, paths.raw)
            raise
        if old is not None:  # renamed first: recover_raw never brings back a half-deleted folder
            trash = old.with_name(old.name.replace(".raw-old-", ".raw-trash-", 1))
            os.replace(old, trash)
            shutil.rmtree(trash, ignore_errors=True)
    folders = sum((paths.raw / f).is_dir() for f in files)
    what = f"{len(files) - folders} files" + (f" and {folders} folders" if folders else "")
    print(f"{paths.raw}: {what} from {source['source']}")


def _install_into(staging: Path, raw: Path) -> None:
    """Install into a raw/ that is a link or a mount point, file by file: SOURCE.json out first and in last, so
    an interrupted install reads as incomplete (make_sample refuses it, a download replaces it)."""
    (raw / "SOURCE.json").unlink(missing_ok=True)
    for p in raw.iterdir():
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    for p in staging.iterdir():
        if p.name != "SOURCE.json":
            shutil.move(str(p), raw / p.name)
    shutil.move(str(staging / "SOURCE.json"), raw / "SOURCE.json")


def recover_raw(paths: Paths) -> None:
    """Finish an install that a kill -9 stopped between its two renames (raw/ missing): the complete new folder
    (a dead process's staging folder holding SOURCE.json) goes in, else the old raw/ comes back. Old raw/
    folders of dead processes are removed."""
    if not paths.comp_dir.is_dir():
        return
    dead = lambda pattern: sorted((p for p in paths.comp_dir.glob(pattern) if is_orphan(p)), key=os.path.getmtime)
    if not paths.raw.exists():
        complete = [p for p in dead(".raw-staging-pid*") if (p / "SOURCE.json").is_file()]
        back = complete[-1:] or dead(".raw-old-pid*")[-1:]
        if back:
            os.replace(back[0], paths.raw)
            print(f"{paths.raw}: restored from {back[0].name} (an install was killed midway)")
    for p in dead(".raw-old-pid*") + dead(".raw-trash-pid*"):
        shutil.rmtree(p, ignore_errors=True)
