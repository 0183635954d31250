"""The pipeline steps every image competition shares: features (split + pre-resized cache), train (precomputed
activations -> frozen -> unfrozen with differential lrs, one stage per progressive-resizing size), predict
(TTA) and submit. A competition only supplies an `ImageTask`: how to read its files and write its submission.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from features.images import build_cache
from features.io import atomic_path, atomic_write_text, write_feather
from models.callbacks import ProgressCallback, Recorder
from models.data import tensor_loader
from models.device import pick_precision
from models.image_data import ImageDataset, image_loader, train_transform, tta_transforms, valid_transform
from models.interpret import class_activation_map, plot_cam, plot_confusion_matrix, plot_images, top_losses
from models.learner import Learner, Predictor
from models.metrics import accuracy, best_thresholds, f2_score, log_loss
from models.summary import model_summary
from models.vision import ImageModel, PooledHead, create_body, pooled_features
from pipelines import submit as submitlib
from pipelines.config import fingerprint
from pipelines.download import DataSpec, read_source
from pipelines.paths import Paths
from pipelines.runs import RunDir, features_fingerprint, fit_resumable, seed_everything, write_features_stamp
from pipelines.vision.config import VisionConfig
from pipelines.vision.layouts import Layout


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


# ---- features --------------------------------------------------------------------------------------------
def cache_size(cfg: VisionConfig) -> int:
    return int(round(cfg.cache_scale * max(cfg.sizes)))


def split_valid(frame: pd.DataFrame, cfg: VisionConfig) -> np.ndarray:
    """Boolean validation mask: the layout's own valid/ folder, else a seeded random `valid_pct` share."""
    if "valid" in frame.columns:
        return frame.valid.to_numpy(bool)
    if not 0 < cfg.valid_pct < 1:
        raise ValueError(f"valid_pct={cfg.valid_pct}: expected a fraction between 0 and 1")
    rng = np.random.default_rng(cfg.split_seed)
    mask = np.zeros(len(frame), bool)
    mask[rng.permutation(len(frame))[: max(1, round(cfg.valid_pct * len(frame)))]] = True
    return mask


def _cache(paths: Paths, files: list[str], name: str, size: int, keep_bad: bool) -> dict:
    """processed/cache<size>/<name>.npy, rebuilt only when the files, their source or the size change."""
    out = paths.processed / f"cache{size}" / f"{name}.npy"
    source = (read_source(paths) or {}).get("at", "")
    if out.is_file() and out.with_suffix(".json").is_file():
        meta = json.loads(out.with_suffix(".json").read_text())
        if meta.get("source") == source and meta.get("requested") == files and meta.get("keep_bad") == keep_bad:
            print(f"{out}: up to date ({len(meta['files'])} images at {size}px)")
            return meta
    t0 = time.perf_counter()
    meta = build_cache(
        [paths.raw / f for f in files],
        size,
        out,
        keep_bad=keep_bad,
        extra={"source": source, "requested": files, "keep_bad": keep_bad},
    )
    seconds = time.perf_counter() - t0
    meta["seconds"] = round(seconds, 1)
    atomic_write_text(out.with_suffix(".json"), json.dumps(meta, indent=0))
    print(
        f"{out}: {len(files)} images decoded and resized to {size}px in {seconds:.1f} s "
        f"({len(files) / max(seconds, 1e-9):.0f} images/s)" + (f", {len(meta['bad'])} bad" if meta["bad"] else "")
    )
    for line in meta["bad"][:10]:
        print(f"  bad image: {line}")
    return meta


