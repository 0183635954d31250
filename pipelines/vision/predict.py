"""Image competitions, the predict and submit steps: TTA predictions for the test images -> the
competition's submission, validated and written atomically; submit checks it again before the upload."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import atomic_write_text, write_csv
from models.learner import Predictor, read_checkpoint
from models.vision import ImageModel
from pipelines import submit as submitlib
from pipelines.ensemble import blend
from pipelines.paths import Paths
from pipelines.runs import RunDir
from pipelines.vision.config import VisionConfig, net_amp
from pipelines.vision.data import ImageData, load_processed
from pipelines.vision.evaluate import predict_views
from pipelines.vision.layouts import Layout
from pipelines.vision.task import ImageTask
from pipelines.vision.train import build_model


def load_model(path: Path, cfg: VisionConfig, device) -> tuple[ImageModel, dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: train first (make train COMP=... RUN=...)")
    state = read_checkpoint(path)
    if state["arch"] != cfg.arch or state["size"] != cfg.sizes[-1]:
        raise ValueError(
            f"{path} holds a {state['arch']} trained at {state['size']}px, the config says {cfg.arch} "
            f"at {cfg.sizes[-1]}px; use the same ARGS as for training"
        )
    model = build_model(cfg, len(state["classes"]), pretrained=False)
    model.load_state_dict(state["model"])
    return model, state


def member_test_probs(task: ImageTask, paths: Paths, cfg: VisionConfig, data: ImageData, rd: RunDir, name: str):
    """(test probabilities, TTA views) of one member: the probe's folds' average (computed when it was
    fitted), or the net's TTA predictions (computed now)."""
    if name == "probe":
        return np.load(rd.path / "probe" / "test.npy"), RunDir(rd.path / "probe").read_json("result.json")["views"]
    model, state = load_model(rd.path / "model.pt", cfg, cfg.device)
    if state["classes"] != data.classes:
        raise ValueError(
            f"{rd.path / 'model.pt'} was trained on other classes than {paths.processed}/layout.json; "
            f"retrain (make train COMP={task.comp} RUN={rd.path.name})"
        )
    learn = Predictor(model, device=cfg.device, amp=net_amp(cfg), channels_last=cfg.channels_last)
    views = predict_views(learn, data, "test", cfg, cfg.tta)
    return np.mean(views, axis=0), len(views)


def predict(task: ImageTask, paths: Paths, cfg: VisionConfig, run: str) -> Path | None:
    """The members' test predictions, blended with the weights and submitted with the threshold or clip chosen
    out of fold -> the competition's submission CSV, validated and written atomically. Each member alone is
    also written, as runs/RUN/member_submissions/MEMBER.csv."""
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
    result = rd.read_json("result.json")
    t0 = time.perf_counter()
    layout = Layout(data.items, data.test, data.classes, data.multi_label)
    probs, views = {}, {}
    for name in result["members"]:
        probs[name], views[name] = member_test_probs(task, paths, cfg, data, rd, name)
        alone = submission_frame(task, data, layout, probs[name], result["settings"][name])
        write_csv(alone, rd.path / "member_submissions" / f"{name}.csv")
    sub = submission_frame(task, data, layout, blend(probs, result["weights"]), result["setting"])
    metric = {k: v for k, v in result.items() if k.startswith(("oof_", "valid_")) and "seconds" not in k}
    provenance = {"run": str(rd.path), "weights": result["weights"], "tta_views": views}
    out = write_task_submission(
        task, paths, data, sub, run, {**provenance, "bad_test_images": data.info["bad_test"], **metric}
    )
    print(
        f"submission: {out} ({len(sub):,} rows, members {result['weights']}, {time.perf_counter() - t0:.0f} s)"
        + (
            f"; {len(data.info['bad_test'])} test images could not be decoded and were predicted from a blank image"
            if data.info["bad_test"]
            else ""
        )
    )
    return out


def submission_frame(task: ImageTask, data: ImageData, layout: Layout, probs: np.ndarray, setting) -> pd.DataFrame:
    """The competition's submission of `probs`: tags above the thresholds, or probabilities clipped."""
    if data.multi_label:
        return task.submission(data.test, probs, layout, np.asarray(setting), 0.0)
    return task.submission(data.test, probs, layout, None, float(setting))


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
    sub = submitlib.read_submission(path)
    sample = read_sample(task, paths, sub)
    classes = json.loads((paths.processed / "layout.json").read_text())["classes"]
    submitlib.validate_submission(
        sub, sub if sample is None else sample, task.id_col, where=str(path), columns=task.columns(classes)
    )
    score = {k: v for k, v in meta.items() if k.startswith("oof_") and not k.endswith("in_sample")}
    submitlib.submit(task.spec.slug, task.comp, path, f"{run} " + " ".join(f"{k}={v}" for k, v in score.items()))
