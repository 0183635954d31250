"""CIFAR-10 from scratch: whole-dataset uint8 tensors on the device, batch-level crop/flip augmentation, a
configurable ResNet with LSUV init, label smoothing, mixup, activation telemetry and flip + translate TTA.

The split, the cache, the submission format and checks are the image competitions' shared steps.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from features.io import atomic_path, atomic_write_text
from models.callbacks import ProgressCallback, Recorder
from models.data import tensor_loader
from models.distributed import device_for_rank, finish, init_distributed, is_main
from models.image_data import batch_crop_flip
from models.init import lsuv_init
from models.learner import Callback, Learner
from models.metrics import accuracy
from models.regularizers import MixUp
from models.resnet import ResNet
from models.summary import model_summary
from models.telemetry import ActivationStats
from pipelines.cifar10.config import TASK, TRAIN_KEYS, Cifar10Config
from pipelines.config import to_dict
from pipelines.paths import Paths
from pipelines.runs import RunDir, seed_everything
from pipelines.vision import steps as vision


class BatchAugment(Callback):
    """Random translations (reflection padding) and flips of each training batch, on the device."""

    order = 5  # before MixUp

    def __init__(self, pad: int):
        self.pad = pad

    def before_batch(self, learn):
        x, y = learn.batch
        learn.batch = (batch_crop_flip(x, self.pad), y)


def tensors(data: vision.ImageData, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A split as one uint8 (N, 3, 32, 32) tensor (and its class indices when labelled)."""
    frame = data.frame(split)
    arr = np.load(data.cache_dir / ("test.npy" if split == "test" else "labelled.npy"), mmap_mode="r")
    x = torch.from_numpy(np.ascontiguousarray(arr[frame.row.to_numpy()])).permute(0, 3, 1, 2).contiguous()
    labelled = split != "test" or "label" in frame.columns
    return x, (data.targets(frame) if labelled else None)


def build_model(cfg: Cifar10Config, n_out: int) -> ResNet:
    return ResNet(n_out, cfg.widths, cfg.depths, cfg.preact, cfg.dropout)


def make_learner(cfg: Cifar10Config, data: vision.ImageData, cbs=()) -> Learner:
    model = build_model(cfg, len(data.classes))
    loss = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    learn = Learner(model, None, None, loss_func=loss, metrics={"accuracy": accuracy}, opt=cfg.opt, wd=cfg.wd,
                    eps=cfg.adam_eps, device=device_for_rank(cfg.device), amp=cfg.amp, channels_last=cfg.channels_last,
                    cbs=[BatchAugment(cfg.pad), *cbs])  # fmt: skip
    dev = learn.device
    x, y = tensors(data, "train")
    # Under torchrun each rank trains on its shard of every epoch (bs per rank); alone, on everything.
    learn.train_dl = tensor_loader(x.to(dev), y.to(dev), batch_size=cfg.bs, shuffle=True, seed=cfg.seed)
    xv, yv = tensors(data, "valid")
    learn.valid_dl = tensor_loader(xv.to(dev), yv.to(dev), batch_size=1024, shuffle=False)
    if cfg.mixup:
        learn.add_cb(MixUp(cfg.mixup))
    return learn


