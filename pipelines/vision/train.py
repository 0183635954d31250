"""Image competitions, the train step: precomputed activations -> frozen -> unfrozen with differential
lrs, one stage per progressive-resizing size, each stage reused when finished and resumed when interrupted;
then validation with TTA. Also the lr finder."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from features.io import atomic_path, atomic_write_text, cached, read_json_object, write_csv
from models.callbacks import ProgressCallback, Recorder
from models.data import tensor_loader
from models.device import pick_device, pick_precision
from models.distributed import barrier, device_for_rank, finish, init_distributed, is_main, world_size
from models.image_data import image_loader, train_transform, valid_transform
from models.interpret import plot_confusion_matrix, plot_images
from models.learner import Learner, Predictor, read_checkpoint
from models.metrics import accuracy, f2_score, get_metric
from models.summary import model_summary
from models.vision import ImageModel, PooledHead, create_body, pooled_features
from pipelines.config import to_dict
from pipelines.cv import assign_folds, random_folds
from pipelines.ensemble import blend
from pipelines.paths import Paths
from pipelines.runs import RunDir, fit_resumable, run_identity, seed_everything
from pipelines.vision.choices import Scorer, combine
from pipelines.vision.config import VisionConfig
from pipelines.vision.data import ImageData, load_processed, n_workers
from pipelines.vision.evaluate import evaluate, per_tag_report, worst_images
from pipelines.vision.probe import read_oof, train_probe
from pipelines.vision.table import train_table
from pipelines.vision.task import ImageTask


def build_model(
    cfg: VisionConfig, n_out: int, pretrained: bool | None = None, y_range: tuple[float, float] | None = None
) -> ImageModel:
    pretrained = cfg.pretrained if pretrained is None else pretrained
    body = create_body(cfg.arch, pretrained, (cfg.weights or None) if pretrained else None)
    model = ImageModel(body, n_out, cfg.hidden, cfg.ps, y_range)
    model.bn_freeze = cfg.bn_freeze
    return model


def y_range(data: ImageData) -> tuple[float, float] | None:
    """A regression net's output range (fast.ai's y_range): the training images' targets and a tenth of their
    span beyond each end, on the training scale (log1p for rmsle); None for classes."""
    if not data.regression:
        return None
    y = data.targets(data.frame("train"))
    lo, hi = float(y.min()), float(y.max())
    return lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)


def loss_and_metrics(data: ImageData, label_smoothing: float = 0.0) -> tuple[nn.Module, dict]:
    """The loss the net minimises and the figure each epoch shows: cross-entropy and accuracy, binary cross-entropy
    and F2 for tags, or for a number the metric's loss (squared or absolute error) on its training scale and its
    root mean square error there (rmse_log1p for rmsle: rmsle itself)."""
    if data.regression:
        metric = get_metric(data.metric)
        loss = nn.L1Loss() if metric.loss == "l1" else nn.MSELoss()
        name = "rmse" if metric.target == "raw" else f"rmse_{metric.target}"  # rmse_log1p: rmsle's
        return loss, {name: lambda p, y: float(torch.sqrt(torch.mean((p.float() - y.float()) ** 2)))}
    if data.multi_label:
        return nn.BCEWithLogitsLoss(), {"f2@0.2": lambda p, y: f2_score(torch.sigmoid(p), y, 0.2)}
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing), {"accuracy": accuracy}


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
    key = [cfg.arch, cfg.pretrained, cfg.weights, size, meta.get("source"), meta.get("size"), len(meta["files"])]
    key += [str(learn.precision)]  # meta's size: another cache (sizes=, cache_scale=) holds other images
    key += [meta["tables"]] if "tables" in meta else []  # a table of pixels: its columns and shape=
    key += [split, data.frame(split).row.tolist()]
    path = paths.interim / "activations" / f"{split}-{size}.pt"
    load = lambda p: torch.load(p, weights_only=True)
    acts = None
    if is_main():  # data-parallel: rank 0 computes them (or finds them cached), the other ranks read its file
        acts = cached(path, key, lambda: compute(model, data, split, size, cfg, learn), save_tensor, load)
    barrier()
    return acts if acts is not None else load(path)


def save_tensor(value: torch.Tensor, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(value, tmp)


def compute(
    model: ImageModel, data: ImageData, split: str, size: int, cfg: VisionConfig, learn: Predictor
) -> torch.Tensor:
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
    return acts


def stage_learner(
    model: ImageModel, stage: Stage, data: ImageData, cfg: VisionConfig, paths: Paths, base: Predictor
) -> Learner:
    """The Learner for one stage: the head on precomputed activations, or the whole model on (augmented) images."""
    loss, metrics = loss_and_metrics(data, cfg.label_smoothing)
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


def train(task: ImageTask, paths: Paths, cfg: VisionConfig, run: str) -> dict | None:
    """Train each member (the probe k-fold, the net's stages; finished work reused), then choose the blend,
    thresholds and clipping out of fold and report the out-of-fold score (pipelines/vision/choices.py).
    Alone, or as one rank under torchrun (`make train NPROC=2`): each rank trains the net's stages on its
    shard of every epoch; rank 0 alone writes files, fits the probe and the blend (the others return None)."""
    if not cfg.members:
        raise ValueError("members=[] leaves nothing to train: name probe, net, table (ARGS='members=[probe,net]')")
    init_distributed()
    try:
        return train_members(task, paths, cfg, run)
    finally:
        finish()


def train_members(task: ImageTask, paths: Paths, cfg: VisionConfig, run: str) -> dict | None:
    data = load_processed(paths, cfg, task.comp)
    rd = RunDir(paths.runs / run)
    # the net's stages are reused where its settings are unchanged; the run's result where every setting is
    identity = run_identity(cfg, paths, ("net",), world_size=world_size())
    whole = run_identity(cfg, paths, world_size=world_size())
    headline = f"oof_{get_metric(task.metric).name}" if task.metric else None
    done = rd.finished(whole, "run" if is_main() else None, headline)
    if done is not None:  # as it is: a result written again would outdate the run's submission file
        return done
    barrier()  # every rank has read the finished result, if any, before rank 0 moves it (RunDir.start)
    stage_dir = rd.path / "stages"
    if is_main():
        if read_json_object(rd.path / "config.json").get("net") != identity:
            for old in stage_dir.glob("*.pt") if stage_dir.is_dir() else []:
                old.unlink()  # a different config: earlier stages do not apply
        rd.start({"run": whole, "net": identity, "classes": data.classes, "multi_label": data.multi_label})
    barrier()  # every rank sees the same finished stages
    t_start = time.perf_counter()
    device = str(pick_device(cfg.device))
    result: dict = {"n_labelled": len(data.items), "device": device}
    result["world_size"] = world_size()
    preds = {}
    labelled = data.frame("labelled").reset_index(drop=True)
    if task.metric and data.metric and data.metric != get_metric(task.metric).name:
        raise ValueError(
            f"{paths.processed} was built for metric {data.metric}, the card says {task.metric}: make features "
            f"COMP={task.comp} (make all does)"
        )
    y_all = data.answers(labelled)  # a regression's numbers: nothing to stratify
    groups = pd.factorize(labelled.group)[0] if "group" in labelled.columns else None  # groups=: each in one fold
    folds = (
        random_folds(len(y_all), cfg.folds, cfg.fold_seed, groups)
        if data.regression
        else assign_folds(y_all, cfg.folds, cfg.fold_seed, groups)
    )
    rows = np.ones(len(labelled), bool)  # the rows every member has honest predictions for
    if "net" in cfg.members:
        result.update(train_net(task, paths, cfg, data, rd, identity))
    if not is_main():
        return None
    if "net" in cfg.members:
        rows = labelled.valid.to_numpy(bool)
        preds["net"] = np.load(rd.path / "valid_probs.npy")  # the holdout, in the order of data.frame("valid")
    if "probe" in cfg.members:
        result["probe"] = train_probe(data, cfg, paths, rd.path / "probe", folds)
        frame, oof = read_oof(rd.path / "probe", data.classes)
        if not (frame.file.to_numpy() == labelled.file.to_numpy()).all():
            raise RuntimeError(f"{rd.path / 'probe'} was fitted on other images; rerun make train")
        preds["probe"] = oof[rows]
    if "table" in cfg.members and data.info.get("table"):  # stacked on the probe where it trained
        probe = (oof, np.load(rd.path / "probe" / "test.npy")) if "probe" in cfg.members else None
        result["table"] = train_table(data, cfg, paths, rd.path / "table", folds, probe)
        preds["table"] = read_oof(rd.path / "table", data.classes)[1][rows]
    if not preds:
        raise ValueError(
            f"members={cfg.members}: no columns beside the images for the table member (the features step says "
            f"why); name probe or net too"
        )
    result["members_trained"] = list(preds)
    # qwk's grades are numbers or in the card's classes= order (the card refuses text grades without it)
    scorer = Scorer(data.multi_label, cfg.thresholds, cfg.clip, task.metric, cfg.ordinal)
    y = y_all[rows]
    result.update(combine(preds, y, folds[rows], scorer))
    where = "all labelled images, out of fold" if rows.all() else f"the {rows.sum()} holdout images"
    # What the submission would have scored on these rows, tag by tag or class by class (make report shows it).
    chosen = blend(preds, result["weights"])
    submitted = None
    if data.multi_label:
        per_tag_report(chosen, y, np.asarray(result["setting"]), data.classes, rd.path / "per_tag.csv")
    elif not data.regression:
        submitted = scorer.labels(chosen, result["setting"])  # qwk: the cut expected class, not the likeliest
        plot_confusion_matrix(y, submitted, data.classes, rd.path / "confusion_matrix.png")
    if "net" not in cfg.members:  # (the net's evaluation writes them on its holdout, with pictures)
        th = np.asarray(result["setting"]) if data.multi_label else None
        metric = data.metric if data.regression else None
        worst = worst_images(chosen, y, labelled[rows], data.classes, th, submitted, metric)
        write_csv(worst, rd.path / "top_losses.csv")
    result["scored_on"] = where
    result["total_seconds"] = round(time.perf_counter() - t_start, 1)
    print(report_line(result, scorer, where))
    rd.finish(result, to_dict(cfg))
    return result


def report_line(result: dict, scorer: Scorer, where: str) -> str:
    metric = scorer.metric
    members = ", ".join(f"{n} {v:.4f}" for n, v in result["members"].items())
    weights = ", ".join(f"{n} {w:.2f}" for n, w in result["weights"].items())
    extra = f", accuracy {result['oof_accuracy']:.4f}" if "oof_accuracy" in result and metric != "accuracy" else ""
    how = (
        f"; thresholds {result['threshold_mode']}"
        if scorer.multi_label
        else f"; cuts of the expected class {', '.join(f'{c:.3f}' for c in result['setting'])}"
        if scorer.cuts
        else (f"; threshold {result['setting']}" if result["setting"] else "")
        if scorer.other
        else f"; clip {result['setting']}"
    )
    return (
        f"{metric} on {where}, every choice made on the other folds: {result[f'oof_{metric}']:.4f}{extra} "
        f"(members: {members}; weights: {weights}{how}; scored where chosen: "
        f"{result[f'oof_{metric}_in_sample']:.4f})"
    )


def train_net(task: ImageTask, paths: Paths, cfg: VisionConfig, data: ImageData, rd: RunDir, identity: dict) -> dict:
    """The fine-tuning member: every stage (reusing stages already trained with these settings), then the
    holdout's figures with and without TTA (valid_probs.npy: its TTA probabilities)."""
    stages = plan(cfg)
    stage_dir = rd.path / "stages"
    seed_everything(cfg.seed)
    bounds = y_range(data)
    model = build_model(cfg, len(data.classes), y_range=bounds)
    base = Predictor(model, device=device_for_rank(cfg.device), amp=cfg.amp_frozen, channels_last=cfg.channels_last)
    n_train, n_valid, main = len(data.frame("train")), len(data.frame("valid")), is_main()
    predicts = (
        f"a number (y_range {bounds[0]:.4g} to {bounds[1]:.4g})"
        if bounds
        else f"{len(data.classes)} {'tags' if data.multi_label else 'classes'}"
    )
    say = print if main else lambda *a, **k: None
    say(
        f"{rd.path}: {cfg.arch} ({'pretrained' if cfg.pretrained else 'random init'}), {predicts}, "
        f"{n_train} training / {n_valid} validation images, "
        f"{base.device}, {pick_precision(base.device, cfg.amp)} training / {base.precision} frozen body"
        f"{', channels_last' if cfg.channels_last else ''}; stages: "
        + ", ".join(f"{s.name} x{s.epochs}" for s in stages)
        + (f"; {world_size()} processes data-parallel" if world_size() > 1 else "")
    )
    bad = data.info["bad_labelled"]
    if bad:
        say(
            f"note: {len(bad)} labelled images could not be decoded and are left out ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''})"
        )
    if main:
        save_augment_grid(data, cfg, rd.path / "augmentations.png")
    history, losses, lrs = [], [], []
    t_start = time.perf_counter()
    for i, stage in enumerate(stages):
        ckpt = stage_dir / f"{i}-{stage.name.replace('@', '-')}.pt"  # a finished stage
        if ckpt.is_file():
            state = read_checkpoint(ckpt)
            model.load_state_dict(state["model"])
            history += state["history"]
            losses += state.get("losses", [])  # so the training plot and steps cover the reused stages too
            lrs += state.get("lrs", [])
            if "rng" in state:  # the next stage draws what it would have drawn uninterrupted
                torch.set_rng_state(state["rng"])
            say(f"stage {stage.name}: already trained with this config on these features ({ckpt}); reusing")
            continue
        learn = stage_learner(model, stage, data, cfg, paths, base)
        learn.history, learn.losses_seen, learn.lrs_seen = history, losses, lrs
        learn.stage = stage.name
        if main:
            learn.add_cb(ProgressCallback(label=stage.name))
            learn.add_cb(Recorder(rd.path))
        if main and stage.freeze_to == 0 and not (rd.path / "model.txt").is_file():
            example = next(iter(learn.valid_dl))[0][:2].to(base.device)
            atomic_write_text(rd.path / "model.txt", model_summary(model, example) + "\n")
        seen, steps = len(history), len(losses)
        fit = lambda start, learn=learn, stage=stage: learn.fit_schedule(
            cfg.schedule, stage.epochs, stage.lr, start, cycle_len=cfg.cycle_len, cycle_mult=cfg.cycle_mult
        )
        partial = ckpt.with_suffix(".partial.pt")  # after each epoch of the stage: resumed after an interruption
        fit_resumable(
            learn, partial, {**identity, "stage": i}, stage.epochs, fit, label=f"stage {stage.name}", write=main
        )
        history, losses, lrs = learn.history, learn.losses_seen, learn.lrs_seen  # a resume restored them
        if not main:
            continue
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
    if not main:
        return {}
    model.unfreeze()
    save_model(model, cfg, data, rd.path / "model.pt", bounds)
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
    return result


def save_model(model: ImageModel, cfg: VisionConfig, data: ImageData, path: Path, bounds=None) -> None:
    with atomic_path(path) as tmp:
        torch.save(
            {
                "model": model.state_dict(),
                "classes": data.classes,
                "multi_label": data.multi_label,
                "y_range": bounds,  # a regression's output range: its head ends in it
                "arch": cfg.arch,
                "size": cfg.sizes[-1],
                "hidden": cfg.hidden,
            },
            tmp,
        )


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


def lr_find(task: ImageTask, paths: Paths, cfg: VisionConfig, run: str) -> dict:
    """lr finder on the head over precomputed activations (lr_find_on=head) or on the unfrozen model."""
    data = load_processed(paths, cfg, task.comp)
    seed_everything(cfg.seed)
    model = build_model(cfg, len(data.classes), y_range=y_range(data))
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
