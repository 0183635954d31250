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


def accuracy(logits, target) -> float:
    """Share of rows whose arg-max class is the target class."""
    return float((_np(logits).argmax(1) == _np(target).astype(np.int64)).mean())


def log_loss(probs, target, eps: float = 1e-15) -> float:
    """Multi-class log loss of probabilities (rows sum to 1), clipped like Kaggle's scorer."""
    from sklearn.metrics import log_loss as sk_log_loss

    p = np.clip(_np(probs).astype(np.float64), eps, 1 - eps)
    return float(sk_log_loss(_np(target).astype(np.int64), p / p.sum(1, keepdims=True), labels=range(p.shape[1])))


def binary_log_losses(probs, target) -> np.ndarray:
    """Element-wise binary cross-entropy of tag probabilities (clipped at 1e-7): rows x tags."""
    p, y = _np(probs), _np(target)
    return -(y * np.log(np.clip(p, 1e-7, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-7, 1)))


def f2_score(probs, target, thresholds=0.2) -> float:
    """Planet's metric: F-beta with beta=2 per image (sample-averaged) for tags with prob > threshold."""
    from sklearn.metrics import fbeta_score

    pred = _np(probs) > np.asarray(thresholds)
    return float(fbeta_score(_np(target).astype(bool), pred, beta=2, average="samples", zero_division=0))


def _f2_per_sample(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    tp = (pred & target).sum(1)
    precision = np.divide(tp, pred.sum(1), out=np.zeros(len(tp)), where=pred.sum(1) > 0)
    recall = np.divide(tp, target.sum(1), out=np.zeros(len(tp)), where=target.sum(1) > 0)
    denom = 4 * precision + recall
    return np.divide(5 * precision * recall, denom, out=np.zeros(len(tp)), where=denom > 0)


def best_thresholds(probs, target, per_tag: bool = True, grid=None, rounds: int = 2) -> np.ndarray:
    """Thresholds maximising the sample-averaged F2 on (validation) predictions: the best global threshold,
    then, with `per_tag`, coordinate ascent over each tag's threshold (a few rounds).

    Hand-written F2 here because the search calls it thousands of times; it equals sklearn's fbeta_score
    (tests/models/test_metrics.py) at a fraction of its per-call overhead.
    """
    p, t = _np(probs), _np(target).astype(bool)
    grid = np.round(np.arange(0.02, 0.6, 0.01), 2) if grid is None else np.asarray(grid)
    scores = [_f2_per_sample(p > g, t).mean() for g in grid]
    th = np.full(p.shape[1], grid[int(np.argmax(scores))])
    if per_tag:
        for _ in range(rounds):
            for j in range(p.shape[1]):
                best, best_g = -1.0, th[j]
                for g in grid:
                    th[j] = g
                    s = _f2_per_sample(p > th, t).mean()
                    if s > best + 1e-12:
                        best, best_g = s, g
                th[j] = best_g
    return th


def shrunk_thresholds(probs, target, prior: float = 20.0, grid=None) -> np.ndarray:
    """Per-tag thresholds pulled toward the best global one: tag j keeps n_j / (n_j + prior) of its own
    optimum's distance from the global threshold, n_j its number of positive rows. A tag with a handful of
    positives stays near the global threshold (its own optimum would fit noise); a common tag gets its own."""
    t = _np(target).astype(bool)
    glob = best_thresholds(probs, t, per_tag=False, grid=grid)
    own = best_thresholds(probs, t, per_tag=True, grid=grid)
    weight = t.sum(0) / (t.sum(0) + prior)
    return glob + weight * (own - glob)
