"""What is particular to one image competition: an `ImageTask` (how to read its files, write and check its
submission), and the submission written and submitted. Torch-free: the download and features steps import it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.io import atomic_write_text
from pipelines import submit as submitlib
from pipelines.download import DataSpec
from pipelines.paths import Paths
from pipelines.vision.layouts import Layout

if TYPE_CHECKING:
    from pipelines.vision.data import ImageData


@dataclass(frozen=True)
class ImageTask:
    """What is particular to one image competition."""

    comp: str  # COMP name
    spec: DataSpec
    read: Callable[[Path], Layout]
    submission: Callable[..., pd.DataFrame]  # (test, probs, layout, thresholds, clip) -> frame
    sample_file: str | None  # sample submission to validate against, when raw/ has it
    id_col: str
    # classes -> what each submission column must hold (pipelines.submit.Column), as Kaggle scores it
    columns: Callable[[list[str]], dict[str, submitlib.Column]] = lambda classes: {}
    metric: str = ""  # the card's metric (models.metrics), when not log loss or sample F2 (pipelines/vision/choices.py)
    # the submission's format as the features step saves it in processed/layout.json (prediction reads it there
    # rather than list every image again)
    format_fields: Callable[[], dict] = dict


def read_sample(task: ImageTask, paths: Paths, like: pd.DataFrame) -> pd.DataFrame | None:
    """The competition's sample submission, ids typed like `like`'s, or None when raw/ has none."""
    path = paths.raw / task.sample_file if task.sample_file else None
    if path is None or not path.is_file():
        return None
    sample = pd.read_csv(path)
    sample[task.id_col] = sample[task.id_col].astype(like[task.id_col].dtype)
    return sample


def write_task_submission(
    task: ImageTask, paths: Paths, data: ImageData, sub: pd.DataFrame, run: str, provenance: dict
) -> Path:
    """Validate `sub` against the sample submission (when it describes the test images on disk), write
    submissions/COMP/RUN.csv atomically and RUN.json (`provenance`: which run, its validation scores)."""
    matches = data.info.get("sample_matches", True)
    sample = read_sample(task, paths, sub) if matches else None
    if not matches:
        print(
            f"warning: {task.sample_file} names test images that are not in {paths.raw}; the submission covers "
            f"the {len(sub):,} test images on disk and is not checked against it (make submit will refuse it)"
        )
    out = submitlib.write_submission(
        sub,
        sub if sample is None else sample,
        task.id_col,
        paths.submissions / f"{run}.csv",
        task.columns(data.classes),
    )
    checked = str(paths.raw / task.sample_file) if sample is not None else None
    provenance = {"submission": str(out), "rows": len(sub), "validated_against": checked, **provenance}
    atomic_write_text(paths.submissions / f"{run}.json", json.dumps(provenance, indent=1))
    return out


def submit(task: ImageTask, paths: Paths, cfg, run: str) -> None:
    """Validate the run's submission against the sample submission again and send it with its validation scores."""
    path = paths.submissions / f"{run}.csv"
    submitlib.submittable(path, paths.runs / run / "result.json", task.comp, run, task.spec.slug)
    meta_path = paths.submissions / f"{run}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    sub = submitlib.read_submission(path)
    sample = read_sample(task, paths, sub)
    classes = json.loads((paths.processed / "layout.json").read_text())["classes"]
    submitlib.validate_submission(
        sub, sub if sample is None else sample, task.id_col, where=str(path), columns=task.columns(classes)
    )
    score = {k: v for k, v in meta.items() if k.startswith("oof_") and not k.endswith("in_sample")}
    submitlib.submit(task.spec.slug, task.comp, path, f"{run} " + " ".join(f"{k}={v}" for k, v in score.items()))
