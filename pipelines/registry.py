"""The competition contract, and the registry that finds every package that meets it.

A competition is one package `pipelines/<name>/` (the COMP name with `-` as `_`: `COMP=dogs-vs-cats` is
`pipelines/dogs_vs_cats/`) whose `__init__.py` provides the names of `Competition` below. Nothing shared
lists the competitions: the registry finds them, so adding one touches no file outside its package.
Packages kept elsewhere (your own competitions, outside this repository) are found too when their parent
folder is named in $KAGGLE_COMPETITIONS (os.pathsep-separated folders).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import pipelines

EXTRA_PATH = "KAGGLE_COMPETITIONS"


@runtime_checkable
class Competition(Protocol):
    """What a competition package provides (module-level names of its `__init__.py`).

    - `SPEC`: a `pipelines.download.DataSpec`: the Kaggle slug, the files and columns `download` checks, and
      `make_sample(folder)`, the generator of the embedded sample.
    - `Config`: a dataclass of defaults (fields declared with `pipelines.config.setting`, choices as
      `Literal`); `step="features"` in a field's metadata marks what the features step depends on.
    - the steps, each `(paths: Paths, cfg: Config[, run: str])`: `build_features(paths, cfg)`,
      `train(paths, cfg, run)`, `lr_find(paths, cfg, run)`, `predict(paths, cfg, run)` (writes
      submissions/COMP/RUN.csv, validated) and `submit(paths, cfg, run)`.
    - optionally `DISTRIBUTED = True` when `train` runs data-parallel under torchrun (`NPROC=N`).
    - optionally `HEADLINE`: the result.json key the competition's runs are ranked by (`make runs`), and
      `report_sections(paths, run)`: extra (title, html) sections of its runs' report pages (`make report`).
    - optionally `BACKTEST`, a `pipelines.backtest.Backtest`: how to cut a pseudo-test set off the labelled
      data and score a submission against it (`make backtest`).

    Steps may be resolved lazily (a module `__getattr__`), so that `download` and `features` never import
    torch.
    """

    SPEC: Any
    Config: type

    def build_features(self, paths, cfg) -> Any: ...
    def train(self, paths, cfg, run: str) -> Any: ...
    def lr_find(self, paths, cfg, run: str) -> Any: ...
    def predict(self, paths, cfg, run: str) -> Any: ...
    def submit(self, paths, cfg, run: str) -> Any: ...


REQUIRED = ("SPEC", "Config", "build_features", "train", "lr_find", "predict", "submit")


def _search_path() -> list[str]:
    """pipelines/ itself, then the folders of $KAGGLE_COMPETITIONS."""
    extra = [str(Path(p).resolve()) for p in os.environ.get(EXTRA_PATH, "").split(os.pathsep) if p]
    for folder in extra:
        if folder not in pipelines.__path__:
            pipelines.__path__.append(folder)  # so `pipelines.<name>` imports from there too
    return list(pipelines.__path__)


def module_name(comp: str) -> str:
    return f"pipelines.{comp.replace('-', '_')}"


def names() -> list[str]:
    """Every competition found, as COMP names (sorted). Imports each package (only for listings and errors)."""
    found = []
    for info in pkgutil.iter_modules(_search_path()):
        if info.ispkg and all(
            hasattr(importlib.import_module(f"pipelines.{info.name}"), n) for n in ("SPEC", "Config")
        ):
            found.append(info.name.replace("_", "-"))
    return sorted(found)


def find(comp: str) -> ModuleType | None:
    """The package of `comp`, or None, without the contract check (whose `hasattr` would resolve lazily bound
    steps, importing torch): for listings that only read `Config` and `HEADLINE`."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", comp or ""):
        return None
    _search_path()
    try:
        return importlib.import_module(module_name(comp))
    except ModuleNotFoundError as e:
        if e.name not in (module_name(comp), "pipelines"):
            raise
        return None


def load(comp: str) -> ModuleType:
    """The package of competition `comp`, checked against the contract; SystemExit naming what is wrong."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", comp or ""):
        raise SystemExit(f"{comp!r} is not a competition name; known: {', '.join(names())} (COMP=...)")
    _search_path()
    try:
        module = importlib.import_module(module_name(comp))
    except ModuleNotFoundError as e:
        if e.name not in (module_name(comp), "pipelines"):
            raise
        raise SystemExit(f"unknown competition {comp!r}; known: {', '.join(names())} (COMP=...)") from None
    # A name a package binds lazily (a module `__getattr__` importing torch) counts when its `__all__` lists it:
    # `hasattr` would resolve it, and a step that needs no torch (config, download, features) would load it.
    declared = set(vars(module)) | set(getattr(module, "__all__", ()))
    missing = [n for n in REQUIRED if n not in declared]
    if missing:
        raise SystemExit(
            f"{module.__name__} ({module.__file__}) is not a complete competition package: it lacks "
            f"{', '.join(missing)} (see pipelines/registry.py: Competition)"
        )
    return module
