"""Image competitions: predictions with TTA, validation metrics and the pictures that explain them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from features.io import write_csv, write_npy
from models.image_data import image_loader, tta_transforms, valid_transform
from models.interpret import class_activation_map, plot_cam, plot_images, top_losses
from models.learner import Predictor
from models.metrics import (
    accuracy,
    best_thresholds,
    binary_log_losses,
    f2_score,
    from_target,
    get_metric,
    log_loss,
    to_target,
)
from models.vision import ImageModel
from pipelines.vision.config import VisionConfig, net_amp
from pipelines.vision.data import ImageData, n_workers


def to_probs(logits: torch.Tensor, data: ImageData) -> np.ndarray:
    """The net's outputs as the blend takes them: probabilities, or a regression's numbers on the metric's scale."""
    if data.regression:
        return from_target(get_metric(data.metric), logits.double().numpy())
    return (torch.sigmoid(logits) if data.multi_label else torch.softmax(logits, 1)).double().numpy()


def predict_views(learn: Predictor, data: ImageData, split: str, cfg: VisionConfig, n_tta: int) -> list[np.ndarray]:
    """Predictions for the plain view and each TTA view (seeded, so the same run gives the same numbers)."""
    views = tta_transforms(cfg.sizes[-1], cfg.aug, n_tta)
    out = []
    for k, tfm in enumerate(views):
        torch.manual_seed(cfg.seed * 1000 + k)
        ds = data.dataset(split, tfm, with_targets=False)
        dl = image_loader(
            ds, 2 * cfg.bs, shuffle=False, workers=n_workers(cfg, learn.device), pin_memory=learn.device.type == "cuda"
        )
        logits, _ = learn.get_preds(dl, with_targets=False)
        out.append(to_probs(logits, data))
    return out


def evaluate(model: ImageModel, data: ImageData, cfg: VisionConfig, base: Predictor, out: Path) -> dict:
    """Validation metrics with and without TTA, and the pictures that explain them (per_tag.csv and the
    confusion matrix are train's, of the submission's blend)."""
    learn = Predictor(model, device=base.device, amp=net_amp(cfg), channels_last=cfg.channels_last)
    t0 = time.perf_counter()
    views = predict_views(learn, data, "valid", cfg, cfg.tta)
    plain, tta = views[0], np.mean(views, axis=0)
    frame = data.frame("valid").reset_index(drop=True)
    y = data.answers(frame)
    res: dict = {"tta_views": len(views), "valid_predict_seconds": round(time.perf_counter() - t0, 1)}
    write_npy(tta, out / "valid_probs.npy")
    th = None
    if data.regression:
        metric = get_metric(data.metric)
        for name, p in (("", plain), ("_tta", tta)):
            res[f"valid_{metric.name}{name}"] = round(metric.score(y, p[:, 0]), 5)
        print(
            f"validation {metric.name} {res[f'valid_{metric.name}']:.4f} plain, "
            f"{res[f'valid_{metric.name}_tta']:.4f} with {len(views)}-view TTA"
        )
    elif data.multi_label:
        for name, p in (("", plain), ("_tta", tta)):
            th = best_thresholds(p, y, per_tag=cfg.thresholds != "global")
            res[f"valid_f2{name}"] = round(f2_score(p, y, th), 5)
            res[f"valid_f2{name}_crossfit"] = round(crossfit_f2(p, y, cfg.thresholds != "global", cfg.seed), 5)
            if name == "_tta":
                res["net_thresholds"] = dict(zip(data.classes, np.round(th, 2).tolist(), strict=True))
        print(
            f"validation F2 (thresholds tuned on validation): {res['valid_f2']:.4f} plain, {res['valid_f2_tta']:.4f} "
            f"with {len(views)}-view TTA; tuned on one half, scored on the other: {res['valid_f2_crossfit']:.4f} / "
            f"{res['valid_f2_tta_crossfit']:.4f}"
        )
        th = np.array(list(res["net_thresholds"].values()))
    else:
        for name, p in (("", plain), ("_tta", tta)):
            res[f"valid_accuracy{name}"] = round(accuracy(p, y), 5)
            res[f"valid_logloss{name}"] = round(log_loss(p, y), 5)
        print(
            f"validation accuracy {res['valid_accuracy']:.4f} plain, {res['valid_accuracy_tta']:.4f} with "
            f"{len(views)}-view TTA; log loss {res['valid_logloss']:.4f} / {res['valid_logloss_tta']:.4f}"
        )
    worst = worst_images(tta, y, frame, data.classes, th, metric=data.metric if data.regression else None)
    write_csv(worst, out / "top_losses.csv")
    show = data.dataset("valid", valid_transform(cfg.sizes[-1]), with_targets=False)
    rows = {f: i for i, f in enumerate(frame.file)}
    picks = [rows[f] for f in worst.file[:8]]
    sure = "" if data.regression else " (confidence)"
    plot_images(
        [show[i] for i in picks],
        [
            f"{Path(r.file).name}\n{r.actual} -> {r.predicted}" + ("" if data.regression else f" ({r.confidence:.2f})")
            for r in worst[:8].itertuples()
        ],
        out / "top_losses.png",
        suptitle=f"top losses: actual -> predicted{sure}",
    )
    cam_file = cfg.cam_image or worst.file.iloc[0]
    if cam_file in rows:
        i = rows[cam_file]
        cls = int(tta[i].argmax())
        what = (
            f"evidence for a higher {data.classes[0]!r} (predicted {tta[i, 0]:.4g})"
            if data.regression
            else f"evidence for {data.classes[cls]!r} (p={tta[i, cls]:.2f})"
        )
        cam = class_activation_map(model, show[i], cls, learn.device)
        plot_cam(show[i], cam, f"{cam_file}: {what}", out / "cam.png")
    else:
        print(f"note: cam_image={cam_file!r} is not a validation image; no cam.png")
    return res


