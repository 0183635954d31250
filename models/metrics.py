"""Competition metrics on whole prediction arrays (numpy or torch), exactly as Kaggle scores them."""

from __future__ import annotations

import numpy as np


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=np.float64)


def rmspe(pred, target) -> float:
    """Root mean square percentage error, ignoring rows whose true value is 0 (Rossmann's rule)."""
    pred, target = _np(pred).astype(np.float64).ravel(), _np(target).astype(np.float64).ravel()
    keep = target != 0
    if not keep.any():
        return float("nan")
    pct = (target[keep] - pred[keep]) / target[keep]
    return float(np.sqrt(np.mean(pct**2)))


def exp_rmspe(pred_log, target_log) -> float:
    """RMSPE of predictions and targets given in log space (the Rossmann model's output)."""
    return rmspe(np.exp(_np(pred_log)), np.exp(_np(target_log)))