def build_features(task: ImageTask, paths: Paths, cfg: VisionConfig) -> None:
    """raw/ -> processed/: items.feather (file, label, valid, row), test.feather, layout.json and the cache."""
    layout = task.read(paths.raw)
    for note in layout.notes:
        print(f"note: {note}")
    size = cache_size(cfg)
    items = layout.train.copy()
    items["valid"] = split_valid(items, cfg)
    meta = _cache(paths, list(items.file), "labelled", size, keep_bad=False)
    bad = set(items.file) - {str(Path(f).relative_to(paths.raw)) for f in meta["files"]}
    if bad:
        print(
            f"note: {len(bad)} labelled images could not be decoded and were skipped (listed in "
            f"{paths.processed}/cache{size}/labelled.json)"
        )
        items = items[~items.file.isin(bad)]
    items["row"] = np.arange(len(items))  # rows of labelled.npy, in the same order
    test = layout.test.copy()
    test_meta = _cache(paths, list(test.file), "test", size, keep_bad=True) if len(test) else {"bad": []}
    test["row"] = np.arange(len(test))
    write_feather(items, paths.processed / "items.feather")
    write_feather(test, paths.processed / "test.feather")
    info = {
        "classes": layout.classes,
        "multi_label": layout.multi_label,
        "cache_size": size,
        "sample_matches": layout.sample_matches,
        "notes": layout.notes,
        "bad_labelled": sorted(bad),
        "bad_test": test_meta["bad"],
        "n_train": int((~items.valid).sum()),
        "n_valid": int(items.valid.sum()),
        "n_test": len(test),
    }
    atomic_write_text(paths.processed / "layout.json", json.dumps(info, indent=1))
    write_features_stamp(paths, cfg, n_labelled=len(items), n_test=len(test), classes=layout.classes)
    print(
        f"{paths.processed}: {info['n_train']} training, {info['n_valid']} validation, {info['n_test']} test "
        f"images; {len(layout.classes)} {'tags' if layout.multi_label else 'classes'}"
    )


# ---- data for training -----------------------------------------------------------------------------------
@dataclass
class ImageData:
    items: pd.DataFrame
    test: pd.DataFrame
    info: dict
    cache_dir: Path

    @property
    def classes(self) -> list[str]:
        return self.info["classes"]

    @property
    def multi_label(self) -> bool:
        return self.info["multi_label"]

    def targets(self, frame: pd.DataFrame) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.classes)}
        if self.multi_label:
            y = torch.zeros(len(frame), len(self.classes))
            for r, tags in enumerate(frame.label):
                for t in tags.split():
                    y[r, index[t]] = 1.0
            return y
        return torch.tensor([index[c] for c in frame.label], dtype=torch.long)

    def dataset(self, split: str, transform, with_targets: bool = True) -> ImageDataset:
        if split == "test":
            return ImageDataset(self.cache_dir / "test.npy", None, transform, rows=self.test.row.to_numpy())
        frame = self.items[self.items.valid == (split == "valid")]
        return ImageDataset(
            self.cache_dir / "labelled.npy",
            self.targets(frame) if with_targets else None,
            transform,
            rows=frame.row.to_numpy(),
        )

    def frame(self, split: str) -> pd.DataFrame:
        return self.test if split == "test" else self.items[self.items.valid == (split == "valid")]


def load_processed(paths: Paths, cfg: VisionConfig, comp: str) -> ImageData:
    features_fingerprint(paths, cfg)  # built, from the raw data there now, with these settings
    info = json.loads((paths.processed / "layout.json").read_text())
    items = pd.read_feather(paths.processed / "items.feather")
    test = pd.read_feather(paths.processed / "test.feather")
    return ImageData(items, test, info, paths.processed / f"cache{info['cache_size']}")


def n_workers(cfg: VisionConfig, device: torch.device) -> int:
    if cfg.workers >= 0:
        return cfg.workers
    return min(8, os.cpu_count() or 1) if device.type == "cuda" else 0


# ---- model -----------------------------------------------------------------------------------------------
def build_model(cfg: VisionConfig, n_out: int, pretrained: bool | None = None) -> ImageModel:
    pretrained = cfg.pretrained if pretrained is None else pretrained
    body = create_body(cfg.arch, pretrained, (cfg.weights or None) if pretrained else None)
    model = ImageModel(body, n_out, cfg.hidden, cfg.ps)
    model.bn_freeze = cfg.bn_freeze
    return model


def loss_and_metrics(multi_label: bool, label_smoothing: float = 0.0) -> tuple[nn.Module, dict]:
    if multi_label:
        return nn.BCEWithLogitsLoss(), {"f2@0.2": lambda p, y: f2_score(torch.sigmoid(p), y, 0.2)}
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing), {"accuracy": accuracy}


def to_probs(logits: torch.Tensor, multi_label: bool) -> np.ndarray:
    return (torch.sigmoid(logits) if multi_label else torch.softmax(logits, 1)).double().numpy()


# ---- training --------------------------------------------------------------------------------------------
@dataclass
class Stage:
    name: str  # precompute, frozen, unfrozen@<size>
    size: int
    epochs: int
    lr: float | list[float]
    aug: bool
    freeze_to: int


