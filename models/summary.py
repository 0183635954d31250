"""Model summary: each leaf layer's output shape, parameter count and whether it trains (yes, FROZEN, or partly:
some of its parameters, e.g. a BatchNorm with a fixed scale), from forward hooks."""

from __future__ import annotations

import torch
from torch import nn


def _shape(out) -> str:
    if isinstance(out, torch.Tensor):
        return "x".join(str(d) for d in out.shape)
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape(o) for o in out)
    return type(out).__name__


@torch.no_grad()
def model_summary(model: nn.Module, *inputs: torch.Tensor) -> str:
    """A table of leaf modules in call order (name, type, output shape, params, trainable) and totals.

    Runs one forward pass on `inputs` in eval mode (BatchNorm statistics are left untouched).
    """
    rows, hooks = [], []
    for name, module in model.named_modules():
        if list(module.children()):
            continue

        def hook(mod, args, out, name=name):
            params = list(mod.parameters(recurse=False))
            flags = {p.requires_grad for p in params}
            trains = None if not params else ("partly" if len(flags) > 1 else ("yes" if flags.pop() else "FROZEN"))
            rows.append((name, type(mod).__name__, _shape(out), sum(p.numel() for p in params), trains))

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        model(*inputs)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    width = max([len(r[0]) for r in rows] + [5])
    kinds = max([len(r[1]) for r in rows] + [14])
    lines = [f"{'layer':<{width}}  {'type':<{kinds}} {'output':<16} {'params':>10}  trainable"]
    for name, kind, shape, n, trains in rows:
        lines.append(f"{name:<{width}}  {kind:<{kinds}} {shape:<16} {n:>10,}  {trains or ''}")
    lines.append(f"total {total:,} parameters, {trainable:,} trainable, {total - trainable:,} frozen")
    return "\n".join(lines)