def worst_images(
    p: np.ndarray, y: np.ndarray, frame: pd.DataFrame, classes: list[str], th=None, submitted=None, metric=None
) -> pd.DataFrame:
    """The top losses of probabilities `p` on `frame`'s images: file, actual, predicted (tags above the
    thresholds `th` for multi-label, else the `submitted` class indices, by default the arg-max class), its
    probability (the likeliest tag's for multi-label), loss. A regression's (`metric`, its name): the largest
    absolute errors on the metric's training scale (of the logs for rmsle)."""
    if metric is not None:
        m = get_metric(metric)
        errors = np.abs(to_target(m, p[:, 0]) - to_target(m, y))
        predicted = [f"{v:.4g}" for v in p[:, 0]]
        return top_losses(list(frame.file), errors, list(frame.label), predicted)
    if th is not None:
        losses = binary_log_losses(p, y).sum(1)
        predicted = [" ".join(np.array(classes)[row > th]) for row in p]
    else:
        losses = -np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1))
        submitted = p.argmax(1) if submitted is None else np.asarray(submitted)
        predicted = [classes[i] for i in submitted]
        return top_losses(list(frame.file), losses, list(frame.label), predicted, p[np.arange(len(p)), submitted])
    return top_losses(list(frame.file), losses, list(frame.label), predicted, p.max(1))


def crossfit_f2(p: np.ndarray, y: np.ndarray, per_tag: bool, seed: int) -> float:
    """F2 with thresholds tuned on one half of validation and scored on the other (both ways, averaged):
    an honest estimate, since thresholds tuned and scored on the same images flatter the score."""
    idx = np.random.default_rng(seed).permutation(len(y))
    a, b = idx[: len(idx) // 2], idx[len(idx) // 2 :]
    scores = [f2_score(p[test], y[test], best_thresholds(p[tune], y[tune], per_tag)) for tune, test in ((a, b), (b, a))]
    return float(np.mean(scores))


def per_tag_report(p: np.ndarray, y: np.ndarray, th: np.ndarray, classes: list[str], path: Path) -> None:
    from sklearn.metrics import precision_recall_fscore_support

    prec, rec, f2, support = precision_recall_fscore_support(y.astype(bool), p > th, beta=2, zero_division=0)
    pd.DataFrame(
        {
            "tag": classes,
            "support": support,
            "threshold": np.round(th, 2),
            "precision": np.round(prec, 3),
            "recall": np.round(rec, 3),
            "f2": np.round(f2, 3),
        }
    ).to_csv(path, index=False)