def plan(cfg: VisionConfig) -> list[Stage]:
    """The stages a config asks for, in order."""
    if len(cfg.epochs) != len(cfg.sizes):
        raise ValueError(f"epochs={cfg.epochs} needs one entry per size in sizes={cfg.sizes}")
    first = cfg.sizes[0]
    stages = []
    if cfg.precompute_epochs:
        stages.append(Stage("precompute", first, cfg.precompute_epochs, cfg.precompute_lr, False, 2))
    if cfg.frozen_epochs:
        stages.append(Stage(f"frozen@{first}", first, cfg.frozen_epochs, cfg.frozen_lr, True, 2))
    lrs = [cfg.lr / cfg.lr_div**2, cfg.lr / cfg.lr_div, cfg.lr]
    for size, epochs in zip(cfg.sizes, cfg.epochs, strict=True):
        if epochs:
            stages.append(Stage(f"unfrozen@{size}", size, epochs, lrs, True, 0))
    if not stages:
        raise ValueError("nothing to train: set precompute_epochs, frozen_epochs or epochs")
    return stages


def activations(
    model: ImageModel, data: ImageData, split: str, size: int, cfg: VisionConfig, learn: Predictor, paths: Paths
) -> torch.Tensor:
    """The frozen body's pooled features for a split (no augmentation), cached in interim/ across runs."""
    meta = json.loads((data.cache_dir / "labelled.json").read_text())
    key = json.dumps(
        [
            cfg.arch,
            cfg.pretrained,
            cfg.weights,
            size,
            meta.get("source"),
            len(meta["files"]),
            str(learn.precision),
            split,
            data.frame(split).row.tolist(),
        ]
    )
    path = paths.interim / "activations" / f"{split}-{size}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    t0 = time.perf_counter()
    ds = data.dataset(split, valid_transform(size))
    loader = image_loader(
        ds,
        batch_size=2 * cfg.bs,
        shuffle=False,
        workers=n_workers(cfg, learn.device),
        pin_memory=learn.device.type == "cuda",
    )
    # Iterating a DataLoader draws its base seed from torch's global RNG: fork it, so a run that computes the
    # activations trains exactly like one that finds them cached.
    with torch.random.fork_rng(devices=[]):
        acts = pooled_features(model, loader, learn.device, learn.precision, cfg.channels_last)
    seconds = time.perf_counter() - t0
    print(
        f"precomputed {split} activations at {size}px: {len(ds)} images in {seconds:.1f} s "
        f"({len(ds) / max(seconds, 1e-9):.0f} images/s)"
    )
    with atomic_path(path) as tmp:
        torch.save(acts, tmp)
    return acts


def stage_learner(
    model: ImageModel, stage: Stage, data: ImageData, cfg: VisionConfig, paths: Paths, base: Predictor
) -> Learner:
    """The Learner for one stage: the head on precomputed activations, or the whole model on (augmented) images."""
    loss, metrics = loss_and_metrics(data.multi_label, cfg.label_smoothing)
    model.freeze_to(stage.freeze_to)
    # The frozen-body stages are mostly forward passes: they use amp_frozen; the unfrozen ones use amp.
    amp = cfg.amp if stage.freeze_to == 0 else cfg.amp_frozen
    common = {"loss_func": loss, "metrics": metrics, "wd": cfg.wd, "device": base.device, "amp": amp}
    if stage.name == "precompute":
        y_train, y_valid = (data.targets(data.frame(s)) for s in ("train", "valid"))
        x_train = activations(model, data, "train", stage.size, cfg, base, paths)
        x_valid = activations(model, data, "valid", stage.size, cfg, base, paths)
        dev = base.device
        train_dl = tensor_loader(x_train.to(dev), y_train.to(dev), batch_size=cfg.bs, shuffle=True, seed=cfg.seed)
        valid_dl = tensor_loader(x_valid.to(dev), y_valid.to(dev), batch_size=1024, shuffle=False)
        return Learner(PooledHead(model.head), train_dl, valid_dl, **common)
    aug = {"max_rotate": cfg.max_rotate, "min_scale": cfg.min_scale, "lighting": cfg.lighting}
    tfm = train_transform(stage.size, cfg.aug, **aug) if stage.aug else valid_transform(stage.size)
    workers, pin = n_workers(cfg, base.device), base.device.type == "cuda"
    train_ds = data.dataset("train", tfm)
    train_dl = image_loader(train_ds, cfg.bs, shuffle=True, seed=cfg.seed, workers=workers, pin_memory=pin)
    valid_dl = image_loader(
        data.dataset("valid", valid_transform(stage.size)), 2 * cfg.bs, shuffle=False, workers=workers, pin_memory=pin
    )
    return Learner(model, train_dl, valid_dl, channels_last=cfg.channels_last, **common)


