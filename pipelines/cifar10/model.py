"""CIFAR-10 from scratch: whole-dataset uint8 tensors on the device, batch-level crop/flip augmentation, the
airbench whitened net (default) or a configurable ResNet, optional LSUV init, label smoothing, mixup, lookahead,
activation telemetry and flip + translate TTA.

The split, the cache, the submission's format and checks are the card's (pipelines/cifar10/__init__.py).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from features.io import atomic_path, atomic_write_text
from models.augment import batch_crop_flip
from models.callbacks import FreezeAfter, Lookahead, ProgressCallback, Recorder
from models.data import tensor_loader
from models.distributed import device_for_rank, finish, init_distributed, is_main
from models.init import LAYER_TYPES, lsuv_init
from models.learner import Callback, Learner, Predictor, read_checkpoint
from models.metrics import accuracy
from models.regularizers import MixUp
from models.resnet import ResNet, WhitenedNet
from models.summary import model_summary
from models.telemetry import ActivationStats
from pipelines.cifar10 import CARD, SPEC
from pipelines.cifar10.config import CIFAR_STATS, Cifar10Config
from pipelines.config import to_dict
from pipelines.paths import Paths
from pipelines.runs import RunDir, fit_resumable, run_identity, seed_everything
from pipelines.vision.card import task_for
from pipelines.vision.data import ImageData, load_processed
from pipelines.vision.layouts import Layout
from pipelines.vision.task import write_task_submission

FLIPS = ("alternate", "random", "none")


class BatchAugment(Callback):
    """Random translations (reflection padding) of each training batch, on the device, and flips: random per
    image, or `alternate` (the images were flipped at random once, see `make_learner`; every other epoch
    flips them all, so each image is seen both ways in any two epochs)."""

    order = 5  # before MixUp

    def __init__(self, pad: int, flip: str = "random"):
        if flip not in FLIPS:
            raise ValueError(f"flip={flip!r}: expected one of {', '.join(FLIPS)}")
        self.pad, self.flip = pad, flip

    def before_batch(self, learn):
        x, y = learn.batch
        x = batch_crop_flip(x, self.pad, flip=self.flip == "random")
        if self.flip == "alternate" and learn.epoch % 2:
            x = x.flip(-1)
        learn.batch = (x.contiguous(memory_format=torch.channels_last) if learn.channels_last else x, y)


def tensors(data: ImageData, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A split as one uint8 (N, 3, 32, 32) tensor (and its class indices when labelled)."""
    frame = data.frame(split)
    arr = np.load(data.cache_dir / ("test.npy" if split == "test" else "labelled.npy"), mmap_mode="r")
    x = torch.from_numpy(np.ascontiguousarray(arr[frame.row.to_numpy()])).permute(0, 3, 1, 2).contiguous()
    labelled = split != "test" or "label" in frame.columns
    return x, (data.targets(frame) if labelled else None)


MIN_STEPS = 8  # batches an epoch, at least: fewer leave the schedule, lookahead and BatchNorm too little to work on


def build_model(cfg: Cifar10Config, n_out: int) -> nn.Module:
    """The network `cfg.arch` names (whitened or resnet: the config's Literal allows no other)."""
    if cfg.arch == "whitened":
        return WhitenedNet(n_out, cfg.widths, cfg.depths, stats=CIFAR_STATS)
    return ResNet(n_out, cfg.widths, cfg.depths, cfg.preact, cfg.dropout, stats=CIFAR_STATS)