@torch.no_grad()
def predict_tta(learn: Learner, x: torch.Tensor, tta: bool, pad: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities of the plain images, and averaged with the flip and 4 flipped/unflipped
    `pad`-pixel diagonal translations (reflection padded) when `tta`."""

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
    return plain, np.mean(views, axis=0)


def train(paths: Paths, cfg: Cifar10Config, run: str) -> dict | None:
    """Train (alone, or as one rank under torchrun: then only rank 0 prints and writes files)."""
    _, world = init_distributed()
    main = is_main()
    data = vision.load_processed(paths, cfg, "cifar10")
    rd = RunDir(paths.runs / run)
    full = to_dict(cfg)
    if main:
        rd.result.unlink(missing_ok=True)
        rd.start({"run": {k: full[k] for k in TRAIN_KEYS}, "classes": data.classes, "world_size": world})
    seed_everything(cfg.seed)
    cbs = [ProgressCallback(), Recorder(rd.path)] if main else []
    telemetry = ActivationStats(rd.path / "telemetry.png") if cfg.telemetry and main else None
    learn = make_learner(cfg, data, cbs + ([telemetry] if telemetry else []))
    xb = next(iter(learn.train_dl))[0][:256]
    if cfg.lsuv:  # per rank; wrapping in DDP at fit() then broadcasts rank 0's weights to every rank
        lsuv_init(learn.model, xb)
    if main:
        atomic_write_text(rd.path / "model.txt", model_summary(learn.model, xb[:2]) + "\n")
    n_params = sum(p.numel() for p in learn.model.parameters())
    if main:
        print(f"{rd.path}: ResNet {cfg.widths} x {cfg.depths} ({'pre' if cfg.preact else 'post'}-activation, {n_params:,} "
          f"parameters), {len(learn.train_dl.dataset):,} training / {len(learn.valid_dl.dataset):,} validation "
          f"images, {learn.device} {learn.precision}, {cfg.epochs} epochs one-cycle"
          + (f", {world} processes data-parallel" if world > 1 else ""))  # fmt: skip
    t0 = time.perf_counter()
    learn.fit_one_cycle(cfg.epochs, cfg.lr)
    seconds = time.perf_counter() - t0
    learn.model = learn.module  # unwrapped: what follows runs on rank 0 alone, with no collectives
    try:
        return evaluate_and_save(learn, data, cfg, rd, seconds, n_params, world) if main else None
    finally:
        finish()


def evaluate_and_save(learn: Learner, data, cfg: Cifar10Config, rd: RunDir, seconds: float, n_params: int,
                      world: int) -> dict:  # fmt: skip
    """Save the model, score validation (and the labelled test set, if any) with and without TTA."""
    with atomic_path(rd.path / "model.pt") as tmp:
        torch.save({"model": learn.module.state_dict(), "classes": data.classes}, tmp)
    result = {"train_seconds": round(seconds, 1), "images_per_s": learn.history[-1].get("rows_per_s"),
              "device": str(learn.device), "precision": str(learn.precision), "parameters": n_params,
              "world_size": world}  # fmt: skip
    xv, yv = tensors(data, "valid")
    plain, tta = predict_tta(learn, xv, cfg.tta)
    result.update(valid_accuracy=round(accuracy(plain, yv), 5), valid_accuracy_tta=round(accuracy(tta, yv), 5))
    msg = f"validation accuracy {result['valid_accuracy']:.4f} plain, {result['valid_accuracy_tta']:.4f} with TTA"
    xt, yt = tensors(data, "test")
    if yt is not None and len(yt):  # the class-folder layout labels its test images
        plain, tta = predict_tta(learn, xt, cfg.tta)
        result.update(test_accuracy=round(accuracy(plain, yt), 5), test_accuracy_tta=round(accuracy(tta, yt), 5))
        msg += f"; test {result['test_accuracy']:.4f} / {result['test_accuracy_tta']:.4f}"
    print(msg)
    rd.write_json("result.json", result)
    return result


def predict(paths: Paths, cfg: Cifar10Config, run: str) -> Path | None:
    data = vision.load_processed(paths, cfg, "cifar10")
    rd = RunDir(paths.runs / run)
    if not rd.is_complete():
        raise FileNotFoundError(f"{rd.result} not found: train first (make train COMP=cifar10 RUN={run})")
    if len(data.test) == 0:
        print(f"no test images in {paths.raw}: nothing to submit")
        return None
    state = torch.load(rd.path / "model.pt", map_location="cpu", weights_only=True)
    model = build_model(cfg, len(state["classes"]))
    model.load_state_dict(state["model"])
    learn = Learner(model, None, None, device=cfg.device, amp=cfg.amp, channels_last=cfg.channels_last)
    x, _ = tensors(data, "test")
    _, probs = predict_tta(learn, x, cfg.tta)
    layout = vision.Layout(data.items, data.test, data.classes)
    sub = TASK.submission(data.test, probs, layout, None, 0.0)
    result = rd.read_json("result.json")
    scores = {k: v for k, v in result.items() if k.endswith(("accuracy", "accuracy_tta"))}
    out = vision.write_task_submission(TASK, paths, data, sub, run, {"run": str(rd.path), "tta": cfg.tta, **scores})
    print(f"submission: {out} ({len(sub):,} rows)")
    return out


def lr_find(paths: Paths, cfg: Cifar10Config, run: str) -> dict:
    data = vision.load_processed(paths, cfg, "cifar10")
    seed_everything(cfg.seed)
    learn = make_learner(cfg, data)
    if cfg.lsuv:
        lsuv_init(learn.model, next(iter(learn.train_dl))[0][:256])
    plot = paths.runs / run / "lr_find.png"
    result = learn.lr_find(plot=plot, num_it=min(100, 5 * len(learn.train_dl)))
    print(f"lr finder: suggested lr {result['suggested_lr']:.2e} (plot: {plot})")
    return result