def run_config(cfg: VisionConfig, features: str) -> dict:
    """What finished stages must have been trained with to be reused: the config and the features' fingerprint."""
    return {**fingerprint(cfg), "features": features}


def train(task: ImageTask, paths: Paths, cfg: VisionConfig, run: str) -> dict:
    """Train every stage (reusing stages already trained with this config), then evaluate with and without TTA."""
    data = load_processed(paths, cfg, task.comp)
    stages = plan(cfg)
    rd = RunDir(paths.runs / run)
    want = run_config(cfg, features_fingerprint(paths))
    stage_dir = rd.path / "stages"
    if not ((rd.path / "config.json").is_file() and rd.read_json("config.json").get("run") == want):
        for old in stage_dir.glob("*.pt") if stage_dir.is_dir() else []:
            old.unlink()  # a different config: earlier stages do not apply
    rd.start({"run": want, "classes": data.classes, "multi_label": data.multi_label})
    seed_everything(cfg.seed)
    model = build_model(cfg, len(data.classes))
    base = Predictor(model, device=cfg.device, amp=cfg.amp_frozen, channels_last=cfg.channels_last)
    n_train, n_valid = len(data.frame("train")), len(data.frame("valid"))
    print(
        f"{rd.path}: {cfg.arch} ({'pretrained' if cfg.pretrained else 'random init'}), {len(data.classes)} "
        f"{'tags' if data.multi_label else 'classes'}, {n_train} training / {n_valid} validation images, "
        f"{base.device}, {pick_precision(base.device, cfg.amp)} training / {base.precision} frozen body"
        f"{', channels_last' if cfg.channels_last else ''}; stages: "
        + ", ".join(f"{s.name} x{s.epochs}" for s in stages)
    )
    bad = data.info["bad_labelled"]
    if bad:
        print(
            f"note: {len(bad)} labelled images could not be decoded and are left out ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''})"
        )
    save_augment_grid(data, cfg, rd.path / "augmentations.png")
    history, losses, lrs = [], [], []
    t_start = time.perf_counter()
    for i, stage in enumerate(stages):
        ckpt = stage_dir / f"{i}-{stage.name.replace('@', '-')}.pt"  # a finished stage
        if ckpt.is_file():
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            history += state["history"]
            losses += state.get("losses", [])  # so the training plot and steps cover the reused stages too
            lrs += state.get("lrs", [])
            if "rng" in state:  # the next stage draws what it would have drawn uninterrupted
                torch.set_rng_state(state["rng"])
            print(f"stage {stage.name}: already trained with this config on these features ({ckpt}); reusing")
            continue
        learn = stage_learner(model, stage, data, cfg, paths, base)
        learn.history, learn.losses_seen, learn.lrs_seen = history, losses, lrs
        learn.stage = stage.name
        learn.add_cb(ProgressCallback(label=stage.name))
        learn.add_cb(Recorder(rd.path))
        if stage.freeze_to == 0 and not (rd.path / "model.txt").is_file():
            example = next(iter(learn.valid_dl))[0][:2].to(base.device)
            atomic_write_text(rd.path / "model.txt", model_summary(model, example) + "\n")
        seen, steps = len(history), len(losses)
        fit = lambda start, learn=learn, stage=stage: learn.fit_schedule(  # noqa: E731
            cfg.schedule, stage.epochs, stage.lr, start, cycle_len=cfg.cycle_len, cycle_mult=cfg.cycle_mult
        )
        partial = ckpt.with_suffix(".partial.pt")  # after each epoch of the stage: resumed after an interruption
        fit_resumable(learn, partial, {**want, "stage": i}, stage.epochs, fit, label=f"stage {stage.name}")
        history, losses, lrs = learn.history, learn.losses_seen, learn.lrs_seen  # a resume restored them
        with atomic_path(ckpt) as tmp:
            torch.save(
                {
                    "model": model.state_dict(),
                    "history": history[seen:],
                    "losses": losses[steps:],
                    "lrs": lrs[steps:],
                    "rng": torch.get_rng_state(),
                },
                tmp,
            )
        partial.unlink(missing_ok=True)
    train_seconds = time.perf_counter() - t_start
    model.unfreeze()
    save_model(model, cfg, data, rd.path / "model.pt")
    result = {
        "train_seconds": round(train_seconds, 1),
        "device": str(base.device),
        "precision": str(pick_precision(base.device, cfg.amp)),
        "precision_frozen": str(base.precision),
        "stages": [s.name for s in stages],
        "n_train": n_train,
        "n_valid": n_valid,
        "bad_images": len(data.info["bad_labelled"]) + len(data.info["bad_test"]),
    }
    result.update(evaluate(model, data, cfg, base, rd.path))
    result["total_seconds"] = round(time.perf_counter() - t_start, 1)
    rd.write_json("result.json", result)
    return result


