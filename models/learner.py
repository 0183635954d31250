"""A small training loop shared by every competition: a Learner whose stages fire ordered callback events.

Events, in order: before_fit, before_epoch, before_batch, after_loss, after_batch, before_validate,
after_validate, after_epoch, after_fit. A callback is any object with some of these methods (taking the
learner) and an `order`; raise `CancelFit` from one to stop cleanly. Schedules are functions of overall
progress (see models.schedules), so one-cycle, SGDR and a resumed run all use the same code path.
"""

from __future__ import annotations

import copy
import math
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from features.io import DamagedFile, atomic_path
from models.data import set_epoch
from models.device import Precision, pick_device, pick_precision
from models.distributed import is_distributed, mean_across_ranks, sync_buffers, world_size
from models.schedules import (
    Schedule,
    constant,
    one_cycle,
    one_cycle_momentum,
    sgdr,
    sgdr_cycles,
    sgdr_epochs,
    triangular,
)

EVENTS = (
    "before_fit",
    "before_epoch",
    "before_batch",
    "after_loss",
    "after_batch",
    "before_validate",
    "after_validate",
    "after_epoch",
    "after_fit",
)


def read_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """torch.load of a checkpoint we wrote (weights_only: no code in it runs); DamagedFile naming the file when
    it cannot be read (cut short by a full disk or an interrupted copy; our own writes are atomic)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as e:
        raise DamagedFile(Path(path), e, "checkpoint") from None


class CancelFit(Exception):
    """Raised by a callback to end training after the current step."""


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""


class Callback:
    """Base class: override any event method; lower `order` runs first."""

    order = 0


def _is_no_decay(name: str, p: nn.Parameter) -> bool:
    return p.ndim <= 1  # biases and norm scales/shifts: no weight decay


class Predictor:
    """A model on a device (CUDA, then MPS, then CPU) with a precision, for inference: `get_preds(dl)`. The
    Learner is one, with data, loss, optimizer and callbacks on top."""

    def __init__(
        self, model: nn.Module, device: str | torch.device = "auto", amp: str = "auto", channels_last: bool = False
    ):
        self.device = pick_device(device) if isinstance(device, str) else device
        self.precision: Precision = pick_precision(self.device, amp)
        self.model = model.to(self.device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.channels_last = channels_last

    def to_device(self, batch):
        """Move a batch (tuple of tensors) to the device; non-blocking from pinned memory on CUDA."""
        nb = self.device.type == "cuda"
        out = []
        for t in batch:
            t = t.to(self.device, non_blocking=nb)
            if self.channels_last and t.ndim == 4:
                t = t.contiguous(memory_format=torch.channels_last)
            out.append(t)
        return tuple(out)

    @torch.no_grad()
    def get_preds(self, dl, with_targets: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predictions (float32, CPU) over a loader, and its targets if the batches carry them. They stay on the
        device until the last batch: one copy back, not a wait for the device per batch."""
        self.model.eval()
        preds, targets = [], []
        for batch in dl:
            batch = self.to_device(batch if isinstance(batch, (tuple, list)) else (batch,))  # unlabelled: bare images
            xb = batch[:-1] if with_targets else batch
            with self.precision.autocast():
                preds.append(self.model(*xb).float())
            if with_targets:
                targets.append(batch[-1])
        return torch.cat(preds).cpu(), (torch.cat(targets).cpu() if with_targets else None)


