"""Image competitions, the predict and submit steps: TTA predictions for the test images -> the
competition's submission, validated and written atomically; submit checks it again before the upload."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from features.io import atomic_write_text
from models.learner import Predictor
from models.vision import ImageModel
from pipelines import submit as submitlib
from pipelines.paths import Paths
from pipelines.runs import RunDir
from pipelines.vision.config import VisionConfig
from pipelines.vision.data import ImageData, load_processed
from pipelines.vision.evaluate import predict_views
from pipelines.vision.layouts import Layout
from pipelines.vision.task import ImageTask
from pipelines.vision.train import build_model


def load_model(path: Path, cfg: VisionConfig, device) -> tuple[ImageModel, dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: train first (make train COMP=... RUN=...)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["arch"] != cfg.arch or state["size"] != cfg.sizes[-1]:
        raise ValueError(
            f"{path} holds a {state['arch']} trained at {state['size']}px, the config says {cfg.arch} "
            f"at {cfg.sizes[-1]}px; use the same ARGS as for training"
        )
    model = build_model(cfg, len(state["classes"]), pretrained=False)
    model.load_state_dict(state["model"])
    return model, state


def predict(task: ImageTask, paths: Paths, cfg: VisionConfig, run: str) -> Path | None:
    """TTA predictions for the test images -> the competition's submission CSV, validated and written atomically."""
    data = load_processed(paths, cfg, task.comp)
    rd = RunDir(paths.runs / run)
    if not rd.is_complete():
        raise FileNotFoundError(f"{rd.result} not found: train first (make train COMP={task.comp} RUN={run})")
    if len(data.test) == 0:
        print(
            f"no test images in {paths.raw} (the layout's test folder is absent): nothing to submit. Validation "
            f"results are in {rd.result}."
        )
        return None
    model, state = load_model(rd.path / "model.pt", cfg, cfg.device)
    if state["classes"] != data.classes:
        raise ValueError(
            f"{rd.path / 'model.pt'} was trained on other classes than {paths.processed}/layout.json; "
            f"retrain (make train COMP={task.comp} RUN={run})"
        )
    learn = Predictor(model, device=cfg.device, amp=cfg.amp_frozen, channels_last=cfg.channels_last)
    t0 = time.perf_counter()
    views = predict_views(learn, data, "test", cfg, cfg.tta)
    probs = np.mean(views, axis=0)
    result = rd.read_json("result.json")
    thresholds = np.array(list(result["thresholds"].values())) if data.multi_label else None
    layout = Layout(data.items, data.test, data.classes, data.multi_label)
    sub = task.submission(data.test, probs, layout, thresholds, cfg.clip)
    metric = {k: v for k, v in result.items() if k.startswith("valid_") and "seconds" not in k}
    out = write_task_submission(
        task,
        paths,
        data,
        sub,
        run,
        {"run": str(rd.path), "tta_views": len(views), "bad_test_images": data.info["bad_test"], **metric},
    )
    print(
        f"submission: {out} ({len(sub):,} rows, {len(views)}-view TTA, {time.perf_counter() - t0:.0f} s)"
        + (
            f"; {len(data.info['bad_test'])} test images could not be decoded and were predicted from a blank image"
            if data.info["bad_test"]
            else ""
        )
    )
    return out


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
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: make predict COMP={task.comp} RUN={run}")
    meta_path = paths.submissions / f"{run}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    sub = pd.read_csv(path)
    sample = read_sample(task, paths, sub)
    classes = json.loads((paths.processed / "layout.json").read_text())["classes"]
    submitlib.validate_submission(
        sub, sub if sample is None else sample, task.id_col, where=str(path), columns=task.columns(classes)
    )
    score = {k: v for k, v in meta.items() if k.startswith("valid_") and not k.endswith("crossfit")}
    submitlib.submit(task.spec.slug, task.comp, path, f"{run} " + " ".join(f"{k}={v}" for k, v in score.items()))
