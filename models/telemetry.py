"""Activation telemetry: per-layer mean, std and share of near-zero activations over training, as a PNG.

A bad initialisation shows as stds that explode or vanish layer by layer; a dying layer as a near-zero
share that climbs towards 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from features.io import atomic_path, atomic_write_text
from models.learner import Callback


class ActivationStats(Callback):
    """Forward hooks on `modules` (default: every ReLU-like activation, else every conv/linear layer) that record,
    every `every` training batches, each output's mean, std and fraction with |x| < `near_zero`."""

    order = 40

    def __init__(
        self,
        path: str | Path | None = None,
        modules: list[nn.Module] | None = None,
        every: int = 10,
        near_zero: float = 1e-2,
    ):
        self.path = Path(path) if path else None
        self.modules, self.every, self.near_zero = modules, every, near_zero
        self.stats: dict[str, dict[str, list[float]]] = {}
        self.pending: list[tuple[dict, torch.Tensor]] = []  # recorded on the device, read once an epoch
        self.handles = []

    def _targets(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        if self.modules is not None:
            names = {m: n for n, m in model.named_modules()}
            return [(names.get(m, type(m).__name__), m) for m in self.modules]
        acts = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.ReLU, nn.GELU, nn.SiLU, nn.LeakyReLU))]
        return acts or [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]

    def before_fit(self, learn):
        for name, module in self._targets(learn.model):
            rec = self.stats.setdefault(name, {"mean": [], "std": [], "near_zero": []})

            def hook(mod, args, out, rec=rec):
                if not mod.training or learn.batch_index % self.every:
                    return
                out = out.detach().float()
                near_zero = (out.abs() < self.near_zero).float().mean()
                self.pending.append((rec, torch.stack([out.mean(), out.std(), near_zero])))

            self.handles.append(module.register_forward_hook(hook))

    def after_epoch(self, learn):
        """The epoch's records as floats: one wait for the device an epoch, not three per layer and record."""
        if self.pending:
            values = torch.stack([v for _, v in self.pending]).cpu().tolist()
            for (rec, _), (mean, std, near_zero) in zip(self.pending, values, strict=True):
                rec["mean"].append(mean)
                rec["std"].append(std)
                rec["near_zero"].append(near_zero)
            self.pending = []

    def state_dict(self) -> dict:
        return {"stats": self.stats}

    def load_state_dict(self, state: dict) -> None:
        self.stats = state["stats"]

    def after_fit(self, learn):
        self.after_epoch(learn)  # a fit cancelled mid-epoch
        for h in self.handles:
            h.remove()
        self.handles = []
        if self.path is not None and self.stats:
            atomic_write_text(self.path / "activations.json", json.dumps(self.stats))
            save_activation_plot(self.stats, self.path / "activations.png")


def save_activation_plot(stats: dict, path: Path) -> None:
    """Three panels (mean, std, near-zero share) with one line per layer, x = recorded batch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name, rec in stats.items():
        for ax, key in zip(axes, ("mean", "std", "near_zero"), strict=True):
            ax.plot(rec[key], lw=0.8, label=name)
    for ax, title in zip(axes, ("activation mean", "activation std", "share near zero"), strict=True):
        ax.set(title=title, xlabel="recorded batch")
    if len(stats) <= 12:
        axes[2].legend(fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


__all__ = ["ActivationStats", "save_activation_plot"]