class Learner(Predictor):
    """Model + data + loss + optimizer + callbacks; `fit`, `fit_one_cycle`, `fit_sgdr`, `fit_schedule`, `lr_find`,
    and `get_preds` (from Predictor)."""

    def __init__(
        self,
        model: nn.Module,
        train_dl,
        valid_dl=None,
        loss_func: Callable = nn.functional.mse_loss,
        metrics: dict[str, Callable] | None = None,
        opt: str = "adamw",
        wd: float = 1e-2,
        eps: float = 1e-8,
        betas: tuple[float, float] = (0.9, 0.99),
        clip: float | None = None,
        device: str | torch.device = "auto",
        amp: str = "auto",
        cbs: Sequence = (),
        channels_last: bool = False,
    ):
        super().__init__(model, device, amp, channels_last)
        self.train_dl, self.valid_dl = train_dl, valid_dl
        self.loss_func, self.metrics = loss_func, dict(metrics or {})
        self.opt_name, self.wd, self.eps, self.betas, self.clip = opt, wd, eps, betas, clip
        self.cbs = sorted(cbs, key=lambda cb: getattr(cb, "order", 0))
        self.opt: torch.optim.Optimizer | None = None
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.needs_scaler)
        self.epoch = self.n_epochs = self.iter = self.n_iter = 0
        self.history: list[dict] = []  # one row per epoch
        self.lrs_seen: list[float] = []  # per batch, the last group's lr
        self.losses_seen: list[float] = []  # per batch (the current epoch's join at its end)
        self._epoch_losses: list[torch.Tensor] = []  # the current epoch's, on the device
        self.stage: str | None = None  # a label for the epoch rows (e.g. a progressive-resizing stage)

    # ---- plumbing -------------------------------------------------------------------------------------------
    def __call__(self, event: str) -> None:
        for cb in self.cbs:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self)

    def add_cb(self, cb) -> None:
        self.cbs = sorted([*self.cbs, cb], key=lambda c: getattr(c, "order", 0))

    @property
    def module(self) -> nn.Module:
        """The model itself, unwrapped from DistributedDataParallel when training data-parallel."""
        return getattr(self.model, "module", self.model)

    def _wrap_distributed(self) -> None:
        """Under torchrun, wrap the model in DDP (once, at the start of training): the constructor broadcasts
        rank 0's weights, so anything done per rank before (e.g. LSUV on a rank's own batch) is unified."""
        if is_distributed() and not isinstance(self.model, nn.parallel.DistributedDataParallel):
            ids = [self.device.index] if self.device.type == "cuda" else None
            # DDP keeps the module's parameter tensors, so an optimizer built before stays valid
            self.model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    def _unwrap_distributed(self) -> None:
        """After training, back to the plain model: what follows (evaluation on rank 0 alone) runs without
        collectives, and a later stage that wraps the same parameters again (another freeze level, or the head
        alone) does not keep this wrapper's gradient hooks, which would all-reduce every gradient a second time
        (the same numbers, twice the traffic). DDP has no public call for that; `_remove_autograd_hooks` is
        the one torch's own tests use."""
        if isinstance(self.model, nn.parallel.DistributedDataParallel):
            self.model._remove_autograd_hooks()
            self.model = self.model.module

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The model's layer groups (for differential lrs) if it defines `layer_groups()`, else one group."""
        if hasattr(self.module, "layer_groups"):
            return [list(g) for g in self.module.layer_groups()]
        return [list(self.model.parameters())]

    def create_opt(self) -> None:
        """torch.optim optimizer with two param groups per layer group (decay / no decay), all trainable params."""
        names = {p: n for n, p in self.model.named_parameters()}
        groups = []
        for i, params in enumerate(self.layer_groups()):
            params = [p for p in params if p.requires_grad]
            decay = [p for p in params if not _is_no_decay(names.get(p, ""), p)]
            no_decay = [p for p in params if _is_no_decay(names.get(p, ""), p)]
            groups += [
                {"params": decay, "weight_decay": self.wd, "layer_group": i},
                {"params": no_decay, "weight_decay": 0.0, "layer_group": i},
            ]
        groups = [g for g in groups if g["params"]]
        # Fused kernels (one pass over all parameters) on CPU and CUDA: the default per-tensor loop spent
        # ~a quarter of each Rossmann training step in AdamW on 2 CPU cores (torch.profiler).
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {}
        if self.opt_name == "adamw":
            self.opt = torch.optim.AdamW(groups, lr=1e-3, betas=self.betas, eps=self.eps, **fused)
        elif self.opt_name == "sgd":
            self.opt = torch.optim.SGD(groups, lr=1e-3, momentum=self.betas[0], nesterov=True, **fused)
        else:
            raise ValueError(f"opt={self.opt_name!r}: expected adamw or sgd")

    def _peak_lrs(self, lr: float | Sequence[float]) -> list[float]:
        n = len(self.layer_groups())
        lrs = [float(lr)] * n if np.isscalar(lr) else [float(x) for x in lr]
        if len(lrs) != n:
            raise ValueError(f"{len(lrs)} learning rates for {n} layer groups")
        return lrs

    def _set_hyper(self, peak: list[float], mult: float, beta1: float | None) -> None:
        for g in self.opt.param_groups:
            g["lr"] = peak[g["layer_group"]] * mult
            if beta1 is not None:
                if "betas" in g:
                    g["betas"] = (beta1, g["betas"][1])
                elif "momentum" in g:
                    g["momentum"] = beta1

    # ---- training ------------------------------------------------------------------------------------------
    def fit(
        self,
        n_epochs: int,
        lr: float | Sequence[float],
        schedule: Schedule = constant,
        momentum: Schedule | None = None,
        start_epoch: int = 0,
    ) -> list[dict]:
        """Train for `n_epochs` (continuing from `start_epoch` when resuming); returns the epoch history."""
        self._wrap_distributed()
        if self.opt is None:
            self.create_opt()
        peak = self._peak_lrs(lr)
        self.start_epoch = start_epoch  # > 0 when resuming: callbacks keep the state the checkpoint restored
        self.n_epochs, self.n_iter = n_epochs, n_epochs * len(self.train_dl)
        self.peak_lrs, self.schedule, self.momentum = peak, schedule, momentum
        self("before_fit")
        try:
            for epoch in range(start_epoch, n_epochs):
                self.epoch = epoch
                self.epoch_start = time.perf_counter()
                set_epoch(self.train_dl, epoch)
                self("before_epoch")
                self.train_loss = mean_across_ranks(self._train_epoch())
                self.rows_seen *= world_size()  # every rank saw as many rows
                self.train_time = time.perf_counter() - self.epoch_start
                self.valid_results = self.validate() if self.valid_dl is not None else {}
                self.history.append(self._epoch_row())
                self("after_epoch")
        except CancelFit:
            pass
        finally:
            sync_buffers(self.module)  # data-parallel: every rank ends with rank 0's BatchNorm statistics
            self("after_fit")
            self._unwrap_distributed()
        return self.history

    def _epoch_row(self) -> dict:
        return {
            **({"stage": self.stage} if self.stage else {}),
            "epoch": self.epoch + 1,
            "train_loss": self.train_loss,
            **self.valid_results,
            "lr": self.opt.param_groups[-1]["lr"],
            "train_s": round(self.train_time, 2),
            "rows_per_s": round(self.rows_seen / self.train_time, 1) if self.train_time else None,
            "time_s": round(time.perf_counter() - self.epoch_start, 2),
            "step": self.n_steps,  # batches trained so far, across stages sharing losses_seen
        }

    # Batches between checks that the training loss is finite. The per-batch losses stay on the device
    # (reading one as a float makes the host wait for the device, on every step), so a diverged run is
    # caught at the next check, at most this many batches later, naming the first bad batch.
    check_every = 64

    @property
    def loss(self) -> float:
        """The last batch's training loss as a float (reading it waits for the device: callbacks read it
        every few batches, not every one)."""
        return float(self._last_loss)

    @property
    def n_steps(self) -> int:
        """Batches trained so far (across stages sharing `losses_seen`), the current epoch's included."""
        return len(self.losses_seen) + len(self._epoch_losses)

    def _train_epoch(self) -> float:
        self.model.train()
        n_batches = len(self.train_dl)
        self._epoch_losses, sizes, self.rows_seen, checked = [], [], 0, 0
        for i, batch in enumerate(self.train_dl):
            self.iter = self.epoch * n_batches + i
            pct = self.iter / max(self.n_iter, 1)
            self._set_hyper(self.peak_lrs, self.schedule(pct), self.momentum(pct) if self.momentum else None)
            self.batch_index = i
            self.batch = self.to_device(batch)
            self("before_batch")  # a callback may replace self.batch (e.g. MixUp)
            self._last_loss = self._step(self.batch)
            self._epoch_losses.append(self._last_loss)
            sizes.append(len(self.batch[-1]))
            self.rows_seen += sizes[-1]
            self.lrs_seen.append(self.opt.param_groups[-1]["lr"])
            self("after_batch")
            if i + 1 - checked >= self.check_every:
                self._check_finite(torch.stack(self._epoch_losses[checked:]), checked)
                checked = i + 1
        losses = torch.stack(self._epoch_losses).float().cpu() if self._epoch_losses else torch.zeros(0)
        self._check_finite(losses[checked:], checked)
        self.losses_seen += losses.tolist()
        self._epoch_losses = []
        return float((losses.double() * torch.tensor(sizes, dtype=torch.float64)).sum() / max(sum(sizes), 1))

    def _check_finite(self, losses: torch.Tensor, start: int) -> None:
        """Raise TrainingDiverged naming the first non-finite one of `losses`, this epoch's from batch `start` on."""
        bad = ~torch.isfinite(losses)
        if bool(bad.any()):  # one host synchronisation per check
            i = start + int(bad.nonzero()[0, 0])
            lr = self.lrs_seen[len(self.lrs_seen) - len(self._epoch_losses) + i]
            raise TrainingDiverged(
                f"loss is {float(losses[i - start])} at epoch {self.epoch + 1}, batch {i + 1} (lr {lr:.3g}); "
                f"lower the learning rate (try the lr finder) or set clip=1.0"
            )

    def _step(self, batch) -> torch.Tensor:
        """One optimizer step; returns the batch's loss as a detached device scalar (no host synchronisation)."""
        *xb, yb = batch
        with self.precision.autocast():
            pred = self.model(*xb)
        self.pred = pred.float()
        self.loss_tensor = self.loss_func(self.pred, yb)
        self("after_loss")  # a callback may replace self.loss_tensor (e.g. MixUp)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(self.loss_tensor).backward()
        if self.clip:
            self.scaler.unscale_(self.opt)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        return self.loss_tensor.detach()

    def fit_one_cycle(
        self,
        n_epochs: int,
        lr_max,
        pct_start: float = 0.25,
        div: float = 25.0,
        div_final: float = 1e5,
        moms: tuple[float, float] = (0.95, 0.85),
        start_epoch: int = 0,
    ):
        """Leslie Smith's one-cycle policy: lr warms up then anneals, momentum does the opposite."""
        return self.fit(
            n_epochs,
            lr_max,
            one_cycle(pct_start, div, div_final),
            one_cycle_momentum(pct_start, moms[0], moms[1]),
            start_epoch,
        )

    def fit_schedule(
        self,
        schedule: str,
        n_epochs: int,
        lr,
        start_epoch: int = 0,
        pct_start: float = 0.25,
        cycle_len: int = 1,
        cycle_mult: int = 2,
    ):
        """Train with a schedule named in a config: one_cycle, sgdr (cycles of cycle_len x cycle_mult**i epochs
        filling `n_epochs`), constant or triangular (momentum constant)."""
        if schedule == "one_cycle":
            return self.fit_one_cycle(n_epochs, lr, pct_start=pct_start, start_epoch=start_epoch)
        if schedule == "sgdr":
            n = sgdr_cycles(n_epochs, cycle_len, cycle_mult)
            return self.fit_sgdr(n, lr, cycle_len, cycle_mult, start_epoch=start_epoch)
        if schedule in ("constant", "triangular"):
            return self.fit(n_epochs, lr, constant if schedule == "constant" else triangular(), None, start_epoch)
        raise ValueError(f"schedule={schedule!r}: expected one_cycle, sgdr, constant or triangular")

    def fit_sgdr(self, n_cycles: int, lr, cycle_len: int = 1, cycle_mult: int = 1, start_epoch: int = 0):
        """SGDR: `n_cycles` cosine cycles of cycle_len * cycle_mult**i epochs each, restarting at the peak lr."""
        n_epochs = sgdr_epochs(n_cycles, cycle_len, cycle_mult)
        if n_epochs != int(n_epochs):
            raise ValueError("SGDR cycles must add up to a whole number of epochs")
        return self.fit(int(n_epochs), lr, sgdr(n_cycles, cycle_len, cycle_mult), None, start_epoch)

    # ---- evaluation ----------------------------------------------------------------------------------------
    def get_preds(self, dl=None, with_targets: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predictions (float32, CPU) over a loader (default: the validation loader), and its targets."""
        return super().get_preds(self.valid_dl if dl is None else dl, with_targets)

    def validate(self, dl=None) -> dict[str, float]:
        """Validation loss and every metric, computed over the whole validation set."""
        self("before_validate")
        preds, targets = self.get_preds(dl)
        self.valid_preds = preds
        # Class-index targets (cross-entropy) stay integers; regression / multi-hot targets match preds' dtype.
        t = targets.to(preds.dtype) if targets.is_floating_point() else targets
        out = {"valid_loss": float(self.loss_func(preds, t))}
        for name, fn in self.metrics.items():
            out[name] = float(fn(preds, targets))
        self("after_validate")
        return out

    # ---- lr finder -----------------------------------------------------------------------------------------
    def lr_find(
        self,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_it: int = 100,
        stop_div: bool = True,
        plot: str | Path | None = None,
        lr_mults: Sequence[float] | None = None,
    ) -> dict:
        """Exponential lr sweep over mini-batches; stops when the loss diverges; weights are restored after.

        Returns lrs, smoothed losses and a suggested lr (the steepest descent, capped at a tenth of the
        lr of the minimum loss); with `plot`, saves the curve as a PNG. `lr_mults` (one per layer group, e.g.
        1/9, 1/3, 1) keeps differential learning rates during the sweep; the lrs reported are the last group's.
        """
        state = copy.deepcopy(self.model.state_dict())
        if self.opt is None:
            self.create_opt()
        opt_state = copy.deepcopy(self.opt.state_dict())
        peak = self._peak_lrs(1.0 if lr_mults is None else lr_mults)
        self.model.train()
        lrs, losses, avg, best = [], [], 0.0, math.inf
        it, self.epoch = 0, 0
        while it < num_it:
            for batch in self.train_dl:
                lr = start_lr * (end_lr / start_lr) ** (it / max(num_it - 1, 1))
                self._set_hyper(peak, lr, None)
                self.batch_index = it
                loss = float(self._step(self.to_device(batch)))  # the sweep reads every loss: it syncs
                avg = 0.98 * avg + 0.02 * loss if math.isfinite(loss) else math.inf
                smooth = avg / (1 - 0.98 ** (it + 1))
                lrs.append(lr)
                losses.append(smooth)
                best = min(best, smooth)
                it += 1
                if it >= num_it or (stop_div and (not math.isfinite(smooth) or smooth > 4 * best)):
                    it = num_it
                    break
        self.model.load_state_dict(state)
        self.opt.load_state_dict(opt_state)
        suggestion = suggest_lr(lrs, losses)
        result = {"lrs": lrs, "losses": losses, "suggested_lr": suggestion}
        if plot:
            save_lr_plot(result, plot)
        return result

    # ---- checkpoints ---------------------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path, extra: dict | None = None) -> None:
        """Model, optimizer, scaler, epoch and history in one file, written atomically."""
        state = {
            "model": self.module.state_dict(),
            "opt": self.opt.state_dict() if self.opt else None,
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch + 1,
            "history": self.history,
            "losses_seen": self.losses_seen,  # per batch: a resumed run's steps and plots continue from here
            "lrs_seen": self.lrs_seen,
            # callbacks with state (lookahead's average, telemetry) continue where they were
            "callbacks": {type(cb).__name__: cb.state_dict() for cb in self.cbs if hasattr(cb, "state_dict")},
            "rng": torch.get_rng_state(),  # dropout masks continue as if never interrupted
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "mps_rng": torch.mps.get_rng_state() if self.device.type == "mps" else None,  # the augmentation's draws
            "extra": extra or {},
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self, path: str | Path, with_opt: bool = True) -> dict:
        """Restore a checkpoint (weights_only, so no code in it runs); returns its dict (epoch, extra, ...)."""
        state = read_checkpoint(path, self.device)
        self.module.load_state_dict(state["model"])
        if with_opt and state.get("opt"):
            if self.opt is None:
                self.create_opt()
            self.opt.load_state_dict(state["opt"])
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(state.get("history", []))
        self.losses_seen = list(state.get("losses_seen", []))
        self.lrs_seen = list(state.get("lrs_seen", []))
        saved = state.get("callbacks", {})
        for cb in self.cbs:
            if hasattr(cb, "load_state_dict") and type(cb).__name__ in saved:
                cb.load_state_dict(saved[type(cb).__name__])
        if "rng" in state:
            torch.set_rng_state(state["rng"].cpu())
        if state.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        if state.get("mps_rng") is not None and self.device.type == "mps":
            torch.mps.set_rng_state(state["mps_rng"].cpu())
        return state


def suggest_lr(lrs: list[float], losses: list[float]) -> float:
    """Steepest-descent point of the smoothed loss curve, but no more than a tenth of the lr at the minimum."""
    finite = [(lr, loss) for lr, loss in zip(lrs, losses, strict=True) if math.isfinite(loss)]
    if len(finite) < 5:
        return finite[0][0] if finite else lrs[0]
    lr_arr = np.array([f[0] for f in finite])
    loss_arr = np.array([f[1] for f in finite])
    grads = np.gradient(loss_arr, np.log(lr_arr))
    skip = max(1, len(finite) // 10)  # the first points are noisy
    steep = lr_arr[skip:][np.argmin(grads[skip:])]
    at_min = lr_arr[np.argmin(loss_arr)]
    return float(min(steep, at_min / 10))


def save_lr_plot(result: dict, path: str | Path) -> None:
    """Loss vs learning rate (log scale) with the suggestion marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result["lrs"], result["losses"])
    ax.axvline(result["suggested_lr"], color="red", linestyle="--", label=f"suggested {result['suggested_lr']:.2e}")
    ax.set(xscale="log", xlabel="learning rate", ylabel="smoothed training loss", title="lr finder")
    finite = [x for x in result["losses"] if math.isfinite(x)]
    if finite:
        ax.set_ylim(min(finite) * 0.95, min(max(finite), 4 * min(finite)))
    ax.legend()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def is_interactive() -> bool:
    return sys.stderr.isatty()