def save_model(model: ImageModel, cfg: VisionConfig, data: ImageData, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(
            {
                "model": model.state_dict(),
                "classes": data.classes,
                "multi_label": data.multi_label,
                "arch": cfg.arch,
                "size": cfg.sizes[-1],
                "hidden": cfg.hidden,
            },
            tmp,
        )


# ---- evaluation and TTA ----------------------------------------------------------------------------------
def predict_views(learn: Predictor, data: ImageData, split: str, cfg: VisionConfig, n_tta: int) -> list[np.ndarray]:
    """Probabilities for the plain view and each TTA view (seeded, so the same run gives the same numbers)."""
    views = tta_transforms(cfg.sizes[-1], cfg.aug, n_tta)
    out = []
    for k, tfm in enumerate(views):
        torch.manual_seed(cfg.seed * 1000 + k)
        ds = data.dataset(split, tfm, with_targets=False)
        dl = image_loader(
            ds, 2 * cfg.bs, shuffle=False, workers=n_workers(cfg, learn.device), pin_memory=learn.device.type == "cuda"
        )
        logits, _ = learn.get_preds(dl, with_targets=False)
        out.append(to_probs(logits, data.multi_label))
    return out


def evaluate(model: ImageModel, data: ImageData, cfg: VisionConfig, base: Predictor, out: Path) -> dict:
    """Validation metrics with and without TTA, and the pictures that explain them."""
    learn = Predictor(model, device=base.device, amp=cfg.amp_frozen, channels_last=cfg.channels_last)
    t0 = time.perf_counter()
    views = predict_views(learn, data, "valid", cfg, cfg.tta)
    plain, tta = views[0], np.mean(views, axis=0)
    frame = data.frame("valid").reset_index(drop=True)
    y = data.targets(frame).numpy()
    res: dict = {"tta_views": len(views), "valid_predict_seconds": round(time.perf_counter() - t0, 1)}
    np.save(out / "valid_probs.npy", tta)
    if data.multi_label:
        for name, p in (("", plain), ("_tta", tta)):
            th = best_thresholds(p, y, per_tag=cfg.thresholds == "per_tag")
            res[f"valid_f2{name}"] = round(f2_score(p, y, th), 5)
            res[f"valid_f2{name}_crossfit"] = round(crossfit_f2(p, y, cfg.thresholds == "per_tag", cfg.seed), 5)
            if name == "_tta":
                res["thresholds"] = dict(zip(data.classes, np.round(th, 2).tolist(), strict=True))
        print(
            f"validation F2 (thresholds tuned on validation): {res['valid_f2']:.4f} plain, {res['valid_f2_tta']:.4f} "
            f"with {len(views)}-view TTA; tuned on one half, scored on the other: {res['valid_f2_crossfit']:.4f} / "
            f"{res['valid_f2_tta_crossfit']:.4f}"
        )
        per_tag_report(tta, y, np.array(list(res["thresholds"].values())), data.classes, out / "per_tag.csv")
        losses = -(y * np.log(np.clip(tta, 1e-7, 1)) + (1 - y) * np.log(np.clip(1 - tta, 1e-7, 1))).sum(1)
        th = np.array(list(res["thresholds"].values()))
        predicted = [" ".join(np.array(data.classes)[row > th]) for row in tta]
        confidence = tta.max(1)
    else:
        for name, p in (("", plain), ("_tta", tta)):
            res[f"valid_accuracy{name}"] = round(accuracy(p, y), 5)
            res[f"valid_logloss{name}"] = round(log_loss(p, y), 5)
        print(
            f"validation accuracy {res['valid_accuracy']:.4f} plain, {res['valid_accuracy_tta']:.4f} with "
            f"{len(views)}-view TTA; log loss {res['valid_logloss']:.4f} / {res['valid_logloss_tta']:.4f}"
        )
        plot_confusion_matrix(y, tta.argmax(1), data.classes, out / "confusion_matrix.png")
        losses = -np.log(np.clip(tta[np.arange(len(y)), y], 1e-7, 1))
        predicted = [data.classes[i] for i in tta.argmax(1)]
        confidence = tta.max(1)
    actual = list(frame.label)
    worst = top_losses(list(frame.file), losses, actual, predicted, confidence)
    worst.to_csv(out / "top_losses.csv", index=False)
    show = data.dataset("valid", valid_transform(cfg.sizes[-1]), with_targets=False)
    rows = {f: i for i, f in enumerate(frame.file)}
    picks = [rows[f] for f in worst.file[:8]]
    plot_images(
        [show[i] for i in picks],
        [f"{Path(frame.file[i]).name}\n{actual[i]} -> {predicted[i]} ({confidence[i]:.2f})" for i in picks],
        out / "top_losses.png",
        suptitle="top losses: actual -> predicted (confidence)",
    )
    cam_file = cfg.cam_image or worst.file.iloc[0]
    if cam_file in rows:
        i = rows[cam_file]
        cls = int(tta[i].argmax())
        cam = class_activation_map(model, show[i], cls, learn.device)
        plot_cam(show[i], cam, f"{cam_file}: evidence for {data.classes[cls]!r} (p={tta[i, cls]:.2f})", out / "cam.png")
    else:
        print(f"note: cam_image={cam_file!r} is not a validation image; no cam.png")
    return res


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


def save_augment_grid(data: ImageData, cfg: VisionConfig, path: Path, n_images: int = 3, n_views: int = 4) -> None:
    """A few training images, each as cached and in `n_views - 1` random augmentations, at the first size."""
    size = cfg.sizes[0]
    aug = {"max_rotate": cfg.max_rotate, "min_scale": cfg.min_scale, "lighting": cfg.lighting}
    plain = data.dataset("train", valid_transform(size), with_targets=False)
    augmented = data.dataset("train", train_transform(size, cfg.aug, **aug), with_targets=False)
    g = torch.Generator().manual_seed(cfg.seed)
    picks = torch.randperm(len(plain), generator=g)[:n_images].tolist()
    images, titles = [], []
    rng_state = torch.get_rng_state()
    for i in picks:
        images.append(plain[i])
        titles.append(f"{Path(data.frame('train').file.iloc[i]).name}")
        for k in range(n_views - 1):
            images.append(augmented[i])
            titles.append(f"augmented {k + 1}")
    torch.set_rng_state(rng_state)  # drawing the grid must not change the training run's random stream
    plot_images(images, titles, path, ncols=n_views, suptitle=f"augmentation ({cfg.aug}) at {size}px")


# ---- predict / submit ------------------------------------------------------------------------------------
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


def lr_find(task: ImageTask, paths: Paths, cfg: VisionConfig, run: str) -> dict:
    """lr finder on the head over precomputed activations (lr_find_on=head) or on the unfrozen model."""
    data = load_processed(paths, cfg, task.comp)
    seed_everything(cfg.seed)
    model = build_model(cfg, len(data.classes))
    base = Predictor(model, device=cfg.device, amp=cfg.amp_frozen, channels_last=cfg.channels_last)
    size = cfg.sizes[0]
    lrs = [1.0 / cfg.lr_div**2, 1.0 / cfg.lr_div, 1.0]
    stage = (
        Stage("precompute", size, 1, 1.0, False, 2)
        if cfg.lr_find_on == "head"
        else Stage(f"unfrozen@{size}", size, 1, lrs, True, 0)
    )
    learn = stage_learner(model, stage, data, cfg, paths, base)
    plot = paths.runs / run / "lr_find.png"
    # Unfrozen: sweep the head's lr with the body groups at lr/lr_div and lr/lr_div^2, as training will use them.
    mults = lrs if stage.freeze_to == 0 else None
    result = learn.lr_find(plot=plot, num_it=min(100, 5 * len(learn.train_dl)), lr_mults=mults)
    key = "precompute_lr" if cfg.lr_find_on == "head" else "lr"
    print(
        f"lr finder ({cfg.lr_find_on}): suggested {key} {result['suggested_lr']:.2e} (plot: {plot}); "
        f'use it with ARGS="{key}={result["suggested_lr"]:.1e}"'
    )
    return result