def fit_to_size(cfg: Cifar10Config, n_train: int, world: int = 1) -> Cifar10Config:
    """The config, or on a training set too small for its batch size (the embedded sample) one with a batch
    size giving MIN_STEPS batches an epoch and, for SGD, the lr scaled by as much (the linear scaling rule)."""
    per_rank = n_train // world
    if per_rank >= MIN_STEPS * cfg.bs:
        return cfg
    bs = max(8, per_rank // MIN_STEPS)
    lr = cfg.lr * bs / cfg.bs if cfg.opt == "sgd" else cfg.lr
    if is_main():
        print(
            f"{n_train:,} training images: batch size {bs} instead of {cfg.bs} ({MIN_STEPS} batches an epoch)"
            + (f", lr {lr:.3g} instead of {cfg.lr:g}" if lr != cfg.lr else "")
        )
    return dataclasses.replace(cfg, bs=bs, lr=lr)


def make_learner(cfg: Cifar10Config, data: ImageData, cbs=(), split: str = "train") -> Learner:
    """The model initialised from the training images (whitening stem, then LSUV if asked) and a Learner
    over the whole-dataset tensors, augmented per batch. `split="labelled"`: every labelled image trains (the
    refit), and there is no validation."""
    model = build_model(cfg, len(data.classes))
    loss = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    learn = Learner(
        model,
        None,
        None,
        loss_func=loss,
        metrics={"accuracy": accuracy},
        opt=cfg.opt,
        wd=cfg.wd,
        eps=cfg.adam_eps,
        betas=(cfg.momentum, 0.99),
        device=device_for_rank(cfg.device),
        amp=cfg.amp,
        channels_last=cfg.channels_last,
        cbs=[BatchAugment(cfg.pad, cfg.flip), *cbs],
    )
    if cfg.lookahead:
        learn.add_cb(Lookahead())
    if isinstance(model, WhitenedNet) and 0 < cfg.whiten_bias_epochs < cfg.epochs:
        learn.add_cb(FreezeAfter(model.whiten.bias, cfg.whiten_bias_epochs))
    dev = learn.device
    x, y = tensors(data, split)
    if isinstance(model, WhitenedNet):
        model.init_whitening(x[:5000])
    if cfg.lsuv:  # per rank; wrapping in DDP at fit() then broadcasts rank 0's weights to every rank
        first = torch.Generator().manual_seed(cfg.seed)
        xb = x[torch.randperm(len(x), generator=first)[:256]].to(dev)
        skip = {id(model.whiten)} if isinstance(model, WhitenedNet) else set()
        layers = [m for m in model.modules() if isinstance(m, LAYER_TYPES) and id(m) not in skip]
        lsuv_init(model, xb, layers=layers)
    if cfg.flip == "alternate":  # each image's starting orientation, the same on every rank
        flipped = torch.rand(len(x), generator=torch.Generator().manual_seed(cfg.seed)) < 0.5
        x = torch.where(flipped[:, None, None, None], x.flip(-1), x)
    # Under torchrun each rank trains on its shard of every epoch (bs per rank); alone, on everything.
    learn.train_dl = tensor_loader(x.to(dev), y.to(dev), batch_size=cfg.bs, shuffle=True, seed=cfg.seed)
    if split == "train":
        xv, yv = tensors(data, "valid")
        learn.valid_dl = tensor_loader(xv.to(dev), yv.to(dev), batch_size=1024, shuffle=False)
    if cfg.mixup:
        learn.add_cb(MixUp(cfg.mixup))
    return learn


@torch.no_grad()
def predict_tta(learn: Predictor, x: torch.Tensor, tta: bool, pad: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities of the plain images and, when `tta`, a weighted mean as airbench's: the image and
    its flip (1/4 each) and both of them shifted `pad` pixels up-left and down-right (reflection padded, 1/8
    each)."""

    def probs(batch_fn) -> np.ndarray:
        dl = tensor_loader(batch_fn(x), batch_size=1024, shuffle=False)
        return torch.softmax(learn.get_preds(dl, with_targets=False)[0], 1).double().numpy()

    plain = probs(lambda t: t)
    if not tta:
        return plain, plain
    views = [plain, probs(lambda t: t.flip(-1))]
    padded = torch.nn.functional.pad(x.float(), (pad,) * 4, mode="reflect").to(torch.uint8)
    h, w = x.shape[-2:]
    for dy, dx in ((0, 0), (2 * pad, 2 * pad)):
        shifted = padded[..., dy : dy + h, dx : dx + w]
        views += [probs(lambda t, s=shifted: s), probs(lambda t, s=shifted: s.flip(-1))]
    return plain, np.average(views, axis=0, weights=[2, 2, 1, 1, 1, 1])


def fit(learn: Learner, cfg: Cifar10Config, start_epoch: int = 0) -> list[dict]:
    """`cfg.epochs` of training: BatchNorm biases at lr x bn_bias_lr_mult, everything else at lr (one_cycle
    also cycles the momentum; triangular keeps cfg.momentum)."""
    lrs = [cfg.lr * cfg.bn_bias_lr_mult, cfg.lr]  # the models' layer groups: (BatchNorm biases, the rest)
    return learn.fit_schedule(cfg.schedule, cfg.epochs, lrs, start_epoch)


def train(paths: Paths, cfg: Cifar10Config, run: str) -> dict | None:
    """Train (alone, or as one rank under torchrun: then only rank 0 prints and writes files); a finished run
    with the same config and features is reused, an interrupted one resumes after its last epoch."""
    _, world = init_distributed()
    main = is_main()
    data = load_processed(paths, cfg, "cifar10")
    settings, cfg = cfg, fit_to_size(cfg, len(data.frame("train")), world)
    rd = RunDir(paths.runs / run)
    identity = run_identity(cfg, paths, world_size=world)
    result = rd.finished(identity, "cifar10" if main else None, "valid_accuracy")
    if result is not None:
        finish()
        return result
    seed_everything(cfg.seed)
    cbs = [ProgressCallback(), Recorder(rd.path)] if main else []
    telemetry = ActivationStats(rd.path) if cfg.telemetry and main else None  # activations.png + .json
    t0 = time.perf_counter()
    learn = make_learner(cfg, data, cbs + ([telemetry] if telemetry else []))
    n_params = sum(p.numel() for p in learn.model.parameters())

    def start() -> None:
        if main:
            rd.start({"run": identity, "classes": data.classes, "world_size": world})
            xb = next(iter(learn.train_dl))[0][:2]
            atomic_write_text(rd.path / "model.txt", model_summary(learn.model, xb) + "\n")

    if main:
        kind = f"{'pre' if cfg.preact else 'post'}-activation ResNet" if cfg.arch == "resnet" else "whitened net"
        print(
            f"{rd.path}: {kind} {cfg.widths} x {cfg.depths} ({n_params:,} parameters), "
            f"{len(learn.train_dl.dataset):,} training / {len(learn.valid_dl.dataset):,} validation images, "
            f"{learn.device} {learn.precision}, {cfg.epochs} epochs {cfg.opt} {cfg.schedule}"
            + (f", {world} processes data-parallel" if world > 1 else "")
        )
    # complete=True: a finished checkpoint (evaluation or the refit interrupted) is not trained again; to train
    # afresh, a new RUN (or delete checkpoint.pt)
    fit_resumable(
        learn,
        rd.checkpoint,
        identity,
        cfg.epochs,
        lambda start_epoch: fit(learn, cfg, start_epoch),
        start,
        write=main,
        complete=True,
    )
    seconds = time.perf_counter() - t0
    try:
        refitted = refit(settings, data, rd, identity, world) if cfg.refit else None  # every rank, as the fit
        return evaluate_and_save(learn, data, cfg, rd, seconds, n_params, world, refitted) if main else None
    finally:
        finish()


def refit(cfg: Cifar10Config, data: ImageData, rd: RunDir, identity: dict, world: int) -> tuple[Learner, float]:
    """The same training again on every labelled image, the validation images included (the model the
    submission is made with; it has no validation figure), and its seconds; checkpointed in refit.pt, so an
    interrupted refit resumes."""
    t0 = time.perf_counter()
    cfg = fit_to_size(cfg, len(data.frame("labelled")), world)
    seed_everything(cfg.seed)
    learn = make_learner(cfg, data, [ProgressCallback(label="refit")] if is_main() else [], split="labelled")
    if is_main():
        print(f"refit: {len(learn.train_dl.dataset):,} labelled images, {cfg.epochs} epochs")
    fit_resumable(
        learn,
        rd.path / "refit.pt",
        {**identity, "phase": "refit"},
        cfg.epochs,
        lambda start_epoch: fit(learn, cfg, start_epoch),
        label="refit",
        write=is_main(),
        complete=True,
    )
    return learn, time.perf_counter() - t0


def evaluate_and_save(
    learn: Learner,
    data,
    cfg: Cifar10Config,
    rd: RunDir,
    seconds: float,
    n_params: int,
    world: int,
    refitted: tuple[Learner, float] | None = None,
) -> dict:
    """Save the model (the refit's, when there is one), score validation (and the labelled test set, if any) with
    and without TTA; the refit's test figures beside them."""
    final = refitted[0] if refitted else learn
    with atomic_path(rd.path / "model.pt") as tmp:
        torch.save({"model": final.module.state_dict(), "classes": data.classes}, tmp)
    result = {
        "train_seconds": round(seconds, 1),
        "images_per_s": learn.history[-1].get("rows_per_s"),
        "device": str(learn.device),
        "precision": str(learn.precision),
        "parameters": n_params,
        "world_size": world,
    }
    xv, yv = tensors(data, "valid")
    plain, tta = predict_tta(learn, xv, cfg.tta)
    result.update(valid_accuracy=round(accuracy(plain, yv), 5), valid_accuracy_tta=round(accuracy(tta, yv), 5))
    msg = f"validation accuracy {result['valid_accuracy']:.4f} plain, {result['valid_accuracy_tta']:.4f} with TTA"
    xt, yt = tensors(data, "test")
    if yt is not None and len(yt):  # the class-folder layout labels its test images
        plain, tta = predict_tta(learn, xt, cfg.tta)
        result.update(test_accuracy=round(accuracy(plain, yt), 5), test_accuracy_tta=round(accuracy(tta, yt), 5))
        msg += f"; test {result['test_accuracy']:.4f} / {result['test_accuracy_tta']:.4f}"
    if refitted:  # the submission's model: the refit's (the validation figures above are the first model's)
        result.update(model="refit on every labelled image", refit_seconds=round(refitted[1], 1))
        if yt is not None and len(yt):
            plain, tta = predict_tta(final, xt, cfg.tta)
            result.update(refit_test_accuracy=round(accuracy(plain, yt), 5))
            result.update(refit_test_accuracy_tta=round(accuracy(tta, yt), 5))
            msg += f"; refit on every labelled image: test {result['refit_test_accuracy']:.4f} / "
            msg += f"{result['refit_test_accuracy_tta']:.4f}"
    print(msg)
    rd.finish(result, to_dict(cfg))
    return result


def predict(paths: Paths, cfg: Cifar10Config, run: str) -> Path | None:
    data = load_processed(paths, cfg, "cifar10")
    rd = RunDir(paths.runs / run)
    if not rd.is_complete():
        raise FileNotFoundError(f"{rd.result} not found: train first (make train COMP=cifar10 RUN={run})")
    if len(data.test) == 0:
        print(f"no test images in {paths.raw}: nothing to submit")
        return None
    state = read_checkpoint(rd.path / "model.pt")
    model = build_model(cfg, len(state["classes"]))
    model.load_state_dict(state["model"])
    learn = Predictor(model, device=cfg.device, amp=cfg.amp, channels_last=cfg.channels_last)
    x, _ = tensors(data, "test")
    _, probs = predict_tta(learn, x, cfg.tta)
    task = task_for(CARD, paths.comp, SPEC, paths.raw)  # the submission's format, read by the card
    sub = task.submission(data.test, probs, Layout(data.items, data.test, data.classes), None, 0.0)
    result = rd.read_json("result.json")
    scores = {k: v for k, v in result.items() if k.endswith(("accuracy", "accuracy_tta")) or k == "model"}
    out = write_task_submission(task, paths, data, sub, run, {"run": str(rd.path), "tta": cfg.tta, **scores})
    print(f"submission: {out} ({len(sub):,} rows)")
    return out


def lr_find(paths: Paths, cfg: Cifar10Config, run: str) -> dict:
    data = load_processed(paths, cfg, "cifar10")
    cfg = fit_to_size(cfg, len(data.frame("train")))
    seed_everything(cfg.seed)
    learn = make_learner(cfg, data)
    plot = paths.runs / run / "lr_find.png"
    result = learn.lr_find(plot=plot, num_it=min(100, 5 * len(learn.train_dl)), lr_mults=[cfg.bn_bias_lr_mult, 1])
    print(f"lr finder: suggested lr {result['suggested_lr']:.2e} (plot: {plot})")
    return result
