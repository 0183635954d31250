"""Looking at results: confusion matrix, top losses, class activation maps, a grid of augmented images.

All plots are written atomically as PNGs (matplotlib's Agg backend, no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from features.io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    _plt().close(fig)


def plot_confusion_matrix(
    target: np.ndarray, pred: np.ndarray, classes: Sequence[str], path: Path, max_classes: int = 40
) -> np.ndarray:
    """sklearn's confusion matrix as a PNG (counts in the cells); above `max_classes`, the most confused."""
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(target, pred, labels=range(len(classes)))
    keep = np.arange(len(classes))
    if len(classes) > max_classes:  # the classes with the most errors either way
        errors = cm.sum(0) + cm.sum(1) - 2 * np.diag(cm)
        keep = np.sort(np.argsort(-errors, kind="stable")[:max_classes])
    sub = cm[np.ix_(keep, keep)]
    plt = _plt()
    n = len(keep)
    fig, ax = plt.subplots(figsize=(max(4, 0.35 * n + 2), max(4, 0.35 * n + 2)))
    ax.imshow(sub, cmap="Blues")
    names = [classes[i] for i in keep]
    ax.set(
        xticks=range(n),
        yticks=range(n),
        xlabel="predicted",
        ylabel="actual",
        title=f"confusion matrix ({int(np.trace(cm))}/{int(cm.sum())} right)",
    )
    ax.set_xticklabels(names, rotation=90)
    ax.set_yticklabels(names)
    if n <= 25:
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(sub[i, j]),
                    ha="center",
                    va="center",
                    color="white" if sub[i, j] > sub.max() / 2 else "black",
                    fontsize=8,
                )
    _save(fig, path)
    return cm


def top_losses(
    files: Sequence[str],
    losses: np.ndarray,
    actual: Sequence[str],
    predicted: Sequence[str],
    confidence: np.ndarray | None = None,
    k: int = 20,
) -> pd.DataFrame:
    """The k validation images the model got most wrong: file, actual and predicted label, confidence (the
    predicted class's probability; none for a number), loss."""
    order = np.argsort(-losses, kind="stable")[:k]
    columns = {
        "file": [files[i] for i in order],
        "actual": [actual[i] for i in order],
        "predicted": [predicted[i] for i in order],
        "confidence": None if confidence is None else np.round(confidence[order], 4),
        "loss": np.round(losses[order], 4),
    }
    return pd.DataFrame({name: v for name, v in columns.items() if v is not None})


def plot_images(
    images: Sequence[torch.Tensor], titles: Sequence[str], path: Path, ncols: int = 4, suptitle: str | None = None
) -> None:
    """uint8 CHW tensors in a grid with titles."""
    plt = _plt()
    nrows = max(1, -(-len(images) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(img.permute(1, 2, 0).numpy())
        ax.set_title(title, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    _save(fig, path)


def class_activation_map(model, image: torch.Tensor, target: int, device: torch.device) -> np.ndarray:
    """Grad-CAM on the body's last feature map: where in `image` (uint8 CHW) the evidence for class `target`
    lies, as an (H, W) map in [0, 1]. (Plain CAM needs a global-average-pool + linear head; fastai's head has
    two layers, so the channel weights are the class score's mean gradient per channel instead.)"""
    model.eval()
    x = image.unsqueeze(0).to(device)
    with torch.enable_grad():
        fmap = model.features(x).detach().requires_grad_(True)
        score = model.head(model.pool(fmap))[0, target]
        (grad,) = torch.autograd.grad(score, fmap)
    weights = grad.mean((2, 3), keepdim=True)
    cam = torch.relu((weights * fmap).sum(1, keepdim=True)).float()
    cam = torch.nn.functional.interpolate(cam, size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    cam = cam - cam.min()
    return (cam / cam.max().clamp_min(1e-8)).detach().cpu().numpy()


def plot_cam(image: torch.Tensor, cam: np.ndarray, title: str, path: Path) -> None:
    """The image beside itself with the activation map overlaid."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 4))
    rgb = image.permute(1, 2, 0).numpy()
    a.imshow(rgb)
    b.imshow(rgb)
    b.imshow(cam, cmap="magma", alpha=0.5)
    for ax in (a, b):
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)
