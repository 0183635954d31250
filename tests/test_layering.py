"""Competition knowledge lives in its own package: no competition's name or constant appears in the code
(docstrings and comments aside) of the shared layers: features/, models/ and pipelines/ outside the
competition packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipelines import registry
from pipelines.paths import ROOT

COMPETITIONS = registry.names()
SHARED = [
    *sorted((ROOT / "features").glob("*.py")),
    *sorted((ROOT / "models").glob("*.py")),
    *sorted((ROOT / "pipelines").glob("*.py")),
    *sorted((ROOT / "pipelines" / "vision").glob("*.py")),
    *sorted((ROOT / "pipelines" / "tabular").glob("*.py")),
]


def code_words(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every identifier and string constant in a file, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    words = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            words.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            words.append((node.lineno, node.attr))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            words.append((node.lineno, node.name))
        elif isinstance(node, ast.alias):
            words.append((node.lineno, node.name))
    return words


def test_the_competitions_are_found():
    assert {"rossmann", "dogs-vs-cats", "dog-breed", "planet", "cifar10"} <= set(COMPETITIONS)


@pytest.mark.parametrize("path", SHARED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_competition_name_or_constant_in_shared_code(path):
    needles = {n for c in COMPETITIONS for n in (c, c.replace("-", "_"))} | {"cifar"}
    hits = [
        f"{path.name}:{line}: {text!r}" for line, text in code_words(path) if any(n in text.lower() for n in needles)
    ]
    assert not hits, "competition knowledge in shared code (move it into its package):\n" + "\n".join(hits)


@pytest.mark.parametrize(("layer", "above"), [("features", ("models", "pipelines")), ("models", ("pipelines",))])
def test_layers_import_only_downward(layer, above):
    """features/ <- models/ <- pipelines/: a layer may use the ones below it, never one above."""
    wrong = []
    for path in sorted((ROOT / layer).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            wrong += [f"{path.name}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in above]
    assert not wrong, wrong
