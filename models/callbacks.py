"""Callbacks for the Learner: progress display, metric logging with plots, per-epoch checkpoints, lookahead,
parameters frozen after some epochs."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from pathlib import Path

import torch
from tqdm.auto import tqdm

from features.io import atomic_path, atomic_write_text
from models.learner import Callback, is_interactive
from models.progress import Throttle, progress_every


def _fmt(key: str, v) -> str:
    if not isinstance(v, float):
        return str(v)
    if key == "lr":
        return f"{v:.2e}"
    if key == "rows_per_s":
        return f"{v:,.0f}"
    if key.endswith("_s"):
        return f"{v:.1f}"
    return f"{v:.5f}" if abs(v) < 100 else f"{v:,.0f}"


class ProgressCallback(Callback):
    """A tqdm bar per epoch with the running loss in a terminal; a plain line per epoch otherwise (CI, logs): a
    fit's first and last epochs', and between them one every `every` seconds at the most (models.progress)."""

    order = 50

    def __init__(self, interactive: bool | None = None, label: str = "", every: float | None = None):
        self.interactive = is_interactive() if interactive is None else interactive
        self.label = f"{label} " if label else ""
        self.every = progress_every() if every is None else every
        self.bar = None
        self.throttle = Throttle(self.every)
        self.held: str | None = None  # the latest epoch's line, not printed (yet): a fit stopped early prints it

    def before_fit(self, learn):
        self.throttle, self.held = Throttle(self.every), None

    def before_epoch(self, learn):
        if self.interactive:
            self.bar = tqdm(
                total=len(learn.train_dl),
                desc=f"{self.label}epoch {learn.epoch + 1}/{learn.n_epochs}",
                leave=False,
                dynamic_ncols=True,
            )

    def after_batch(self, learn):
        if self.bar is not None:
            self.bar.update(1)
            if learn.batch_index % 20 == 0:
                self.bar.set_postfix(loss=f"{learn.loss:.4f}", lr=f"{learn.opt.param_groups[-1]['lr']:.2e}")

    def after_epoch(self, learn):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        row = learn.history[-1]
        shown = {k: v for k, v in row.items() if k not in ("epoch", "train_s", "step", "stage")}
        self.held = f"{self.label}epoch {row['epoch']}/{learn.n_epochs}  " + "  ".join(
            f"{k} {_fmt(k, v)}" for k, v in shown.items()
        )
        if self.throttle.due(last=row["epoch"] == learn.n_epochs):
            self.write()

    def write(self) -> None:
        """Print the held line (through tqdm in a terminal, so that a bar is not broken)."""
        if self.held is None:
            return
        if self.interactive:
            tqdm.write(self.held)
        else:
            print(self.held, flush=True)
        self.held = None

    def after_fit(self, learn):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.write()  # the last epoch's line of a fit stopped early (CancelFit), where it was not printed


def tensorboard_on() -> bool:
    """TensorBoard logging is on unless $TENSORBOARD is 0/off/false (to measure what it costs, say)."""
    return os.environ.get("TENSORBOARD", "1").lower() not in ("0", "off", "false", "no")


def tensorboard_writer(folder: Path):
    """A TensorBoard SummaryWriter on `folder`/tb (the run folder's event files; `make tensorboard` serves them)."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(folder / "tb"))


def log_images(folder: Path, images: dict[str, Path], step: int = 0) -> None:
    """PNG files as TensorBoard images of the run in `folder` (confusion matrix, top losses, plots ...)."""
    import numpy as np
    from PIL import Image

    with contextlib.closing(tensorboard_writer(folder)) as writer:
        for tag, png in images.items():
            if png.is_file():
                writer.add_image(tag, np.asarray(Image.open(png).convert("RGB")), step, dataformats="HWC")


class Recorder(Callback):
    """Writes metrics.csv and metrics.json after every epoch and loss/lr plots at the end, into `path`; and the
    same as TensorBoard events in `path`/tb: every epoch's numbers and the training loss every `every` batches
    (reading the loss waits for the device: once per `every` batches, not per batch)."""

    order = 60

    def __init__(self, path: str | Path, stage: str | None = None, tensorboard: bool | None = None, every: int = 50):
        self.path, self.stage, self.every = Path(path), stage, every
        self.tensorboard, self.writer = tensorboard_on() if tensorboard is None else tensorboard, None
        if self.tensorboard:
            import torch.utils.tensorboard  # noqa: F401 -- imported here (0.2 s), off the training clock

    def before_fit(self, learn):
        if self.tensorboard:
            logged = any((self.path / "tb").glob("events.*"))
            self.writer = tensorboard_writer(self.path)
            if not logged:  # epochs restored from a checkpoint or reused stages, whose events are gone
                for row in learn.history:
                    self._log_epoch(row)

    def _log_epoch(self, row: dict) -> None:
        prefix = f"{row['stage']}/" if row.get("stage") else f"{self.stage}/" if self.stage else ""
        for k, v in row.items():
            if isinstance(v, (int, float)) and k not in ("epoch", "step"):
                self.writer.add_scalar(prefix + k, v, row["step"])

    def after_batch(self, learn):
        step = learn.n_steps
        if self.writer is not None and step % self.every == 0:
            self.writer.add_scalar(f"{self.stage + '/' if self.stage else ''}train_loss_batch", learn.loss, step)

    def after_epoch(self, learn):
        if self.writer is not None:
            self._log_epoch(learn.history[-1])
            self.writer.flush()
        rows = [dict(r, stage=self.stage) if self.stage else r for r in learn.history]
        atomic_write_text(self.path / "metrics.json", json.dumps(rows, indent=1))
        keys = list(dict.fromkeys(k for r in rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path / "metrics.csv", buf.getvalue())

    def after_fit(self, learn):
        if learn.losses_seen:
            save_training_plot(learn, self.path / "training.png")
        if self.writer is not None:  # the plot goes to TensorBoard with the run's other images (RunDir.finish)
            self.writer.close()
            self.writer = None


def save_training_plot(learn, path: Path) -> None:
    """Per-batch training loss (with validation loss per epoch) and the lr schedule, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    losses = [x for x in learn.losses_seen if math.isfinite(x)]
    ax1.plot(losses, lw=0.6, alpha=0.6, label="train (batch)")
    valid = [(r["step"], r["valid_loss"]) for r in learn.history if "valid_loss" in r and "step" in r]
    if valid:
        ax1.plot(*zip(*valid, strict=True), "o-", label="valid (epoch)")
    if losses:
        ax1.set_ylim(0, sorted(losses)[int(len(losses) * 0.98)] * 1.5)
    ax1.set(xlabel="batch", ylabel="loss", title="loss")
    ax1.legend()
    ax2.plot(learn.lrs_seen)
    ax2.set(xlabel="batch", ylabel="lr", title="learning rate (last layer group)")
    with atomic_path(path) as tmp:  # the default margins hold the labels: a tight box would lay it out twice
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


class CheckpointCallback(Callback):
    """Saves checkpoint.pt after every epoch (model, optimizer, epoch, history + `extra`) for resuming."""

    order = 70

    def __init__(self, path: str | Path, extra: dict | None = None):
        self.path, self.extra = Path(path), extra or {}

    def after_epoch(self, learn):
        learn.save_checkpoint(self.path, self.extra)


class FreezeAfter(Callback):
    """Holds `param` at its value from epoch `epochs` on (airbench trains the whitening stem's bias for 3 epochs,
    then keeps it): the value is put back after every optimizer step. Not `requires_grad=False`, which would make
    DistributedDataParallel wait for a gradient that never comes; a resumed run keeps the value its checkpoint holds."""

    order = 25  # after the optimizer step, before Lookahead's average (which then holds the frozen value too)

    def __init__(self, param: torch.nn.Parameter, epochs: int):
        self.param, self.epochs = param, epochs
        self.value: torch.Tensor | None = None

    def before_fit(self, learn):
        self.value = None

    def before_epoch(self, learn):
        if learn.epoch >= self.epochs and self.value is None:
            self.value = self.param.detach().clone()

    @torch.no_grad()
    def after_batch(self, learn):
        if self.value is not None:
            self.param.copy_(self.value)


class Lookahead(Callback):
    """Weight averaging as in hlb-cifar10 / airbench: from epoch `start_epoch` on, every `every` steps the weights
    (and BatchNorm statistics) are pulled back to an exponential average of themselves, whose decay ramps up
    over training (`decay_base**every * progress**power`: moves fast early, averages strongly at the end).
    On the last step of each epoch the weights are set to the average (without folding in the steps since its
    last update), so validation and the checkpoint see the averaged weights."""

    order = 30  # after the optimizer step, before progress/recording

    def __init__(self, start_epoch: int = 3, every: int = 5, decay_base: float = 0.95, power: float = 3.0):
        self.start_epoch, self.every, self.decay_base, self.power = start_epoch, every, decay_base, power
        self.average: dict[str, torch.Tensor] | None = None

    def before_fit(self, learn):
        if not getattr(learn, "start_epoch", 0):  # a resumed fit keeps the average its checkpoint restored
            self.average = None

    def state_dict(self) -> dict:
        return {"average": self.average}

    def load_state_dict(self, state: dict) -> None:
        self.average = state["average"]

    @torch.no_grad()
    def after_batch(self, learn):
        if learn.epoch < self.start_epoch:
            return
        step = learn.iter + 1
        due, last = step % self.every == 0, learn.batch_index == len(learn.train_dl) - 1
        if not (due or (last and self.average is not None)):
            return  # most steps: nothing to do, not even the state_dict walk
        state = learn.module.state_dict()  # shares storage with the model
        if self.average is None:
            self.average = {k: v.clone() for k, v in state.items() if v.is_floating_point()}
            return
        if due:
            decay = self.decay_base**self.every * (step / learn.n_iter) ** self.power
            for k, avg in self.average.items():
                avg.lerp_(state[k], 1 - decay)
        for k, avg in self.average.items():
            state[k].copy_(avg)
