"""Image competitions, the predict step: TTA predictions for the test images -> the competition's submission,
validated and written atomically (pipelines/vision/task.py writes it, and checks it again before `make submit`)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import write_csv
from models.learner import Predictor, read_checkpoint
from models.vision import ImageModel
from pipelines.ensemble import blend
from pipelines.paths import Paths
from pipelines.runs import RunDir
from pipelines.vision.config import VisionConfig, net_amp
from pipelines.vision.data import ImageData, load_processed
from pipelines.vision.evaluate import predict_views
from pipelines.vision.layouts import Layout
from pipelines.vision.task import ImageTask, write_task_submission
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
    model = build_model(cfg, len(state["classes"]), pretrained=False, y_range=state.get("y_range"))
    model.load_state_dict(state["model"])
    return model, state


def member_test_probs(task: ImageTask, paths: Paths, cfg: VisionConfig, data: ImageData, rd: RunDir, name: str):
    """(test probabilities, TTA views) of one member: the probe's or the table's folds' average (computed when it
    was fitted), or the net's TTA predictions (computed now)."""
    if name in ("probe", "table"):
        return np.load(rd.path / name / "test.npy"), RunDir(rd.path / name).read_json("result.json").get("views")
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
    layout = Layout(data.items, data.test, data.classes, data.multi_label, regression=data.regression)
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
    """The competition's submission of `probs`: tags above the thresholds, the expected class cut (an ordinal
    metric's cuts), or probabilities clipped (a threshold on P(the last class))."""
    if data.multi_label:
        return task.submission(data.test, probs, layout, np.asarray(setting), 0.0)
    if isinstance(setting, list):  # the cuts of the expected class (pipelines/vision/choices.py)
        return task.submission(data.test, probs, layout, setting, 0.0)
    return task.submission(data.test, probs, layout, None, float(setting))
