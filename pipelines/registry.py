"""The competition contract, and the registry that finds every package that meets it.

A competition is one package `pipelines/<name>/` (the COMP name with `-` as `_`: `COMP=dogs-vs-cats` is
`pipelines/dogs_vs_cats/`) whose `__init__.py` provides the names of `Competition` below. Nothing shared
lists the competitions: the registry finds them, so adding one touches no file outside its package.
Packages kept elsewhere (your own competitions, outside this repository) are found too when their parent
folder is named in $KAGGLE_COMPETITIONS (os.pathsep-separated folders).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib
import os
import pkgutil
import re
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import pipelines

EXTRA_PATH = "KAGGLE_COMPETITIONS"
COMP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a package name with - for _: no dots, no path


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

    Steps that import torch are bound with `lazy_steps`, so that `download` and `features` never import it.
    """

    SPEC: Any
    Config: type

    def build_features(self, paths, cfg) -> Any: ...
    def train(self, paths, cfg, run: str) -> Any: ...
    def lr_find(self, paths, cfg, run: str) -> Any: ...
    def predict(self, paths, cfg, run: str) -> Any: ...
    def submit(self, paths, cfg, run: str) -> Any: ...


REQUIRED = ("SPEC", "Config", "build_features", "train", "lr_find", "predict", "submit")


def lazy_steps(load, names, *bound, from_paths=None) -> tuple:
    """The one way a package defers its heavy imports: a function per name in `names` that calls `load()` (a
    function whose body imports the module holding the steps, e.g. torch's users) when it runs, then that
    module's `name(*bound, *args)`; `from_paths(paths)` adds arguments made from the step's first one (an
    image card's task, read from paths.raw). So `download`, `sample` and `config` import neither torch nor the
    model code, and the import inside `load` keeps the module in `code_files`' closure (an import statement,
    which ast sees; a module name in a string it would not)."""

    def step(name: str):
        def run(*args, **kwargs):
            lead = bound + (tuple(from_paths(args[0])) if from_paths else ())
            return getattr(load(), name)(*lead, *args, **kwargs)

        run.__name__ = run.__qualname__ = name
        return run

    return tuple(step(name) for name in names)


def _search_path() -> list[str]:
    """pipelines/ itself, then the folders of $KAGGLE_COMPETITIONS."""
    extra = [str(Path(p).resolve()) for p in os.environ.get(EXTRA_PATH, "").split(os.pathsep) if p]
    for folder in extra:
        if folder not in pipelines.__path__:
            pipelines.__path__.append(folder)  # so `pipelines.<name>` imports from there too
    return list(pipelines.__path__)


def module_name(comp: str) -> str:
    return f"pipelines.{comp.replace('-', '_')}"


def unknown_card_line(error: Exception, path: Path, lineno: int) -> str | None:
    """A card's misspelt line (`seires=`: a TypeError pointing at `Card(`), named at its own line with the nearest
    line the card has and all of them; None for any other error."""
    found = re.match(
        r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(error)
    )  # 3.13 adds "Did you mean"
    if not isinstance(error, TypeError) or not found or found[1] not in ("Card", "ImageCard"):
        return None
    from pipelines.tabular import Card
    from pipelines.vision.card import ImageCard

    known = [f.name for f in dataclasses.fields(Card if found[1] == "Card" else ImageCard)]
    lines = path.read_text().splitlines()  # the keyword's own line at or after the failing call's, else the call's
    at = next((i + 1 for i in range(lineno - 1, len(lines)) if re.search(rf"\b{found[2]}\s*=", lines[i])), lineno)
    from pipelines.config import did_you_mean

    return f"{path}:{at}: {found[2]}= is no line of a {found[1]}{did_you_mean(found[2], known, '=')}; its lines: " + (
        ", ".join(known)
    )


def value_line(error: Exception, path: Path, lineno: int) -> int:
    """The line of the value a card's error names (`metric="rmsee"`: the first word its message quotes) at or
    after `lineno`, the failing call's (Python names a call of several lines by its first), else `lineno`."""
    quoted = re.search(r"'([^']+)'", str(error))
    if not quoted or not path.is_file():
        return lineno
    lines, literal = path.read_text().splitlines(), re.compile(rf"""['"]{re.escape(quoted[1])}['"]""")
    return next((i + 1 for i in range(lineno - 1, min(len(lines), lineno + 40)) if literal.search(lines[i])), lineno)


