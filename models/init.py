"""Layer-wise sequential unit-variance (LSUV) initialisation (Mishkin & Matas, 2015; fast.ai part 2)."""

from __future__ import annotations

import torch
from torch import nn

LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@torch.no_grad()
def lsuv_init(
    model: nn.Module,
    *inputs: torch.Tensor,
    tol: float = 1e-2,
    max_iter: int = 20,
    layers: list[nn.Module] | None = None,
) -> list[dict]:
    """For each conv/linear layer in order, shift its bias and scale its weight on one batch until its output
    has mean ~0 and std ~1 (within `tol`). Runs in eval mode so BatchNorm running statistics are untouched.

    Returns one dict per layer: name, final mean and std, iterations used.
    """
    names = {m: n for n, m in model.named_modules()}
    layers = [m for m in model.modules() if isinstance(m, LAYER_TYPES)] if layers is None else layers
    was_training = model.training
    model.eval()
    report = []
    try:
        for layer in layers:
            stats: dict[str, float] = {}

            def hook(mod, args, out, stats=stats):
                out = out.float()
                stats["mean"], stats["std"] = out.mean().item(), out.std().item()

            handle = layer.register_forward_hook(hook)
            try:
                for it in range(max_iter + 1):
                    model(*inputs)
                    if abs(stats["mean"]) < tol and abs(stats["std"] - 1) < tol or it == max_iter:
                        break
                    if layer.bias is not None:
                        layer.bias -= stats["mean"]
                    layer.weight /= max(stats["std"], 1e-8)
            finally:
                handle.remove()
            report.append({"layer": names.get(layer, "?"), "mean": stats["mean"], "std": stats["std"], "iters": it})
    finally:
        model.train(was_training)
    return report