def _import(name: str) -> ModuleType:
    """Import a competition package; a card package (`CARD = Card(...)`, pipelines/tabular, or `ImageCard(...)`,
    pipelines/vision/card.py) gets the contract's names it does not define itself from its card. An error in the package is named with its file and line."""
    try:
        module = importlib.import_module(name)
    except (TypeError, ValueError, NameError, SyntaxError, ImportError) as e:
        if isinstance(e, ModuleNotFoundError) and e.name in (name, "pipelines"):
            raise  # no such competition: find() says so
        package = f"/{name.rsplit('.', 1)[-1]}/"  # the frame in the competition's own files
        where = next((f for f in reversed(traceback.extract_tb(e.__traceback__)) if package in f.filename), None)
        at = f"{where.filename}:{value_line(e, Path(where.filename), where.lineno or 1)}: " if where else ""
        if where and (line := unknown_card_line(e, Path(where.filename), where.lineno or 1)):
            raise SystemExit(line) from None
        raise SystemExit(f"{at}{type(e).__name__}: {e}\n(fix that line of the competition's package)") from None
    card = getattr(module, "CARD", None)
    if card is not None:
        from pipelines.tabular import Card
        from pipelines.tabular import competition as tabular
        from pipelines.vision.card import competition as image

        contract = (tabular if isinstance(card, Card) else image)(card, name)
        for key, value in contract.items():  # what the package defines itself (a Config, a step) stays
            vars(module).setdefault(key, value)
    return module


def names() -> list[str]:
    """Every competition found, as COMP names (sorted). Imports each package (only for listings and errors)."""
    found = []
    for info in pkgutil.iter_modules(_search_path()):
        if info.ispkg and all(hasattr(_import(f"pipelines.{info.name}"), n) for n in ("SPEC", "Config")):
            found.append(info.name.replace("_", "-"))
    return sorted(found)


def find(comp: str) -> ModuleType | None:
    """The package of `comp`, or None, without the contract check (whose `hasattr` would resolve lazily bound
    steps, importing torch): for listings that only read `Config` and `HEADLINE`."""
    if not COMP_NAME.fullmatch(comp or ""):
        return None
    _search_path()
    try:
        return _import(module_name(comp))
    except ModuleNotFoundError as e:
        if e.name not in (module_name(comp), "pipelines"):
            raise
        return None


def load(comp: str) -> ModuleType:
    """The package of competition `comp`, checked against the contract; SystemExit naming what is wrong."""
    if not COMP_NAME.fullmatch(comp or ""):
        raise SystemExit(f"{comp!r} is not a competition name; known: {', '.join(names())} (COMP=...)")
    _search_path()
    try:
        module = _import(module_name(comp))
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


PROJECT_PACKAGES = ("features", "models", "pipelines")
# Shared modules that move files, check submissions or report, and so cannot shape what a run trains: an edit
# there retrains nothing (their imports are not followed either).
NOT_RESULTS = (
    "pipelines.archive",
    "pipelines.download",
    "pipelines.paths",
    "pipelines.registry",
    "pipelines.submit",
    "pipelines.tracking",
)


def _module_file(name: str) -> Path | None:
    """The source file of project module `name` (dotted), or None when it is not one of ours."""
    top, *rest = name.split(".")
    if top not in PROJECT_PACKAGES:
        return None
    bases = [Path(p) for p in _search_path()] if top == "pipelines" else [Path(pipelines.__file__).parents[1] / top]
    for base in bases:
        for candidate in (base.joinpath(*rest).with_suffix(".py"), base.joinpath(*rest, "__init__.py")):
            if rest and candidate.is_file() or not rest and candidate.name == "__init__.py" and candidate.is_file():
                return candidate
    return None


def _imports(path: Path, name: str) -> set[str]:
    """Every module `path` (module `name`) imports, at the top or inside a function (a lazily bound step)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # `from package import module` imports the module (the package's __init__ counts as a parent only)
            submodules = {f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}") is not None}
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return found


def code_files(comp: str) -> list[Path]:
    """The project's source files that competition `comp`'s train step imports, directly or through others,
    read from their import statements (imports inside functions too: a step bound lazily counts): what its
    results depend on besides data and settings. The `__init__.py` of each package on the way counts (it runs
    first), without what it imports; the modules of NOT_RESULTS do not."""
    # the steps' module, and the package itself (a card's package: its Config, its own feature hook)
    todo, files, parents = [find(comp).train.__module__, module_name(comp)], {}, set()
    while todo:
        name = todo.pop()
        if name in files or name in NOT_RESULTS or (path := _module_file(name)) is None:
            continue
        files[name] = path
        todo.extend(_imports(path, name))
        parts = name.split(".")
        parents.update(_module_file(".".join(parts[:i])) for i in range(1, len(parts)))  # their __init__.py runs
    return sorted((set(files.values()) | parents) - {None})


@functools.cache
def code_fingerprint(comp: str) -> str:
    """A hash of `code_files(comp)`, taken once per process (so it names the code that runs, even when the
    files are edited while a long run is under way)."""
    h = hashlib.sha256()
    root = Path(pipelines.__file__).parents[1]
    for path in code_files(comp):
        h.update(str(path.relative_to(root) if path.is_relative_to(root) else path.name).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
